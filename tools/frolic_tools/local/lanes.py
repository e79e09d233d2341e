"""Several batches of one shard at once, as Lambda's ParallelizationFactor runs them.

moto gives a table's change stream one shard, where DynamoDB splits a busy table's
stream over several, each read by its own poller: run one batch at a time, the local
results stream would let `deliver` push one result at a time, however many sockets
wait. So the stack splits each batch over a few lanes and runs the lanes at once, each
with a `BatchRunner` of its own (its own retries, bisection and on-failure entries).
Records with one key share a lane and keep their order, which is all Lambda promises
(and all Frolic relies on: docs/architecture.md § Replay safety). The next batch
starts once every lane has finished this one.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

from frolic_tools.local.mappings import Runner, StreamRecord


def result_socket_or_key(record: StreamRecord) -> str:
    """Where a results-stream record goes: the play's socket (`connectionId`, which
    every image of a play's item carries), else the item's key. Either way an item's
    records share a lane; by socket, one player's results also leave in order, from one
    environment."""
    body = record.event.get("dynamodb", {})
    for image in ("NewImage", "OldImage"):
        socket = body.get(image, {}).get("connectionId", {}).get("S")
        if isinstance(socket, str):
            return "socket:" + socket
    return "key:" + json.dumps(body.get("Keys", {}), sort_keys=True, separators=(",", ":"))


class Lanes:
    """`run` as one `BatchRunner`, with the batch split by key over `runners`."""

    def __init__(
        self, runners: Sequence[Runner], key_of: Callable[[StreamRecord], str], name: str
    ) -> None:
        self._runners = list(runners)
        self._key_of = key_of
        self._pool = ThreadPoolExecutor(len(self._runners), thread_name_prefix=name)

    def lane_of(self, record: StreamRecord) -> int:
        return zlib.crc32(self._key_of(record).encode()) % len(self._runners)

    def run(self, records: Sequence[StreamRecord]) -> bool:
        """Every lane's share of the records, at once; False if any was interrupted."""
        shares: list[list[StreamRecord]] = [[] for _ in self._runners]
        for record in records:
            shares[self.lane_of(record)].append(record)
        pairs = zip(self._runners, shares, strict=True)
        work = [(runner, share) for runner, share in pairs if share]
        if len(work) == 1:
            runner, share = work[0]
            return runner.run(share)
        done = [self._pool.submit(runner.run, share) for runner, share in work]
        return all([future.result() for future in done])

    def close(self) -> None:
        self._pool.shutdown(wait=True)
