"""The open WebSocket connections, by API Gateway connection id.

This is what the Management API callback (`POST /@connections/{id}`) writes to. A
connection is listed from its 101 answer until its socket ends, and no longer: a push to
anything else is 410 Gone, as in AWS, which is how `deliver` learns a player left.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import Any

from frolic_tools.local.events import SocketInfo
from frolic_tools.local.websocket_server import ServerSocket, SocketClosedError


class Connection:
    def __init__(self, info: SocketInfo, socket: ServerSocket) -> None:
        self.info = info
        self.socket = socket
        self.opened = time.monotonic()
        self.last_active = self.opened
        self.last_active_at = time.time()
        #: When we started closing (monotonic), to give up on a peer that never answers.
        self.closing_since: float | None = None

    @property
    def connection_id(self) -> str:
        return self.info.connection_id

    @property
    def is_open(self) -> bool:
        return self.socket.is_open

    def touch(self) -> None:
        self.last_active = time.monotonic()
        self.last_active_at = time.time()

    def describe(self) -> dict[str, Any]:
        """The Management API's GetConnection answer."""

        def iso(epoch: float) -> str:
            return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds")

        return {
            "connectedAt": iso(self.info.connected_at_ms / 1000),
            "identity": {
                "sourceIp": self.info.caller.source_ip,
                "userAgent": self.info.caller.user_agent,
            },
            "lastActiveAt": iso(self.last_active_at),
        }


class Connections:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_id: dict[str, Connection] = {}

    def add(self, connection: Connection) -> None:
        with self._lock:
            self._by_id[connection.connection_id] = connection

    def remove(self, connection_id: str) -> None:
        with self._lock:
            self._by_id.pop(connection_id, None)

    def get(self, connection_id: str) -> Connection | None:
        with self._lock:
            connection = self._by_id.get(connection_id)
        return connection if connection is not None and connection.is_open else None

    def ids(self) -> list[str]:
        with self._lock:
            return list(self._by_id)

    def __len__(self) -> int:
        with self._lock:
            return len(self._by_id)

    def post(self, connection_id: str, data: bytes) -> bool:
        """Write one message to the socket; False when it is gone (the caller's 410)."""
        connection = self.get(connection_id)
        if connection is None:
            return False
        try:
            connection.socket.send(data)
        except SocketClosedError:
            return False
        return True

    def close(self, connection_id: str, code: int, reason: str) -> bool:
        """Start closing one connection; its reading thread finishes the job."""
        connection = self.get(connection_id)
        if connection is None:
            return False
        connection.closing_since = time.monotonic()
        connection.socket.send_close(code, reason)
        return True

    def close_all(self, code: int, reason: str) -> None:
        """Say goodbye to every client and drop the TCP connections (shutdown)."""
        with self._lock:
            connections = list(self._by_id.values())
        for connection in connections:
            connection.socket.send_close(code, reason)
            connection.socket.abort()
