"""The sweeper's notes on a counter (frolic.dal.stranded.CounterSweep), without AWS."""

from __future__ import annotations

from frolic.dal.stranded import CHECKS_PER_RUN, MAX_SUSPECTS, CounterSweep


def test_a_run_reads_the_suspects_then_the_ordinals_leased_since_the_last() -> None:
    sweep = CounterSweep(checked_through=5, suspects={2: 10.0, 4: 12.0})
    assert sweep.to_check(leased=8) == ([2, 4, 6, 7, 8], 8)


def test_a_run_reads_a_bounded_number_of_new_ordinals() -> None:
    assert CounterSweep().to_check(leased=CHECKS_PER_RUN + 50) == (
        list(range(1, CHECKS_PER_RUN + 1)),
        CHECKS_PER_RUN,
    )


def test_a_full_list_of_suspects_stops_the_sweep_from_going_further() -> None:
    suspects = {n: 1.0 for n in range(1, MAX_SUSPECTS + 1)}
    sweep = CounterSweep(checked_through=MAX_SUSPECTS, suspects=suspects)
    assert sweep.to_check(leased=MAX_SUSPECTS + 10) == (sorted(suspects), MAX_SUSPECTS)


def test_a_suspect_keeps_the_time_it_was_first_seen_and_settled_ones_go() -> None:
    sweep = CounterSweep(checked_through=3, suspects={1: 10.0, 2: 11.0}, version=4)
    after = sweep.seen(available=[2, 4], through=4, now=50.0)
    assert after == CounterSweep(checked_through=4, suspects={2: 11.0, 4: 50.0}, version=4)


def test_only_suspects_first_seen_by_the_instant_are_due() -> None:
    sweep = CounterSweep(checked_through=9, suspects={3: 10.0, 7: 20.0, 9: 30.0})
    assert sweep.due(void_before=20.0) == [3, 7]
    assert sweep.due(void_before=9.9) == []
