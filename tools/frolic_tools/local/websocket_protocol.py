"""RFC 6455 WebSockets, both ends, on the standard library alone.

The local gateway speaks the server side so that browsers and tests reach the same
`$connect` / message / `$disconnect` events as on API Gateway; the blocking client is
what the e2e tests, the demo and the crowd use to play like a browser does. Only what
Frolic needs is here: no extensions (the reserved bits must stay clear), no
subprotocols, no TLS. The limits are API Gateway's: messages and frames of at most
128 KB. A peer that breaks the protocol is answered with the close code RFC 6455
prescribes and the connection ends; nothing a peer sends can raise anywhere else.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import os
import select
import socket
import ssl
import threading
import time
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import IntEnum
from types import TracebackType
from typing import Final, Self
from urllib.parse import urlsplit

#: The GUID RFC 6455 §1.3 appends to the client's key.
GUID: Final = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
#: API Gateway's WebSocket message limit; frames are held to it too.
MAX_MESSAGE_BYTES: Final = 128 * 1024
#: A handshake's head (request or response line and headers) beyond this is refused.
MAX_HANDSHAKE_BYTES: Final = 16 * 1024
_CONTROL_PAYLOAD_LIMIT: Final = 125
_RECV_CHUNK: Final = 64 * 1024


class Opcode(IntEnum):
    CONTINUATION = 0x0
    TEXT = 0x1
    BINARY = 0x2
    CLOSE = 0x8
    PING = 0x9
    PONG = 0xA

    @property
    def is_control(self) -> bool:
        return self >= Opcode.CLOSE


class CloseCode(IntEnum):
    NORMAL = 1000
    GOING_AWAY = 1001
    PROTOCOL_ERROR = 1002
    UNSUPPORTED_DATA = 1003
    NO_STATUS = 1005  # never sent: "the close frame had no code"
    ABNORMAL = 1006  # never sent: "the TCP connection ended without a close frame"
    INVALID_DATA = 1007
    POLICY_VIOLATION = 1008
    MESSAGE_TOO_BIG = 1009
    INTERNAL_ERROR = 1011


class ProtocolError(Exception):
    """The peer broke RFC 6455; `code` is the close code to answer with."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


class HandshakeError(Exception):
    """An upgrade request the server refuses: answered with `status`, not a socket."""

    def __init__(self, status: int, message: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = dict(headers or {})


class HandshakeRefusedError(Exception):
    """The server answered the client's upgrade with something other than 101."""

    def __init__(self, status: int, body: bytes) -> None:
        super().__init__(f"the server refused the WebSocket upgrade with {status}")
        self.status = status
        self.body = body


class ConnectionClosedError(Exception):
    """The connection has ended; `code` and `reason` come from the close frame, or are
    1006 when the TCP connection ended without one."""

    def __init__(self, code: int, reason: str = "") -> None:
        super().__init__(f"the WebSocket is closed ({code}{': ' + reason if reason else ''})")
        self.code = code
        self.reason = reason


# -- keys and masking ---------------------------------------------------------------------


def new_key() -> str:
    """A client's Sec-WebSocket-Key: 16 random bytes, base64."""
    return base64.b64encode(os.urandom(16)).decode()


def accept_key(key: str) -> str:
    """The Sec-WebSocket-Accept that proves the server read this key (RFC 6455 §4.2.2)."""
    digest = hashlib.sha1((key + GUID).encode(), usedforsecurity=False).digest()
    return base64.b64encode(digest).decode()


def apply_mask(data: bytes, mask_key: bytes) -> bytes:
    """XOR with the 4-byte key repeated (its own inverse), as one big-integer operation."""
    if len(mask_key) != 4:
        raise ValueError("a masking key is 4 bytes")
    size = len(data)
    if not size:
        return b""
    repeated = (mask_key * (size // 4 + 1))[:size]
    mixed = int.from_bytes(data, "little") ^ int.from_bytes(repeated, "little")
    return mixed.to_bytes(size, "little")


# -- frames -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Frame:
    fin: bool
    opcode: Opcode
    payload: bytes


def encode_frame(
    opcode: Opcode, payload: bytes = b"", *, fin: bool = True, mask_key: bytes | None = None
) -> bytes:
    """One frame on the wire; clients must pass a fresh `mask_key`, servers none."""
    if opcode.is_control and (len(payload) > _CONTROL_PAYLOAD_LIMIT or not fin):
        raise ValueError("control frames carry at most 125 bytes and are never fragmented")
    head = bytearray([(0x80 if fin else 0) | opcode])
    mask_bit = 0x80 if mask_key is not None else 0
    size = len(payload)
    if size < 126:
        head.append(mask_bit | size)
    elif size < 1 << 16:
        head.append(mask_bit | 126)
        head += size.to_bytes(2, "big")
    else:
        head.append(mask_bit | 127)
        head += size.to_bytes(8, "big")
    if mask_key is None:
        return bytes(head) + payload
    return bytes(head) + mask_key + apply_mask(payload, mask_key)


class FrameDecoder:
    """Bytes in, whole frames out, however the bytes were split.

    The header is checked before the payload is waited for, so a peer announcing an
    oversized frame is refused at once instead of being buffered.
    """

    def __init__(self, *, expect_masked: bool, max_payload: int = MAX_MESSAGE_BYTES) -> None:
        self._expect_masked = expect_masked
        self._max_payload = max_payload
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[Frame]:
        self._buffer += data
        frames: list[Frame] = []
        while (frame := self._next()) is not None:
            frames.append(frame)
        return frames

    def _next(self) -> Frame | None:
        buffer = self._buffer
        if len(buffer) < 2:
            return None
        first, second = buffer[0], buffer[1]
        if first & 0x70:
            raise ProtocolError(CloseCode.PROTOCOL_ERROR, "reserved bits set, no extension")
        try:
            opcode = Opcode(first & 0x0F)
        except ValueError:
            raise ProtocolError(
                CloseCode.PROTOCOL_ERROR, f"unknown opcode {first & 0x0F}"
            ) from None
        fin = bool(first & 0x80)
        masked = bool(second & 0x80)
        size = second & 0x7F
        offset = 2
        if size == 126:
            if len(buffer) < 4:
                return None
            size = int.from_bytes(buffer[2:4], "big")
            offset = 4
        elif size == 127:
            if len(buffer) < 10:
                return None
            size = int.from_bytes(buffer[2:10], "big")
            if size >> 63:
                raise ProtocolError(CloseCode.PROTOCOL_ERROR, "frame length has its top bit set")
            offset = 10
        if opcode.is_control and (not fin or size > _CONTROL_PAYLOAD_LIMIT):
            raise ProtocolError(
                CloseCode.PROTOCOL_ERROR, "control frames are short and never fragmented"
            )
        if masked != self._expect_masked:
            expected = "must be masked" if self._expect_masked else "must not be masked"
            raise ProtocolError(CloseCode.PROTOCOL_ERROR, f"frames from this peer {expected}")
        if size > self._max_payload:
            raise ProtocolError(
                CloseCode.MESSAGE_TOO_BIG, f"frames are limited to {self._max_payload} bytes"
            )
        mask_key = b""
        if masked:
            if len(buffer) < offset + 4:
                return None
            mask_key = bytes(buffer[offset : offset + 4])
            offset += 4
        if len(buffer) < offset + size:
            return None
        payload = bytes(buffer[offset : offset + size])
        del buffer[: offset + size]
        if masked:
            payload = apply_mask(payload, mask_key)
        return Frame(fin, opcode, payload)


@dataclass(frozen=True, slots=True)
class Message:
    """A whole data message: `text` is set for text messages (valid UTF-8, checked)."""

    opcode: Opcode
    data: bytes
    text: str | None = None


class MessageAssembler:
    """Data frames in, messages out: fragments are joined, sizes and UTF-8 checked."""

    def __init__(self, max_message: int = MAX_MESSAGE_BYTES) -> None:
        self._max_message = max_message
        self._opcode: Opcode | None = None
        self._parts: list[bytes] = []
        self._size = 0

    def add(self, frame: Frame) -> Message | None:
        if frame.opcode.is_control:
            raise ValueError("control frames are not part of messages")
        if frame.opcode is Opcode.CONTINUATION:
            if self._opcode is None:
                raise ProtocolError(CloseCode.PROTOCOL_ERROR, "continuation without a message")
        elif self._opcode is not None:
            raise ProtocolError(
                CloseCode.PROTOCOL_ERROR, "a new message began before the last one ended"
            )
        else:
            self._opcode = frame.opcode
        self._size += len(frame.payload)
        if self._size > self._max_message:
            raise ProtocolError(
                CloseCode.MESSAGE_TOO_BIG, f"messages are limited to {self._max_message} bytes"
            )
        self._parts.append(frame.payload)
        if not frame.fin:
            return None
        opcode, data = self._opcode, b"".join(self._parts)
        self._opcode, self._parts, self._size = None, [], 0
        if opcode is Opcode.TEXT:
            try:
                return Message(opcode, data, data.decode("utf-8"))
            except UnicodeDecodeError:
                raise ProtocolError(CloseCode.INVALID_DATA, "text messages must be UTF-8") from None
        return Message(Opcode.BINARY, data)


def encode_close(code: int = CloseCode.NORMAL, reason: str = "") -> bytes:
    """A close frame's payload; the reason is cut to fit 125 bytes on a UTF-8 boundary."""
    raw = reason.encode()[: _CONTROL_PAYLOAD_LIMIT - 2]
    return code.to_bytes(2, "big") + raw.decode("utf-8", "ignore").encode()


def _sendable_close_code(code: int) -> bool:
    return code in (1000, 1001, 1002, 1003) or 1007 <= code <= 1014 or 3000 <= code <= 4999


def decode_close(payload: bytes) -> tuple[int, str]:
    """(code, reason) of a received close frame; 1005 when it carried none."""
    if not payload:
        return CloseCode.NO_STATUS, ""
    if len(payload) == 1:
        raise ProtocolError(CloseCode.PROTOCOL_ERROR, "a close payload needs a 2-byte code")
    code = int.from_bytes(payload[:2], "big")
    if not _sendable_close_code(code):
        raise ProtocolError(CloseCode.PROTOCOL_ERROR, f"close code {code} may not be sent")
    try:
        return code, payload[2:].decode("utf-8")
    except UnicodeDecodeError:
        raise ProtocolError(CloseCode.INVALID_DATA, "close reasons must be UTF-8") from None


# -- handshake ----------------------------------------------------------------------------


def _tokens(value: str | None) -> set[str]:
    return {part.strip().lower() for part in (value or "").split(",") if part.strip()}


def check_client_handshake(method: str, headers: Mapping[str, str]) -> str:
    """The client's key if this is a valid upgrade request (headers keyed in lower case),
    else HandshakeError with the status to answer."""
    if method != "GET":
        raise HandshakeError(405, "a WebSocket upgrade is a GET", {"Allow": "GET"})
    if "websocket" not in _tokens(headers.get("upgrade")):
        raise HandshakeError(400, "expected 'Upgrade: websocket'")
    if "upgrade" not in _tokens(headers.get("connection")):
        raise HandshakeError(400, "expected 'Connection: Upgrade'")
    if headers.get("sec-websocket-version", "").strip() != "13":
        raise HandshakeError(
            426, "only WebSocket version 13 is spoken", {"Sec-WebSocket-Version": "13"}
        )
    key = headers.get("sec-websocket-key", "").strip()
    try:
        decoded = base64.b64decode(key, validate=True)
    except (binascii.Error, ValueError):
        decoded = b""
    if len(decoded) != 16:
        raise HandshakeError(400, "Sec-WebSocket-Key must be 16 bytes in base64")
    return key


def server_handshake_response(key: str, headers: Iterable[tuple[str, str]] = ()) -> bytes:
    lines = [
        "HTTP/1.1 101 Switching Protocols",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Accept: {accept_key(key)}",
        *(f"{name}: {value}" for name, value in headers),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def client_handshake_request(
    host: str, resource: str, key: str, headers: Iterable[tuple[str, str]] = ()
) -> bytes:
    lines = [
        f"GET {resource} HTTP/1.1",
        f"Host: {host}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key}",
        "Sec-WebSocket-Version: 13",
        *(f"{name}: {value}" for name, value in headers),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


@dataclass(frozen=True, slots=True)
class ResponseHead:
    status: int
    headers: dict[str, str]  # lower-case names; repeated headers joined with ", "


def parse_response_head(head: bytes) -> ResponseHead:
    """The status line and headers of an HTTP response (without the blank line)."""
    try:
        text = head.decode("latin-1")
        status_line, *header_lines = text.split("\r\n")
        version, status, *_ = status_line.split(" ", 2)
        if not version.startswith("HTTP/1."):
            raise ValueError(version)
        code = int(status)
    except ValueError:
        raise HandshakeRefusedError(0, head[:200]) from None
    headers: dict[str, str] = {}
    for line in header_lines:
        name, sep, value = line.partition(":")
        if not sep:
            continue
        key = name.strip().lower()
        headers[key] = f"{headers[key]}, {value.strip()}" if key in headers else value.strip()
    return ResponseHead(code, headers)


def check_server_handshake(head: ResponseHead, key: str) -> None:
    """Raise unless this 101 answer accepts exactly our key."""
    if "websocket" not in _tokens(head.headers.get("upgrade")):
        raise ProtocolError(CloseCode.PROTOCOL_ERROR, "the server did not upgrade to websocket")
    if "upgrade" not in _tokens(head.headers.get("connection")):
        raise ProtocolError(CloseCode.PROTOCOL_ERROR, "the server did not say Connection: Upgrade")
    if head.headers.get("sec-websocket-accept") != accept_key(key):
        raise ProtocolError(CloseCode.PROTOCOL_ERROR, "wrong Sec-WebSocket-Accept")
    if head.headers.get("sec-websocket-extensions") or head.headers.get("sec-websocket-protocol"):
        raise ProtocolError(CloseCode.PROTOCOL_ERROR, "the server chose what was not offered")


# -- an open connection -------------------------------------------------------------------


class WebSocket:
    """One open connection, either end.

    One thread reads (`recv`); any thread may send, a lock keeps frames whole. The
    socket keeps a short I/O timeout for good: a reader wakes up regularly (so it can
    notice a shutdown), and a sender to a peer that stopped reading gives up instead of
    blocking whoever is pushing to it.
    """

    def __init__(
        self,
        sock: socket.socket,
        *,
        is_client: bool,
        max_message_bytes: int = MAX_MESSAGE_BYTES,
        io_timeout: float = 1.0,
        buffered: bytes = b"",
    ) -> None:
        sock.settimeout(io_timeout)
        self._sock = sock
        self._is_client = is_client
        self._decoder = FrameDecoder(expect_masked=not is_client, max_payload=max_message_bytes)
        self._assembler = MessageAssembler(max_message_bytes)
        self._send_lock = threading.Lock()
        self._messages: deque[Message] = deque()
        self._backlog = buffered
        self.close_sent = False
        #: (code, reason) once the connection has ended, from the peer's close frame.
        self.closed_with: tuple[int, str] | None = None

    @property
    def closed(self) -> bool:
        return self.closed_with is not None

    # sending --------------------------------------------------------------------------

    def send_text(self, text: str) -> None:
        self._send(Opcode.TEXT, text.encode())

    def send_binary(self, data: bytes) -> None:
        self._send(Opcode.BINARY, data)

    def send_data(self, data: bytes) -> None:
        """Text when the bytes are UTF-8 (what API Gateway pushes are), else binary."""
        try:
            data.decode("utf-8")
        except UnicodeDecodeError:
            self._send(Opcode.BINARY, data)
        else:
            self._send(Opcode.TEXT, data)

    def ping(self, data: bytes = b"") -> None:
        self._send(Opcode.PING, data)

    def send_close(self, code: int = CloseCode.NORMAL, reason: str = "") -> None:
        """Start the closing handshake (once); the reader sees the peer's answer."""
        with self._send_lock:
            if self.close_sent or self.closed:
                return
            self.close_sent = True
            self._write(Opcode.CLOSE, encode_close(code, reason))

    def _send(self, opcode: Opcode, payload: bytes) -> None:
        with self._send_lock:
            if self.closed or (self.close_sent and not opcode.is_control):
                raise ConnectionClosedError(*(self.closed_with or (CloseCode.NORMAL, "closing")))
            self._write(opcode, payload)

    def _write(self, opcode: Opcode, payload: bytes) -> None:
        mask_key = os.urandom(4) if self._is_client else None
        try:
            self._sock.sendall(encode_frame(opcode, payload, mask_key=mask_key))
        except OSError as error:  # timeouts included: a peer that stopped reading is gone
            self.abort()
            raise ConnectionClosedError(CloseCode.ABNORMAL, f"send failed: {error}") from None

    # receiving ------------------------------------------------------------------------

    def recv(self, timeout: float | None = None) -> Message:
        """The next data message. Pings are answered and the closing handshake completed
        on the way. TimeoutError when none came in time; ConnectionClosedError at the end."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            if self._messages:
                return self._messages.popleft()
            if self.closed_with is not None:
                raise ConnectionClosedError(*self.closed_with)
            if self._backlog:
                data, self._backlog = self._backlog, b""
            else:
                if deadline is not None:
                    remaining = deadline - time.monotonic()
                    # Sleep in poll() until data, the end, or the deadline, rather than
                    # waking at every I/O timeout: a gateway holds thousands of idle
                    # sockets, each read by a thread of its own.
                    if remaining <= 0 or not self._readable(remaining):
                        raise TimeoutError("no WebSocket message in time")
                try:
                    data = self._sock.recv(_RECV_CHUNK)
                except TimeoutError:
                    continue
                except OSError:
                    self._ended(CloseCode.ABNORMAL, "connection lost")
                    continue
                if not data:
                    self._ended(CloseCode.ABNORMAL, "connection lost")
                    continue
            try:
                for frame in self._decoder.feed(data):
                    self._on_frame(frame)
            except ProtocolError as error:
                self._fail(error)

    def _on_frame(self, frame: Frame) -> None:
        if frame.opcode is Opcode.PING:
            if not self.close_sent:
                self._send(Opcode.PONG, frame.payload)
        elif frame.opcode is Opcode.PONG:
            return
        elif frame.opcode is Opcode.CLOSE:
            code, reason = decode_close(frame.payload)
            if not self.close_sent:
                echo = CloseCode.NORMAL if code == CloseCode.NO_STATUS else code
                with contextlib.suppress(ConnectionClosedError):  # the peer may be gone
                    self.send_close(echo)
            self._ended(code, reason)
        elif not self.close_sent:  # data after our close frame is discarded (§5.5.1)
            message = self._assembler.add(frame)
            if message is not None:
                self._messages.append(message)

    def _fail(self, error: ProtocolError) -> None:
        """Close with the code the protocol error calls for, then drop the connection."""
        with contextlib.suppress(ConnectionClosedError):
            self.send_close(error.code, error.reason)
        self._ended(error.code, error.reason)

    def _ended(self, code: int, reason: str) -> None:
        if self.closed_with is None:
            self.closed_with = (code, reason)
        self.abort()

    def _readable(self, seconds: float) -> bool:
        """Whether the socket has something to read (data, or its end) within `seconds`."""
        poller = select.poll()
        try:
            poller.register(self._sock, select.POLLIN | select.POLLPRI)
        except (OSError, ValueError):
            return True  # closed under us: let recv() say so
        try:
            return bool(poller.poll(max(1, int(seconds * 1000))))
        except OSError:
            return True

    def abort(self) -> None:
        """End the TCP connection now (from any thread: shutdown wakes a blocked reader)."""
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)

    def release(self) -> None:
        """Free the socket; only its reading thread calls this, once it is done."""
        self.abort()
        self._sock.close()


class WebSocketClient(WebSocket):
    """A blocking client: `connect(url)`, then send_text / recv_text / close."""

    def recv_text(self, timeout: float | None = 10.0) -> str:
        message = self.recv(timeout)
        if message.text is None:
            raise ProtocolError(CloseCode.UNSUPPORTED_DATA, "expected a text message")
        return message.text

    def close(self, code: int = CloseCode.NORMAL, reason: str = "", timeout: float = 2.0) -> None:
        """The closing handshake: send ours, wait briefly for the server's, then hang up."""
        if not self.closed:
            try:
                self.send_close(code, reason)
                deadline = time.monotonic() + timeout
                while not self.closed and time.monotonic() < deadline:
                    try:
                        self.recv(max(0.0, deadline - time.monotonic()))
                    except TimeoutError:
                        break
            except ConnectionClosedError:
                pass
        if self.closed_with is None:
            self.closed_with = (code, reason)
        self.release()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def connect(
    url: str,
    *,
    timeout: float = 5.0,
    headers: Iterable[tuple[str, str]] = (),
    max_message_bytes: int = MAX_MESSAGE_BYTES,
) -> WebSocketClient:
    """Open `ws://host:port/path?query`, or `wss://` (a deployed WebSocket API) over TLS;
    HandshakeRefusedError carries a refusal's status (a `$connect` that said 401, say)
    and body."""
    parts = urlsplit(url)
    if parts.scheme not in ("ws", "wss") or not parts.hostname:
        raise ValueError(f"expected a ws:// or wss:// URL, got {url!r}")
    secure = parts.scheme == "wss"
    port = parts.port or (443 if secure else 80)
    resource = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    host = parts.netloc.rpartition("@")[2]
    sock = socket.create_connection((parts.hostname, port), timeout=timeout)
    if secure:
        try:
            sock = ssl.create_default_context().wrap_socket(sock, server_hostname=parts.hostname)
        except BaseException:
            sock.close()
            raise
    try:
        key = new_key()
        sock.sendall(client_handshake_request(host, resource, key, headers))
        head, rest = _read_head(sock)
        response = parse_response_head(head)
        if response.status != 101:
            raise HandshakeRefusedError(response.status, _read_body(sock, response, rest))
        check_server_handshake(response, key)
    except BaseException:
        sock.close()
        raise
    return WebSocketClient(
        sock, is_client=True, max_message_bytes=max_message_bytes, io_timeout=0.5, buffered=rest
    )


def _read_head(sock: socket.socket) -> tuple[bytes, bytes]:
    data = b""
    while b"\r\n\r\n" not in data:
        if len(data) > MAX_HANDSHAKE_BYTES:
            raise HandshakeRefusedError(0, b"response head too large")
        chunk = sock.recv(4096)
        if not chunk:
            raise ConnectionClosedError(CloseCode.ABNORMAL, "closed during the handshake")
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    return head, rest


def _read_body(sock: socket.socket, head: ResponseHead, rest: bytes) -> bytes:
    """A refusal's body, as far as Content-Length says and within reason."""
    try:
        wanted = min(int(head.headers.get("content-length", "0")), MAX_HANDSHAKE_BYTES)
    except ValueError:
        wanted = 0
    body = rest
    while len(body) < wanted:
        try:
            chunk = sock.recv(wanted - len(body))
        except OSError:
            break
        if not chunk:
            break
        body += chunk
    return body[:wanted] if wanted else body
