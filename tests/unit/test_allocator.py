"""The allocator on an in-memory store: replays, rejections, caps, brands and limits."""

from collections import Counter
from dataclasses import dataclass, replace
from typing import Any

from frolic.allocation.allocator import Allocator, virtual_wait
from frolic.allocation.ports import Reason, Route, Wish
from frolic.models import GameStatus, PlayStatus
from frolic.pacing.policy import BrandPlan, FrolicPacing
from tests.doubles import EagerPacing, GreedyPacing
from tests.unit.arena import GAME, START, Arena, play

NOW = START + 10


def test_a_replayed_batch_gets_the_stored_outcomes_and_takes_nothing_more(arena: Arena) -> None:
    # Given a game with no arrival history, so every play may win up to the cap
    arena.game(duration=60, slack_pct=10.0)
    arena.budget("brand-a", 20)
    allocator = arena.allocator()
    batch = [play(n, at=1.0 + n / 100) for n in range(30)]
    first = allocator.allocate(batch, NOW)
    issued = arena.store.issued(GAME, "brand-a")
    assert issued > 0
    # When the same records come again (Kinesis redelivery), even in another order
    second = allocator.allocate(list(reversed(batch)), NOW + 5)
    # Then every play gets its first outcome back and no coupon moves
    assert {o.play.play_id: (o.status, o.grants) for o in second} == {
        o.play.play_id: (o.status, o.grants) for o in first
    }
    assert arena.store.issued(GAME, "brand-a") == issued


def test_copies_of_a_play_within_one_batch_share_one_outcome(arena: Arena) -> None:
    arena.game(duration=60, slack_pct=50.0)
    arena.budget("brand-a", 10)
    copy = play(1, at=1.0)
    outcomes = arena.allocator().allocate([copy, copy, copy], NOW)
    assert len({(o.status, o.grants) for o in outcomes}) == 1
    assert arena.store.issued(GAME, "brand-a") == (1 if outcomes[0].status is PlayStatus.WON else 0)


def test_the_same_play_id_with_another_payload_is_rejected(arena: Arena) -> None:
    arena.game(duration=60)
    arena.budget("brand-a", 10)
    allocator = arena.allocator()
    [original] = allocator.allocate([play(1, at=1.0, fp="payload-A")], NOW)
    [impostor] = allocator.allocate([play(1, at=2.0, user="mallory", fp="payload-B")], NOW)
    assert impostor.status is PlayStatus.REJECTED
    assert impostor.reason == Reason.PLAY_ID_CONFLICT
    # And the original keeps its result
    assert arena.store.outcome("play-1") == original


def test_an_ended_game_plays_what_ingest_took_while_it_saw_the_game_live(arena: Arena) -> None:
    # Given a game the allocator sees ENDED, and plays ingest took, some seeing it live
    arena.game(duration=60, live=False, ended=True)
    arena.budget("brand-a", 10)
    taken_live = replace(play(1, at=1.0), game_status=GameStatus.LIVE)
    unstamped = play(2, at=1.0)  # put by an ingest from before the stamp
    taken_late = replace(play(3, at=61.0), game_status=GameStatus.LIVE)
    outcomes = arena.allocator(GreedyPacing()).allocate([taken_live, unstamped, taken_late], NOW)
    # Then ingest's 202 stands, and only what ingest could not know refuses a play
    assert [(o.status, o.reason) for o in outcomes] == [
        (PlayStatus.WON, None),
        (PlayStatus.REJECTED, Reason.GAME_NOT_LIVE),
        (PlayStatus.REJECTED, Reason.OUTSIDE_WINDOW),
    ]


def test_plays_for_unknown_closed_or_out_of_window_games_are_rejected(arena: Arena) -> None:
    arena.game(duration=60)
    arena.game(duration=60, game_id="closed", live=False)
    arena.budget("brand-a", 10)
    outcomes = arena.allocator().allocate(
        [
            play(1, at=1.0, game="nope"),
            play(2, at=1.0, game="closed"),
            play(3, at=-1.0),
            play(4, at=60.0),
            play(5, at=59.9),
        ],
        NOW,
    )
    reasons = [(o.status, o.reason) for o in outcomes]
    assert reasons[:4] == [
        (PlayStatus.REJECTED, Reason.UNKNOWN_GAME),
        (PlayStatus.REJECTED, Reason.GAME_NOT_LIVE),
        (PlayStatus.REJECTED, Reason.OUTSIDE_WINDOW),
        (PlayStatus.REJECTED, Reason.OUTSIDE_WINDOW),
    ]
    assert reasons[4][0] in (PlayStatus.WON, PlayStatus.LOST)
    # And every one of them is stored, so a replay answers the same
    assert all(arena.store.outcome(o.play.play_id) == o for o in outcomes)


def test_the_schedule_cap_holds_even_when_every_play_would_win(arena: Arena) -> None:
    # Given a policy that lets every play of an opening rush win
    arena.game(duration=3600, slack_pct=0.1)
    arena.budget("brand-a", 1000)
    rush = [play(n, at=n / 1000) for n in range(500)]
    outcomes = arena.allocator(EagerPacing()).allocate(rush, START + 1)
    # Then only what the schedule has released, plus the 1-coupon slack, goes out
    assert Counter(o.status for o in outcomes)[PlayStatus.WON] == 1
    assert arena.store.issued(GAME, "brand-a") == 1


def test_the_store_refuses_a_claim_beyond_its_cap_whoever_asks(arena: Arena) -> None:
    # Two allocators that both believe a coupon is free: only the first gets it
    arena.game()
    arena.budget("brand-a", 5)
    second = arena.store.connect()
    arena.store.budgets(GAME)
    second.budgets(GAME)
    route = (Route("brand-a", ((0, 1),)),)
    first = arena.store.claim(GAME, [Wish(play(1, at=1.0), route, 0.1)], 1, NOW, game_start=0.0)
    later = second.claim(GAME, [Wish(play(2, at=1.0), route, 0.1)], 1, NOW, game_start=0.0)
    assert len(first.grants["play-1"]) == 1
    assert later.grants == {}
    assert later.raced_out == {"play-2"}
    assert arena.store.issued(GAME, "brand-a") == 1


def test_a_play_never_gets_more_than_max_coupons_per_play(arena: Arena) -> None:
    arena.game(duration=60, slack_pct=100.0, max_coupons_per_play=2)
    for brand in ("a", "b", "c"):
        arena.budget(brand, 50)
    outcomes = arena.allocator().allocate([play(n, at=1 + n / 10) for n in range(40)], NOW)
    sizes = Counter(len(o.grants) for o in outcomes)
    assert max(sizes) == 2
    # And the brands share the wins: none is always first
    won = Counter(g.brand_id for o in outcomes for g in o.grants)
    assert set(won) == {"a", "b", "c"}


def test_a_player_wins_at_most_max_wins_per_user(arena: Arena) -> None:
    arena.game(duration=60, slack_pct=100.0, max_wins_per_user=2)
    arena.budget("brand-a", 50)
    plays = [play(n, at=1 + n / 10, user="greedy") for n in range(20)]
    outcomes = arena.allocator().allocate(plays, NOW)
    statuses = Counter(o.status for o in outcomes)
    assert statuses[PlayStatus.WON] == 2
    assert any(o.reason == Reason.WIN_LIMIT for o in outcomes)


def test_lowering_a_budget_mid_game_stops_wins_and_raising_resumes(arena: Arena) -> None:
    arena.game(duration=60)
    arena.budget("brand-a", 50)
    allocator = arena.allocator(GreedyPacing())
    allocator.allocate([play(n, at=1 + n / 100) for n in range(5)], NOW)
    taken = arena.store.issued(GAME, "brand-a")
    assert taken == 5
    # When the marketer lowers the budget to what is already out
    arena.store.set_budget(GAME, "brand-a", taken)
    lowered = allocator.allocate([play(n, at=2 + n / 100) for n in range(100, 120)], NOW)
    assert all(o.status is PlayStatus.LOST for o in lowered)
    assert arena.store.issued(GAME, "brand-a") == taken
    # And raising it again lets plays win
    arena.store.set_budget(GAME, "brand-a", taken + 3)
    raised = allocator.allocate([play(n, at=3 + n / 100) for n in range(200, 220)], NOW)
    assert Counter(o.status for o in raised)[PlayStatus.WON] == 3
    assert arena.store.issued(GAME, "brand-a") == taken + 3


def test_an_uploaded_pool_smaller_than_the_budget_binds_each_code_once(arena: Arena) -> None:
    arena.game(duration=60)
    arena.store.set_budget(GAME, "brand-a", 10)
    arena.store.add_coupons(GAME, "brand-a", ["CODE-1", "CODE-2", "CODE-3"])
    plays = [play(n, at=1 + n / 10) for n in range(50)]
    outcomes = arena.allocator(GreedyPacing()).allocate(plays, NOW)
    winners = {g.code: o.play.play_id for o in outcomes for g in o.grants}
    assert sorted(winners) == ["CODE-1", "CODE-2", "CODE-3"]
    assert len(set(winners.values())) == 3
    assert arena.store.bound_codes == winners


def test_a_batch_decided_after_the_close_hands_out_what_the_budget_has_left(
    arena: Arena,
) -> None:
    # Given a 100-second game of 200 coupons and 400 plays spread over it, decided in
    # four batches of 25 seconds each, the last one after the window closed
    arena.game(duration=100)
    arena.budget("brand-a", 200)
    allocator = arena.allocator()
    plays = [play(n, at=(n + 0.5) / 4) for n in range(400)]
    for first in range(0, 400, 100):
        batch = plays[first : first + 100]
        allocator.allocate(batch, batch[-1].arrival_ts + 0.5)
    # Then the whole budget went out: the last batch's draw counts what the budget has
    # left, not the cap at each play's earlier instant
    assert arena.store.issued(GAME, "brand-a") == 200


def test_an_allocator_adds_its_arrivals_to_the_shared_counts_at_most_twice_a_second(
    arena: Arena,
) -> None:
    # Given an allocator deciding three batches of a busy game in 0.6 s
    arena.game()
    arena.budget("brand-a", 10)
    allocator = arena.allocator()

    def counted() -> int:
        return sum(arena.store.read_arrivals(GAME, through=int(START) + 5).recent.values())

    allocator.allocate([play(n, at=1.0) for n in range(4)], START + 1.1)
    # Then the first batch's plays are counted at once, for the other allocators
    assert counted() == 4
    # And a batch 0.2 s later waits for the next write
    allocator.allocate([play(n, at=1.2) for n in range(4, 7)], START + 1.3)
    assert counted() == 4
    # Which comes with the first batch half a second after the last write, for both
    allocator.allocate([play(n, at=1.5) for n in range(7, 9)], START + 1.6)
    assert counted() == 9


@dataclass(frozen=True)
class _Never:
    """A plan that lets no play win before the close."""

    plan: BrandPlan

    def probability(self, elapsed: float, issued: int, decided: int = 0) -> float:
        return 0.0

    def cap(self, elapsed: float) -> int:
        return self.plan.cap(elapsed)

    def share_cap(self, elapsed: float, share: int) -> int:
        return self.plan.share_cap(elapsed, share)


class _NothingBeforeTheClose(FrolicPacing):
    def plan(self, **inputs: Any) -> _Never:  # type: ignore[override]
        return _Never(super().plan(**inputs))


def test_after_the_close_the_allocators_share_what_is_left_and_the_last_takes_the_rest(
    arena: Arena,
) -> None:
    # Given 40 plays a second for 100 s and 20 coupons that nobody won before the close
    arena.game(duration=100)
    arena.budget("brand-a", 20)
    policy = _NothingBeforeTheClose()
    early = arena.allocator(policy)
    for second in range(99):
        early.allocate(
            [play(second * 40 + n, at=second + n / 40) for n in range(40)], START + second + 1
        )
    # When four shards' allocators decide the last second's plays after the close
    last = [play(3960 + n, at=99 + n / 40) for n in range(40)]
    shards = [
        Allocator(
            store=arena.store.connect(),
            games=arena.games,
            policy=policy,
            draw_key=b"test-draw-key-0123456789abcdef",
            wait_until=virtual_wait,
        )
        for _ in range(4)
    ]
    issued = []
    for shard, allocator in enumerate(shards):
        allocator.allocate(last[shard::4], START + 100.2)
        issued.append(arena.store.issued(GAME, "brand-a"))
    # Then the first does not take all it could (each of its ten plays could win), and
    # the last one hands out what is left: the whole budget, once
    assert 0 < issued[0] < 10
    assert issued[-1] == 20
