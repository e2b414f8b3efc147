"""Helpers for the net tests: a scripted local HTTP server and a fake clock.

The server (:class:`ScriptedServer`) listens on 127.0.0.1 with HTTP/1.1
keep-alive. Each path has a script: a list of :class:`Reply` objects served
in order, the last one repeated. It can misbehave the way the live site does:
delay, reset the connection (RST via SO_LINGER 0), cut a body short of its
Content-Length, stream a huge body, gzip or corrupt-gzip a body, redirect,
send a body in slow pieces, hang up after answering. With an SSL context it
serves HTTPS.
Every request it receives is recorded.
"""

from __future__ import annotations

import gzip
import socket
import ssl
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Reply:
    """One scripted answer."""

    status: int = 200
    body: bytes = b"ok"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds before the status line
    reset: bool = False  # close with RST instead of answering
    truncate_to: int | None = None  # send full Content-Length, then only this many bytes
    stream_bytes: int | None = None  # no Content-Length: this many bytes, then close
    gzip: bool = False  # gzip the body (Content-Encoding: gzip)
    bad_gzip: bool = False  # claim gzip, send garbage
    # Send the body in pieces of this many bytes, pausing this long before each
    # piece after the first (pieces of a body that stalls, or trickles in).
    pieces: tuple[int, float] | None = None
    close_after: bool = False  # answer in full (keep-alive headers), then hang up


@dataclass
class Seen:
    """One request the server received."""

    path: str
    headers: dict[str, str]
    client_port: int
    at: float


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 5  # idle keep-alive connections end after this long
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        reply = self.server.owner.next_reply(self)
        if reply.delay:
            time.sleep(reply.delay)
        if reply.reset:
            # SO_LINGER 0 makes close() send RST: the client sees "connection reset".
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.rfile.close()
            self.connection.close()
            self.close_connection = True
            return
        body = reply.body
        headers = dict(reply.headers)
        if reply.gzip:
            body = gzip.compress(body)
            headers["Content-Encoding"] = "gzip"
        if reply.bad_gzip:
            body = b"\x1f\x8b\x08\x00garbage-not-gzip" * 4
            headers["Content-Encoding"] = "gzip"
        self.send_response(reply.status)
        for name, value in headers.items():
            self.send_header(name, value)
        if reply.stream_bytes is not None:
            self.send_header("Connection", "close")
            self.end_headers()
            chunk = b"x" * 65536
            sent = 0
            while sent < reply.stream_bytes:
                self.wfile.write(chunk)
                sent += len(chunk)
            self.close_connection = True
            return
        if "Content-Length" not in headers:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if reply.truncate_to is not None:
            self.wfile.write(body[: reply.truncate_to])
            self.wfile.flush()
            self.close_connection = True
            return
        if reply.pieces is not None:
            size, pause = reply.pieces
            for start in range(0, len(body), size):
                if start:
                    time.sleep(pause)
                self.wfile.write(body[start : start + size])
                self.wfile.flush()
            return
        self.wfile.write(body)
        if reply.close_after:
            self.wfile.flush()
            self.close_connection = True


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    owner: ScriptedServer

    def shutdown_request(self, request: Any) -> None:
        super().shutdown_request(request)
        self.owner.hung_up.set()

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients that time out or hang up mid-body make the handler fail on
        # write; that is the scenario under test, not a server bug.
        pass


class ScriptedServer:
    """A local HTTP server whose answers each test scripts per path."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self._lock = threading.Lock()
        self._routes: dict[str, list[Reply]] = {}
        self.seen: list[Seen] = []
        self.hung_up = threading.Event()  # set whenever the server closes a connection
        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        if tls is not None:
            self._httpd.socket = tls.wrap_socket(self._httpd.socket, server_side=True)
        self._scheme = "http" if tls is None else "https"
        self._httpd.owner = self
        self.port = self._httpd.server_address[1]
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)
        self._thread.start()

    def url(self, path: str = "/") -> str:
        return f"{self._scheme}://127.0.0.1:{self.port}{path}"

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def route(self, path: str, *replies: Reply) -> None:
        """Serve ``replies`` in order on ``path`` (query included if given); the last repeats."""
        with self._lock:
            self._routes[path] = list(replies)

    def count(self, path: str | None = None) -> int:
        """Requests received, on ``path`` (exact, query included) or in all."""
        with self._lock:
            return sum(1 for s in self.seen if path is None or s.path == path)

    def wait_for_hang_up(self, timeout: float = 5.0) -> None:
        """Until the server has closed a connection (after a ``close_after`` reply, say)."""
        assert self.hung_up.wait(timeout), "the server closed no connection"

    def requests_to(self, path: str) -> list[Seen]:
        with self._lock:
            return [s for s in self.seen if s.path == path]

    def next_reply(self, handler: BaseHTTPRequestHandler) -> Reply:
        path = handler.path
        with self._lock:
            self.seen.append(
                Seen(
                    path, dict(handler.headers.items()), handler.client_address[1], time.monotonic()
                )
            )
            script = self._routes.get(path) or self._routes.get(path.split("?", 1)[0])
            if not script:
                return Reply(404, b"not found")
            return script.pop(0) if len(script) > 1 else script[0]

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()


class FakeClock:
    """A monotonic clock that only moves when someone sleeps (or the test advances it)."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.sleeps: list[float] = []
        self._lock = threading.Lock()
        self.on_sleep: Callable[[float], None] | None = None

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        if self.on_sleep is not None:
            self.on_sleep(seconds)
        with self._lock:
            self.sleeps.append(seconds)
            self.now += seconds

    def advance(self, seconds: float) -> None:
        with self._lock:
            self.now += seconds
