"""frolic_tools.local.lanes: a batch split by key runs its lanes at once, each key's
records in one lane and in order, and the batch is done only when every lane is."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

from frolic_tools.local.lanes import Lanes, result_socket_or_key
from frolic_tools.local.mappings import StreamRecord


def change(sequence: int, play: str) -> StreamRecord:
    return StreamRecord(
        str(sequence), 0.0, {"dynamodb": {"Keys": {"playId": {"S": play}}, "n": sequence}}
    )


class Lane:
    """A lane's runner: records what it ran; all lanes wait at `together` first."""

    def __init__(self, together: threading.Barrier, answer: bool = True) -> None:
        self.together = together
        self.answer = answer
        self.ran: list[list[str]] = []

    def run(self, records: Sequence[StreamRecord]) -> bool:
        self.together.wait(timeout=20)  # breaks unless the other lane runs at once
        self.ran.append([r.sequence for r in records])
        return self.answer


def test_lanes_run_at_once_and_keep_each_keys_records_together_in_order() -> None:
    together = threading.Barrier(2)
    runners = [Lane(together), Lane(together)]
    lanes = Lanes(runners, result_socket_or_key, name="test-lane")
    try:
        plays = ["a", "b", "c", "d", "e", "f"]
        records = [change(n, plays[n % len(plays)]) for n in range(24)]
        lane_of = {play: lanes.lane_of(change(0, play)) for play in plays}
        assert len(set(lane_of.values())) == 2  # both lanes have work
        assert lanes.run(records)
        for index, runner in enumerate(runners):
            [ran] = runner.ran
            expected = [
                r.sequence
                for r in records
                if lane_of[r.event["dynamodb"]["Keys"]["playId"]["S"]] == index
            ]
            assert ran == expected  # its keys' records, in the order they came
    finally:
        lanes.close()


def test_a_results_record_goes_by_its_socket_else_by_its_key() -> None:
    def record(image: str, keys: dict[str, Any], socket: str | None) -> StreamRecord:
        item: dict[str, Any] = dict(keys)
        if socket is not None:
            item["connectionId"] = {"S": socket}
        return StreamRecord("1", 0.0, {"dynamodb": {"Keys": keys, image: item}})

    key = {"playId": {"S": "p-1"}}
    # Every record of a play's item: its INSERT and MODIFY (new image), its REMOVE (old).
    on_socket = {result_socket_or_key(record(i, key, "c-1")) for i in ("NewImage", "OldImage")}
    assert on_socket == {"socket:c-1"}
    assert result_socket_or_key(record("NewImage", key, None)) == 'key:{"playId":{"S":"p-1"}}'


def test_a_batch_is_unfinished_if_any_lane_was_interrupted() -> None:
    together = threading.Barrier(2)
    runners = [Lane(together, answer=True), Lane(together, answer=False)]
    lanes = Lanes(runners, result_socket_or_key, name="test-lane")
    try:
        records = [change(n, play) for n, play in enumerate("abcdef")]
        assert not lanes.run(records)
    finally:
        lanes.close()
