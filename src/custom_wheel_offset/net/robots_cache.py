"""Each host's robots.txt, fetched once and kept for the run; the check before a request.

:class:`RobotsCache` fetches ``/robots.txt`` of a host before its first
request (one thread fetches while the others wait), builds the
:class:`~custom_wheel_offset.net.robots.RobotsPolicy` from the answer and
keeps it. An unreachable file (5xx, 429, no answer) is asked for again, up
to ``max_attempts`` times with the usual backoff, and again by a later
request once :data:`ROBOTS_RETRY_SECONDS` have passed. A ``Crawl-delay``
becomes the host's ceiling in the rate limiter.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from custom_wheel_offset.errors import (
    ChallengeError,
    FetchError,
    PermanentFetchError,
    TransientFetchError,
)
from custom_wheel_offset.net.redirects import MAX_REDIRECTS, redirect_target
from custom_wheel_offset.net.responses import parse_retry_after, read_body
from custom_wheel_offset.net.robots import MAX_ROBOTS_BYTES, RobotsPolicy
from custom_wheel_offset.protocol.store import is_challenge
from custom_wheel_offset.redact import mask_text

if TYPE_CHECKING:
    from custom_wheel_offset.metrics.counters import Counters
    from custom_wheel_offset.metrics.tracker import MetricTracker
    from custom_wheel_offset.net.challenge import ChallengeGate
    from custom_wheel_offset.net.ratelimit import HostRateLimiter
    from custom_wheel_offset.net.retry import Retrier
    from custom_wheel_offset.net.transport import TransportResponse

__all__ = ["ROBOTS_RETRY_SECONDS", "RobotsCache"]

log = logging.getLogger(__name__)

#: An unreadable robots.txt (5xx, no answer) is asked for again after this long.
ROBOTS_RETRY_SECONDS = 10.0


class RobotsCache:
    """The robots.txt policy of every host met, and the check of a URL against it.

    :param send: one GET of a URL, no redirects followed (the manager's).
    :param retrier: its ``max_attempts`` and ``jitter`` pace the re-reads.
    :param sleep: the wait between re-reads (the manager's, which wakes on stop).
    :param tracker: the run's metrics (the manager's), timing each read as ``robots``.
    """

    def __init__(
        self,
        *,
        user_agent: str,
        send: Callable[[str], TransportResponse],
        limiter: HostRateLimiter,
        gate: ChallengeGate,
        counters: Counters,
        retrier: Retrier,
        sleep: Callable[[float], None],
        tracker: MetricTracker,
        scrub: Callable[[str], str] = mask_text,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._user_agent = user_agent
        self._send = send
        self._limiter = limiter
        self._gate = gate
        self._counters = counters
        self._retrier = retrier
        self._sleep = sleep
        self._tracker = tracker
        self._scrub = scrub
        self._clock = clock
        self._lock = threading.Lock()
        self._locks: dict[str, threading.Lock] = {}
        self._policies: dict[str, tuple[RobotsPolicy, float]] = {}

    def check(self, url: str, host: str) -> None:
        """Return if robots.txt of ``host`` lets cwo fetch ``url``; raise otherwise.

        :raises TransientFetchError: the file cannot be read (yet): retried.
        :raises PermanentFetchError: ``url`` is disallowed (code ``robots_disallowed``).
        """
        policy = self.policy(url, host)
        if policy.allowed(url, self._user_agent):
            return
        where = mask_text(url)
        if policy.unreachable:
            answer = f"HTTP {policy.status}" if policy.status else "no answer"
            raise TransientFetchError(
                f"robots.txt of {host} could not be read ({answer}); "
                f"not fetching {where} until it can",
                url=where,
                retry_reason="robots_unreachable",
            )
        self._counters.incr("robots/disallowed")
        error = PermanentFetchError(
            f"{where} is disallowed by robots.txt of {host} for cwo's user agent",
            url=where,
            code="robots_disallowed",
        )
        error.hint = "--ignore-robots fetches it anyway, at your own responsibility"
        raise error

    def policy(self, url: str, host: str) -> RobotsPolicy:
        """The host's policy: fetched once (by one thread while the others wait)."""
        with self._lock:
            lock = self._locks.setdefault(host, threading.Lock())
        with lock:
            cached = self._policies.get(host)
            if cached is not None:
                policy, fetched_at = cached
                if not policy.unreachable or self._clock() - fetched_at < ROBOTS_RETRY_SECONDS:
                    return policy
            policy = self._fetch(url, host)
            with self._lock:
                self._policies[host] = (policy, self._clock())
            delay = policy.crawl_delay(self._user_agent)
            if delay:
                # Crawl-delay d: never more than one request per d seconds to this host.
                self._limiter.set_host_ceiling(host, 1.0 / delay)
            return policy

    def stats(self) -> dict[str, str]:
        """``{host: policy kind}`` of every host met."""
        with self._lock:
            return {host: policy.kind for host, (policy, _) in sorted(self._policies.items())}

    def _fetch(self, url: str, host: str) -> RobotsPolicy:
        """Read the host's robots.txt, trying again like any request if it is unreachable.

        One 503 from a flaky server should not stop the crawl of that host for
        :data:`ROBOTS_RETRY_SECONDS`, so the unreachable verdict comes only after
        ``max_attempts`` tries with the usual backoff.
        """
        parts = urlsplit(url)
        target = f"{parts.scheme}://{parts.netloc}/robots.txt"
        attempt = 1
        policy = self._fetch_once(target, host)
        while policy.unreachable and attempt < self._retrier.max_attempts:
            self._counters.incr("retries/robots")
            self._counters.incr("retry_reason/robots_unreachable")
            self._sleep(self._retrier.jitter(attempt))
            attempt += 1
            policy = self._fetch_once(target, host)
        log.info("robots.txt of %s: HTTP %s, %s", host, policy.status, policy.kind)
        return policy

    def _fetch_once(self, target: str, host: str) -> RobotsPolicy:
        with self._limiter.slot(host) as sent_at, self._tracker.track("robots") as timing:
            statuses: list[int] = []  # an answer came (the timing's "ok"), even if unusable
            try:
                answer = self._follow(target, host, sent_at, statuses)
            except FetchError as exc:
                log.warning("robots.txt of %s could not be read: %s", host, exc)
                return RobotsPolicy.from_response(None, None)
            finally:
                timing.ok = bool(statuses)
        if answer is None:
            return RobotsPolicy.allow_all()  # RFC 9309: too many redirects = unavailable
        status, body = answer
        if is_challenge(body):
            self._counters.incr("challenges/robots")
            self._gate.record_challenge(host, "its Human Verification page (bot challenge)")
            raise ChallengeError(
                f"bot challenge on robots.txt of {host}; host paused", url=mask_text(target)
            )
        return RobotsPolicy.from_response(status, body)

    def _follow(
        self, target: str, host: str, sent_at: float, statuses: list[int]
    ) -> tuple[int, bytes] | None:
        """Status and body of the file, or None after too many redirects.

        Each status received is appended to ``statuses``.
        """
        # RFC 9309 2.3.1.2: follow up to five redirects, to any host.
        for _hop in range(MAX_REDIRECTS + 1):
            self._counters.incr("requests/robots")
            with self._send(target) as resp:
                status = resp.status_code
                statuses.append(status)
                self._counters.incr(f"responses/{status}")
                if resp.is_redirect:
                    target = redirect_target(target, resp, self._scrub)
                    continue
                if status == 429:
                    retry_after = parse_retry_after(resp.headers.get("Retry-After"))
                    self._limiter.on_rate_limited(host, retry_after, sent_at=sent_at)
                body = read_body(
                    resp, target, MAX_ROBOTS_BYTES, self._counters, truncate=True, scrub=self._scrub
                )
            return status, body
        return None
