"""Table and key design, shared by the code, the tests and the CDK stack.

Three tables:

- **results**, keyed by `playId`: one item per play, written `pending` by ingest and
  replaced by the final result. Its change stream feeds `deliver` (pushes) and the
  expiry watcher (plays still pending past the reel deadline). A sparse index lets
  the sweeper find what those two left undone (see below).
- **state**, keyed by `pk`/`sk`: campaigns, games, brands, per-brand budgets, coupon
  pools, arrival counters and per-player win counts. Hot items get partitions of their
  own (one per budget, per coupon, per player) so no single key takes a game's load.
- **sessions**, keyed by `pk`: WebSocket connections and single-use tickets, with TTL.
"""

from __future__ import annotations

import math
import zlib
from typing import Final

RESULTS_KEY: Final = "playId"
STATE_PARTITION_KEY: Final = "pk"
STATE_SORT_KEY: Final = "sk"
SESSIONS_KEY: Final = "pk"
#: Epoch seconds after which DynamoDB may delete the item (TTL attribute, all tables).
TTL_ATTRIBUTE: Final = "expiresAt"

META: Final = "META"

#: The sweeper's sparse index on the results table. An item is in it only while work
#: on it is outstanding, under a partition that names the work and a shard of it:
#:
#: - `pending#<n>`, sorted by arrival: a pending play. Every writer of a decided result
#:   drops it (the allocator replaces the whole item, the expiry REMOVEs it);
#: - `unissued#<n>`, sorted by decision time: a won result whose coupons deliver has
#:   not yet issued; deliver REMOVEs it once every coupon is ISSUED to the play.
#:
#: So "won, unissued past a bound" is one key-condition Query per shard, and "pending
#: past its deadline" one filtered Scan of the index (it holds only the plays in flight,
#: so one read of it beats 128 Queries; see `frolic.dal.result_indexes`). Shards spread
#: a hot game's index writes (one in, one out per play) over partitions taking about
#: 1,000 writes/s each: 128 carry 60,000 plays/s; winners are far fewer. One index
#: rather than two, because CloudFormation adds at most one index to an existing table
#: per update.
SWEEP_INDEX: Final = "sweep"
#: The players' wallets: a sparse index of won results by their winner, newest first
#: (`frolic.dal.wallet`). Only a won result carries `wonBy`, so losses cost it nothing;
#: it projects what a wallet shows, so a page of it is one Query.
WALLET_INDEX: Final = "wallet"
WALLET_PARTITION: Final = "wonBy"
WALLET_SORT: Final = "decidedAt"
WALLET_PROJECTION: Final = ("gameId", "coupons")
SWEEP_PARTITION: Final = "sweepShard"
SWEEP_SORT: Final = "sweepAt"
PENDING_SHARDS: Final = 128
UNISSUED_SHARDS: Final = 16
PENDING_PREFIX: Final = "pending#"
UNISSUED_PREFIX: Final = "unissued#"


def shard_of(play_id: str, shards: int) -> int:
    """A stable spread of playIds (Python's own `hash` differs between processes)."""
    return zlib.crc32(play_id.encode()) % shards


def pending_partition(play_id: str) -> str:
    return f"{PENDING_PREFIX}{shard_of(play_id, PENDING_SHARDS)}"


def unissued_partition(play_id: str) -> str:
    return f"{UNISSUED_PREFIX}{shard_of(play_id, UNISSUED_SHARDS)}"


#: Campaigns and brands share one small partition so a marketer's list is one Query.
CATALOG: Final = "CATALOG"
CAMPAIGN_PREFIX: Final = "CAMPAIGN#"
BRAND_PREFIX: Final = "BRAND#"


def campaign_key(campaign_id: str) -> dict[str, str]:
    return {"pk": CATALOG, "sk": f"{CAMPAIGN_PREFIX}{campaign_id}"}


def campaign_game_key(campaign_id: str, game_id: str) -> dict[str, str]:
    """A campaign's index entry for one of its games (lists games without a scan)."""
    return {"pk": f"CAMPAIGN#{campaign_id}", "sk": f"GAME#{game_id}"}


GAME_PREFIX: Final = "GAME#"


def game_key(game_id: str) -> dict[str, str]:
    return {"pk": f"{GAME_PREFIX}{game_id}", "sk": META}


def brand_key(brand_id: str) -> dict[str, str]:
    return {"pk": CATALOG, "sk": f"{BRAND_PREFIX}{brand_id}"}


BUDGET_PREFIX: Final = "BUDGET#"


def budget_key(game_id: str, brand_id: str) -> dict[str, str]:
    """The game-brand budget: the marketer's `budget`, its number of `counters`, and
    counter 0 itself (`allotment`, `issued`, `poolSize`). One Query lists a game's."""
    return {"pk": f"{GAME_PREFIX}{game_id}", "sk": f"{BUDGET_PREFIX}{brand_id}"}


OFFER_PREFIX: Final = "OFFER#"


def offer_key(game_id: str, brand_id: str) -> dict[str, str]:
    """What the game-brand's coupons are worth (`frolic.dal.offers`): beside the budget
    item, not in it, because every lease writes that item and pays for its size."""
    return {"pk": f"{GAME_PREFIX}{game_id}", "sk": f"{OFFER_PREFIX}{brand_id}"}


def counter_key(game_id: str, brand_id: str, sub: int) -> dict[str, str]:
    """Counter `sub` of a budget split for a hot game (`frolic.allocation.sub_budgets`).

    Counter 0 is the budget item; the others get partitions of their own, so each takes
    its own thousand write units a second.
    """
    if sub == 0:
        return budget_key(game_id, brand_id)
    return {"pk": f"{BUDGET_PREFIX}{game_id}#{brand_id}#{sub}", "sk": "B"}


#: On a counter item: the coupons its leases took in one minute of the game, net of the
#: ordinals voided in that minute (`won#<minute>`, minutes counted from the game's start).
WON_MINUTE_PREFIX: Final = "won#"
SECONDS_PER_MINUTE: Final = 60


def game_minute(start_ts: float, at: float) -> int:
    """The minute of the game an instant falls in, counted from the game's start: the
    report's points are these minutes' ends, so a game starting mid-minute is cut at its
    own minutes, not the clock's."""
    return math.floor((at - start_ts) / SECONDS_PER_MINUTE)


#: A counter item's size in bytes without tallies (its keys, ids and numbers, measured on
#: an item with UUID ids), and what each minute's tally adds (`won#<m>` and a number).
COUNTER_ITEM_BYTES: Final = 210
TALLY_BYTES: Final = 10
#: DynamoDB bills a write by the item's size: a unit per KB or part of one.
WRITE_UNIT_BYTES: Final = 1024


def counter_write_units(tallied_minutes: int) -> int:
    """What one write of a counter costs once it holds this many minutes' tallies."""
    return math.ceil((COUNTER_ITEM_BYTES + TALLY_BYTES * tallied_minutes) / WRITE_UNIT_BYTES)


def won_minute_attribute(start_ts: float, at: float) -> str:
    """The counter attribute that tallies what a lease (or a void) at `at` moved."""
    return f"{WON_MINUTE_PREFIX}{game_minute(start_ts, at)}"


def arrivals_key(game_id: str, minute: int) -> dict[str, str]:
    """Plays counted per second of one minute (attributes `s0`..`s59`).

    The partition is per game so the report can read a game's minutes with one Query.
    """
    return {"pk": f"ARRIVALS#{game_id}", "sk": f"M#{minute}"}


def traffic_key(game_id: str) -> dict[str, str]:
    """A game's spells of traffic (`frolic.pacing.spells`), saved about once a minute.

    It shares the arrivals partition, so the allocator reads it in the same
    BatchGetItem as the minutes before the batch.
    """
    return {"pk": f"ARRIVALS#{game_id}", "sk": "TRAFFIC"}


def closing_key(game_id: str) -> dict[str, str]:
    """How many plays the allocators have decided since the game's window closed."""
    return {"pk": f"ARRIVALS#{game_id}", "sk": "CLOSING"}


def coupon_key(game_id: str, brand_id: str, ordinal: int, sub: int = 0) -> dict[str, str]:
    """The n-th coupon of counter `sub`'s pool; ordinals are dense, so the counter's
    issued count n binds its coupon n."""
    return {"pk": f"COUPON#{game_id}#{brand_id}#{sub}#{ordinal}", "sk": "C"}


def sweep_key(game_id: str, brand_id: str, sub: int) -> dict[str, str]:
    """The sweeper's notes on one counter: the ordinals it has checked and those it
    suspects were stranded (frolic.dal.stranded)."""
    return {"pk": f"SWEEP#{game_id}#{brand_id}#{sub}", "sk": "S"}


def code_key(code: str) -> dict[str, str]:
    """Where a code lives: makes codes unique across Frolic and redeemable by code."""
    return {"pk": f"CODE#{code}", "sk": "C"}


def wins_key(game_id: str, user_id: str) -> dict[str, str]:
    return {"pk": f"WINS#{game_id}#{user_id}", "sk": "W"}


def play_pace_key(game_id: str, user_id: str) -> dict[str, str]:
    """When a player last played a game: the per-player play-rate limit."""
    return {"pk": f"PACE#{game_id}#{user_id}", "sk": "P"}


def rate_key(action: str, caller: str, window: int) -> dict[str, str]:
    """A caller's uses of an action in one fixed window (the window's number)."""
    return {"pk": f"RATE#{action}#{caller}", "sk": f"W#{window}"}


def audit_key(game_id: str, at_ms: int, what: str) -> dict[str, str]:
    return {"pk": f"AUDIT#{game_id}", "sk": f"{at_ms:015d}#{what}"}


def connection_key(connection_id: str) -> dict[str, str]:
    return {"pk": f"CONN#{connection_id}"}


def ticket_key(ticket: str) -> dict[str, str]:
    return {"pk": f"TICKET#{ticket}"}
