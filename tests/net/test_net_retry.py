"""net/retry.py: attempts, backoff and the counters of retries; the stop signal."""

from __future__ import annotations

import random
import threading
from collections.abc import Callable

import pytest

from custom_wheel_offset.errors import (
    PermanentFetchError,
    RateLimitedError,
    RunInterrupted,
    TransientFetchError,
    TruncatedBodyError,
)
from custom_wheel_offset.metrics.counters import Counters
from custom_wheel_offset.net.retry import Retrier, StopSignal

from .helpers import FakeClock


def _retrier(counters: Counters, clock: FakeClock, attempts: int = 3) -> Retrier:
    return Retrier(
        max_attempts=attempts,
        backoff_base=1.0,
        backoff_max=4.0,
        counters=counters,
        sleep=clock.sleep,
        rng=random.Random(7),
    )


def _failing(*errors: BaseException, result: str = "ok") -> tuple[Callable[[], str], list[int]]:
    calls: list[int] = []

    def attempt() -> str:
        calls.append(1)
        if len(calls) <= len(errors):
            raise errors[len(calls) - 1]
        return result

    return attempt, calls


def test_a_first_success_sleeps_and_counts_nothing(counters: Counters, clock: FakeClock) -> None:
    attempt, calls = _failing()
    assert _retrier(counters, clock).run(attempt, "makes", "http://h/x") == "ok"
    assert len(calls) == 1 and clock.sleeps == [] and counters.snapshot() == {}


def test_transient_faults_are_retried_and_counted_by_reason(
    counters: Counters, clock: FakeClock
) -> None:
    attempt, calls = _failing(
        TransientFetchError("reset", retry_reason="connection"), TruncatedBodyError("cut")
    )
    assert _retrier(counters, clock).run(attempt, "fitment", "http://h/x") == "ok"
    assert len(calls) == 3 and len(clock.sleeps) == 2
    assert counters.get("retries/fitment") == 2
    assert counters.get("retry_reason/connection") == 1
    assert counters.get("retry_reason/truncated") == 1


def test_the_last_error_says_how_many_attempts_were_made(
    counters: Counters, clock: FakeClock
) -> None:
    errors = [TransientFetchError(f"HTTP 503 #{i}", status=503) for i in range(3)]
    attempt, calls = _failing(*errors)
    with pytest.raises(TransientFetchError) as caught:
        _retrier(counters, clock).run(attempt, "fitment", "http://h/x")
    assert caught.value is errors[2] and len(calls) == 3
    assert str(caught.value) == "gave up after 3 attempts; last: HTTP 503 #2"
    assert counters.get("retry_reason/other") == 2  # no reason given by the raiser


def test_other_errors_are_not_retried(counters: Counters, clock: FakeClock) -> None:
    attempt, calls = _failing(PermanentFetchError("HTTP 404", status=404))
    with pytest.raises(PermanentFetchError, match=r"^HTTP 404$"):
        _retrier(counters, clock).run(attempt, "fitment", "http://h/x")
    assert len(calls) == 1 and clock.sleeps == []


def test_with_one_attempt_the_first_fault_is_final(counters: Counters, clock: FakeClock) -> None:
    attempt, calls = _failing(TransientFetchError("reset"))
    with pytest.raises(TransientFetchError, match="gave up after 1 attempt;"):
        _retrier(counters, clock, attempts=1).run(attempt, "fitment", "http://h/x")
    assert len(calls) == 1


def test_backoff_is_full_jitter_and_honours_retry_after(
    counters: Counters, clock: FakeClock
) -> None:
    retrier = _retrier(counters, clock)
    assert all(0 <= retrier.jitter(1) <= 1.0 for _ in range(50))
    assert all(0 <= retrier.jitter(9) <= 4.0 for _ in range(50))  # capped at backoff_max
    attempt, _ = _failing(RateLimitedError("429", retry_after=30.0))
    assert retrier.run(attempt, "makes", "http://h/x") == "ok"
    assert clock.sleeps == [30.0] and counters.get("retry_reason/http_429") == 1


def test_a_stop_signal_ends_a_sleep_and_every_later_check() -> None:
    stop = StopSignal()
    stop.check()
    stop.sleep(0)
    threading.Timer(0.05, stop.set).start()
    with pytest.raises(RunInterrupted):
        stop.sleep(30)
    with pytest.raises(RunInterrupted):
        stop.check()
