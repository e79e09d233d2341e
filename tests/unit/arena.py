"""A game, a store and an allocator in memory, for the allocation unit tests."""

from __future__ import annotations

from dataclasses import dataclass, replace

from frolic.allocation.allocator import Allocator, virtual_wait
from frolic.allocation.ports import GameRules, Play
from frolic.pacing.policy import FrolicPacing, PacingPolicy
from frolic.pacing.schedule import ReleaseSchedule
from frolic_tools.sim.memory import InMemoryGames, InMemoryStore, numbered_codes

START = 1_900_000_000.0
GAME = "game-1"


@dataclass
class Arena:
    store: InMemoryStore
    games: InMemoryGames

    def allocator(self, policy: PacingPolicy | None = None) -> Allocator:
        return Allocator(
            store=self.store,
            games=self.games,
            policy=policy or FrolicPacing(),
            draw_key=b"test-draw-key-0123456789abcdef",
            wait_until=virtual_wait,
        )

    def game(self, duration: float = 3600.0, **overrides: object) -> GameRules:
        rules = GameRules(
            game_id=GAME,
            start_ts=START,
            end_ts=START + duration,
            live=True,
            schedule=ReleaseSchedule(duration),
        )
        rules = replace(rules, **overrides)  # type: ignore[arg-type]
        self.games.games[rules.game_id] = rules
        return rules

    def budget(self, brand: str, budget: int, game: str = GAME) -> None:
        self.store.set_budget(game, brand, budget)
        self.store.generate_coupons(game, brand, numbered_codes(brand))


def play(n: int, at: float, user: str | None = None, game: str = GAME, fp: str = "") -> Play:
    """Play number n, `at` seconds into the game."""
    return Play(f"play-{n}", user or f"user-{n}", game, START + at, fingerprint=fp)
