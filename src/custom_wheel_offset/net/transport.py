"""The one transport: every GET cwo sends, on each thread's own keep-alive connections.

Every request goes through :meth:`Transport.get`, with or without a proxy,
redirect hops and robots.txt included, so every request has the same
deadlines, the same connection reuse and the same idea of what a URL is
(``.`` and ``..`` segments are sent as they are, never resolved away).

Connections are the standard library's ``http.client`` ones, the layer that
urllib3's own connection classes extend (``HTTPSConnection`` with the
certificate and host name verified; a proxy reached as HTTP forward proxy or
through a ``CONNECT`` tunnel); urllib3's response class decodes encoded
bodies (gzip, deflate). urllib3's connection wrapper costs about 90 µs of CPU
and two ``ioctl`` system calls per request (it sets the socket timeout again
before every answer), which with ten threads means GIL hand-offs on every
page; docs/performance.md has the figures.

Sockets are blocking, without a Python-level timeout: with one, every
``send`` and ``recv`` is preceded by a ``poll``, and each of these system
calls gives up the GIL. Deadlines are kept by a :class:`Watchdog` thread
instead, which shuts down the socket of an exchange that overruns its
deadline; the blocked read then ends and is reported as a timeout. Each
exchange has two deadlines:

* the *read timeout*: the longest silence while waiting for the headers or
  for the next piece of the body (a page-sized body is one piece);
* the *total timeout*: connect, send, headers and the whole body together,
  which no server trickling a few bytes at a time can stretch.

What stays with the network manager: cookies and default headers (the
caller passes the headers in), redirects, retries and classification.
Connections are never shared between threads (each worker's session must
see its own cookies, and a connection carries one request at a time), are
checked for a server-side close before reuse after a pause, and are dropped
when a body was not read to its end or a deadline passed. Nothing is retried
here: a failed exchange surfaces as the socket's, http.client's or urllib3's
own exception, which the network manager classifies.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import re
import socket
import ssl
import threading
import time
from collections.abc import Iterator, Mapping
from types import TracebackType
from typing import NamedTuple
from urllib.parse import unquote, urlsplit

from urllib3 import HTTPHeaderDict, HTTPResponse
from urllib3.exceptions import ConnectTimeoutError
from urllib3.util.wait import wait_for_read

__all__ = ["Proxy", "Transport", "TransportResponse", "Watchdog", "content_length"]

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
# RFC 9110: Content-Length is 1*DIGIT, ASCII digits only ("²" passes str.isdigit).
_DIGITS = re.compile(r"[0-9]+")


def content_length(headers: Mapping[str, str] | http.client.HTTPMessage) -> int | None:
    """The declared body length, or ``None`` when absent or not a plain decimal number."""
    declared = (headers.get("Content-Length") or "").strip()
    return int(declared) if _DIGITS.fullmatch(declared) else None


class Proxy(NamedTuple):
    """A forward proxy: where to connect, and the credentials to present."""

    host: str
    port: int
    authorization: str | None  # the Proxy-Authorization header value

    @classmethod
    def from_url(cls, url: str) -> Proxy:
        """``http://[user[:password]@]host[:port]`` -> Proxy; ValueError for anything else."""
        parts = urlsplit(url)
        if parts.scheme.lower() != "http" or not parts.hostname:
            raise ValueError("only http:// proxies are supported (host and optional port)")
        port = parts.port or 80  # ValueError for a port that is not a number
        authorization = None
        if parts.username is not None:
            pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
            authorization = "Basic " + base64.b64encode(pair.encode("utf-8")).decode("ascii")
        return cls(parts.hostname, port, authorization)


class _Connection:
    """One thread's connection to one origin (or proxy), and its deadlines."""

    __slots__ = ("expired", "http", "last_used", "overdue", "sock", "total_deadline")

    def __init__(self, conn: http.client.HTTPConnection) -> None:
        self.http = conn
        # The socket the watchdog shuts down. Not ``http.sock``: for an answer
        # that says "Connection: close" http.client hands the socket to the
        # response and sets ``http.sock`` to None while the body is still read.
        self.sock: socket.socket | None = None
        self.last_used = 0.0
        self.expired = False
        self.overdue = False  # the total deadline (not a silence) ended the exchange
        self.total_deadline = float("inf")

    def close(self) -> None:
        self.http.close()


class Watchdog:
    """Ends exchanges that overrun a deadline, by shutting their socket down.

    A connection's deadline is the earlier of ``read_timeout`` after its
    last arming and the total deadline of its current exchange. Arming
    wakes the watchdog thread only when the new deadline falls before the
    thread's next look, so the usual arming is a dictionary write under an
    uncontended lock.
    """

    def __init__(self, read_timeout: float, total_timeout: float) -> None:
        self.timeout = read_timeout
        self.total_timeout = total_timeout
        self.expired_count = 0
        self._deadlines: dict[_Connection, float] = {}
        self._cond = threading.Condition(threading.Lock())
        self._thread: threading.Thread | None = None
        self._next_look = float("inf")
        self._closed = False

    def arm(self, conn: _Connection) -> None:
        """Start (or restart) ``conn``'s read deadline, never past its total deadline."""
        deadline = min(time.monotonic() + self.timeout, conn.total_deadline)
        with self._cond:
            self._deadlines[conn] = deadline
            if self._thread is None and not self._closed:
                self._thread = threading.Thread(
                    target=self._watch, name="cwo-watchdog", daemon=True
                )
                self._thread.start()
            elif deadline < self._next_look:
                self._cond.notify()

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

    def _expire_due(self, now: float) -> list[socket.socket | None]:
        """Mark the connections past their deadline; their sockets. Under the lock."""
        due = [c for c, deadline in self._deadlines.items() if deadline <= now]
        for conn in due:
            del self._deadlines[conn]
            conn.expired = True
            conn.overdue = conn.total_deadline <= now
            self.expired_count += 1
        return [c.sock for c in due]

    def _watch(self) -> None:
        idle_since = time.monotonic()
        while True:
            with self._cond:
                if self._closed:
                    return
                now = time.monotonic()
                sockets = self._expire_due(now)
                if self._deadlines:
                    idle_since = now
                    self._next_look = min(self._deadlines.values())
                elif now - idle_since > WATCHDOG_IDLE_EXIT:
                    self._thread = None  # the next arm starts a new one
                    return
                else:
                    self._next_look = now + self.timeout
            for sock in sockets:
                _shut_down(sock)
            with self._cond:
                if not self._closed:
                    self._cond.wait(max(self._next_look - time.monotonic(), 0.001))


def _shut_down(sock: socket.socket | None) -> None:
    """Wake the thread blocked on ``sock``: its read returns end-of-file."""
    if sock is None:
        return
    # Closed meanwhile by its own thread (OSError): nothing left to wake.
    with contextlib.suppress(OSError):
        # socket.socket's own shutdown, also for an SSLSocket: the SSL object
        # must stay in place for the thread that is still reading through it.
        socket.socket.shutdown(sock, socket.SHUT_RDWR)


class TransportResponse:
    """Status, headers and a streamed body, read within the exchange's deadlines.

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

    def info(self) -> http.client.HTTPMessage:
        """The headers, as ``http.cookiejar`` reads them from a response."""
        return self._response.msg

    def iter_content(self, chunk_size: int) -> Iterator[bytes]:
        """The body, decoded (gzip), in chunks; each read within the deadlines."""
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
        expected = content_length(self.headers)
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

    def __enter__(self) -> TransportResponse:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _raise_if_expired(conn: _Connection, watchdog: Watchdog, exc: BaseException) -> None:
    if not conn.expired:
        return
    if conn.overdue:
        raise TimeoutError(
            f"the whole exchange took longer than the total timeout ({watchdog.total_timeout:g} s)"
        ) from exc
    raise TimeoutError(
        f"no answer within the read timeout ({watchdog.timeout:g} s); connection closed"
    ) from exc


class Transport:
    """Per-thread, per-origin keep-alive connections for every GET.

    :param connect_timeout: seconds to open a connection (TCP, proxy tunnel and TLS).
    :param read_timeout: the longest silence while waiting for the headers, or
        for the body (up to :data:`ONE_READ_BYTES`) or each chunk of it.
    :param total_timeout: seconds for the whole exchange, connecting included.
    :param ca_bundle: file of trusted certificates for HTTPS.
    """

    def __init__(
        self,
        *,
        connect_timeout: float,
        read_timeout: float,
        total_timeout: float,
        ca_bundle: str,
    ) -> None:
        self._connect_timeout = connect_timeout
        self._ca_bundle = ca_bundle
        self._tls: ssl.SSLContext | None = None
        self._watchdog = Watchdog(read_timeout, total_timeout)
        self._timeouts_before = 0  # counted by watchdogs already closed
        self._local = threading.local()
        self._lock = threading.Lock()
        self._all: list[_Connection] = []
        self.connections_opened = 0

    @property
    def timeouts(self) -> int:
        """Exchanges the watchdogs ended, over this transport's life."""
        return self._timeouts_before + self._watchdog.expired_count

    def get(
        self, url: str, headers: Mapping[str, str], proxy: Proxy | None = None
    ) -> TransportResponse:
        """Send ``GET url`` and return once the status line and headers are in.

        ``url`` must be absolute and already percent-encoded; with ``proxy``,
        an ``http`` URL is sent to the proxy in absolute form and an ``https``
        one through a ``CONNECT`` tunnel.
        """
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme not in ("http", "https"):
            raise ValueError(f"not an http(s) URL: scheme {parts.scheme!r}")
        target = parts.path or "/"
        if parts.query:
            target = f"{target}?{parts.query}"
        if proxy is not None and scheme == "http":
            target = url  # a forward proxy takes the absolute URL
            if proxy.authorization:
                headers = {**headers, "Proxy-Authorization": proxy.authorization}
        conn = self._connection(scheme, parts.hostname or "", parts.port, proxy)
        conn.total_deadline = time.monotonic() + self._watchdog.total_timeout
        raw = self._exchange(conn, target, headers)
        conn.last_used = time.monotonic()
        return TransportResponse(raw, url, conn, self._watchdog)

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
        self._watchdog = Watchdog(self._watchdog.timeout, self._watchdog.total_timeout)

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
        conn.sock = http_conn.sock
        conn.expired = conn.overdue = False
        with self._lock:
            self.connections_opened += 1

    def _connection(
        self, scheme: str, host: str, port: int | None, proxy: Proxy | None
    ) -> _Connection:
        pool: dict[tuple[str, str, int | None, Proxy | None], _Connection] | None = getattr(
            self._local, "connections", None
        )
        if pool is None:
            pool = self._local.connections = {}
        key = (scheme, host, port, proxy)
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
            conn = _Connection(self._new_http(scheme, host, port, proxy))
            pool[key] = conn
            with self._lock:
                self._all.append(conn)
        return conn

    def _new_http(
        self, scheme: str, host: str, port: int | None, proxy: Proxy | None
    ) -> http.client.HTTPConnection:
        if scheme == "http":
            if proxy is not None:
                return http.client.HTTPConnection(proxy.host, proxy.port)
            return http.client.HTTPConnection(host, port)
        if proxy is None:
            return http.client.HTTPSConnection(host, port, context=self._tls_context())
        # TLS end to end with the origin, through the proxy's CONNECT tunnel;
        # http.client verifies the certificate against the tunnelled host name.
        conn = http.client.HTTPSConnection(proxy.host, proxy.port, context=self._tls_context())
        tunnel_headers = {"Proxy-Authorization": proxy.authorization} if proxy.authorization else {}
        conn.set_tunnel(host, port, headers=tunnel_headers)
        return conn

    def _tls_context(self) -> ssl.SSLContext:
        if self._tls is None:
            # Certificate and host name verified against the same bundle requests uses.
            self._tls = ssl.create_default_context(cafile=self._ca_bundle)
        return self._tls
