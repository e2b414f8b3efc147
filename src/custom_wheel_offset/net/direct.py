"""Plain GETs on each thread's own keep-alive connections, below ``requests``.

Most of cwo's requests are GETs of URLs it built itself: ASCII, every name
already percent-encoded, no proxy. For these, what ``requests`` and urllib3's
connection pool do per request (re-encode the URL character by character,
re-parse it, merge settings, wrap the response twice) changes nothing and
cost half of a fitment page's CPU (docs/performance.md). Here such a GET goes
straight to a ``urllib3.connection.HTTPConnection`` (or ``HTTPSConnection``,
certificate and host name verified) that this thread keeps open per origin.

What stays with ``requests``: the thread's cookie jar and default headers
(the caller passes them in and gets the jar updated), and every request that
is not plain: proxies, URLs that need encoding, robots.txt.

Connections are never shared between threads (each worker's session must see
its own cookies, and a connection carries one request at a time), are checked
for a server-side close before reuse, and are dropped when a body was not read
to its end. Nothing is retried here: a failed exchange surfaces as urllib3's
or the socket's own exception, which the network manager classifies.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from types import TracebackType
from urllib.parse import urlsplit

from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.response import BaseHTTPResponse

__all__ = ["DirectClient", "DirectResponse"]

_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})


class DirectResponse:
    """The part of ``requests.Response`` the network manager reads, over urllib3's response."""

    def __init__(self, raw: BaseHTTPResponse, url: str, connection: HTTPConnection) -> None:
        self.raw = raw
        self.url = url
        self.status_code = raw.status
        self.headers = raw.headers
        self._connection = connection

    @property
    def is_redirect(self) -> bool:
        return "location" in self.headers and self.status_code in _REDIRECT_STATUSES

    def iter_content(self, chunk_size: int) -> Iterator[bytes]:
        """The body, decoded (gzip), in chunks."""
        return self.raw.stream(chunk_size, decode_content=True)

    def close(self) -> None:
        # A body read to its end leaves the connection ready for the next GET
        # (http.client closed it already if the server said Connection: close).
        # Anything else leaves unread bytes on the socket: the connection goes.
        if not self.raw.closed:
            self.raw.close()
            self._connection.close()

    def __enter__(self) -> DirectResponse:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class DirectClient:
    """Per-thread, per-origin keep-alive connections for plain GETs.

    :param connect_timeout: seconds to open a connection (TCP and TLS).
    :param read_timeout: seconds any one read may wait.
    :param ca_bundle: file of trusted certificates for HTTPS.
    """

    def __init__(self, *, connect_timeout: float, read_timeout: float, ca_bundle: str) -> None:
        self._connect_timeout = connect_timeout
        self._read_timeout = read_timeout
        self._ca_bundle = ca_bundle
        self._local = threading.local()
        self._lock = threading.Lock()
        self._all: list[HTTPConnection] = []
        self.connections_opened = 0

    def get(self, url: str, headers: Mapping[str, str]) -> DirectResponse:
        """Send ``GET url`` with ``headers`` and return once the status line and headers are in."""
        parts = urlsplit(url)
        target = parts.path or "/"
        if parts.query:
            target = f"{target}?{parts.query}"
        conn = self._connection(parts.scheme, parts.hostname or "", parts.port)
        try:
            if conn.sock is None:
                conn.timeout = self._connect_timeout
                conn.connect()
                with self._lock:
                    self.connections_opened += 1
            conn.timeout = self._read_timeout
            conn.request("GET", target, headers=headers, preload_content=False)
            raw = conn.getresponse()
        except BaseException:
            conn.close()
            raise
        return DirectResponse(raw, url, conn)

    def close(self) -> None:
        """Close every connection of every thread (threads open new ones if they go on)."""
        with self._lock:
            connections, self._all = self._all, []
        for conn in connections:
            conn.close()

    def open_connections(self) -> int:
        with self._lock:
            return sum(1 for conn in self._all if conn.sock is not None)

    def _connection(self, scheme: str, host: str, port: int | None) -> HTTPConnection:
        pool: dict[tuple[str, str, int | None], HTTPConnection] | None = getattr(
            self._local, "connections", None
        )
        if pool is None:
            pool = self._local.connections = {}
        key = (scheme, host, port)
        conn = pool.get(key)
        if conn is not None and conn.sock is not None and not conn.is_connected:
            # The server closed it while idle (keep-alive timeout): reconnect
            # now rather than fail the request on a dead socket.
            conn.close()
        if conn is None:
            if scheme == "https":
                conn = HTTPSConnection(
                    host, port, cert_reqs="CERT_REQUIRED", ca_certs=self._ca_bundle
                )
            else:
                conn = HTTPConnection(host, port)
            pool[key] = conn
            with self._lock:
                self._all.append(conn)
        return conn
