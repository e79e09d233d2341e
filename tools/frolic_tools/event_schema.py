"""docs/events.json: the JSON Schema of each event Frolic puts on its bus, by detail
type, generated from `frolic.events` (`make openapi` writes it beside the API's)."""

from __future__ import annotations

import sys
from typing import Any

from frolic.events import DETAILS, EVENT_SOURCE
from frolic_tools.openapi import render


def generate() -> dict[str, Any]:
    return {
        "title": "Frolic events",
        "description": (
            f"Every event has source `{EVENT_SOURCE}`, one of these detail types, and a "
            "detail of its schema. Dedupe on `eventId`: an event may come more than once. "
            "`code` is sent only to targets whose rule asks for codes."
        ),
        "source": EVENT_SOURCE,
        "detailTypes": {
            event_type.value: model.model_json_schema(by_alias=True, mode="serialization")
            for event_type, model in DETAILS.items()
        },
    }


def main() -> int:
    sys.stdout.write(render(generate()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
