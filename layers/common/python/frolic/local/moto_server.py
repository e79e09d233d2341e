"""moto's server on loopback, one request at a time.

moto's backends are plain Python objects with no locking, and the local stack reaches
them from many threads (the gateway's requests, every poller, the tests). werkzeug
still serves each client connection on a thread of its own, so a slow client cannot
stall the others, but the application itself runs under one lock and its whole answer
is produced inside it: moto never sees two requests at once.
"""

from __future__ import annotations

import logging
import threading
import urllib.request
from collections.abc import Callable, Iterable
from typing import Any, Final

from moto.dynamodbstreams.models import dynamodbstreams_backends
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import BaseWSGIServer, make_server

from frolic.local import moto_patches

log = logging.getLogger("frolic.local")

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


ITERATOR_SWEEP_SECONDS: Final = 60.0


def _stream_iterator_maps() -> list[dict[str, Any]]:
    """Every DynamoDB Streams backend's iterator table (one per account and region)."""
    return [
        backend.shard_iterators
        for account in dynamodbstreams_backends.values()
        for backend in account.values()
    ]


class SerializedApp:
    """A WSGI app that runs one request at a time, response body included."""

    def __init__(self, app: WSGIApp) -> None:
        self._app = app
        #: Held for each request, and by anything else that touches moto's state.
        self.lock = threading.Lock()

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        with self.lock:
            result = self._app(environ, start_response)
            try:
                return [b"".join(result)]
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()


class _QuietHandler(MotoRequestHandler):
    """werkzeug logs every request to stderr; keep it to the debug log."""

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        log.debug("moto %s %s", self.requestline, code)


class MotoServer:
    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._host = host
        self._port = port
        self._server: BaseWSGIServer | None = None
        self._thread: threading.Thread | None = None
        self._app = SerializedApp(DomainDispatcherApplication(create_backend_app))
        self._stopping = threading.Event()
        self._janitor: threading.Thread | None = None

    @property
    def url(self) -> str:
        if self._server is None:
            raise RuntimeError("moto's server is not running")
        return f"http://{self._host}:{self._server.server_port}"

    def start(self) -> None:
        moto_patches.install()
        self._server = make_server(
            self._host, self._port, self._app, threaded=True, request_handler=_QuietHandler
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="frolic-local-moto", daemon=True
        )
        self._thread.start()
        self._reset()
        self._janitor = threading.Thread(
            target=self._sweep, name="frolic-local-moto-sweep", daemon=True
        )
        self._janitor.start()

    def _sweep(self) -> None:
        """moto keeps every DynamoDB Streams iterator it ever issued, and the pollers get
        one per poll: forget those older than a sweep (AWS forgets them after 15
        minutes; a poller uses each within milliseconds), so memory stays flat."""
        seen: set[str] = set()
        while not self._stopping.wait(ITERATOR_SWEEP_SECONDS):
            with self._app.lock:
                for iterators in _stream_iterator_maps():
                    for arn in seen & iterators.keys():
                        del iterators[arn]
                seen = {arn for iterators in _stream_iterator_maps() for arn in iterators}

    def _reset(self) -> None:
        """moto's backends are process-wide: start from nothing, whatever ran before."""
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        request = urllib.request.Request(f"{self.url}/moto-api/reset", method="POST")
        with opener.open(request, timeout=10) as response:
            response.read()

    def stop(self) -> None:
        self._stopping.set()
        if self._janitor is not None:
            self._janitor.join(timeout=5)
            self._janitor = None
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = None
        self._thread = None
        moto_patches.uninstall()
