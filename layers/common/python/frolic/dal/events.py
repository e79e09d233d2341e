"""Events out, onto the EventBridge bus: PutEvents, ten entries a call."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Final

from frolic.events import EVENT_SOURCE, OutEvent, detail, event_type
from frolic.settings import Settings, SettingsError

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient

#: PutEvents takes at most ten entries.
ENTRIES_PER_CALL: Final = 10


class EventsNotPublishedError(RuntimeError):
    """EventBridge refused some entries: the caller's work is retried, events and all."""


class EventBus:
    def __init__(self, client: EventBridgeClient, settings: Settings) -> None:
        if settings.event_bus is None:
            raise SettingsError("this function publishes events: set EVENT_BUS")
        self._client = client
        self._bus = settings.event_bus

    def publish(self, events: list[OutEvent]) -> None:
        for start in range(0, len(events), ENTRIES_PER_CALL):
            chunk = events[start : start + ENTRIES_PER_CALL]
            answer = self._client.put_events(
                Entries=[
                    {
                        "EventBusName": self._bus,
                        "Source": EVENT_SOURCE,
                        "DetailType": event_type(event).value,
                        "Detail": json.dumps(detail(event), separators=(",", ":")),
                    }
                    for event in chunk
                ]
            )
            failed = answer.get("FailedEntryCount", 0)
            if failed:
                codes = sorted(
                    {e.get("ErrorCode", "?") for e in answer["Entries"] if "ErrorCode" in e}
                )
                raise EventsNotPublishedError(f"{failed} events refused: {', '.join(codes)}")
