"""An HTTP/1.1 server for a request -> reply API, hardened for clients.

Owns the transport under the REST API (``serving.rest``), and nothing of TF
Serving's semantics: what a request means is the ``Api``'s job
(``answer(method, path, body)`` gives the ``Reply``). Connections are kept
alive, one thread each; a body (Content-Length or chunked) is refused past
``max_body_bytes`` before it is read, ``Expect: 100-continue`` included;
each request must arrive within a read timeout, so stalled or dripping
clients are dropped; open connections are capped (past the cap a 503 at
once, without a thread; see ``serving.http_connections``); TLS is
optional; and ``stop`` drops idle and half-sent connections at once while
requests in flight finish. The transport's own refusals have the same
JSON error body as the API's, ``{"error": "..."}``.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import re
import socket
import socketserver
import ssl
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Protocol

from serving.http_connections import Connection, Connections

logger = logging.getLogger("serving")

JSON_TYPE = "application/json"
_REASONS = {499: "Client Closed Request"}  # statuses http.HTTPStatus lacks
_DIGITS = re.compile(r"[0-9]+")
_HEX = re.compile(rb"[0-9a-fA-F]+")
_MAX_LINE = 8192  # a chunk-size or trailer line
_MAX_TRAILERS = 100


@dataclass(frozen=True)
class Reply:
    """An HTTP answer: status, body and its content type."""

    status: int
    body: bytes
    content_type: str = JSON_TYPE


def error_reply(status: int, message: str) -> Reply:
    """An error reply: TF Serving's body, ``{"error": "<message>"}``, which the
    API and the transport both answer with."""
    return Reply(status, json.dumps({"error": message}).encode("utf-8"))


class Api(Protocol):
    """What the server answers requests with (``serving.rest.RestApi``)."""

    def answer(self, method: str, path: str, body: bytes) -> Reply:
        """The reply to one request; must not raise for a bad request."""
        ...


class _HttpError(Exception):
    """A request the transport refuses (bad framing, too large)."""

    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.reply = error_reply(status, message)


def _busy_response(limit: int) -> bytes:
    """The 503 a connection past the cap gets, written without a thread."""
    body = json.dumps(
        {"error": f"Too many open connections (limit {limit}); try again later."}
    ).encode("utf-8")
    head = (
        "HTTP/1.1 503 Service Unavailable\r\n"
        f"Content-Type: {JSON_TYPE}\r\nContent-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    )
    return head.encode("ascii") + body


class _DeadlineReader(io.RawIOBase):
    """Socket reads under one deadline per request.

    Every read waits at most until the deadline, so a client gets
    ``timeout_s`` to send each whole request (from its connection or its
    previous answer): one that stalls, or drips bytes, is dropped.
    """

    def __init__(self, sock: socket.socket, timeout_s: float):
        self._sock = sock
        self._timeout_s = timeout_s
        self._deadline = time.monotonic() + timeout_s

    def restart(self) -> None:
        self._deadline = time.monotonic() + self._timeout_s

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("the request did not arrive in time")
        self._sock.settimeout(left)
        return self._sock.recv_into(buffer)


class _Handler(BaseHTTPRequestHandler):
    """The HTTP/1.1 requests of one connection (kept alive between them)."""

    protocol_version = "HTTP/1.1"
    default_request_version = "HTTP/1.0"  # answer even bad request lines in full
    server_version = "kerasbert-serving"
    disable_nagle_algorithm = True
    server: _TcpServer

    def __init__(self, connection: Connection, client_address, server: _TcpServer):
        self.tracked = connection
        super().__init__(connection.sock, client_address, server)

    def setup(self) -> None:
        super().setup()
        self.rfile.close()  # reads go through the deadline reader instead
        self.reader = _DeadlineReader(self.connection, self.server.read_timeout_s)
        self.rfile = io.BufferedReader(self.reader)

    def handle_one_request(self) -> None:
        self.reader.restart()
        super().handle_one_request()

    def log_message(self, format: str, *args) -> None:
        logger.debug("REST %s %s", self.address_string(), format % args)

    def send_error(self, code: int, message: str | None = None, explain=None) -> None:
        """Protocol errors of the stdlib parser (bad request line, unknown
        method, ...) as JSON error replies that close the connection."""
        self.close_connection = True
        self._send(error_reply(code, message or self.responses.get(code, ("",))[0]))

    def handle_expect_100(self) -> bool:
        """Refuses a too large body before the client sends it."""
        try:
            self._content_length()
        except _HttpError as error:
            self._refuse(error)
            return False
        return super().handle_expect_100()

    def _answer(self) -> None:
        """Reads the body, then answers it unless the server is stopping."""
        try:
            body = self._read_body()
        except _HttpError as error:
            self._refuse(error)
            return
        connections = self.server.connections
        if not connections.begin(self.tracked):
            self.close_connection = True
            return
        try:
            self._send(self.server.api.answer(self.command, self.path, body))
        finally:
            connections.end(self.tracked)

    do_GET = do_POST = do_HEAD = do_PUT = do_DELETE = do_OPTIONS = do_PATCH = _answer

    def _refuse(self, error: _HttpError) -> None:
        """Answers a request whose body is not read, then closes: the unread
        body is drained (until the client stops or the request's deadline)
        so the client reads the answer instead of a connection reset."""
        self.close_connection = True
        self._send(error.reply)
        with contextlib.suppress(OSError):  # includes the deadline's timeout
            socket.socket.shutdown(self.connection, socket.SHUT_WR)
            while self.rfile.read1(65536):
                pass

    def _content_length(self) -> int:
        """The declared body size (0 if none), refused past the limit."""
        values = self.headers.get_all("Content-Length") or ["0"]
        text = values[0].strip()
        if len(set(values)) > 1 or not _DIGITS.fullmatch(text):
            raise _HttpError(400, f"Bad Content-Length: {', '.join(values)[:100]}")
        digits = text.lstrip("0") or "0"
        limit = self.server.max_body_bytes
        if len(digits) > len(str(limit)) or int(digits) > limit:
            raise _HttpError(413, f"The request body is larger than {limit} bytes.")
        return int(digits)

    def _read_body(self) -> bytes:
        """The whole request body, by Content-Length or chunked."""
        encoding = self.headers.get("Transfer-Encoding")
        if encoding is not None:
            if encoding.strip().lower() != "chunked":
                raise _HttpError(501, f"Unsupported Transfer-Encoding: {encoding}")
            return self._read_chunked()
        length = self._content_length()
        body = self.rfile.read(length)
        if len(body) < length:
            raise ConnectionAbortedError("the client closed mid-body")
        return body

    def _read_line(self) -> bytes:
        line = self.rfile.readline(_MAX_LINE + 1)
        if not line.endswith(b"\n"):
            raise _HttpError(400, "Bad chunked encoding: line too long or cut")
        return line

    def _read_chunked(self) -> bytes:
        """A chunked body (RFC 9112 section 7.1), refused past the limit."""
        parts, size, limit = [], 0, self.server.max_body_bytes
        while True:
            size_text = self._read_line().split(b";", 1)[0].strip()
            if not _HEX.fullmatch(size_text):
                raise _HttpError(400, "Bad chunked encoding: bad chunk size")
            chunk = int(size_text, 16)
            if chunk == 0:
                break
            size += chunk
            if size > limit:
                raise _HttpError(413, f"The request body is larger than {limit} bytes.")
            data = self.rfile.read(chunk)
            if len(data) < chunk or self.rfile.read(2) != b"\r\n":
                raise _HttpError(400, "Bad chunked encoding: chunk cut short")
            parts.append(data)
        for _ in range(_MAX_TRAILERS):
            if self._read_line().strip() == b"":
                return b"".join(parts)
        raise _HttpError(400, "Bad chunked encoding: too many trailers")

    def _send(self, reply: Reply) -> None:
        """Writes a reply (headers only for HEAD); closes when stopping."""
        if self.server.connections.stopping:
            self.close_connection = True
        self.connection.settimeout(self.server.read_timeout_s)  # for writing
        self.send_response(reply.status, _REASONS.get(reply.status))
        self.send_header("Content-Type", reply.content_type)
        self.send_header("Content-Length", str(len(reply.body)))
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(reply.body)


class _TcpServer(socketserver.TCPServer):
    """Accepts connections; serves each on its own thread, up to the cap."""

    allow_reuse_address = True
    request_queue_size = 128

    def __init__(
        self,
        address: tuple[str, int],
        api: Api,
        *,
        max_body_bytes: int,
        read_timeout_s: float,
        max_connections: int,
        ssl_context: ssl.SSLContext | None,
    ):
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        super().__init__(address, _Handler)
        self.api = api
        self.max_body_bytes = max_body_bytes
        self.read_timeout_s = read_timeout_s
        self.ssl_context = ssl_context
        self.connections = Connections(max_connections)
        self._busy_response = _busy_response(max_connections)

    def process_request(self, request: socket.socket, client_address) -> None:
        """Serves a new connection on its own thread, or refuses it at once
        (a 503 for plain HTTP) when the cap is reached."""
        connection = self.connections.add(request)
        if connection is None:
            self._refuse(request)
            return
        thread = threading.Thread(
            target=self._serve,
            args=(connection, client_address),
            name="rest-connection",
            daemon=True,
        )
        try:
            thread.start()
        except RuntimeError:  # no thread to be had: refuse this one
            self.connections.remove(connection)
            raise

    def _refuse(self, request: socket.socket) -> None:
        try:
            if self.ssl_context is None:
                request.setblocking(False)
                request.send(self._busy_response)
        except OSError:
            pass  # the client is gone or not reading; closing is enough
        finally:
            self.shutdown_request(request)

    def _serve(self, connection: Connection, client_address) -> None:
        """One connection's thread: TLS handshake, requests, then close."""
        try:
            connection.sock.settimeout(self.read_timeout_s)
            if self.ssl_context is not None:
                self.connections.secure(connection, self.ssl_context)
            _Handler(connection, client_address, self)
        except OSError as error:  # the client went away, stalled or spoke no TLS
            logger.debug("REST connection from %s ended: %s", client_address, error)
        except Exception:
            logger.exception("REST connection from %s failed", client_address)
        finally:
            self.connections.remove(connection)

    def handle_error(self, request, client_address) -> None:
        logger.exception("REST could not serve %s", client_address)


class HttpServer:
    """An ``Api`` served over HTTP/1.1 on background threads.

    Args:
        api: answers the requests.
        host, port: where to listen (``port=0`` picks a free port, then in
            ``.port``).
        max_body_bytes: largest request body; a larger one is refused (413)
            from its Content-Length, before it is read.
        read_timeout_s: time a client gets to send each whole request, from
            its connection or previous answer; slower ones are dropped.
            Also bounds each write of an answer.
        max_connections: most open connections; past it a new one is
            answered 503 (closed, over TLS) at once, without a thread.
        ssl_context: a server-side context: the API is served over HTTPS.
    """

    def __init__(
        self,
        api: Api,
        host: str,
        port: int,
        *,
        max_body_bytes: int,
        read_timeout_s: float = 30.0,
        max_connections: int = 256,
        ssl_context: ssl.SSLContext | None = None,
    ):
        self._server = _TcpServer(
            (host, port),
            api,
            max_body_bytes=max_body_bytes,
            read_timeout_s=read_timeout_s,
            max_connections=max_connections,
            ssl_context=ssl_context,
        )
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name="rest-accept",
            daemon=True,
        )

    @property
    def open_connections(self) -> int:
        """Connections being served now."""
        return self._server.connections.count()

    def start(self) -> None:
        self._thread.start()

    def stop(self, grace_s: float = 10.0) -> None:
        """Stops accepting, drops idle and half-sent connections at once, and
        lets requests in flight finish for up to ``grace_s`` seconds."""
        if self._thread.is_alive():
            self._server.shutdown()
        self._server.server_close()
        self._server.connections.close(grace_s)
