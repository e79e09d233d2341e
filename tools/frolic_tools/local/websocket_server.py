"""One WebSocket on the local gateway, carried by websockets' sans-I/O `ServerProtocol`.

http.server has already read the upgrade request on the connection's thread; this class
answers it and then keeps the connection on that thread, which reads (`recv`), while any
thread may push (`send`, for the Management API callback). The protocol object is not
thread-safe, so its state and every write to the socket sit behind one lock. The socket
keeps a short I/O timeout: a push to a peer that stopped reading gives up (and drops the
connection) instead of blocking whoever pushed. The limits are API Gateway's.
"""

from __future__ import annotations

import contextlib
import select
import socket
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Final

from websockets.datastructures import Headers
from websockets.frames import CloseCode, Frame, Opcode
from websockets.http11 import Request, Response
from websockets.protocol import State
from websockets.server import ServerProtocol

#: API Gateway's WebSocket message limit (docs/architecture.md § Limits).
MAX_MESSAGE_BYTES: Final = 128 * 1024
#: How long one write may wait for a peer that does not read.
IO_TIMEOUT_SECONDS: Final = 1.0
_RECV_CHUNK: Final = 64 * 1024
_LOST: Final = (int(CloseCode.ABNORMAL_CLOSURE), "connection lost")
_DATA_OPCODES: Final = (Opcode.TEXT, Opcode.BINARY, Opcode.CONT)


@dataclass(frozen=True, slots=True)
class Message:
    """A whole data message: `text` is set for text messages (valid UTF-8, checked)."""

    data: bytes
    text: str | None = None


class SocketClosedError(Exception):
    """The connection has ended (or is closing, for a push): the close frame's code and
    reason, or 1006 when the TCP connection ended without one."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(f"the WebSocket is closed ({code} {reason})".strip())
        self.code = code
        self.reason = reason


class ServerSocket:
    """The server end of one upgrade: `answer` says whether it can be accepted."""

    def __init__(
        self,
        sock: socket.socket,
        *,
        method: str,
        path: str,
        version: str,
        headers: Iterable[tuple[str, str]],
    ) -> None:
        self._sock = sock
        request = Request(path, Headers(list(headers)), method=method, protocol=version)
        #: The 101 answer, or the refusal (status and text) of an invalid upgrade.
        self.answer: Response = ServerProtocol().accept(request)
        # http.server has read the request, so the frames' protocol starts past it, open.
        self._protocol = ServerProtocol(state=State.OPEN, max_size=MAX_MESSAGE_BYTES)
        self._lock = threading.Lock()
        self._messages: deque[Message] = deque()
        self._fragments: list[Frame] = []
        self._closing_first = False  # we sent the first close frame: later data is dropped
        self._opened = False
        self._lost = False
        self._failed = False  # we failed the connection here: later frames are dropped

    @property
    def acceptable(self) -> bool:
        return self.answer.status_code == 101

    def open(self) -> None:
        """Send the 101 (once `$connect` has agreed); frames may flow from now on. A
        push that comes first waits for the lock, so it cannot overtake the 101."""
        self._sock.settimeout(IO_TIMEOUT_SECONDS)
        with self._lock:
            self._opened = True
            try:
                self._sock.sendall(self.answer.serialize())
            except OSError:
                self._lost = True

    # -- state ----------------------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        return self._opened and self._protocol.state is State.OPEN and not self._lost

    @property
    def closing(self) -> bool:
        """A close frame has gone out (ours or our echo): only its answer may follow."""
        return self._protocol.close_sent is not None

    @property
    def ended(self) -> bool:
        """Nothing more will be read: the server's half of the TCP connection is shut."""
        return self._lost or self._protocol.eof_sent or self._protocol.state is State.CLOSED

    def closed_with(self) -> tuple[int, str]:
        """The peer's close code and reason; ours when we failed the connection over a
        protocol error (1009 for an oversized message, say); else 1006."""
        protocol = self._protocol
        if protocol.close_rcvd is not None:
            return protocol.close_rcvd.code, protocol.close_rcvd.reason
        failed = self._failed or (
            protocol.parser_exc is not None and not isinstance(protocol.parser_exc, EOFError)
        )
        if failed and protocol.close_sent is not None:
            return protocol.close_sent.code, protocol.close_sent.reason
        return _LOST

    # -- sending --------------------------------------------------------------------------

    def send(self, data: bytes) -> None:
        """One message: text when the bytes are UTF-8 (API Gateway's pushes are), else
        binary. SocketClosedError once the connection is closing or gone."""
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            is_text = False
        else:
            is_text = True
        with self._lock:
            if not self.is_open:
                raise SocketClosedError(*self.closed_with())
            if is_text:
                self._protocol.send_text(data)
            else:
                self._protocol.send_binary(data)
            if not self._flush():
                raise SocketClosedError(*_LOST)

    def send_close(self, code: int, reason: str) -> None:
        """Start the closing handshake (once); the reading thread sees it through."""
        with self._lock:
            if self._protocol.state is State.OPEN:
                self._closing_first = True
                self._protocol.send_close(code, reason)
                self._flush()

    def _flush(self) -> bool:
        """Write what the protocol has queued (lock held); False when the socket failed,
        which drops the connection: a peer that cannot take a frame is gone."""
        for chunk in self._protocol.data_to_send():
            try:
                if chunk:
                    self._sock.sendall(chunk)
                else:  # the protocol's cue to half-close
                    self._sock.shutdown(socket.SHUT_WR)
            except OSError:
                self._lost = True
                self.abort()
                return False
        return True

    # -- receiving ------------------------------------------------------------------------

    def recv(self, timeout: float) -> Message:
        """The next data message; pings are answered and the closing handshake completed
        on the way. TimeoutError when none came in time; SocketClosedError at the end."""
        deadline = time.monotonic() + timeout
        while not self._messages:
            if self.ended:
                raise SocketClosedError(*self.closed_with())
            remaining = deadline - time.monotonic()
            # Sleep in poll() until data, the end or the deadline: the gateway holds
            # many idle sockets, each read by a thread of its own.
            if remaining <= 0 or not self._readable(remaining):
                raise TimeoutError("no WebSocket message in time")
            try:
                data = self._sock.recv(_RECV_CHUNK)
            except TimeoutError:
                continue
            except OSError:
                data = b""
            self._receive(data)
        return self._messages.popleft()

    def _receive(self, data: bytes) -> None:
        with self._lock:
            if data:
                self._protocol.receive_data(data)
            else:
                self._protocol.receive_eof()
            events = self._protocol.events_received()
            self._flush()  # pongs, the echo of a close frame, a failure's close frame
            for event in events:
                if isinstance(event, Frame) and event.opcode in _DATA_OPCODES:
                    self._assemble(event)

    def _assemble(self, frame: Frame) -> None:
        """Join a data message's fragments (lock held); the protocol checked their order
        and total size, the UTF-8 of text is checked here."""
        if self._failed:
            return
        self._fragments.append(frame)
        if not frame.fin:
            return
        first, data = self._fragments[0], b"".join(bytes(f.data) for f in self._fragments)
        self._fragments = []
        if self._closing_first:
            return  # data after our close frame is discarded (RFC 6455 § 5.5.1)
        if first.opcode is Opcode.BINARY:
            self._messages.append(Message(data))
            return
        try:
            self._messages.append(Message(data, data.decode("utf-8")))
        except UnicodeDecodeError:
            self._failed = True
            self._protocol.fail(CloseCode.INVALID_DATA, "text messages must be UTF-8")
            self._flush()

    def _readable(self, seconds: float) -> bool:
        """Whether the socket has something to read (data, or its end) within `seconds`."""
        poller = select.poll()
        try:
            poller.register(self._sock, select.POLLIN | select.POLLPRI)
            return bool(poller.poll(max(1, int(seconds * 1000))))
        except (OSError, ValueError):
            return True  # closed under us: let recv() say so

    # -- the end --------------------------------------------------------------------------

    def abort(self) -> None:
        """End the TCP connection now (from any thread: shutdown wakes a blocked reader)."""
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)

    def release(self) -> None:
        """Free the socket; only its reading thread calls this, once it is done."""
        self.abort()
        self._sock.close()
