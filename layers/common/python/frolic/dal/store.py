"""What every store over the state table is built from."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from frolic.settings import Settings

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


class StateTableStore:
    """A client, the state table's name and a wall clock (tests pass their own, so
    leases, expiries and audit stamps can be checked at chosen instants)."""

    def __init__(
        self,
        client: DynamoDBClient,
        settings: Settings,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._db = client
        self._settings = settings
        self._state = settings.state_table
        self._clock = clock
