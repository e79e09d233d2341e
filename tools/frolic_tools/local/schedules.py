"""EventBridge schedule rules, emulated: the sweeper runs every minute here as in AWS
(infra/constructs/schedule.py).

Each rule has a thread that waits out its interval on the stack's stop event, so
stopping the stack ends the wait at once, and then invokes its function with a
Scheduled Event as EventBridge sends it. As deployed, a failed run is not retried:
the next one covers it.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from frolic.sweep import EVERY_SECONDS as SWEEP_EVERY_SECONDS
from frolic_tools.local.functions import ACCOUNT, REGION, FunctionError

log = logging.getLogger("frolic_tools.local")


@dataclass(frozen=True, slots=True)
class ScheduleConfig:
    name: str
    function: str
    every_seconds: float


SWEEP: Final = ScheduleConfig(name="sweep", function="sweep", every_seconds=SWEEP_EVERY_SECONDS)
#: Every rule the deployed stack has.
SCHEDULES: Final = (SWEEP,)


def rule_arn(name: str) -> str:
    return f"arn:aws:events:{REGION}:{ACCOUNT}:rule/frolic-local-{name}"


def scheduled_event(config: ScheduleConfig, at: float) -> dict[str, Any]:
    """What EventBridge hands a function its rule targets."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": ACCOUNT,
        "time": datetime.fromtimestamp(at, UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": REGION,
        "resources": [rule_arn(config.name)],
        "detail": {},
    }


class ScheduledRule:
    def __init__(
        self,
        config: ScheduleConfig,
        invoke: Callable[[str, dict[str, Any]], Any],
        stop: threading.Event,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self._invoke = invoke
        self._stop = stop
        self._clock = clock
        self._thread = threading.Thread(
            target=self.run, name=f"schedule-{config.name}", daemon=True
        )
        self.runs = 0
        self.errors = 0

    def start(self) -> None:
        self._thread.start()

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)

    def run(self) -> None:
        """Fire once per interval until the stop event is set."""
        while not self._stop.wait(self.config.every_seconds):
            self.fire()

    def fire(self) -> None:
        """One invocation; its failure is logged (and counted), never raised."""
        self.runs += 1
        try:
            self._invoke(self.config.function, scheduled_event(self.config, self._clock()))
        except FunctionError as error:
            self.errors += 1
            log.warning("scheduled %s failed: %s", self.config.name, error)
