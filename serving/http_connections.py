"""The open connections of the HTTP server: the cap, and closing in order.

Owns which connections are open and whether each is answering a request
(busy) or reading or awaiting one (idle), so that the server
(``serving.http_server``) can refuse connections past its cap, and its
``stop`` can drop idle and half-read connections at once while busy ones
finish their answer. Thread-safe; it knows sockets, not HTTP.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
import time


def _shutdown(sock: socket.socket) -> None:
    """Ends both directions of a connection, waking a thread blocked on it.

    Called from other threads: for a TLS socket this is the plain socket's
    shutdown, which leaves the TLS object to its own thread.
    """
    with contextlib.suppress(OSError):  # already closed by client or thread
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


class Connection:
    """One client connection: its socket, and whether a request on it is
    being answered (busy) rather than read or awaited (idle)."""

    def __init__(self, sock: socket.socket):
        self.sock = sock
        self.busy = False


class Connections:
    """The open connections: capped, and closed in order by ``close``."""

    def __init__(self, limit: int):
        self.limit = limit
        self.stopping = False
        self._open: set[Connection] = set()
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)

    def add(self, sock: socket.socket) -> Connection | None:
        """Registers a new connection; None when stopping or at the cap."""
        with self._lock:
            if self.stopping or len(self._open) >= self.limit:
                return None
            connection = Connection(sock)
            self._open.add(connection)
            return connection

    def count(self) -> int:
        with self._lock:
            return len(self._open)

    def remove(self, connection: Connection) -> None:
        """Forgets and closes a connection whose thread is done."""
        with self._lock:
            self._open.discard(connection)
            self._idle.notify_all()
        connection.sock.close()

    def secure(self, connection: Connection, context: ssl.SSLContext) -> None:
        """Wraps a connection in TLS and shakes hands; ``close`` can still
        interrupt a stalled handshake."""
        wrapped = context.wrap_socket(
            connection.sock, server_side=True, do_handshake_on_connect=False
        )
        with self._lock:
            connection.sock = wrapped
            if self.stopping:
                raise ConnectionAbortedError("the server is stopping")
        wrapped.do_handshake()

    def begin(self, connection: Connection) -> bool:
        """Marks a fully read request as in flight; False when stopping."""
        with self._lock:
            connection.busy = not self.stopping
            return connection.busy

    def end(self, connection: Connection) -> None:
        with self._lock:
            connection.busy = False
            self._idle.notify_all()

    def close(self, grace_s: float) -> None:
        """Closes idle and half-read connections now; busy ones once their
        answer is sent, or when ``grace_s`` runs out."""
        deadline = time.monotonic() + grace_s
        with self._lock:
            self.stopping = True
            for connection in self._open:
                if not connection.busy:
                    _shutdown(connection.sock)
            while any(c.busy for c in self._open):
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._idle.wait(left)
            for connection in self._open:
                _shutdown(connection.sock)
