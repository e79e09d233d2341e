"""Events out, locally: what an EventBridge API destination does in AWS, done against
moto's bus.

A rule on the bus (source `frolic`) sends every event to an SQS queue in moto, as a rule
in AWS sends them to its targets. `EventForwarder` reads the queue, keeps a copy of each
event in `out/events.jsonl`, and, with `frolic local --events-to URL`, POSTs it there:

- the body is `{"id", "type", "time", "detail"}`, the detail without the coupon code
  unless the forwarder was asked for codes (`--events-with-codes`), as a rule's input
  transformer leaves it out in AWS (frolic.events);
- `X-Frolic-Signature: v1=<hex>` is HMAC-SHA256 over `<timestamp>.<body>` with the
  secret (`X-Frolic-Timestamp` carries the timestamp), so the receiver can check who
  sent it and refuse a replay;
- a connection error, 429 or 5xx is retried with backoff (urllib3's `Retry`); an event
  still refused is written to `out/events-failed.jsonl`, as a dead-letter queue keeps it.

A message is deleted from the queue once handled, so each event is sent once per run
unless the forwarder dies mid-way (then SQS hands it out again: at least once, as in
AWS).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import urllib3

from frolic.events import EVENT_SOURCE, without_codes
from frolic.settings import Settings

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_sqs import SQSClient

log = logging.getLogger("frolic_tools.local")

OUT_RULE: Final = "frolic-out"
OUT_QUEUE: Final = "frolic-out"
SIGNATURE_HEADER: Final = "X-Frolic-Signature"
TIMESTAMP_HEADER: Final = "X-Frolic-Timestamp"
EVENT_ID_HEADER: Final = "X-Frolic-Event-Id"
#: How a refused POST is retried: five more tries, 0.5 s, 1 s, 2 s, … apart.
RETRY: Final = urllib3.Retry(
    total=5,
    backoff_factor=0.5,
    status_forcelist=(429, 500, 502, 503, 504),
    allowed_methods=frozenset({"POST"}),
    raise_on_status=False,
)
#: How often the queue is read. Short polls, not SQS's long polls: moto's server answers
#: one request at a time (moto_server), so a long poll would hold up every function.
POLL_SECONDS: Final = 0.5


def subscribe_queue(
    events: EventBridgeClient, sqs: SQSClient, settings: Settings, name: str = OUT_QUEUE
) -> str:
    """A queue that a rule on the bus sends every Frolic event to; its URL."""
    assert settings.event_bus is not None
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    events.put_rule(
        Name=name,
        EventBusName=settings.event_bus,
        EventPattern=json.dumps({"source": [EVENT_SOURCE]}),
    )
    events.put_targets(
        Rule=name, EventBusName=settings.event_bus, Targets=[{"Id": "queue", "Arn": arn}]
    )
    return url


def received(sqs: SQSClient, url: str) -> list[dict[str, Any]]:
    """The events waiting on the queue (EventBridge's envelopes), taken off it."""
    events: list[dict[str, Any]] = []
    while True:
        answer = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
        messages = answer.get("Messages", [])
        if not messages:
            return events
        for message in messages:
            events.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def outgoing(envelope: dict[str, Any], *, with_codes: bool) -> dict[str, Any]:
    """What a receiver gets of one bus event."""
    detail = envelope.get("detail") or {}
    return {
        "id": detail.get("eventId", envelope.get("id")),
        "type": envelope.get("detail-type"),
        "time": envelope.get("time"),
        "detail": detail if with_codes else without_codes(detail),
    }


def signature(secret: bytes, timestamp: str, body: bytes) -> str:
    return "v1=" + hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class EventsOut:
    """Where a local stack sends its events: a copy in `out_dir`, and `target` if set."""

    out_dir: Path
    target: str | None = None
    secret: bytes = b""
    with_codes: bool = False

    def forwarder(self, sqs: SQSClient, queue_url: str) -> EventForwarder:
        return EventForwarder(
            sqs,
            queue_url,
            out_dir=self.out_dir,
            target=self.target,
            secret=self.secret,
            with_codes=self.with_codes,
        )


class EventForwarder:
    """Reads the out queue on a thread of its own until `stop`."""

    def __init__(
        self,
        sqs: SQSClient,
        queue_url: str,
        *,
        out_dir: Path,
        target: str | None,
        secret: bytes,
        with_codes: bool = False,
    ) -> None:
        self._sqs = sqs
        self._url = queue_url
        self._copy = out_dir / "events.jsonl"
        self._failed = out_dir / "events-failed.jsonl"
        self._target = target
        self._secret = secret
        self._with_codes = with_codes
        self._http = urllib3.PoolManager(retries=RETRY, timeout=urllib3.Timeout(5.0))
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="events-out", daemon=True)
        out_dir.mkdir(parents=True, exist_ok=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=POLL_SECONDS + 10)
        self._http.clear()

    def _run(self) -> None:
        while not self._stop.wait(POLL_SECONDS):
            try:
                envelopes = received(self._sqs, self._url)
            except Exception:  # moto stopping under us, say: read again on the next turn
                log.exception("events out: could not read the queue")
                continue
            for envelope in envelopes:
                self._forward(outgoing(envelope, with_codes=self._with_codes))

    def _forward(self, event: dict[str, Any]) -> None:
        line = json.dumps(event, separators=(",", ":"), sort_keys=True)
        with self._copy.open("a") as copy:
            copy.write(line + "\n")
        if self._target is None:
            return
        body = line.encode()
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            EVENT_ID_HEADER: str(event["id"]),
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: signature(self._secret, timestamp, body),
        }
        try:
            answer = self._http.request("POST", self._target, body=body, headers=headers)
            delivered = 200 <= answer.status < 300
        except urllib3.exceptions.HTTPError:
            delivered = False
        if delivered:
            return
        log.warning("events out: %s refused by %s after retries", event["id"], self._target)
        with self._failed.open("a") as failed:
            failed.write(line + "\n")
