"""Plain GETs on each thread's own keep-alive connections, below ``requests``.

Most of cwo's requests are GETs of URLs it built itself: ASCII, every name
already percent-encoded, no proxy. For these, what ``requests`` and urllib3's
connection pool do per request (re-encode the URL character by character,
re-parse it, merge settings, wrap the response twice) changes nothing and
cost half of a fitment page's CPU (docs/performance.md). Here such a GET goes
straight to a standard-library ``http.client`` connection (``HTTPSConnection``
with certificate and host name verified) that this thread keeps open per
origin; urllib3's response class reads and decodes (gzip, deflate) the body.

Sockets are blocking, without a Python-level timeout: with one, every
``send`` and ``recv`` is preceded by a ``poll``, and each of these system
calls gives up the GIL, which with ten threads means a thread switch each
time (about half of the scraper's context switches, docs/performance.md).
Timeouts are kept by a :class:`Watchdog` thread instead, which shuts down the
socket of an exchange that overruns its deadline; the blocked read then ends
and is reported as a timeout. Connecting keeps an ordinary socket timeout.

What stays with ``requests``: the thread's cookie jar and default headers
(the caller passes them in and gets the jar updated), and every request that
is not plain: proxies, URLs that need encoding, robots.txt.

Connections are never shared between threads (each worker's session must see
its own cookies, and a connection carries one request at a time), are checked
for a server-side close before reuse after a pause, and are dropped when a
body was not read to its end or a deadline passed. Nothing is retried here: a
failed exchange surfaces as the socket's, http.client's or urllib3's own
exception, which the network manager classifies.
"""

from __future__ import annotations

import contextlib
import http.client
import socket
import ssl
import threading
import time
from collections.abc import Iterator, Mapping
from types import TracebackType
from urllib.parse import urlsplit

from urllib3 import HTTPHeaderDict, HTTPResponse
from urllib3.exceptions import ConnectTimeoutError
from urllib3.util.wait import wait_for_read

__all__ = ["DirectClient", "DirectResponse", "Watchdog"]

_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
#: A connection idle for longer than this is checked for a server-side close
#: before it is reused. Checking every time costs a system call (and the GIL)
#: per request; servers close idle connections after seconds, not milliseconds,
#: and say "Connection: close" when they close after an answer. A close that
#: slips through (or a reset) fails the attempt as a connection error, retried.
STALE_CHECK_AFTER = 1.0
#: A plain body with a Content-Length up to this size is read in one piece
#: (within one read timeout); a larger one in chunks, each within the timeout.
ONE_READ_BYTES = 256 * 1024
#: Seconds the watchdog thread lingers with nothing to watch before it ends.
WATCHDOG_IDLE_EXIT = 60.0


class _Connection:
    """One thread's connection to one origin, and whether a deadline ended it."""

    __slots__ = ("expired", "http", "last_used")

    def __init__(self, conn: http.client.HTTPConnection) -> None:
        self.http = conn
        self.last_used = 0.0
        self.expired = False

    def close(self) -> None:
        self.http.close()


class Watchdog:
    """Ends exchanges that overrun their deadline, by shutting their socket down.

    Every deadline is ``arm`` time + the same ``timeout``, so one armed later
    never falls due before the thread's next look (which is at most
    ``timeout`` after its last one): arming never needs to wake the thread,
    and costs a dictionary write under an uncontended lock.
    """

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.expired_count = 0
        self._deadlines: dict[_Connection, float] = {}
        self._cond = threading.Condition(threading.Lock())
        self._thread: threading.Thread | None = None
        self._closed = False

    def arm(self, conn: _Connection) -> None:
        """Start (or restart) ``conn``'s deadline: ``timeout`` seconds from now."""
        with self._cond:
            self._deadlines[conn] = time.monotonic() + self.timeout
            if self._thread is None and not self._closed:
                self._thread = threading.Thread(
                    target=self._watch, name="cwo-watchdog", daemon=True
                )
                self._thread.start()

    def disarm(self, conn: _Connection) -> None:
        with self._cond:
            self._deadlines.pop(conn, None)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._deadlines.clear()
            self._cond.notify_all()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join()

    def _watch(self) -> None:
        idle_since = time.monotonic()
        while True:
            with self._cond:
                if self._closed:
                    return
                now = time.monotonic()
                due = [c for c, deadline in self._deadlines.items() if deadline <= now]
                for conn in due:
                    del self._deadlines[conn]
                    conn.expired = True
                    self.expired_count += 1
                sockets = [c.http.sock for c in due]
                if self._deadlines:
                    idle_since = now
                    wait = min(self._deadlines.values()) - now
                elif now - idle_since > WATCHDOG_IDLE_EXIT:
                    self._thread = None  # the next arm starts a new one
                    return
                else:
                    wait = self.timeout
            for sock in sockets:
                _shut_down(sock)
            with self._cond:
                if not self._closed:
                    self._cond.wait(max(wait, 0.001))


def _shut_down(sock: socket.socket | None) -> None:
    """Wake the thread blocked on ``sock``: its read returns end-of-file."""
    if sock is None:
        return
    # Closed meanwhile by its own thread (OSError): nothing left to wake.
    with contextlib.suppress(OSError):
        # socket.socket's own shutdown, also for an SSLSocket: the SSL object
        # must stay in place for the thread that is still reading through it.
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


class DirectResponse:
    """The part of ``requests.Response`` the network manager reads, over http.client's.

    An encoded body (gzip, deflate) is read through urllib3's ``HTTPResponse``,
    which decodes it; a plain one straight from http.client, which spares a
    wrapper and a copy of the headers per request.
    """

    def __init__(
        self,
        response: http.client.HTTPResponse,
        url: str,
        connection: _Connection,
        watchdog: Watchdog,
    ) -> None:
        self.url = url
        self.status_code = response.status
        # http.client's message: case-insensitive get() and ``in``, like requests' headers.
        self.headers = response.msg
        self._response = response
        self._connection = connection
        self._watchdog = watchdog
        self._complete = False
        encoding = response.msg.get("Content-Encoding", "").strip().lower()
        self._decoder: HTTPResponse | None = None
        if encoding not in ("", "identity"):
            self._decoder = HTTPResponse(
                body=response,
                headers=HTTPHeaderDict(response.msg.items()),
                status=response.status,
                version=response.version,
                reason=response.reason,
                preload_content=False,
                decode_content=True,
                original_response=response,
                enforce_content_length=True,
                request_method="GET",
                request_url=url,
            )

    @property
    def is_redirect(self) -> bool:
        return "location" in self.headers and self.status_code in _REDIRECT_STATUSES

    @property
    def _original_response(self) -> http.client.HTTPResponse:
        # What requests.cookies.extract_cookies_to_jar reads the Set-Cookie headers from.
        return self._response

    def iter_content(self, chunk_size: int) -> Iterator[bytes]:
        """The body, decoded (gzip), in chunks; each read within the read timeout."""
        chunks: Iterator[bytes]
        if self._decoder is not None:
            chunks = self._decoder.stream(chunk_size, decode_content=True)
        else:
            chunks = self._plain(chunk_size)
        while True:
            self._watchdog.arm(self._connection)
            try:
                chunk = next(chunks)
            except StopIteration:
                self._complete = True
                return
            except Exception as exc:
                _raise_if_expired(self._connection, self._watchdog, exc)
                raise
            yield chunk

    def _plain(self, chunk_size: int) -> Iterator[bytes]:
        """An unencoded body; one cut short of its Content-Length raises IncompleteRead."""
        # http.client returns b"" at an early end of file rather than raising.
        declared = self.headers.get("Content-Length", "").strip()
        expected = int(declared) if declared.isdigit() else None
        if expected is not None and expected <= ONE_READ_BYTES:
            # One read into one object of the exact size: reading in chunks
            # allocates a chunk-sized buffer, a copy of it and the joined body
            # per page, which costs CPU and fragments the heap.
            yield self._response.read()  # IncompleteRead when cut short
            return
        received = 0
        while chunk := self._response.read(chunk_size):
            received += len(chunk)
            yield chunk
        if expected is not None and received < expected:
            raise http.client.IncompleteRead(b"", expected - received)

    def close(self) -> None:
        self._watchdog.disarm(self._connection)
        # A body read to its end leaves the connection ready for the next GET
        # (http.client closed it already if the server said Connection: close).
        # Anything else (unread bytes, a body cut short, a deadline) may leave
        # the socket unusable: the connection goes.
        if not self._complete or self._connection.expired:
            self._response.close()
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


def _raise_if_expired(conn: _Connection, watchdog: Watchdog, exc: BaseException) -> None:
    if conn.expired:
        raise TimeoutError(
            f"no answer within the read timeout ({watchdog.timeout:g} s); connection closed"
        ) from exc


class DirectClient:
    """Per-thread, per-origin keep-alive connections for plain GETs.

    :param connect_timeout: seconds to open a connection (TCP and TLS).
    :param read_timeout: seconds to send a request and receive its headers, and
        again for its body (up to :data:`ONE_READ_BYTES`) or each chunk of it.
    :param ca_bundle: file of trusted certificates for HTTPS.
    """

    def __init__(self, *, connect_timeout: float, read_timeout: float, ca_bundle: str) -> None:
        self._connect_timeout = connect_timeout
        self._ca_bundle = ca_bundle
        self._tls: ssl.SSLContext | None = None
        self._watchdog = Watchdog(read_timeout)
        self._timeouts_before = 0  # counted by watchdogs already closed
        self._local = threading.local()
        self._lock = threading.Lock()
        self._all: list[_Connection] = []
        self.connections_opened = 0

    @property
    def timeouts(self) -> int:
        """Exchanges the watchdogs ended, over this client's life."""
        return self._timeouts_before + self._watchdog.expired_count

    def get(self, url: str, headers: Mapping[str, str]) -> DirectResponse:
        """Send ``GET url`` with ``headers`` and return once the status line and headers are in."""
        parts = urlsplit(url)
        target = parts.path or "/"
        if parts.query:
            target = f"{target}?{parts.query}"
        conn = self._connection(parts.scheme, parts.hostname or "", parts.port)
        raw = self._exchange(conn, target, headers)
        conn.last_used = time.monotonic()
        return DirectResponse(raw, url, conn, self._watchdog)

    def _exchange(
        self, conn: _Connection, target: str, headers: Mapping[str, str]
    ) -> http.client.HTTPResponse:
        """Send the request and read the status line and headers (connecting first if needed)."""
        try:
            if conn.http.sock is None:
                self._connect(conn)
            self._watchdog.arm(conn)
            conn.http.request("GET", target, headers=headers)
            return conn.http.getresponse()
        except BaseException as exc:
            self._watchdog.disarm(conn)
            conn.close()
            _raise_if_expired(conn, self._watchdog, exc)
            raise

    def close(self) -> None:
        """Close every connection of every thread (threads open new ones if they go on)."""
        with self._lock:
            connections, self._all = self._all, []
        self._watchdog.close()
        for conn in connections:
            conn.close()
        self._timeouts_before += self._watchdog.expired_count
        self._watchdog = Watchdog(self._watchdog.timeout)

    def open_connections(self) -> int:
        with self._lock:
            return sum(1 for conn in self._all if conn.http.sock is not None)

    def _connect(self, conn: _Connection) -> None:
        http_conn = conn.http
        http_conn.timeout = self._connect_timeout
        try:
            http_conn.connect()
        except TimeoutError as exc:
            raise ConnectTimeoutError(
                None,
                f"connection to {http_conn.host}:{http_conn.port} timed out "
                f"(connect timeout {self._connect_timeout:g} s)",
            ) from exc
        assert http_conn.sock is not None
        http_conn.sock.settimeout(None)  # blocking from here on: the watchdog keeps time
        conn.expired = False
        with self._lock:
            self.connections_opened += 1

    def _connection(self, scheme: str, host: str, port: int | None) -> _Connection:
        pool: dict[tuple[str, str, int | None], _Connection] | None = getattr(
            self._local, "connections", None
        )
        if pool is None:
            pool = self._local.connections = {}
        key = (scheme, host, port)
        conn = pool.get(key)
        if conn is not None and conn.http.sock is not None:
            if conn.expired:
                conn.close()
            elif time.monotonic() - conn.last_used > STALE_CHECK_AFTER and wait_for_read(
                conn.http.sock, timeout=0.0
            ):
                # The server closed it while idle (keep-alive timeout): reconnect
                # now rather than fail the request on a dead socket.
                conn.close()
        if conn is None:
            if scheme == "https":
                conn = _Connection(
                    http.client.HTTPSConnection(host, port, context=self._tls_context())
                )
            else:
                conn = _Connection(http.client.HTTPConnection(host, port))
            pool[key] = conn
            with self._lock:
                self._all.append(conn)
        return conn

    def _tls_context(self) -> ssl.SSLContext:
        if self._tls is None:
            # Certificate and host name verified against the same bundle requests uses.
            self._tls = ssl.create_default_context(cafile=self._ca_bundle)
        return self._tls
