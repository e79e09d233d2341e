"""Two AWS doors the local gateway keeps, for what moto alone cannot do here.

- **Lambda's asynchronous Invoke** (`/_aws/lambda/2015-03-31/functions/{name}/
  invocations`, the path botocore sends under the `LAMBDA_ENDPOINT_URL` the stack sets):
  moto would run a function in Docker, which the local stack does without. The event is
  run on a thread of its own by `LocalFunctions`, as Lambda runs an event from its
  internal queue, and tried again once if it fails (infra sets `retry_attempts=1`). Only
  `Event` invocations are served, and only signed ones, as the Management API door is.
- **Pre-signed export links** (`/s3/{bucket}/{key}`, the endpoint download links are
  signed for): a browser reaches the gateway, not moto. A GET of the exports bucket's
  `exports/` prefix, with an unexpired pre-signed query, is passed to moto's S3 and its
  answer streamed back a block at a time, so a file of any size crosses the gateway in
  constant memory. The signature itself is not checked (the stack's credentials are
  fake); the bucket, the prefix, the method and the expiry are.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Protocol
from urllib.parse import parse_qs, quote, unquote

import urllib3

from frolic.exports import EXPORTS_FOLDER

log = logging.getLogger("frolic_tools.local")

LAMBDA_PREFIX: Final = "/_aws/lambda"
INVOKE_PATH: Final = re.compile(
    r"^/_aws/lambda/2015-03-31/functions/(?P<name>[A-Za-z0-9_-]{1,64})/invocations$"
)
S3_PREFIX: Final = "/s3/"
EXPORTS_PREFIX: Final = f"{EXPORTS_FOLDER}/"
#: The headers of moto's answer a browser needs to save the file.
PASSED_HEADERS: Final = (
    "Content-Type",
    "Content-Length",
    "Content-Disposition",
    "ETag",
    "Last-Modified",
)
BLOCK_BYTES: Final = 64 * 1024
#: Attempts of an asynchronous invocation: the first and infra's one retry.
ASYNC_ATTEMPTS: Final = 2
PRESIGNED_DATE: Final = "%Y%m%dT%H%M%SZ"


class Invoker(Protocol):
    def invoke(self, function: str, event: dict[str, Any]) -> Any: ...


@dataclass(frozen=True, slots=True)
class Refusal:
    status: int
    message: str


class AsyncInvokes:
    """Lambda's `InvocationType: Event`, run by the local functions."""

    def __init__(self, functions: Invoker, known: Callable[[str], bool]) -> None:
        self._functions = functions
        self._known = known

    def accept(self, path: str, headers: Mapping[str, str], body: bytes) -> Refusal | None:
        """None once the event is queued (Lambda's 202), else why not."""
        match = INVOKE_PATH.match(path)
        if match is None:
            return Refusal(404, "no such function path")
        if not headers.get("Authorization", "").startswith("AWS4-HMAC-SHA256 "):
            return Refusal(403, "Missing Authentication Token")
        if headers.get("X-Amz-Invocation-Type") != "Event":
            return Refusal(400, "the local stack runs asynchronous (Event) invocations only")
        name = match["name"]
        if not self._known(name):
            return Refusal(404, f"Function not found: {name}")
        try:
            event = json.loads(body or b"{}")
        except ValueError:
            return Refusal(400, "the payload is not JSON")
        threading.Thread(
            target=self._run, args=(name, event), name=f"async-{name}", daemon=True
        ).start()
        return None

    def _run(self, name: str, event: Any) -> None:
        for attempt in range(1, ASYNC_ATTEMPTS + 1):
            try:
                self._functions.invoke(name, event)
                return
            except Exception:
                log.exception("async %s: attempt %d of %d failed", name, attempt, ASYNC_ATTEMPTS)


def presigned_refusal(query: str, now: datetime) -> Refusal | None:
    """A query that is not an unexpired SigV4 pre-signature, and why."""
    params = {name: values[0] for name, values in parse_qs(query).items()}
    if params.get("X-Amz-Algorithm") != "AWS4-HMAC-SHA256" or "X-Amz-Signature" not in params:
        return Refusal(403, "the link is not signed")
    try:
        signed_at = datetime.strptime(params["X-Amz-Date"], PRESIGNED_DATE).replace(tzinfo=UTC)
        seconds = int(params["X-Amz-Expires"])
    except (KeyError, ValueError):
        return Refusal(403, "the link's date or lifetime is unreadable")
    if (now - signed_at).total_seconds() > seconds:
        return Refusal(403, "the link has expired")
    return None


class Download:
    """moto's answer to a link, to be streamed."""

    def __init__(self, response: urllib3.BaseHTTPResponse) -> None:
        self.status = response.status
        self.headers = [
            (h, str(response.headers[h])) for h in PASSED_HEADERS if h in response.headers
        ]
        self._response = response

    def blocks(self) -> Generator[bytes, None, None]:
        try:
            yield from self._response.stream(BLOCK_BYTES)
        finally:
            self._response.release_conn()


class ExportLinks:
    """Pre-signed GETs of the exports bucket, passed to moto's S3."""

    def __init__(self, moto_url: str, bucket: str) -> None:
        self._moto_url = moto_url.rstrip("/")
        self._bucket = bucket
        self._pool = urllib3.PoolManager(num_pools=1, maxsize=4)

    def open(self, method: str, path: str, query: str) -> Download | Refusal:
        """`path` after `/s3/`: `{bucket}/{key}`."""
        if method not in ("GET", "HEAD"):
            return Refusal(405, "links are read with GET")
        bucket, _, key = unquote(path).partition("/")
        if bucket != self._bucket or not key.startswith(EXPORTS_PREFIX) or ".." in key:
            return Refusal(403, "only export files are served here")
        refusal = presigned_refusal(query, datetime.now(UTC))
        if refusal is not None:
            return refusal
        response = self._pool.request(
            method,
            f"{self._moto_url}/{quote(bucket)}/{quote(key)}?{query}",
            preload_content=False,
            redirect=False,
        )
        return Download(response)

    def close(self) -> None:
        self._pool.clear()
