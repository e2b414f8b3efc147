"""Attempts of one request: full-jitter exponential backoff, a 429's Retry-After honoured.

Retried: :class:`TransientFetchError` (timeouts, resets, cut bodies, 429,
5xx) and :class:`TruncatedBodyError` from parsing. Every retry is counted as
``retries/<kind>`` and ``retry_reason/<reason>`` (:func:`net.failures.retry_reason`).
"""

from __future__ import annotations

import functools
import logging
import random
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from custom_wheel_offset.errors import (
    CwoError,
    RateLimitedError,
    RunInterrupted,
    TransientFetchError,
    TruncatedBodyError,
)
from custom_wheel_offset.net.failures import retry_reason
from custom_wheel_offset.redact import mask_text

if TYPE_CHECKING:
    from tenacity import RetryCallState

    from custom_wheel_offset.metrics.counters import Counters
    from custom_wheel_offset.settings import Settings

__all__ = ["Retrier", "StopSignal", "retryable"]

log = logging.getLogger(__name__)

T = TypeVar("T")


def retryable(exc: BaseException) -> bool:
    """Whether another attempt may cure ``exc``."""
    # Not cached: a cache keyed by the exception kept every failed attempt (its
    # traceback, frames and body) alive for the whole run (issue 11).
    return isinstance(exc, (TransientFetchError, TruncatedBodyError))


class StopSignal:
    """Once set, every sleep through it ends and every check raises :class:`RunInterrupted`.

    For Ctrl-C: no worker stays parked on a 10-minute Retry-After.
    """

    def __init__(self) -> None:
        self._event = threading.Event()

    def set(self) -> None:
        self._event.set()

    def check(self) -> None:
        """Raise :class:`RunInterrupted` if the signal is set."""
        if self._event.is_set():
            raise RunInterrupted("the network manager was stopped")

    def sleep(self, seconds: float) -> None:
        """Sleep ``seconds``, or less when the signal is set (then raise)."""
        if seconds > 0 and self._event.wait(seconds):
            raise RunInterrupted("the network manager was stopped")
        self.check()


class Retrier:
    """Runs an attempt up to ``max_attempts`` times, sleeping through ``sleep`` between them.

    ``sleep`` is the caller's (the network manager's sleep wakes on stop).
    """

    def __init__(
        self,
        *,
        max_attempts: int,
        backoff_base: float,
        backoff_max: float,
        counters: Counters,
        sleep: Callable[[float], None],
        rng: random.Random | None = None,
    ) -> None:
        self.max_attempts = max_attempts
        self._base = backoff_base
        self._max = backoff_max
        self._counters = counters
        self._sleep = sleep
        self._random = rng or random.Random()

    @classmethod
    def from_settings(
        cls, settings: Settings, counters: Counters, sleep: Callable[[float], None]
    ) -> Retrier:
        """``max_attempts``, ``backoff_base`` and ``backoff_max`` of the run's settings."""
        return cls(
            max_attempts=settings.max_attempts,
            backoff_base=settings.backoff_base,
            backoff_max=settings.backoff_max,
            counters=counters,
            sleep=sleep,
        )

    def jitter(self, attempt: int) -> float:
        """Full jitter: uniform in [0, min(backoff_max, backoff_base * 2**(attempt-1))]."""
        ceiling = min(self._max, self._base * 2 ** (attempt - 1))
        return self._random.uniform(0, ceiling)

    def run(self, attempt: Callable[[], T], kind: str, url: str) -> T:
        """``attempt()``, tried again while it raises a :func:`retryable` error.

        The last error is raised as it is, its message prefixed with how many
        attempts were made when they all failed.
        """
        attempts = 0
        failed_first: CwoError | None = None

        def counted() -> T:
            nonlocal attempts, failed_first
            if failed_first is not None:
                # The first attempt, made before tenacity was involved, replayed.
                error, failed_first = failed_first, None
                raise error
            attempts += 1
            return attempt()

        try:
            try:
                # Almost every request succeeds at once: building the retry
                # machinery only after a failure spares it on every page.
                return counted()
            except CwoError as exc:
                if not retryable(exc) or self.max_attempts <= 1:
                    raise
                failed_first = exc
            return self._retrying(kind, url)(counted)
        except CwoError as exc:
            if retryable(exc) and attempts >= self.max_attempts:
                plural = "s" if attempts != 1 else ""
                exc.message = f"gave up after {attempts} attempt{plural}; last: {exc.message}"
                exc.args = (exc.message,)
            raise

    def _retrying(self, kind: str, url: str) -> Callable[[Callable[[], T]], T]:
        from tenacity import Retrying, retry_if_exception, stop_after_attempt

        return Retrying(
            stop=stop_after_attempt(self.max_attempts),
            wait=self._backoff,
            retry=retry_if_exception(retryable),
            sleep=self._sleep,
            before_sleep=functools.partial(self._before_retry, kind, url),
            reraise=True,  # our own error, not tenacity.RetryError
        )

    def _backoff(self, state: RetryCallState) -> float:
        """Full-jitter exponential backoff, never shorter than a 429's Retry-After."""
        wait = self.jitter(state.attempt_number)
        exc = state.outcome.exception() if state.outcome is not None else None
        if isinstance(exc, RateLimitedError) and exc.retry_after:
            wait = max(wait, exc.retry_after)
        return wait

    def _before_retry(self, kind: str, url: str, state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome is not None else None
        reason = retry_reason(exc) if exc is not None else "other"
        self._counters.incr(f"retries/{kind}")
        self._counters.incr(f"retry_reason/{reason}")
        log.debug(
            "retrying %s (attempt %d failed: %s) in %.2fs",
            mask_text(url),
            state.attempt_number,
            exc,
            state.upcoming_sleep,
        )
