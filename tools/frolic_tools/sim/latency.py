"""How long AWS takes: the latency model of the concurrent simulation.

Each call's time is drawn from a log-normal distribution fixed by its median and its
99th percentile, so every call has a tail. Where the figures come from:

- PutItem, UpdateItem: median 7.55 ms, p99 16.2 ms; BatchWriteItem (25 items): 10.2 ms,
  27.6 ms; TransactWriteItems (5 items): 25.3 ms, 92.5 ms. Measured from a Lambda
  function, 400 calls each, by Alex DeBrie (github.com/alexdebrie/
  dynamodb-performance-testing, put-batch-transaction-performance/README.md). AWS
  publishes no percentiles per operation.
- GetItem, BatchGetItem, Query: AWS promises "single-digit millisecond" latency
  (aws.amazon.com/dynamodb/features; Elhemali et al., USENIX ATC 2022) and publishes no
  percentiles. A strongly consistent read is taken at 4 ms median, with the same
  p99/median ratio as PutItem; a batch or query of many small items at 6 ms.
- The Lambda invocation of a batch by the Kinesis event-source mapping: AWS publishes no
  figure. 20 ms median, 60 ms p99 is an assumption; `--latency-scale` tries others.
- A record's trip from ingest's PutRecord to being readable: AWS says propagation is
  "typically below 1 second" with consumers polling every second (docs: Kinesis
  low-latency processing). Polling is modelled on its own (once a second per shard, as
  the Lambda mapping does); the put itself is taken as a 15 ms write, p99 40 ms.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass, field

#: The standard normal's 99th percentile.
_Z99 = 2.3263478740408408


@dataclass(frozen=True, slots=True)
class CallLatency:
    median_s: float
    p99_s: float

    def __post_init__(self) -> None:
        if not 0 < self.median_s <= self.p99_s:
            raise ValueError("a latency needs 0 < median <= p99")

    def draw(self, rng: random.Random, scale: float = 1.0) -> float:
        sigma = math.log(self.p99_s / self.median_s) / _Z99
        return scale * self.median_s * math.exp(sigma * rng.gauss(0.0, 1.0))


_SINGLE_WRITE = CallLatency(0.00755, 0.0162)
_READ = CallLatency(0.004, 0.004 * 0.0162 / 0.00755)
_MANY_READ = CallLatency(0.006, 0.006 * 0.0162 / 0.00755)

DYNAMODB_CALLS: Mapping[str, CallLatency] = {
    "GetItem": _READ,
    "BatchGetItem": _MANY_READ,
    "Query": _MANY_READ,
    "PutItem": _SINGLE_WRITE,
    "UpdateItem": _SINGLE_WRITE,
    "BatchWriteItem": CallLatency(0.0102, 0.0276),
    "TransactWriteItems": CallLatency(0.0253, 0.0925),
}
LAMBDA_INVOKE = CallLatency(0.020, 0.060)
RECORD_PUT = CallLatency(0.015, 0.040)


@dataclass(frozen=True, slots=True)
class LatencyModel:
    """Every figure above, times `scale`."""

    calls: Mapping[str, CallLatency] = field(default_factory=lambda: dict(DYNAMODB_CALLS))
    invoke: CallLatency = LAMBDA_INVOKE
    record_put: CallLatency = RECORD_PUT
    scale: float = 1.0

    def __post_init__(self) -> None:
        if self.scale <= 0:
            raise ValueError("the latency scale must be positive")

    def call(self, operation: str, rng: random.Random) -> float:
        return self.calls[operation].draw(rng, self.scale)

    def invocation(self, rng: random.Random) -> float:
        return self.invoke.draw(rng, self.scale)

    def put(self, rng: random.Random) -> float:
        return self.record_put.draw(rng, self.scale)
