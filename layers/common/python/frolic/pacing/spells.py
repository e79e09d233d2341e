"""A game's traffic as spells of play separated by quiet, and how much of the current
spell is still to come.

Marketers' traffic comes and goes: a push notification brings a crowd for half a minute
and then silence, a game over several days sleeps every night. Coupons released while
nobody plays must reach the players of the next spell before it goes quiet again, and
spread over that spell's plays, not over the clock and not to its first plays. So each
game keeps a small history (the spell under way and the sizes, in plays, of the last
few that ended) and asks it how many plays the current spell still holds.

The history is plain data folded from per-second arrival counts, so the allocator
Lambda can keep it in one DynamoDB item and the simulator in memory, and both decide
alike.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace

#: A silence shorter than this is a lull, not the end of a spell: the pacing policy's
#: quick catch-up closes what it leaves behind.
QUIET_SECONDS = 60
#: ... and so is a silence in which the spell's recent rate would have brought fewer
#: plays than this (a slow spell has long Poisson gaps; e^-30 makes one this long moot).
QUIET_EXPECTED_PLAYS = 30.0
#: Time constant of the recent-rate average that sets the quiet threshold.
RATE_SECONDS = 60.0
#: Ended spells remembered per game (one DynamoDB item holds them easily).
REMEMBERED_SPELLS = 16
#: The share of ended spells, weighted by their plays, that may end sooner than the
#: estimate: a low quantile, because a backlog left when a spell ends waits a whole
#: quiet spell, while one paid a little early costs only some evenness.
SOONER_SHARE = 0.2
#: ... and a backlog is planned to be out once the spell has brought this share of the
#: plays that estimate expects, so that a crowd a little smaller than the last ones
#: (pushes to a smaller audience, Poisson noise) still takes all that was released.
PLANNED_SHARE = 0.9
#: The first spell of a game, with nothing to learn from, is expected to bring half as
#: many plays again as it has had (a scale-free guess that clears a backlog before a
#: short burst ends) and at least a few seconds' worth, so that coupons released before
#: anyone played are not all handed to the first second's plays.
UNSEEN_SHARE = 0.5
UNSEEN_SECONDS = 15.0

#: How often a game's history is saved: a write a minute, whatever the traffic.
SAVE_SECONDS = 60

_DECAY_PER_SECOND = math.exp(-1.0 / RATE_SECONDS)


@dataclass(frozen=True, slots=True)
class TrafficHistory:
    """The spells of one game, folded up to second `through`."""

    through: int | None = None
    spell_plays: int = 0
    last_active: int | None = None
    #: Plays per second around `last_active` (an exponential average).
    rate: float = 0.0
    #: Plays of the most recent ended spells, oldest first.
    ended: tuple[int, ...] = ()

    def due(self, settled: int) -> bool:
        """Whether a history saved through `self.through` should be saved anew, now that
        seconds up to `settled` are settled: about once a minute, not every batch."""
        return self.through is None or settled - self.through >= SAVE_SECONDS

    def fold(self, counts: Mapping[int, int], *, through: int) -> TrafficHistory:
        """This history with the seconds after `self.through` up to `through` added.

        Seconds missing from `counts` had no plays. A second already folded is never
        folded again, so a later, larger count of it is not seen: counts are folded
        only once they are settled (see the allocator).
        """
        start = self.through
        if start is not None and through <= start:
            return self
        seconds = sorted(
            s for s in counts if (start is None or s > start) and s <= through and counts[s] > 0
        )
        if not seconds:
            return replace(self, through=through)
        plays, last, rate, ended = self.spell_plays, self.last_active, self.rate, self.ended
        for second in seconds:
            count = counts[second]
            if last is None:
                plays, rate = count, count * (1.0 - _DECAY_PER_SECOND)
            else:
                gap = second - last - 1
                if gap >= quiet_threshold(rate):
                    ended = (*ended, plays)[-REMEMBERED_SPELLS:]
                    plays = 0
                rate = rate * _DECAY_PER_SECOND ** (second - last) + count * (
                    1.0 - _DECAY_PER_SECOND
                )
                plays += count
            last = second
        return TrafficHistory(
            through=through, spell_plays=plays, last_active=last, rate=rate, ended=ended
        )

    def plays_to_come(self, rate: float) -> float:
        """Plays the spell under way is expected still to bring, at `rate` plays/s now.

        From the ended spells that grew bigger than this one has so far, weighted by
        their plays (so a stray play at night does not count as much as a day): their
        low quantile, less a margin. When no ended spell was this big, the spell is in
        new territory and a guess stands in.
        """
        played = self.spell_plays
        bigger = sorted(size for size in self.ended if size > played)
        if bigger:
            total = sum(bigger)
            reached = 0
            for size in bigger:
                reached += size
                if reached >= SOONER_SHARE * total:
                    return max(0.0, PLANNED_SHARE * size - played)
        if self.ended:
            # Bigger than every spell before: taken to be ending, so what is left of a
            # backlog goes to the plays in hand.
            return 0.0
        return max(rate * UNSEEN_SECONDS, UNSEEN_SHARE * played)


#: A game nobody has played yet.
NO_TRAFFIC = TrafficHistory()


def quiet_threshold(rate: float) -> float:
    """Seconds of silence after which a spell with this recent rate has ended."""
    if rate <= 0:
        return float(QUIET_SECONDS)
    return max(float(QUIET_SECONDS), QUIET_EXPECTED_PLAYS / rate)
