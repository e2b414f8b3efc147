"""Per-host politeness shared by every worker thread of one process.

:class:`HostRateLimiter` does three things for each host:

* **pacing** — start slots are handed out evenly, at least ``1/rate`` seconds
  apart with a burst of one, so in any one-second window at most
  ``ceil(rate) + 1`` requests start, however many threads ask;
* **concurrency** — at most ``concurrency`` requests are in flight;
* **AIMD** — a 429 pauses the whole host (no request starts until the pause
  ends) and halves the host's current rate (multiplicative decrease); every
  second of 429-free successes then adds back a twentieth of the rate at
  which the 429 came (additive increase), only a hundredth within 10 % of
  it, and 5 % of the current rate per second once well past it, never above
  the configured ceiling. Getting back to the old level takes about 18
  seconds whatever the scale, and a server that allows fewer requests than
  configured is met with a rate that oscillates just below its limit
  instead of being hammered;
* **recovery floor** — however deep the cuts went, the rate is never below
  ``r0 * (ceiling / r0) ** (t / 50)`` (``r0`` the rate right after the last
  cut, ``t`` seconds since that cut's pause ended): back at the ceiling 50 s
  after the pause, with or without answers. A burst of 429s therefore
  cannot leave the host at the floor for minutes.

An *unlimited* limiter (``rate=0``) does not pace at all until the first 429;
then it starts from the request rate it observed over the last few seconds,
paces like a limited one, and returns to unlimited after a minute without
any 429.

Slots are reserved under a lock and slept for outside it; a pause that
arrives while a thread sleeps on its reservation makes that thread reserve
again after the pause, so a 429 stops *all* threads.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

__all__ = ["HostRateLimiter"]

#: Multiplicative decrease applied to the host's rate on a 429.
DECREASE_FACTOR = 0.5
#: The rate never drops below this (requests per second), unless the ceiling is lower.
MIN_RATE = 0.2
#: Additive increase per second of 429-free successes, as a fraction of the reference rate.
INCREASE_FRACTION = 1.0 / 20.0
#: Between these fractions of the rate that drew the last 429, the increase slows ...
NEAR_REFERENCE = (0.9, 1.1)
#: ... to this fraction of that rate per second.
PROBE_FRACTION = INCREASE_FRACTION / 5.0
#: Pause applied on a 429 that carries no Retry-After, seconds.
DEFAULT_PAUSE = 2.0
#: A 429 is never allowed to pause a host longer than this, seconds.
MAX_PAUSE = 600.0
#: Window over which the request rate is observed, seconds.
OBSERVE_WINDOW = 3.0
#: When a 429 does not say when its request was sent, 429s within this many
#: seconds after a cut (or until its pause ends, if later) are taken for the same
#: episode: requests already in flight when the first one came. They extend the
#: pause but do not cut again. (With ``sent_at`` the attribution is exact.)
CUT_GUARD = 1.0
#: An unlimited limiter stops pacing again after this many seconds without a 429.
UNLIMITED_QUIET = 60.0
#: Whatever the successes, a limited host's rate is back at its ceiling this many
#: seconds after the pause of its last cut ends: the rate never sits below a
#: geometric climb from the cut rate to the ceiling over this time.
RECOVERY_SECONDS = 50.0


@dataclass(slots=True)
class _Host:
    """State of one host. Guarded by the limiter's lock (the semaphore is not)."""

    ceiling: float | None  # None: unlimited
    rate: float | None  # current rate; None: unlimited (no pacing)
    semaphore: threading.BoundedSemaphore | None
    next_slot: float = -math.inf
    last_start: float = -math.inf  # when the latest request really started
    paused_until: float = -math.inf
    epoch: int = 0  # bumped on every 429: reservations made before must be redone
    reference: float | None = None  # the rate at which the last 429 came
    last_credit: float = -math.inf  # when additive increase was last credited
    cut_guard_until: float = -math.inf
    last_cut_at: float = -math.inf
    last_limited: float = -math.inf  # when the last 429 came
    climb: float = 0.0  # the additive-increase track since the last cut (<= rate)
    recover_from: float = 0.0  # the rate right after the last cut ...
    recover_start: float = -math.inf  # ... and when its climb back begins (the pause's end)
    starts: deque[float] = field(default_factory=lambda: deque(maxlen=20_000))
    # statistics
    cuts: int = 0
    rate_limited: int = 0
    paused_seconds: float = 0.0
    waits: int = 0
    wait_seconds: float = 0.0
    requests: int = 0
    in_flight: int = 0


class HostRateLimiter:
    """Pacing, concurrency cap and AIMD back-off per host, safe under threads.

    :param rate: ceiling in requests per second per host; 0 means unlimited.
    :param concurrency: maximum requests in flight per host; 0 means unlimited.
    :param clock: monotonic clock in seconds (injectable for tests).
    :param sleep: how to wait (injectable for tests, and so that the network
        manager can wake sleeping threads when the run stops).
    :param default_pause: pause on a 429 without Retry-After, seconds.
    :param min_rate: the rate is never cut below this (requests per second).
    """

    def __init__(
        self,
        rate: float,
        concurrency: int,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        *,
        default_pause: float = DEFAULT_PAUSE,
        min_rate: float = MIN_RATE,
    ) -> None:
        if rate < 0 or concurrency < 0:
            raise ValueError("rate and concurrency must be >= 0 (0 = unlimited)")
        self._ceiling = float(rate) if rate > 0 else None
        self._concurrency = int(concurrency)
        self._clock = clock
        self._sleep = sleep
        self._default_pause = default_pause
        self._min_rate = min_rate
        self._lock = threading.Lock()
        self._hosts: dict[str, _Host] = {}

    # -- state -------------------------------------------------------------------------

    def _host(self, host: str) -> _Host:
        """The state of ``host``, created on first use. Call with the lock held."""
        state = self._hosts.get(host)
        if state is None:
            semaphore = threading.BoundedSemaphore(self._concurrency) if self._concurrency else None
            state = self._hosts[host] = _Host(
                ceiling=self._ceiling, rate=self._ceiling, semaphore=semaphore
            )
        return state

    def set_host_ceiling(self, host: str, rate: float) -> None:
        """Lower ``host``'s ceiling to ``rate`` requests/s (a robots.txt Crawl-delay).

        Never raises the ceiling above the configured one.
        """
        if rate <= 0:
            return
        with self._lock:
            state = self._host(host)
            state.ceiling = rate if state.ceiling is None else min(state.ceiling, rate)
            state.rate = state.ceiling if state.rate is None else min(state.rate, state.ceiling)
            state.climb = min(state.climb, state.ceiling)

    # -- acquiring a slot ----------------------------------------------------------------

    def acquire(self, host: str) -> float:
        """Block until a request to ``host`` may start; pair with :meth:`release`.

        Returns the start time on the limiter's clock (pass it back as
        ``sent_at`` to :meth:`on_rate_limited`).
        """
        with self._lock:
            semaphore = self._host(host).semaphore
        # The concurrency slot is taken first, then the start slot: reserving a
        # start time and then queueing on the semaphore would waste the slot.
        if semaphore is not None:
            semaphore.acquire()
        try:
            return self._wait_for_slot(host)
        except BaseException:
            # Interrupted while waiting (the run stops): give the semaphore back.
            if semaphore is not None:
                semaphore.release()
            raise

    def _wait_for_slot(self, host: str) -> float:
        waited = False
        reserved: float | None = None
        epoch = -1
        while True:
            with self._lock:
                state = self._host(host)
                now = self._clock()
                if reserved is None or epoch != state.epoch:
                    self._recover(state, now)
                    # (Re)reserve: a pause that came while we slept invalidates the old slot.
                    reserved = max(now, state.next_slot, state.paused_until)
                    epoch = state.epoch
                    if state.rate is not None:
                        state.next_slot = reserved + 1.0 / state.rate
                delay = reserved - now
                if delay <= 0 and state.rate is not None:
                    # A thread that overslept its slot (a busy machine, the GIL) may
                    # start just before this one: keep real starts apart, not only
                    # the reserved ones, so no 1 s window sees more than rate + 1.
                    gap = state.last_start + 1.0 / state.rate - now
                    if gap > 0:
                        reserved = now + gap
                        state.next_slot = max(state.next_slot, reserved + 1.0 / state.rate)
                        delay = gap
                if delay <= 0:
                    state.last_start = now
                    state.starts.append(now)
                    state.requests += 1
                    state.in_flight += 1
                    if waited:
                        state.waits += 1
                    return now
                state.wait_seconds += delay
            waited = True
            self._sleep(delay)

    def release(self, host: str) -> None:
        """Give back the concurrency slot taken by :meth:`acquire`."""
        with self._lock:
            state = self._host(host)
            state.in_flight = max(0, state.in_flight - 1)
            semaphore = state.semaphore
        if semaphore is not None:
            semaphore.release()

    @contextmanager
    def slot(self, host: str) -> Iterator[float]:
        """``with limiter.slot(host) as sent_at: send()`` — acquire, release whatever happens."""
        started = self.acquire(host)
        try:
            yield started
        finally:
            self.release(host)

    # -- feedback ----------------------------------------------------------------------

    def _observed_rate(self, state: _Host, now: float) -> float | None:
        """Requests per second started over the last :data:`OBSERVE_WINDOW` seconds."""
        recent = [t for t in state.starts if t > now - OBSERVE_WINDOW]
        if len(recent) < 2:
            return None
        span = max(now - recent[0], 1e-3)
        return len(recent) / span

    def on_rate_limited(
        self, host: str, retry_after: float | None, *, sent_at: float | None = None
    ) -> None:
        """A 429 from ``host``: pause the host and cut its rate (once per episode).

        ``sent_at`` is the start time :meth:`acquire` returned for the request
        that got the 429: a request sent before the last cut was sent at the old
        rate, so its 429 says nothing about the new one and does not cut again.
        """
        with self._lock:
            state = self._host(host)
            now = self._clock()
            state.rate_limited += 1
            state.last_limited = now
            pause = self._default_pause if retry_after is None else max(0.0, retry_after)
            until = now + min(pause, MAX_PAUSE)
            if sent_at is not None:
                same_episode = sent_at < state.last_cut_at
            else:
                same_episode = now < state.cut_guard_until
            if not same_episode:
                self._cut(state, now, until)
            if until > state.paused_until:
                state.paused_seconds += until - max(now, state.paused_until)
                state.paused_until = until
            # Every reservation made before is void: waiting threads queue again from
            # the end of the pause, at the (new) rate, and never closer than one
            # interval to the last request that did start.
            state.epoch += 1
            last_start = state.starts[-1] if state.starts else -math.inf
            interval = 1.0 / state.rate if state.rate else 0.0
            state.next_slot = max(state.paused_until, last_start + interval)

    def _cut(self, state: _Host, now: float, until: float) -> None:
        """Multiplicative decrease, from the lower of the current and the observed rate."""
        observed = self._observed_rate(state, now)
        candidates = [r for r in (state.rate, observed) if r is not None]
        base = min(candidates) if candidates else (state.ceiling or 1.0)
        floor = min(self._min_rate, state.ceiling or self._min_rate)
        state.reference = base
        state.rate = max(floor, base * DECREASE_FACTOR)
        state.cuts += 1
        state.last_cut_at = now
        state.cut_guard_until = max(until, now + CUT_GUARD)
        # Additive increase starts counting when the pause is over, and so does
        # the guaranteed climb back to the ceiling.
        state.last_credit = until
        state.climb = state.recover_from = state.rate
        state.recover_start = until

    def _recover(self, state: _Host, now: float) -> None:
        """Lift the rate to the time-based recovery floor. Call with the lock held.

        After a cut the rate is never below ``r0 * (ceiling / r0) ** (t / T)``
        (``r0`` the cut rate, ``t`` the time since the pause ended, ``T`` =
        :data:`RECOVERY_SECONDS`): a geometric climb that reaches the ceiling at
        ``t = T`` whatever the cut, the successes or the idle time. Additive
        increase (:meth:`on_success`) is usually faster up to the old level;
        this floor is what brings the rate back when 429s have cut it far
        below, and it keeps growing through an idle spell.
        """
        if state.reference is None or state.rate is None:
            return  # never cut, or back to unlimited
        if state.ceiling is None:
            if now - state.last_limited >= UNLIMITED_QUIET:
                # Unlimited by configuration, and a minute without 429: stop pacing.
                state.rate = None
                state.reference = None
            return
        elapsed = max(0.0, now - state.recover_start)
        start = min(state.recover_from, state.ceiling)
        share = min(1.0, elapsed / RECOVERY_SECONDS)
        floor = start * (state.ceiling / start) ** share if start > 0 else state.ceiling
        # The higher of the two tracks; each only grows until the next cut.
        state.rate = min(state.ceiling, max(state.rate, state.climb, floor))
        if state.rate >= state.ceiling:
            state.reference = None  # fully recovered: nothing left to climb

    def on_success(self, host: str) -> None:
        """A 429-free answer from ``host``: additive increase towards the ceiling.

        The increase moves the additive track (``climb``); the rate is the
        higher of it and the time-based floor of :meth:`_recover`.
        """
        with self._lock:
            state = self._host(host)
            now = self._clock()
            self._recover(state, now)
            if state.reference is None or state.rate is None:
                return  # never cut, back to unlimited or at the ceiling: nothing to add
            # Credit the quiet time since the last credit, but not an idle hour at
            # once: at most one second, or two request intervals at a slow rate.
            climb = state.climb
            elapsed = min(now - state.last_credit, max(1.0, 2.0 / climb))
            if elapsed <= 0:
                return
            state.last_credit = now
            reference = min(state.reference, state.ceiling or math.inf)
            low, high = NEAR_REFERENCE
            if climb < low * reference:
                # Recovering: back to the old level in about eight seconds.
                step = INCREASE_FRACTION * reference
            elif climb < high * reference:
                # Near the rate that drew the last 429, probe gently: the limit is
                # probably just above, and every overshoot costs a few 429s.
                step = PROBE_FRACTION * reference
            else:
                # Well past it without a 429: the limit has moved (or the cut was too
                # deep); grow by a twentieth of the current rate per second.
                step = INCREASE_FRACTION * climb
            state.climb = climb + step * elapsed
            state.rate = max(state.rate, state.climb)
            if state.ceiling is not None and state.rate >= state.ceiling:
                state.rate = state.climb = state.ceiling
                state.reference = None

    # -- reporting ---------------------------------------------------------------------

    def current_rate(self, host: str) -> float | None:
        """The host's current rate in requests/s, ``None`` when unlimited."""
        with self._lock:
            state = self._host(host)
            self._recover(state, self._clock())
            return state.rate

    def paused_until(self, host: str) -> float | None:
        """The end of the host's 429 pause, or ``None`` when it is not paused."""
        with self._lock:
            until = self._host(host).paused_until
            return until if until > self._clock() else None

    def stats(self) -> dict[str, dict[str, Any]]:
        """Per host: current rate and ceiling (``None`` = unlimited), 429s, cuts, pauses, waits."""
        with self._lock:
            now = self._clock()
            for state in self._hosts.values():
                self._recover(state, now)
            return {
                host: {
                    "rate": None if s.rate is None else round(s.rate, 3),
                    "ceiling": s.ceiling,
                    "requests": s.requests,
                    "in_flight": s.in_flight,
                    "rate_limited": s.rate_limited,
                    "cuts": s.cuts,
                    "paused_seconds": round(s.paused_seconds, 3),
                    "waits": s.waits,
                    "wait_seconds": round(s.wait_seconds, 3),
                }
                for host, s in sorted(self._hosts.items())
            }
