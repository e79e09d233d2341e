"""Settings that only hold together: the batch-write fence against the client's timeouts."""

from __future__ import annotations

from frolic.dal.clients import ATTEMPT_BOUND_SECONDS
from frolic.settings import Settings


def test_the_batch_write_fence_covers_one_attempt_of_the_deployed_client() -> None:
    # An attempt sent just inside the fence may land this much later: before the deadline
    fence = Settings().batch_write_fence_seconds
    assert fence >= ATTEMPT_BOUND_SECONDS
