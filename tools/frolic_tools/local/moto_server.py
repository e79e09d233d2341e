"""moto's server on loopback, in a process of its own, one request at a time.

Why a process: the local stack's handlers, gateway and pollers are Python too, and in
one interpreter they and moto took turns on one core under the GIL. In a child process
moto has a core of its own.

Why one request at a time: moto's backends are plain Python objects with no locking.
The child serves moto's WSGI app with waitress and one worker thread: waitress's loop
reads every connection and queues whole requests, the worker runs them one after the
other, so moto never sees two at once and a slow client stalls nobody. Why waitress and
not werkzeug's development server (moto's own): werkzeug closes the connection after
every answer, while the stack's functions and stream mappings reuse theirs for
thousands of small calls, each of which would otherwise pay for a new connection and a
thread. waitress also reads chunked bodies, answers `Expect: 100-continue` and closes
connections left idle.

The child installs `moto_patches` (in-place transaction rollback, per-partition Query),
sweeps the DynamoDB Streams iterators moto never forgets, and tells the parent, over a
socket pair, each time a request added records to a stream (a Kinesis shard, a table's
change stream), so the stream mappings can read at once instead of polling on a timer.
`GET /_frolic/stats` on its port answers what it served: requests and time per
operation, its own CPU time, and the most requests moto was handed at once (`MotoStats`).

The child ends when the parent closes its end of the pair (`stop`, or the parent
exiting in any way, even killed), or on SIGTERM; it ignores SIGINT, so a Ctrl-C in the
terminal reaches the parent, which stops everything in order.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final

log = logging.getLogger("frolic_tools.local")

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]

ITERATOR_SWEEP_SECONDS: Final = 60.0
STATS_PATH: Final = "/_frolic/stats"
START_TIMEOUT_SECONDS: Final = 60.0
STOP_TIMEOUT_SECONDS: Final = 10.0
#: The stack's clients keep their connections open (about 15 at once in the e2e tests);
#: past the limit waitress stops accepting, and a new client would wait for one of
#: them to idle out. So the limit is far above any stack's need (waitress's is 100).
CONNECTION_LIMIT: Final = 1000
#: Connections nobody used for this long are closed (clients reconnect on their own).
IDLE_SECONDS: Final = 300

#: A stream write, as the child reports it: the stream's ARN and the shard's id.
StreamWrite = tuple[str, str]


@dataclass
class MotoStats:
    """What the child has served since it started."""

    pid: int = 0
    requests: int = 0
    #: Seconds inside moto (wall and CPU), all requests.
    busy: float = 0.0
    app_cpu: float = 0.0
    #: The child process's CPU time: moto, HTTP parsing, everything.
    cpu: float = 0.0
    operations: Counter[str] = field(default_factory=Counter)
    #: Seconds of moto's time per operation (a Counter of floats).
    op_seconds: Counter[str] = field(default_factory=Counter)
    #: The most requests moto was handed at once: 1, as moto needs.
    most_at_once: int = 0

    def to_json(self) -> dict[str, Any]:
        return {
            "pid": self.pid,
            "requests": self.requests,
            "busy": self.busy,
            "appCpu": self.app_cpu,
            "cpu": self.cpu,
            "operations": dict(self.operations),
            "opSeconds": dict(self.op_seconds),
            "mostAtOnce": self.most_at_once,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> MotoStats:
        return cls(
            pid=int(data["pid"]),
            requests=int(data["requests"]),
            busy=float(data["busy"]),
            app_cpu=float(data["appCpu"]),
            cpu=float(data["cpu"]),
            operations=Counter({k: int(v) for k, v in data["operations"].items()}),
            op_seconds=Counter({k: float(v) for k, v in data["opSeconds"].items()}),
            most_at_once=int(data["mostAtOnce"]),
        )


def operation_of(environ: Mapping[str, Any]) -> str:
    """`DynamoDB GetItem` for an `X-Amz-Target: DynamoDB_20120810.GetItem` request,
    else the method and path."""
    target = str(environ.get("HTTP_X_AMZ_TARGET") or "")
    if target:
        service, _, operation = target.rpartition(".")
        return f"{service.partition('_')[0]} {operation}" if service else target
    return f"{environ.get('REQUEST_METHOD')} {environ.get('PATH_INFO')}"


# -- the parent's side ---------------------------------------------------------------------


class MotoServer:
    """The child process, seen from the stack: start, its URL, its stats, stop.

    `on_stream_write(stream_arn, shard_id)` is called (on a thread of this object's)
    after each request that added records to that shard.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        on_stream_write: Callable[[str, str], None] | None = None,
    ) -> None:
        self._host = host
        self._port = port
        self._on_stream_write = on_stream_write
        self._process: subprocess.Popen[bytes] | None = None
        self._control: socket.socket | None = None
        self._reader: threading.Thread | None = None
        self._bound_port: int | None = None
        self._stopping = False
        #: Whether the child's `moto_patches` are all in (known once it is ready).
        self.patched = False

    @property
    def url(self) -> str:
        if self._bound_port is None:
            raise RuntimeError("moto's server is not running")
        host = f"[{self._host}]" if ":" in self._host else self._host
        return f"http://{host}:{self._bound_port}"

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        ours, theirs = socket.socketpair()
        self._control = ours
        try:
            self._process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "frolic_tools.local.moto_server",
                    "--host",
                    self._host,
                    "--port",
                    str(self._port),
                    "--control-fd",
                    str(theirs.fileno()),
                ],
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
            )
        finally:
            theirs.close()
        lines = ours.makefile("rb")
        ours.settimeout(START_TIMEOUT_SECONDS)
        try:
            first = lines.readline()
        except TimeoutError:
            first = b""
        ours.settimeout(None)
        word, _, rest = first.decode(errors="replace").strip().partition(" ")
        port, _, patched = rest.partition(" ")
        if word != "ready" or not port.isdigit():
            code = self._process.poll()
            self.stop()
            raise RuntimeError(
                "moto's server did not start"
                + (f" (exit {code})" if code is not None else " in time")
            )
        self._bound_port = int(port)
        self.patched = patched == "patched"
        self._reader = threading.Thread(
            target=self._read_reports, args=(lines,), name="frolic-local-moto-reports", daemon=True
        )
        self._reader.start()

    def _read_reports(self, lines: Any) -> None:
        for raw in lines:
            word, _, rest = raw.decode(errors="replace").strip().partition(" ")
            if word == "write" and self._on_stream_write is not None:
                arn, _, shard = rest.partition(" ")
                try:
                    self._on_stream_write(arn, shard)
                except Exception:
                    log.exception("local moto: a stream-write listener failed")
        if not self._stopping:
            log.error("local moto: moto's server process ended unexpectedly")

    def stats(self, timeout: float = 10.0) -> MotoStats:
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(f"{self.url}{STATS_PATH}", timeout=timeout) as response:
            return MotoStats.from_json(json.loads(response.read()))

    def stop(self) -> None:
        """End the child and wait for it; safe to call more than once."""
        self._stopping = True
        if self._control is not None:
            with contextlib.suppress(OSError):
                self._control.shutdown(socket.SHUT_RDWR)
            self._control.close()
            self._control = None
        process = self._process
        if process is not None:
            try:
                process.wait(timeout=STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                process.terminate()
                try:
                    process.wait(timeout=STOP_TIMEOUT_SECONDS)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            self._process = None
        if self._reader is not None:
            self._reader.join(timeout=STOP_TIMEOUT_SECONDS)
            self._reader = None
        self._bound_port = None


# -- the child's side ----------------------------------------------------------------------


class _StreamWatch:
    """Which stream shards grew since the last look: Kinesis shards by record count,
    DynamoDB change streams by length (a rolled-back transaction leaves none)."""

    def __init__(self) -> None:
        self._lengths: dict[StreamWrite, int] = {}

    def changed(self) -> list[StreamWrite]:
        current = dict(self._current())
        grown = [key for key, length in current.items() if length > self._lengths.get(key, 0)]
        self._lengths = current
        return grown

    @staticmethod
    def _current() -> Iterable[tuple[StreamWrite, int]]:
        from moto.dynamodb.models import dynamodb_backends  # noqa: PLC0415
        from moto.kinesis.models import kinesis_backends  # noqa: PLC0415

        for account in list(dynamodb_backends.values()):
            for backend in list(account.values()):
                for table in list(backend.tables.values()):
                    shard = getattr(table, "stream_shard", None)
                    label = getattr(table, "latest_stream_label", None)
                    if shard is not None and label:
                        yield (f"{table.table_arn}/stream/{label}", shard.id), len(shard.items)
        for kinesis_account in list(kinesis_backends.values()):
            for kinesis in list(kinesis_account.values()):
                for stream in list(kinesis.streams.values()):
                    for kinesis_shard in list(stream.shards.values()):
                        yield (stream.arn, kinesis_shard.shard_id), len(kinesis_shard.records)


def _stream_iterator_maps() -> list[dict[str, Any]]:
    """Every DynamoDB Streams backend's iterator table (one per account and region)."""
    from moto.dynamodbstreams.models import dynamodbstreams_backends  # noqa: PLC0415

    return [
        backend.shard_iterators
        for account in list(dynamodbstreams_backends.values())
        for backend in list(account.values())
    ]


class _IteratorSweep:
    """moto keeps every DynamoDB Streams iterator it ever issued, and the pollers get
    one per poll: forget those older than a sweep (AWS forgets them after 15 minutes;
    a poller uses each within milliseconds), so memory stays flat."""

    def __init__(self) -> None:
        self._seen: set[str] = set()

    def __call__(self) -> None:
        for iterators in _stream_iterator_maps():
            for arn in self._seen & iterators.keys():
                del iterators[arn]
        self._seen = {arn for iterators in _stream_iterator_maps() for arn in iterators}


class _Reports:
    """Stream writes to the parent, one line each; never blocks moto (what the socket
    cannot take now is kept, once per shard, and sent after the next request). The
    socket itself stays blocking: a thread of the child reads it for end of file."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._pending: dict[StreamWrite, None] = {}
        self._buffer = b""

    def send_ready(self, port: int, *, patched: bool) -> None:
        self._sock.sendall(f"ready {port} {'patched' if patched else 'unpatched'}\n".encode())

    def stream_writes(self, writes: Iterable[StreamWrite]) -> None:
        for write in writes:
            self._pending[write] = None
        if not self._buffer and not self._pending:
            return
        self._buffer += b"".join(f"write {arn} {shard}\n".encode() for arn, shard in self._pending)
        self._pending.clear()
        try:
            sent = self._sock.send(self._buffer, socket.MSG_DONTWAIT)
        except (BlockingIOError, InterruptedError):
            sent = 0
        except OSError:
            self._buffer = b""  # the parent is gone; the child ends on its own
            return
        self._buffer = self._buffer[sent:]


class _ChildApp:
    """moto's WSGI app, with what the child does around each request: the stats, the
    iterator sweep and the stream-write reports. It runs on waitress's one worker thread,
    so all of it, like moto, sees one request at a time."""

    def __init__(self, stats: MotoStats, reports: _Reports) -> None:
        from moto.moto_server.werkzeug_app import (  # noqa: PLC0415
            DomainDispatcherApplication,
            create_backend_app,
        )

        self._moto: WSGIApp = DomainDispatcherApplication(create_backend_app)
        self._stats = stats
        self._reports = reports
        self._watch = _StreamWatch()
        self._sweep = _IteratorSweep()
        self._next_sweep = time.monotonic() + ITERATOR_SWEEP_SECONDS
        self._in_flight = 0
        self._in_flight_lock = threading.Lock()

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == STATS_PATH and environ.get("REQUEST_METHOD") == "GET":
            self._stats.cpu = time.process_time()
            body = json.dumps(self._stats.to_json()).encode()
            start_response("200 OK", [("Content-Type", "application/json")])
            return [body]
        if time.monotonic() >= self._next_sweep:
            self._sweep()
            self._next_sweep = time.monotonic() + ITERATOR_SWEEP_SECONDS
        with self._in_flight_lock:
            self._in_flight += 1
            self._stats.most_at_once = max(self._stats.most_at_once, self._in_flight)
        started, cpu = time.perf_counter(), time.thread_time()
        try:
            return [self._whole_answer(environ, start_response)]
        finally:
            with self._in_flight_lock:
                self._in_flight -= 1
            self._count(operation_of(environ), time.perf_counter() - started, cpu)

    def _whole_answer(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> bytes:
        """moto's answer, all of it, so its time is counted and its stream writes are
        reported before waitress sends a byte of it."""
        answer = self._moto(environ, start_response)
        try:
            return b"".join(answer)
        finally:
            close = getattr(answer, "close", None)
            if close is not None:
                close()

    def _count(self, operation: str, seconds: float, cpu_before: float) -> None:
        stats = self._stats
        stats.requests += 1
        stats.busy += seconds
        stats.app_cpu += time.thread_time() - cpu_before
        stats.operations[operation] += 1
        stats.op_seconds[operation] += seconds  # type: ignore[assignment]
        self._reports.stream_writes(self._watch.changed())


def _stop_when_parent_goes(control: socket.socket) -> None:
    """End the process once the parent closes its end of the pair: SIGTERM to the main
    thread, which wakes waitress's loop at once and makes it shut down."""
    main_thread = threading.get_ident()

    def watch() -> None:
        with contextlib.suppress(OSError):
            while control.recv(4096):
                pass  # the parent sends nothing; anything it does send is ignored
        signal.pthread_kill(main_thread, signal.SIGTERM)

    threading.Thread(target=watch, name="frolic-moto-parent-watch", daemon=True).start()


def serve(host: str, port: int, control_fd: int) -> int:
    """The child: serve until the parent goes away or SIGTERM."""
    from waitress.server import create_server  # noqa: PLC0415

    from frolic_tools.local import moto_patches  # noqa: PLC0415

    signal.signal(signal.SIGINT, signal.SIG_IGN)
    control = socket.socket(fileno=control_fd)
    patched = moto_patches.install()
    stats = MotoStats(pid=os.getpid())
    reports = _Reports(control)
    listener = socket.create_server((host, port))  # ours: any address form, one socket
    # A request queued behind the one worker is the design, not news.
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)
    server = create_server(
        _ChildApp(stats, reports),
        sockets=[listener],
        threads=1,
        connection_limit=CONNECTION_LIMIT,
        asyncore_use_poll=True,  # select() fails on a descriptor above 1023
        channel_timeout=IDLE_SECONDS,
    )

    def terminate(signum: int, frame: Any) -> None:
        raise SystemExit(0)  # waitress's loop catches it and stops its worker

    signal.signal(signal.SIGTERM, terminate)
    _stop_when_parent_goes(control)
    reports.send_ready(listener.getsockname()[1], patched=patched)
    with contextlib.suppress(SystemExit):
        server.run()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="moto's server for `frolic local`")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--control-fd", type=int, required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="frolic local (moto): %(message)s")
    return serve(args.host, args.port, args.control_fd)


if __name__ == "__main__":
    raise SystemExit(main())
