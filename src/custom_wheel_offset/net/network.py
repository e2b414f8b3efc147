"""``OptimizedNetworkManager``: every HTTP request of cwo, composed from small parts.

One call, :meth:`OptimizedNetworkManager.get`, turns a URL into the body (or
the record parsed from it) or into one of cwo's own
:class:`~custom_wheel_offset.errors.FetchError` classes::

    get(url, kind, parse)
     |- challenge gate paused for this host?          -> ChallengeError, nothing sent
     |- robots.txt of the host (robots_cache.py)      -> PermanentFetchError if disallowed
     `- retry.py: up to max_attempts attempts, full-jitter exponential backoff
          |- limiter.slot(host)  (ratelimit.py)       pacing + concurrency, every attempt
          |- GET (transport.py), streamed, with the thread's session headers and
          |  cookies (cookies.py) and the caller's extra headers; redirects by hand,
          |  same origin or same site (redirects.py), at most 5;
          |  transport faults mapped to cwo errors    (failures.py)
          |- body read in chunks up to max_body_bytes (responses.py)
          |- challenge, refusal, 2xx, 429, 5xx, 4xx   (responses.ResponseClassifier)
          `- parse(body)                              TruncatedBodyError is retried

Not retried: challenges (the processor defers the item), 4xx, oversized
bodies, parse errors other than a cut body.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, TypeVar, overload

from custom_wheel_offset.errors import ChallengeError, CwoError, PermanentFetchError, RunInterrupted
from custom_wheel_offset.net.challenge import ChallengeGate
from custom_wheel_offset.net.ratelimit import HostRateLimiter
from custom_wheel_offset.net.redirects import (
    MAX_REDIRECTS,
    SameSiteRedirects,
    as_host_key,
    host_key,
)
from custom_wheel_offset.net.responses import ResponseClassifier, drain, read_body
from custom_wheel_offset.net.retry import Retrier, StopSignal
from custom_wheel_offset.net.robots_cache import RobotsCache
from custom_wheel_offset.net.sender import Sender
from custom_wheel_offset.redact import mask_text

if TYPE_CHECKING:
    import requests

    from custom_wheel_offset.metrics.counters import Counters
    from custom_wheel_offset.metrics.tracker import MetricTracker
    from custom_wheel_offset.settings import Settings

__all__ = ["OptimizedNetworkManager"]

T = TypeVar("T")


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

    Its counters are listed in :mod:`custom_wheel_offset.net` (the package docstring).
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
        self._stop = StopSignal()
        # The default limiter sleeps through the manager, so stop() wakes it.
        self._limiter = limiter or HostRateLimiter(
            settings.rate, settings.host_concurrency, sleep=self._stop.sleep
        )
        self._gate = gate or ChallengeGate()
        self._sender = Sender.from_settings(settings)
        self._retrier = Retrier.from_settings(settings, counters, self._stop.sleep)
        self._classifier = ResponseClassifier(counters, self._gate, self._limiter)
        self._redirects = SameSiteRedirects(counters, self._sender.scrub)
        self._robots = RobotsCache(
            user_agent=settings.effective_user_agent,
            send=self._sender.send,
            limiter=self._limiter,
            gate=self._gate,
            counters=counters,
            retrier=self._retrier,
            sleep=self._stop.sleep,
            tracker=tracker,
            scrub=self._sender.scrub,
        )

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
        """Whether requests to ``host`` (a URL, any path, or a :func:`host_key`) are held back."""
        return self._gate.is_paused(as_host_key(host))

    def paused_until(self, host: str) -> float | None:
        """Wall-clock time (``time.time()`` scale) when ``host``'s challenge pause ends.

        ``None`` when the host is not paused. For the processor's ``not_before``.
        """
        remaining = self._gate.remaining(as_host_key(host))
        return time.time() + remaining if remaining > 0 else None

    def blocked_for(self, host: str) -> float:
        """Seconds ``host`` (URL or host key) has been challenging without a break, 0 if not."""
        return self._gate.blocked_for(as_host_key(host))

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
        request of a kind keeps the header cache small.

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
        try:
            self._stop.check()
            self._check_gate(url, kind, host)
            return self._retrier.run(
                lambda: self._attempt(url, kind, host, parse, headers), kind, url
            )
        except RunInterrupted:
            raise
        except CwoError as exc:
            self._counters.incr(f"errors/{kind}/{type(exc).__name__}")
            raise

    def session(self) -> requests.Session:
        """This thread's session (cookie jar and default headers), reused for the whole run."""
        return self._sender.sessions.session()

    def stop(self) -> None:
        """Wake every thread sleeping in a backoff or a pause; they raise :class:`RunInterrupted`.

        Further :meth:`get` calls raise it at once. For Ctrl-C: no worker stays
        parked on a 10-minute Retry-After.
        """
        self._stop.set()

    def close(self) -> None:
        """Close every session this manager created (threads get new ones if they go on)."""
        self._sender.close()

    def stats(self) -> dict[str, Any]:
        """Sessions, connection pools, per-host limiter, challenge and robots state."""
        return {
            **self._sender.stats(),
            "hosts": self._limiter.stats(),
            "challenges": self._gate.stats(),
            "robots": self._robots.stats(),
        }

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
            self._robots.check(url, host)
        with self._limiter.slot(host) as sent_at:
            self._stop.check()
            # Another thread may have met a challenge while this one waited.
            self._check_gate(url, kind, host)
            with self._tracker.track(kind):
                body = self._exchange(url, kind, host, sent_at, headers)
        # Parsing happens outside the slot: it is CPU work, not a request in flight.
        return body if parse is None else parse(body)

    def _exchange(
        self, url: str, kind: str, host: str, sent_at: float, headers: Mapping[str, str] | None
    ) -> bytes:
        """Send, follow same-site redirects, read and classify: the usable body or an error."""
        current = url
        for _hop in range(MAX_REDIRECTS + 1):
            self._counters.incr(f"requests/{kind}")
            with self._sender.send(current, headers) as resp:
                self._counters.incr(f"responses/{resp.status_code}")
                if resp.is_redirect:
                    target = self._redirects.next_hop(url, current, resp)
                    drain(resp, current, self._counters)
                    current = target
                    continue
                limit = self._settings.max_body_bytes
                body = read_body(resp, current, limit, self._counters, scrub=self._sender.scrub)
                return self._classifier.classify(resp, body, current, kind, host, sent_at)
        raise PermanentFetchError(
            f"more than {MAX_REDIRECTS} redirects from {mask_text(url)}",
            url=mask_text(url),
            code="redirect_refused",
        )

    # -- gate --------------------------------------------------------------------

    def _check_gate(self, url: str, kind: str, host: str) -> None:
        remaining = self._gate.remaining(host)
        if remaining > 0:
            self._counters.incr(f"challenge_paused/{kind}")
            raise ChallengeError(
                f"{host} is paused for another {remaining:.0f}s after a bot challenge "
                "or a refusal; not sent",
                url=mask_text(url),
            )
