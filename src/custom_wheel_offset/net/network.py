"""``OptimizedNetworkManager``: every HTTP request of cwo, and every decision about one.

One call, :meth:`OptimizedNetworkManager.get`, turns a URL into the body (or
the record parsed from it) or into one of cwo's own
:class:`~custom_wheel_offset.errors.FetchError` classes::

    get(url, kind, parse)
     |- challenge gate paused for this host?          -> ChallengeError, nothing sent
     |- robots.txt of the host (fetched once)         -> PermanentFetchError if disallowed
     `- tenacity: up to max_attempts attempts, full-jitter exponential backoff
          |- limiter.slot(host)                       pacing + concurrency, every attempt
          |- GET (net/transport.py), streamed, with the caller's extra headers;
          |  redirects by hand, same origin or same site (http->https, apex<->www), at most 5;
          |  a malformed Location or Content-Length  -> PermanentFetchError
          |- body read in chunks up to max_body_bytes
          |- Human Verification page?                 -> gate.record_challenge, ChallengeError
          |- {"message":"Forbidden"} with 401/403?    -> gate.record_challenge, ChallengeError
          |- {"message":"Forbidden"} with any other   -> TransientFetchError (never data)
          |- 2xx                                      -> gate/limiter.on_success, body
          |- 429                                      -> limiter.on_rate_limited, RateLimitedError
          |- 408, 500, 502, 503, 504, 520-524         -> TransientFetchError
          |- other status                             -> PermanentFetchError
          `- parse(body)                              TruncatedBodyError is retried

Retried: :class:`TransientFetchError` (timeouts, resets, cut bodies, 429,
5xx) and :class:`TruncatedBodyError` from ``parse``. Not retried here:
challenges (the processor defers the item), 4xx, oversized bodies, other
parse errors. Decisions are counted where they are taken, with the counter
names listed in :class:`OptimizedNetworkManager`.

Each worker thread has its own ``requests.Session``, which holds its cookie
jar and default headers: the store keeps the selected vehicle in the PHP
session, so one thread's select-then-ask calls must share one cookie jar,
and no other thread may use it. Every request, through a proxy or not, is
sent by the one transport (:mod:`custom_wheel_offset.net.transport`) on the
thread's own kept-alive connections, with that session's headers and cookies.
"""

from __future__ import annotations

import contextlib
import copy
import email.utils
import functools
import http.client
import logging
import math
import os
import random
import re
import ssl
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC
from typing import TYPE_CHECKING, Any, TypeVar, overload
from urllib.parse import urljoin, urlsplit

import requests
import requests.exceptions as rex
import urllib3.exceptions
from requests.utils import get_environ_proxies, requote_uri, select_proxy
from tenacity import RetryCallState, Retrying, retry_if_exception, stop_after_attempt

from custom_wheel_offset.errors import (
    ChallengeError,
    ConfigError,
    CwoError,
    FetchError,
    PermanentFetchError,
    RateLimitedError,
    RunInterrupted,
    TransientFetchError,
    TruncatedBodyError,
)
from custom_wheel_offset.net.challenge import ChallengeGate
from custom_wheel_offset.net.cookies import load_cookie_file
from custom_wheel_offset.net.ratelimit import HostRateLimiter
from custom_wheel_offset.net.robots import MAX_ROBOTS_BYTES, RobotsPolicy
from custom_wheel_offset.net.transport import Proxy, Transport, TransportResponse
from custom_wheel_offset.protocol.api import is_forbidden
from custom_wheel_offset.protocol.store import is_challenge

if TYPE_CHECKING:
    import http.cookiejar

    from custom_wheel_offset.metrics.counters import Counters
    from custom_wheel_offset.metrics.tracker import MetricTracker
    from custom_wheel_offset.settings import Settings

__all__ = [
    "MAX_REDIRECTS",
    "MAX_RETRY_AFTER",
    "OptimizedNetworkManager",
    "host_key",
    "parse_retry_after",
    "safe_url",
    "same_site_redirect",
]

log = logging.getLogger(__name__)

T = TypeVar("T")
#: A response being read (net/transport.py).
Reply = TransportResponse

MAX_REDIRECTS = 5
#: A server's Retry-After is honoured up to this many seconds; beyond it a typo
#: or a hostile header would park a worker for hours.
MAX_RETRY_AFTER = 600.0
#: An unreadable robots.txt (5xx, no answer) is asked for again after this long.
ROBOTS_RETRY_SECONDS = 10.0
_CHUNK = 64 * 1024
# What sending a request or reading its body may raise: urllib3's (decoding),
# http.client's and the socket's (requests' own are kept for the cookie and
# URL helpers taken from it). _transport_error turns each into a cwo error.
TRANSPORT_ERRORS = (
    requests.RequestException,
    urllib3.exceptions.HTTPError,
    http.client.HTTPException,
    OSError,
)
#: Seconds a thread reuses the Cookie header it computed for one path, and how
#: many paths it remembers (the fitment pages share one path; API paths do not).
COOKIE_HEADER_TTL = 30.0
COOKIE_HEADER_PATHS = 64

# Statuses worth another try: the server (or a proxy in front of it) failed, not
# the request. 408 is the server giving up on a slow request; 520-524 are the
# "origin unreachable" family of CDN front ends. 501 and 505 say the request
# itself can never work, so they are permanent like other 4xx.
_TRANSIENT_STATUS = {408, 500, 502, 503, 504, 520, 521, 522, 523, 524}

# The fitment API's refusal comes with one of these; with any other status the
# same body is a fault of that answer (retried), not a block.
_BLOCK_STATUS = frozenset({401, 403})
_FORBIDDEN_BODY = '{"message":"Forbidden"}'


# -- small pure helpers ------------------------------------------------------------------


def host_key(url: str) -> str:
    """The host a URL talks to, as limiter and gate know it: ``host`` or ``host:port``.

    Lower case, without credentials or the scheme's default port:
    ``https://www.Example.com:443/x`` is ``www.example.com``, and
    ``http://127.0.0.1:8765/`` is ``127.0.0.1:8765``.
    """
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"  # IPv6 literal
    try:
        port = parts.port
    except ValueError:
        port = None
    default = {"http": 80, "https": 443}.get(parts.scheme.lower())
    return f"{host}:{port}" if port is not None and port != default else host


def _as_host_key(host_or_url: str) -> str:
    """Accept a URL (``scheme://netloc/...``) or an existing :func:`host_key`."""
    return host_key(host_or_url) if "://" in host_or_url else host_or_url.lower()


def _origin(url: str) -> tuple[str, str]:
    return (urlsplit(url).scheme.lower(), host_key(url))


def _site(url: str) -> tuple[str, str]:
    """Host (without a leading ``www.``) and port: what a same-site redirect keeps."""
    key = host_key(url)
    if key.endswith("]") or ":" not in key:
        return (key.removeprefix("www."), "")  # no port, or an IPv6 literal without one
    host, _, port = key.rpartition(":")
    return (host.removeprefix("www."), port)


def same_site_redirect(current: str, target: str) -> bool:
    """Whether a redirect from ``current`` to ``target`` stays on the same site.

    Same origin; or the same host (or the same domain with and without
    ``www.``), keeping the scheme and port or upgrading ``http`` to ``https``
    (which moves the port too, 80 to 443): the live store answers ``http://``
    and apex addresses with ``302`` to ``https://www.customwheeloffset.com/``.
    A downgrade to ``http``, another port or any other host is not.
    """
    if _origin(target) == _origin(current):
        return True
    schemes = (urlsplit(current).scheme.lower(), urlsplit(target).scheme.lower())
    (host, port), (target_host, target_port) = _site(current), _site(target)
    if schemes == ("http", "https"):
        return host == target_host
    return schemes in {("http", "http"), ("https", "https")} and (host, port) == (
        target_host,
        target_port,
    )


def _strict_length(value: str) -> int | None:
    """A Content-Length value as an int, None when absent; ValueError when malformed.

    ``str.isdigit`` accepts ``"²"`` and other Unicode digits that ``int``
    refuses, so only ASCII digits count.
    """
    text = value.strip()
    if not text:
        return None
    if not (text.isascii() and text.isdigit()):
        raise ValueError(f"Content-Length {text[:40]!r} is not a number of bytes")
    return int(text)


def safe_url(url: str) -> str:
    """``url`` (or every URL in a text) with its secrets masked: :func:`redact.mask_text`."""
    from custom_wheel_offset.redact import mask_text

    return mask_text(url)


def parse_retry_after(value: str | None, *, now: Callable[[], float] = time.time) -> float | None:
    """Retry-After as seconds (delta-seconds or HTTP-date), capped at :data:`MAX_RETRY_AFTER`.

    ``None`` when absent or unreadable; a date in the past gives 0.
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = when.timestamp() - now()
    if math.isnan(seconds):
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def _retryable(exc: BaseException) -> bool:
    # Not cached: a cache keyed by the exception kept every failed attempt (its
    # traceback, frames and body) alive for the whole run (issue 11).
    return isinstance(exc, (TransientFetchError, TruncatedBodyError))


def _reason(exc: BaseException) -> str:
    """Short name of why an attempt failed, for ``retry_reason/<reason>``."""
    if isinstance(exc, RateLimitedError):
        return "http_429"
    if isinstance(exc, TruncatedBodyError):
        return "truncated"
    return str(getattr(exc, "retry_reason", None) or "other")


def _tag(exc: FetchError, reason: str) -> FetchError:
    """Attach the retry reason to an error we raise (read back by :func:`_reason`)."""
    exc.retry_reason = reason  # type: ignore[attr-defined]
    return exc


def _root_cause(exc: BaseException) -> BaseException:
    """The innermost exception below a requests/urllib3 wrapper chain."""
    seen = {id(exc)}
    current = exc
    for _ in range(12):
        inner = getattr(current, "reason", None)
        if not isinstance(inner, BaseException):
            inner = next((a for a in current.args if isinstance(a, BaseException)), None)
        if inner is None:
            inner = current.__cause__ or current.__context__
        if inner is None or id(inner) in seen:
            break
        seen.add(id(inner))
        current = inner
    return current


# A URL that cwo built itself: ASCII, every name already percent-encoded. Any
# other (a redirect target, a base URL given with spaces) is quoted first, as
# requests would; dot segments are never resolved away.
_PLAIN_URL = re.compile(r"^https?://[A-Za-z0-9.\-:\[\]]+(?:/[A-Za-z0-9\-._~%!$&'()*+,;=:@/?]*)?$")


def _request_headers(session: requests.Session, url: str) -> dict[str, str]:
    """The session's default headers, with the Cookie header its jar holds for ``url``."""
    headers = dict(session.headers)
    # The standard library's cookie matching (requests' jar is an http.cookiejar.CookieJar).
    probe = urllib.request.Request(url)
    session.cookies.add_cookie_header(probe)
    cookie = probe.get_header("Cookie")
    if cookie:
        headers["Cookie"] = cookie
    return headers


# What the transport can raise, most specific first, matched against the
# exception and the innermost cause below it: (classes, cwo error, code and
# retry reason, what the message says).
_TRANSPORT_MAP: tuple[tuple[tuple[type[BaseException], ...], type[FetchError], str, str], ...] = (
    ((urllib3.exceptions.ConnectTimeoutError,),
     TransientFetchError, "timeout", "timed out connecting to"),
    ((TimeoutError, urllib3.exceptions.ReadTimeoutError),
     TransientFetchError, "timeout", "timed out reading from"),
    # An untrusted certificate does not heal with retries.
    ((ssl.SSLCertVerificationError,),
     PermanentFetchError, "tls", "TLS certificate not trusted for"),
    ((ssl.SSLError,),
     TransientFetchError, "tls", "TLS error with"),
    ((http.client.IncompleteRead, urllib3.exceptions.IncompleteRead),
     TransientFetchError, "truncated", "body cut short from"),
    ((urllib3.exceptions.DecodeError,),
     TransientFetchError, "decoding", "undecodable body (gzip) from"),
    # http.client refuses to send a URL or header with control characters.
    ((http.client.InvalidURL,),
     PermanentFetchError, "invalid_request", "invalid request for"),
    ((http.client.HTTPException, urllib3.exceptions.HTTPError, OSError),
     TransientFetchError, "connection", "connection failed to"),
)  # fmt: skip
_TRANSPORT_FALLBACK: tuple[type[FetchError], str, str] = (
    TransientFetchError,
    "connection",
    "request failed for",
)


def _configured_proxy(url: str | None) -> Proxy | None:
    """``--proxy`` as the transport uses it; ConfigError when it cannot be used."""
    if not url:
        return None
    try:
        return Proxy.from_url(url)
    except ValueError as exc:
        raise ConfigError(f"--proxy {safe_url(url)} cannot be used: {exc}") from exc


@contextlib.contextmanager
def _closed_on_error(resp: Reply) -> Iterator[None]:
    """Close ``resp`` (and with it a direct connection) if the block raises."""
    try:
        yield
    except BaseException:
        resp.close()
        raise


# -- the manager -------------------------------------------------------------------------


class OptimizedNetworkManager:
    """All HTTP of one process: sessions, pacing, retries, classification, counters.

    :param settings: the run's settings (timeouts, attempts, backoff, body cap,
        user agent, robots, cookies, proxy, rate, host concurrency, workers).
    :param counters: the run's counters (see below).
    :param limiter: per-host pacing; by default one built from ``settings.rate``
        and ``settings.host_concurrency``.
    :param gate: per-host challenge pauses; by default a fresh :class:`ChallengeGate`.
    :param tracker: the run's metrics; each request sent is timed as its kind
        (failed unless it gave a usable 2xx answer). By default one of its own.

    Counters (names are a contract with the metrics report):

    ``requests/<kind>``           every request sent (each attempt, each redirect hop;
                                  ``requests/robots`` for robots.txt)
    ``responses/<status>``        every HTTP status received
    ``retries/<kind>``            every retry
    ``retry_reason/<reason>``     timeout, connection, truncated, decoding, tls, proxy,
                                  http_429, http_5xx, http_408, robots_unreachable,
                                  forbidden_body, other
    ``challenges/<kind>``         Human Verification pages received
    ``blocked/<kind>``            the API's refusal received (401/403 ``{"message":"Forbidden"}``)
    ``forbidden_body/<kind>``     the refusal's body with any other status (retried)
    ``challenge_paused/<kind>``   requests not sent because the host was paused
    ``redirects/same_site_hosts`` hosts seen redirecting to the same site (warned once each)
    ``bytes_received``            body bytes (after gzip decoding)
    ``errors/<kind>/<Class>``     final failures of :meth:`get`, by exception class
    ``robots/disallowed``         requests refused by robots.txt
    """

    def __init__(
        self,
        settings: Settings,
        counters: Counters,
        *,
        limiter: HostRateLimiter | None = None,
        gate: ChallengeGate | None = None,
        tracker: MetricTracker | None = None,
    ) -> None:
        self._settings = settings
        self._counters = counters
        if tracker is None:
            from custom_wheel_offset.metrics.tracker import MetricTracker

            tracker = MetricTracker(counters)
        self._tracker = tracker
        self._stopping = threading.Event()
        # The default limiter sleeps through the manager, so stop() wakes it.
        self._limiter = limiter or HostRateLimiter(
            settings.rate, settings.host_concurrency, sleep=self._sleep
        )
        self._gate = gate or ChallengeGate()
        self._user_agent = settings.effective_user_agent
        # Checked once, here: a proxy cwo cannot use fails the run before any request.
        self._proxy = _configured_proxy(settings.proxy)
        # Loaded once, here, so a bad file fails the run before any request.
        self._cookies: http.cookiejar.CookieJar | None = (
            load_cookie_file(settings.cookies) if settings.cookies else None
        )
        self._secrets = self._collect_secrets()
        # Proxy variables (and their NO_PROXY exceptions) are honoured the way
        # requests does it, per origin; --proxy needs no environment.
        self._env_proxies = not settings.proxy and any(
            key.lower().endswith("_proxy") and key.lower() != "no_proxy" for key in os.environ
        )
        self._proxy_by_origin: dict[tuple[str, str], Proxy | None] = {}
        bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
        self._transport = Transport(
            connect_timeout=settings.connect_timeout,
            read_timeout=settings.read_timeout,
            total_timeout=settings.total_timeout,
            ca_bundle=bundle or requests.certs.where(),
        )
        self._random = random.Random()
        self._local = threading.local()
        self._lock = threading.Lock()
        self._sessions: list[requests.Session] = []
        self._sessions_created = 0
        self._generation = 0
        self._robots: dict[str, tuple[RobotsPolicy, float]] = {}
        self._moved_hosts: set[str] = set()  # hosts already warned about (same-site redirect)
        self._robots_locks: dict[str, threading.Lock] = {}

    # -- public ------------------------------------------------------------------------

    @property
    def limiter(self) -> HostRateLimiter:
        """The per-host rate limiter (shared by every thread)."""
        return self._limiter

    @property
    def gate(self) -> ChallengeGate:
        """The per-host challenge gate (shared by every thread)."""
        return self._gate

    def is_paused(self, host: str) -> bool:
        """Whether requests to ``host`` are held back after a bot challenge.

        ``host`` is a URL (``https://www.customwheeloffset.com``, any path) or a
        :func:`host_key`.
        """
        return self._gate.is_paused(_as_host_key(host))

    def paused_until(self, host: str) -> float | None:
        """Wall-clock time (``time.time()`` scale) when ``host``'s challenge pause ends.

        ``None`` when the host is not paused. For the processor's ``not_before``.
        """
        remaining = self._gate.remaining(_as_host_key(host))
        return time.time() + remaining if remaining > 0 else None

    def blocked_for(self, host: str) -> float:
        """Seconds ``host`` (URL or host key) has been challenging without a break, 0 if not."""
        return self._gate.blocked_for(_as_host_key(host))

    def longest_block(self) -> tuple[str, float, str] | None:
        """``(host, seconds, reason)`` of the host challenging or refusing longest, or None."""
        return self._gate.longest_block()

    @overload
    def get(
        self,
        url: str,
        kind: str = ...,
        parse: None = None,
        *,
        headers: Mapping[str, str] | None = ...,
    ) -> bytes: ...

    @overload
    def get(
        self,
        url: str,
        kind: str,
        parse: Callable[[bytes], T],
        *,
        headers: Mapping[str, str] | None = ...,
    ) -> T: ...

    @overload
    def get(
        self,
        url: str,
        *,
        kind: str = ...,
        parse: Callable[[bytes], T],
        headers: Mapping[str, str] | None = ...,
    ) -> T: ...

    def get(
        self,
        url: str,
        kind: str = "fitment",
        parse: Callable[[bytes], Any] | None = None,
        *,
        headers: Mapping[str, str] | None = None,
    ) -> Any:
        """Fetch ``url`` and return its body, or ``parse(body)`` when ``parse`` is given.

        ``kind`` names the work item kind in counters and timings. ``headers``
        are sent on top of the session's (``protocol.urls.request_headers``
        says which a request needs); the same mapping object for every
        request of a kind keeps the direct path's header cache small.

        :raises TransientFetchError: (incl. :class:`RateLimitedError`) still failing
            after ``max_attempts`` attempts; the message says how many and why.
        :raises ChallengeError: a bot challenge or the API's refusal (401/403
            ``{"message":"Forbidden"}``), or the host is paused after one.
        :raises PermanentFetchError: 4xx, too large, redirect elsewhere, robots.txt.
        :raises ParseError: from ``parse`` (:class:`TruncatedBodyError` only after
            ``max_attempts`` attempts).
        :raises RunInterrupted: :meth:`stop` was called.
        """
        host = host_key(url)
        attempts = 0
        failed_first: CwoError | None = None

        def attempt() -> Any:
            nonlocal attempts, failed_first
            if failed_first is not None:
                # The first attempt, made before tenacity was involved, replayed.
                error, failed_first = failed_first, None
                raise error
            attempts += 1
            return self._attempt(url, kind, host, parse, headers)

        try:
            self._check_running()
            self._check_gate(url, kind, host)
            try:
                # Almost every request succeeds at once: building the retry
                # machinery only after a failure spares it on every page.
                return attempt()
            except CwoError as exc:
                if not _retryable(exc) or self._settings.max_attempts <= 1:
                    raise
                failed_first = exc
            retrying = Retrying(
                stop=stop_after_attempt(self._settings.max_attempts),
                wait=self._backoff,
                retry=retry_if_exception(_retryable),
                sleep=self._sleep,
                before_sleep=functools.partial(self._before_retry, kind, url),
                reraise=True,  # our own error, not tenacity.RetryError
            )
            return retrying(attempt)
        except RunInterrupted:
            raise
        except CwoError as exc:
            if _retryable(exc) and attempts >= self._settings.max_attempts:
                exc.message = (
                    f"gave up after {attempts} attempt{'s' if attempts != 1 else ''}; "
                    f"last: {exc.message}"
                )
                exc.args = (exc.message,)
            self._counters.incr(f"errors/{kind}/{type(exc).__name__}")
            raise

    def session(self) -> requests.Session:
        """This thread's session: created on first use, then reused for the whole run."""
        local = self._local
        if getattr(local, "generation", None) == self._generation:
            return local.session  # type: ignore[no-any-return]
        session = self._new_session()
        with self._lock:
            self._sessions.append(session)
            self._sessions_created += 1
            local.session, local.generation = session, self._generation
        return session

    def stop(self) -> None:
        """Wake every thread sleeping in a backoff or a pause; they raise :class:`RunInterrupted`.

        Further :meth:`get` calls raise it at once. For Ctrl-C: no worker stays
        parked on a 10-minute Retry-After.
        """
        self._stopping.set()

    def close(self) -> None:
        """Close every session this manager created (threads get new ones if they go on)."""
        with self._lock:
            sessions, self._sessions = self._sessions, []
            self._generation += 1
        for session in sessions:
            session.close()
        self._transport.close()

    def stats(self) -> dict[str, Any]:
        """Sessions, connection pools, per-host limiter, challenge and robots state."""
        with self._lock:
            sessions = list(self._sessions)
            created = self._sessions_created
            robots = {host: policy.kind for host, (policy, _) in sorted(self._robots.items())}
        return {
            "sessions_created": created,
            "sessions_open": len(sessions),
            "connections_opened": self._transport.connections_opened,
            "connections_open": self._transport.open_connections(),
            # Exchanges the transport's watchdog ended (read or total timeout).
            "deadline_timeouts": self._transport.timeouts,
            "hosts": self._limiter.stats(),
            "challenges": self._gate.stats(),
            "robots": robots,
        }

    # -- sessions ----------------------------------------------------------------------

    def _new_session(self) -> requests.Session:
        # Only its cookie jar and default headers are used: the transport sends.
        session = requests.Session()
        session.headers["User-Agent"] = self._user_agent
        # gzip only: decoded by urllib3 without optional packages (br, zstd).
        session.headers["Accept-Encoding"] = "gzip"
        if self._cookies is not None:
            # A copy per session: each thread's jar then evolves on its own.
            for cookie in self._cookies:
                session.cookies.set_cookie(copy.copy(cookie))
        return session

    # -- one attempt -------------------------------------------------------------------

    def _attempt(
        self,
        url: str,
        kind: str,
        host: str,
        parse: Callable[[bytes], Any] | None,
        headers: Mapping[str, str] | None,
    ) -> Any:
        if self._settings.obey_robots:
            # Per attempt, so that an unreadable robots.txt is asked for again
            # (after ROBOTS_RETRY_SECONDS) by a later attempt.
            self._check_robots(url, kind, host)
        with self._limiter.slot(host) as sent_at:
            self._check_running()
            # Another thread may have met a challenge while this one waited.
            self._check_gate(url, kind, host)
            with self._tracker.track(kind):
                body = self._exchange(url, kind, host, sent_at, headers)
        # Parsing happens outside the slot: it is CPU work, not a request in flight.
        return body if parse is None else parse(body)

    def _send(self, url: str, headers: Mapping[str, str] | None = None) -> Reply:
        """One GET, streamed, no redirects, transport errors as cwo errors."""
        session = self.session()
        if not _PLAIN_URL.match(url):
            url = requote_uri(url)
        proxy = self._proxy_for(url)
        try:
            resp = self._transport.get(url, self._headers(session, url, headers), proxy)
        except TRANSPORT_ERRORS as exc:
            raise self._transport_error(exc, url, via_proxy=proxy is not None) from exc
        except ValueError as exc:
            # A URL no connection can be made for ("http://[::1/x", a bad port).
            raise PermanentFetchError(
                f"invalid URL {safe_url(url)}: {self._scrub(str(exc))[:200]}",
                url=safe_url(url),
                code="invalid_url",
            ) from exc
        if "set-cookie" in resp.headers:
            # The store keeps the selected vehicle in its session cookie.
            with _closed_on_error(resp):
                try:
                    session.cookies.extract_cookies(resp, urllib.request.Request(url))  # type: ignore[arg-type]
                except ValueError as exc:
                    where = safe_url(url)
                    detail = self._scrub(f"{type(exc).__name__}: {exc}")[:300]
                    raise PermanentFetchError(
                        f"invalid header (Set-Cookie) in the answer from {where}: {detail}",
                        url=where,
                        code="invalid_header",
                    ) from exc
            self._local.headers = (session, {})
        return resp

    def _proxy_for(self, url: str) -> Proxy | None:
        """The proxy for ``url``'s origin: --proxy, or the environment's (remembered per origin)."""
        if self._proxy is not None or not self._env_proxies:
            return self._proxy
        origin = (urlsplit(url).scheme.lower(), host_key(url))
        if origin not in self._proxy_by_origin:
            chosen = select_proxy(url, get_environ_proxies(url))
            try:
                proxy = Proxy.from_url(chosen) if chosen else None
            except ValueError as exc:
                raise PermanentFetchError(
                    f"proxy {safe_url(chosen or '')} from the environment cannot be used: {exc}",
                    url=safe_url(url),
                    code="proxy",
                ) from exc
            with self._lock:
                if len(self._proxy_by_origin) >= 64:  # redirects of robots.txt go anywhere
                    self._proxy_by_origin.clear()
                self._proxy_by_origin[origin] = proxy
        return self._proxy_by_origin[origin]

    def _headers(
        self, session: requests.Session, url: str, extra: Mapping[str, str] | None = None
    ) -> Mapping[str, str]:
        """The session's headers with its Cookie header for ``url``, and ``extra`` on top.

        Remembered per thread, scheme, host, path (the query plays no part
        in cookie matching) and extra headers until a response sets a cookie,
        and for at most :data:`COOKIE_HEADER_TTL` seconds so an expiring cookie
        is not sent on: asking the cookie jar costs more than the rest of
        sending a request.
        """
        cached = getattr(self._local, "headers", None)
        if cached is None or cached[0] is not session:
            cached = self._local.headers = (session, {})
        path = url.partition("?")[0]
        # The extra headers are part of the key: select and the option lists
        # share a path with one set, and another set must never be reused for it.
        key: Any = path if not extra else (path, tuple(extra.items()))
        now = time.monotonic()
        entry = cached[1].get(key)
        if entry is None or now - entry[0] > COOKIE_HEADER_TTL:
            if len(cached[1]) >= COOKIE_HEADER_PATHS:
                # API paths name the vehicle: one per vehicle, never asked again.
                cached[1].clear()
            prepared = _request_headers(session, url)
            if extra:
                prepared.update(extra)
            entry = cached[1][key] = (now, prepared)
        return entry[1]

    def _exchange(
        self, url: str, kind: str, host: str, sent_at: float, headers: Mapping[str, str] | None
    ) -> bytes:
        """Send, follow same-site redirects, read and classify: the usable body or an error."""
        current = url
        for _hop in range(MAX_REDIRECTS + 1):
            self._counters.incr(f"requests/{kind}")
            with self._send(current, headers) as resp:
                self._counters.incr(f"responses/{resp.status_code}")
                if resp.is_redirect:
                    target = self._redirect_target(current, resp)
                    if not same_site_redirect(current, target):
                        raise PermanentFetchError(
                            f"redirect from {safe_url(current)} to another host "
                            f"({safe_url(target)}) refused",
                            url=safe_url(url),
                            status=resp.status_code,
                            code="redirect_refused",
                        )
                    if _origin(target) != _origin(current):
                        self._warn_base_moved(url, target)
                    self._drain(resp, current)
                    current = target
                    continue
                body = self._read(resp, current, self._settings.max_body_bytes)
                return self._classify(resp, body, current, kind, host, sent_at)
        raise PermanentFetchError(
            f"more than {MAX_REDIRECTS} redirects from {safe_url(url)}",
            url=safe_url(url),
            code="redirect_refused",
        )

    def _redirect_target(self, current: str, resp: Reply) -> str:
        """The absolute URL a redirect points to, decoded and quoted as requests does.

        A Location that is not UTF-8 or not a URL (``http://[::1/x``) is a
        fault of this answer that no retry cures: :class:`PermanentFetchError`.
        """
        try:
            # get_redirect_target undoes the latin-1 decoding of UTF-8 Location headers.
            location = self.session().get_redirect_target(resp) or ""
            target = requote_uri(urljoin(current, location))
            host_key(target)  # urlsplit checks the host part only when asked for it
        except (UnicodeError, ValueError, rex.InvalidURL) as exc:
            raw = resp.headers.get("Location", "")
            raise PermanentFetchError(
                f"invalid Location header {self._scrub(ascii(raw)[:120])} in the redirect "
                f"from {safe_url(current)}: {type(exc).__name__}: {exc}"[:400],
                url=safe_url(current),
                status=resp.status_code,
                code="invalid_header",
            ) from exc
        return target

    def _warn_base_moved(self, url: str, target: str) -> None:
        """Say once per host that a same-site redirect costs a request per page."""
        moved_from = host_key(url)
        with self._lock:
            if moved_from in self._moved_hosts:
                return
            self._moved_hosts.add(moved_from)
        self._counters.incr("redirects/same_site_hosts")
        parts = urlsplit(target)
        log.warning(
            "%s redirects to %s://%s: change the base URL (--api-base/--store-base) to %s://%s; "
            "every request now costs an extra redirect",
            moved_from,
            parts.scheme,
            parts.netloc,
            parts.scheme,
            parts.netloc,
        )

    def _drain(self, resp: Reply, url: str) -> None:
        """Read a redirect's small body so its connection can be reused."""
        # The body is not used: a failed read only costs this connection.
        with contextlib.suppress(FetchError):
            self._read(resp, url, _CHUNK, truncate=True)

    def _read(self, resp: Reply, url: str, limit: int, *, truncate: bool = False) -> bytes:
        """The body, read in chunks, at most ``limit`` bytes (decoded).

        Over the limit: :class:`PermanentFetchError` (and the connection is
        closed by the caller's ``with``), or, with ``truncate``, the first
        ``limit`` bytes.
        """
        declared = resp.headers.get("Content-Length", "").strip()
        try:
            length = _strict_length(declared)
        except ValueError as exc:
            raise PermanentFetchError(
                f"invalid Content-Length header {ascii(declared)[:60]} from {safe_url(url)}",
                url=safe_url(url),
                status=resp.status_code,
                code="invalid_header",
            ) from exc
        if not truncate and length is not None and length > limit:
            raise PermanentFetchError(
                f"response larger than {limit} bytes (Content-Length {declared}) "
                f"from {safe_url(url)}",
                url=safe_url(url),
                status=resp.status_code,
                code="too_large",
            )
        # Chunks joined once at the end: one copy of the body, where a growing
        # bytearray and its conversion to bytes cost two or three.
        chunks: list[bytes] = []
        size = 0
        try:
            for chunk in resp.iter_content(_CHUNK):
                chunks.append(chunk)
                size += len(chunk)
                if size > limit:
                    if truncate:
                        size = limit
                        break
                    raise PermanentFetchError(
                        f"response larger than {limit} bytes from {safe_url(url)}",
                        url=safe_url(url),
                        status=resp.status_code,
                        code="too_large",
                    )
        except TRANSPORT_ERRORS as exc:
            raise self._transport_error(exc, url) from exc
        finally:
            self._counters.incr("bytes_received", size)
        body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        return body[:limit] if truncate else body

    def _classify(
        self,
        resp: Reply,
        body: bytes,
        url: str,
        kind: str,
        host: str,
        sent_at: float,
    ) -> bytes:
        status = resp.status_code
        # First: a challenge page is never data, whatever its status (200, 202, 405...).
        if is_challenge(body):
            self._counters.incr(f"challenges/{kind}")
            self._gate.record_challenge(host, "its Human Verification page (bot challenge)")
            pause = self._gate.remaining(host)
            log.warning("bot challenge from %s (HTTP %s); host paused %.0fs", host, status, pause)
            raise ChallengeError(
                f"bot challenge (Human Verification page, HTTP {status}) from {host}; "
                f"host paused for {pause:.0f}s",
                url=safe_url(url),
                status=status,
            )
        if is_forbidden(body):
            self._forbidden(status, url, kind, host)
        if 200 <= status < 300:
            self._gate.record_success(host)
            self._limiter.on_success(host)
            return body
        where = safe_url(url)
        if status == 429:
            retry_after = parse_retry_after(resp.headers.get("Retry-After"))
            self._limiter.on_rate_limited(host, retry_after, sent_at=sent_at)
            log.info(
                "HTTP 429 from %s (Retry-After %s); host rate now %s/s",
                host,
                "none" if retry_after is None else f"{retry_after:g}s",
                self._limiter.current_rate(host),
            )
            detail = "" if retry_after is None else f" (Retry-After {retry_after:g}s)"
            raise RateLimitedError(
                f"HTTP 429 Too Many Requests from {where}{detail}",
                url=where,
                retry_after=retry_after,
            )
        if status in _TRANSIENT_STATUS:
            reason = "http_408" if status == 408 else "http_5xx"
            raise _tag(
                TransientFetchError(f"HTTP {status} from {where}", url=where, status=status), reason
            )
        raise PermanentFetchError(f"HTTP {status} from {where}", url=where, status=status)

    def _forbidden(self, status: int, url: str, kind: str, host: str) -> None:
        """The API's refusal: a block with 401/403, a faulty answer otherwise. Always raises."""
        where = safe_url(url)
        if status in _BLOCK_STATUS:
            # AWS API Gateway refusing this client: like the store's challenge,
            # leave the host alone for a growing while; other hosts go on.
            self._counters.incr(f"blocked/{kind}")
            self._gate.record_challenge(host, f"the refusal {_FORBIDDEN_BODY} (HTTP {status})")
            pause = self._gate.remaining(host)
            log.warning(
                "%s refused cwo (HTTP %s %s); host paused %.0fs",
                host,
                status,
                _FORBIDDEN_BODY,
                pause,
            )
            raise ChallengeError(
                f"blocked: {host} answered HTTP {status} {_FORBIDDEN_BODY}; "
                f"host paused for {pause:.0f}s",
                url=where,
                status=status,
            )
        # The same body with a 200 (or a 5xx) is no vehicle and no listing: never data.
        self._counters.incr(f"forbidden_body/{kind}")
        raise _tag(
            TransientFetchError(
                f"HTTP {status} from {where} with the refusal body {_FORBIDDEN_BODY}, not data",
                url=where,
                status=status,
            ),
            "forbidden_body",
        )

    def _transport_error(
        self, exc: BaseException, url: str, *, via_proxy: bool = False
    ) -> FetchError:
        """Map what the transport raised to the most specific cwo error (:data:`_TRANSPORT_MAP`)."""
        where = safe_url(url)
        # The watchdog raises TimeoutError from the read it ended: the timeout
        # is the cause, not the end-of-file below it.
        root = exc if isinstance(exc, TimeoutError) else _root_cause(exc)
        detail = self._scrub(f"{type(root).__name__}: {root}" if str(root) else type(root).__name__)
        error_class, reason, what = next(
            (
                row[1:]
                for row in _TRANSPORT_MAP
                if isinstance(exc, row[0]) or isinstance(root, row[0])
            ),
            _TRANSPORT_FALLBACK,
        )
        if via_proxy and reason == "connection":
            # Refused, reset or a failed CONNECT on the way to the proxy.
            error_class, reason, what = TransientFetchError, "proxy", "proxy failed for"
        message = f"{what} {where}: {detail[:300]}"
        if issubclass(error_class, TransientFetchError):
            return _tag(error_class(message, url=where), reason)
        return error_class(message, url=where, code=reason)

    # -- gate, robots, retries ---------------------------------------------------------

    def _check_running(self) -> None:
        if self._stopping.is_set():
            raise RunInterrupted("the network manager was stopped")

    def _check_gate(self, url: str, kind: str, host: str) -> None:
        remaining = self._gate.remaining(host)
        if remaining > 0:
            self._counters.incr(f"challenge_paused/{kind}")
            raise ChallengeError(
                f"{host} is paused for another {remaining:.0f}s after a bot challenge "
                "or a refusal; not sent",
                url=safe_url(url),
            )

    def _check_robots(self, url: str, kind: str, host: str) -> None:
        policy = self._robots_policy(url, host)
        if policy.allowed(url, self._user_agent):
            return
        where = safe_url(url)
        if policy.unreachable:
            raise _tag(
                TransientFetchError(
                    f"robots.txt of {host} could not be read "
                    f"({'HTTP ' + str(policy.status) if policy.status else 'no answer'}); "
                    f"not fetching {where} until it can",
                    url=where,
                ),
                "robots_unreachable",
            )
        self._counters.incr("robots/disallowed")
        error = PermanentFetchError(
            f"{where} is disallowed by robots.txt of {host} for cwo's user agent",
            url=where,
            code="robots_disallowed",
        )
        error.hint = "--ignore-robots fetches it anyway, at your own responsibility"
        raise error

    def _robots_policy(self, url: str, host: str) -> RobotsPolicy:
        """The host's policy: fetched once (by one thread while the others wait)."""
        with self._lock:
            lock = self._robots_locks.setdefault(host, threading.Lock())
        with lock:
            cached = self._robots.get(host)
            if cached is not None:
                policy, fetched_at = cached
                if not policy.unreachable or time.monotonic() - fetched_at < ROBOTS_RETRY_SECONDS:
                    return policy
            policy = self._fetch_robots(url, host)
            with self._lock:
                self._robots[host] = (policy, time.monotonic())
            delay = policy.crawl_delay(self._user_agent)
            if delay:
                # Crawl-delay d: never more than one request per d seconds to this host.
                self._limiter.set_host_ceiling(host, 1.0 / delay)
            return policy

    def _fetch_robots(self, url: str, host: str) -> RobotsPolicy:
        """Read the host's robots.txt, trying again like any request if it is unreachable.

        One 503 from a flaky server should not stop the crawl of that host for
        :data:`ROBOTS_RETRY_SECONDS`, so the unreachable verdict comes only after
        ``max_attempts`` tries with the usual backoff.
        """
        parts = urlsplit(url)
        target = f"{parts.scheme}://{parts.netloc}/robots.txt"
        attempt = 1
        policy = self._fetch_robots_once(target, host)
        while policy.unreachable and attempt < self._settings.max_attempts:
            self._counters.incr("retries/robots")
            self._counters.incr("retry_reason/robots_unreachable")
            self._sleep(self._jitter(attempt))
            attempt += 1
            policy = self._fetch_robots_once(target, host)
        log.info("robots.txt of %s: HTTP %s, %s", host, policy.status, policy.kind)
        return policy

    def _fetch_robots_once(self, target: str, host: str) -> RobotsPolicy:
        with self._limiter.slot(host) as sent_at, self._tracker.track("robots") as timing:
            status: int | None = None
            try:
                # RFC 9309 2.3.1.2: follow up to five redirects, to any host.
                for _hop in range(MAX_REDIRECTS + 1):
                    self._counters.incr("requests/robots")
                    with self._send(target) as resp:
                        status = resp.status_code
                        self._counters.incr(f"responses/{status}")
                        if resp.is_redirect:
                            target = self._redirect_target(target, resp)
                            continue
                        if status == 429:
                            retry_after = parse_retry_after(resp.headers.get("Retry-After"))
                            self._limiter.on_rate_limited(host, retry_after, sent_at=sent_at)
                        body = self._read(resp, target, MAX_ROBOTS_BYTES, truncate=True)
                    break
                else:
                    return RobotsPolicy.allow_all()  # RFC 9309: too many redirects = unavailable
            except FetchError as exc:
                log.warning("robots.txt of %s could not be read: %s", host, exc)
                return RobotsPolicy.from_response(None, None)
            finally:
                timing.ok = status is not None
        if is_challenge(body):
            self._counters.incr("challenges/robots")
            self._gate.record_challenge(host, "its Human Verification page (bot challenge)")
            raise ChallengeError(
                f"bot challenge on robots.txt of {host}; host paused", url=safe_url(target)
            )
        return RobotsPolicy.from_response(status, body)

    def _jitter(self, attempt: int) -> float:
        """Full jitter: uniform in [0, min(backoff_max, backoff_base * 2**(attempt-1))]."""
        ceiling = min(self._settings.backoff_max, self._settings.backoff_base * 2 ** (attempt - 1))
        return self._random.uniform(0, ceiling)

    def _backoff(self, state: RetryCallState) -> float:
        """Full-jitter exponential backoff, never shorter than a 429's Retry-After."""
        wait = self._jitter(state.attempt_number)
        exc = state.outcome.exception() if state.outcome is not None else None
        if isinstance(exc, RateLimitedError) and exc.retry_after:
            wait = max(wait, exc.retry_after)
        return wait

    def _before_retry(self, kind: str, url: str, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome is not None else None
        reason = _reason(exc) if exc is not None else "other"
        self._counters.incr(f"retries/{kind}")
        self._counters.incr(f"retry_reason/{reason}")
        log.debug(
            "retrying %s (attempt %d failed: %s) in %.2fs",
            safe_url(url),
            state.attempt_number,
            exc,
            state.upcoming_sleep,
        )

    def _sleep(self, seconds: float) -> None:
        """Sleep that :meth:`stop` interrupts."""
        if seconds > 0 and self._stopping.wait(seconds):
            raise RunInterrupted("the network manager was stopped")
        self._check_running()

    # -- secrets -----------------------------------------------------------------------

    def _collect_secrets(self) -> tuple[str, ...]:
        """Strings that must never appear in a message: proxy password, cookie values."""
        secrets: list[str] = []
        if self._settings.proxy:
            password = urlsplit(self._settings.proxy).password
            if password:
                secrets.append(password)
        if self._cookies is not None:
            secrets.extend(c.value for c in self._cookies if c.value)
        # Very short values would blank out ordinary words; they are not secrets
        # worth the damage (and credentials in URLs are masked by pattern anyway).
        return tuple(sorted({s for s in secrets if len(s) >= 6}, key=len, reverse=True))

    def _scrub(self, text: str) -> str:
        text = safe_url(text)
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text
