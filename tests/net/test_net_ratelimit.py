"""HostRateLimiter: pacing, pauses, AIMD, unlimited mode, concurrency (fake clock)."""

from __future__ import annotations

import heapq
import itertools
import math
import threading
import time
from collections import deque
from collections.abc import Callable

import pytest

from custom_wheel_offset.net.ratelimit import RECOVERY_SECONDS, HostRateLimiter

from .helpers import FakeClock

H = "shop.example"


def recovered(cut: float, ceiling: float, seconds: float) -> float:
    """The recovery floor ``seconds`` after a pause that followed a cut to ``cut``."""
    return cut * (ceiling / cut) ** min(1.0, seconds / RECOVERY_SECONDS)


def max_starts_in_window(starts: list[float], window: float = 1.0) -> int:
    """The most starts in any closed window of ``window`` seconds."""
    starts = sorted(starts)
    best, lo = 0, 0
    for hi, t in enumerate(starts):
        while starts[lo] < t - window:
            lo += 1
        best = max(best, hi - lo + 1)
    return best


def test_window_property_single_thread(clock: FakeClock) -> None:
    limiter = HostRateLimiter(5, 0, clock=clock, sleep=clock.sleep)
    starts = []
    for _ in range(200):
        with limiter.slot(H):
            starts.append(clock())
    assert max_starts_in_window(starts) <= math.ceil(5) + 1
    # Evenly spaced, 1/rate apart: pacing, not bursts followed by idle time.
    gaps = {round(b - a, 9) for a, b in itertools.pairwise(starts)}
    assert gaps == {0.2}


def test_window_property_fractional_rate(clock: FakeClock) -> None:
    limiter = HostRateLimiter(2.5, 0, clock=clock, sleep=clock.sleep)
    starts = []
    for _ in range(100):
        limiter.acquire(H)
        starts.append(clock())
        limiter.release(H)
        clock.advance(0.05)  # the request itself takes a little time
    assert max_starts_in_window(starts) <= math.ceil(2.5) + 1


def test_window_property_real_threads() -> None:
    """Several threads against the real clock: slots are shared, not per thread."""
    limiter = HostRateLimiter(40, 0)
    starts: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(12):
            with limiter.slot(H), lock:
                starts.append(time.monotonic())

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(starts) == 48
    assert max_starts_in_window(starts) <= 40 + 1
    assert max(starts) - min(starts) >= 47 / 40 * 0.95


def test_hosts_are_independent(clock: FakeClock) -> None:
    limiter = HostRateLimiter(1, 0, clock=clock, sleep=clock.sleep)
    limiter.acquire("a")
    limiter.acquire("b")  # another host: no wait
    assert clock.sleeps == []


def test_pause_on_429_applies_to_all_threads(clock: FakeClock) -> None:
    limiter = HostRateLimiter(5, 0, clock=clock, sleep=clock.sleep)
    t0 = clock()
    limiter.on_rate_limited(H, 10.0)
    starts: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        with limiter.slot(H), lock:
            starts.append(clock())

    threads = [threading.Thread(target=worker) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(starts) == 3
    assert min(starts) >= t0 + 10.0
    assert limiter.stats()[H]["paused_seconds"] == 10.0


def test_pause_reaches_a_thread_already_waiting_for_its_slot(clock: FakeClock) -> None:
    """A 429 that arrives while a thread sleeps on its reserved slot moves that slot."""
    limiter = HostRateLimiter(1, 0, clock=clock, sleep=clock.sleep)
    limiter.acquire(H)  # slot at t0; the next one is t0 + 1
    limiter.release(H)
    t0 = clock()
    fired: list[float] = []

    def another_thread_gets_429(seconds: float) -> None:
        if not fired:
            fired.append(seconds)
            limiter.on_rate_limited(H, 30.0)

    clock.on_sleep = another_thread_gets_429
    limiter.acquire(H)
    limiter.release(H)
    assert fired == [1.0]  # it was sleeping towards t0 + 1 ...
    assert clock() >= t0 + 30.0  # ... but started only after the pause


def test_multiplicative_cut_once_per_episode(clock: FakeClock) -> None:
    limiter = HostRateLimiter(8, 0, clock=clock, sleep=clock.sleep)
    limiter.on_rate_limited(H, 1.0)
    assert limiter.current_rate(H) == pytest.approx(4.0)
    # Requests that were in flight answer 429 too: same episode, no second cut.
    limiter.on_rate_limited(H, 1.0)
    limiter.on_rate_limited(H, None)
    assert limiter.current_rate(H) == pytest.approx(4.0)
    clock.advance(5.0)
    limiter.on_rate_limited(H, 1.0)  # a new episode
    assert limiter.current_rate(H) == pytest.approx(2.0)
    stats = limiter.stats()[H]
    assert stats["cuts"] == 2 and stats["rate_limited"] == 4


def test_spacing_holds_across_a_429_without_pause(clock: FakeClock) -> None:
    """Retry-After 0 pauses nothing, but the next start still keeps the (new) interval."""
    limiter = HostRateLimiter(10, 0, clock=clock, sleep=clock.sleep)
    with limiter.slot(H):
        started = clock()
    limiter.on_rate_limited(H, 0.0)
    with limiter.slot(H):
        assert clock() - started == pytest.approx(1 / 5)


def test_sent_at_tells_in_flight_429s_from_new_ones(clock: FakeClock) -> None:
    limiter = HostRateLimiter(16, 0, clock=clock, sleep=clock.sleep)
    before = limiter.acquire(H)
    limiter.release(H)
    clock.advance(0.1)
    limiter.on_rate_limited(H, 0.0, sent_at=before)
    assert limiter.current_rate(H) == pytest.approx(8.0)
    # Another request sent before the cut: same episode, however late it answers
    # (meanwhile the rate has begun its climb back: 8 * 2 ** (5 / 50)).
    clock.advance(5.0)
    limiter.on_rate_limited(H, 0.0, sent_at=before)
    assert limiter.current_rate(H) == pytest.approx(recovered(8.0, 16.0, 5.0))
    assert limiter.stats()[H]["cuts"] == 1
    # A request sent after the cut got a 429 too: the new rate is still too high.
    after = limiter.acquire(H)
    limiter.release(H)
    limiter.on_rate_limited(H, 0.0, sent_at=after)
    assert limiter.current_rate(H) == pytest.approx(recovered(8.0, 16.0, 5.0) / 2)
    assert limiter.stats()[H]["cuts"] == 2


def test_cut_has_a_floor(clock: FakeClock) -> None:
    limiter = HostRateLimiter(1, 0, clock=clock, sleep=clock.sleep, min_rate=0.2)
    for _ in range(10):
        clock.advance(2.0)
        limiter.on_rate_limited(H, 0.0)
    assert limiter.current_rate(H) == pytest.approx(0.2)


def test_default_pause_without_retry_after(clock: FakeClock) -> None:
    limiter = HostRateLimiter(10, 0, clock=clock, sleep=clock.sleep, default_pause=3.0)
    limiter.on_rate_limited(H, None)
    assert limiter.paused_until(H) == pytest.approx(clock() + 3.0)


def test_additive_recovery_to_ceiling(clock: FakeClock) -> None:
    limiter = HostRateLimiter(10, 0, clock=clock, sleep=clock.sleep)
    limiter.on_rate_limited(H, 0.0)
    assert limiter.current_rate(H) == pytest.approx(5.0)
    rates: list[float] = []
    for _ in range(30):  # one success per second
        clock.advance(1.0)
        limiter.on_success(H)
        rates.append(limiter.current_rate(H) or math.inf)
    # +ceiling/20 = +0.5/s: linear, not a jump back ...
    assert rates[0] == pytest.approx(5.5)
    assert rates[4] == pytest.approx(7.5)
    assert rates[7] == pytest.approx(9.0)
    # ... then probing near the old level at +ceiling/100 = +0.1/s ...
    assert rates[8] == pytest.approx(9.1)
    # ... up to the ceiling, never above it.
    assert rates[17] == pytest.approx(10.0)
    assert max(rates) == 10.0


def test_back_at_the_ceiling_within_60_s_of_a_burst_of_429s(clock: FakeClock) -> None:
    """A burst of 429s drives 100/s to the floor; 60 s later the rate is 100/s again.

    (issue 11: before, the climb was scaled by the rate of the last cut and took
    minutes from the floor.) One answer per request interval, none a 429.
    """
    limiter = HostRateLimiter(100, 0, clock=clock, sleep=clock.sleep)
    for _ in range(12):  # each 429 from a request sent after the previous cut
        with limiter.slot(H) as sent_at:
            pass
        limiter.on_rate_limited(H, None, sent_at=sent_at)  # pauses 2 s
    assert limiter.current_rate(H) == pytest.approx(0.2)
    last_429 = clock()
    starts: list[float] = []
    rates: list[float] = []
    while clock() < last_429 + 60.0:
        with limiter.slot(H) as started:  # paced: waits its slot on the fake clock
            starts.append(started)
        limiter.on_success(H)
        rates.append(limiter.current_rate(H) or math.inf)
    assert rates == sorted(rates)  # a climb, never a step down
    assert limiter.current_rate(H) == 100.0
    # Gradual, not a jump back: in the first half only a trickle started ...
    assert sum(1 for t in starts if t < last_429 + 30.0) < 150
    # ... and the last seconds ran at the ceiling.
    assert sum(1 for t in starts if t >= last_429 + 55.0) >= 490


def test_back_at_the_ceiling_within_60_s_without_any_answer(clock: FakeClock) -> None:
    """The climb depends on time, not on answers: an idle host recovers just the same."""
    limiter = HostRateLimiter(100, 0, clock=clock, sleep=clock.sleep)
    for _ in range(12):
        clock.advance(2.5)
        limiter.on_rate_limited(H, 1.0)
    assert limiter.current_rate(H) == pytest.approx(0.2)
    seen = []
    for _ in range(60):
        clock.advance(1.0)
        seen.append(limiter.current_rate(H) or math.inf)
    assert seen == sorted(seen)
    assert seen[30] < 100.0 and seen[-1] == 100.0


def test_idle_time_is_not_credited_all_at_once(clock: FakeClock) -> None:
    """Additive increase credits at most a second per answer (the floor is another matter)."""
    limiter = HostRateLimiter(10, 0, clock=clock, sleep=clock.sleep)
    limiter.on_rate_limited(H, 0.0)
    clock.advance(3.0)
    limiter.on_success(H)
    assert recovered(5.0, 10.0, 3.0) < 5.5  # the floor is below one second's credit ...
    assert limiter.current_rate(H) == pytest.approx(5.5)  # ... and 3 s were not credited


def test_idle_hour_after_a_429_ends_at_the_ceiling(clock: FakeClock) -> None:
    """The recovery floor is time-based: no answers are needed to climb back."""
    limiter = HostRateLimiter(10, 0, clock=clock, sleep=clock.sleep)
    limiter.on_rate_limited(H, 0.0)
    clock.advance(3600.0)
    assert limiter.current_rate(H) == 10.0


def test_unlimited_does_not_pace(clock: FakeClock) -> None:
    limiter = HostRateLimiter(0, 0, clock=clock, sleep=clock.sleep)
    for _ in range(1000):
        with limiter.slot(H):
            pass
    assert clock.sleeps == []
    assert limiter.current_rate(H) is None


def test_unlimited_slows_down_after_429_and_later_returns(clock: FakeClock) -> None:
    limiter = HostRateLimiter(0, 0, clock=clock, sleep=clock.sleep)
    for _ in range(150):  # 50 requests/s for 3 s
        with limiter.slot(H):
            pass
        clock.advance(0.02)
    limiter.on_rate_limited(H, 1.0)
    rate = limiter.current_rate(H)
    assert rate is not None and 20 <= rate <= 30  # half the observed ~50/s
    # Now paced: the next starts are 1/rate apart, after the pause.
    t0 = clock()
    starts = []
    for _ in range(5):
        with limiter.slot(H):
            starts.append(clock())
    assert starts[0] >= t0 + 1.0 - 1e-9
    assert starts[1] - starts[0] == pytest.approx(1 / rate)
    # Paced while 429s are recent; after a quiet minute it returns to unlimited.
    for _ in range(50):
        clock.advance(1.0)
        limiter.on_success(H)
    assert limiter.current_rate(H) is not None
    for _ in range(10):
        clock.advance(1.0)
        limiter.on_success(H)
    assert limiter.current_rate(H) is None


def test_concurrency_cap_under_real_threads() -> None:
    limiter = HostRateLimiter(0, 2)
    in_flight = 0
    peak = 0
    lock = threading.Lock()

    def worker() -> None:
        nonlocal in_flight, peak
        with limiter.slot(H):
            with lock:
                in_flight += 1
                peak = max(peak, in_flight)
            time.sleep(0.03)
            with lock:
                in_flight -= 1

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert peak == 2
    assert limiter.stats()[H]["in_flight"] == 0


def test_semaphore_released_when_wait_is_interrupted(clock: FakeClock) -> None:
    interrupted: list[float] = []

    def sleep(seconds: float) -> None:
        if not interrupted:
            interrupted.append(seconds)
            raise KeyboardInterrupt  # e.g. the manager's stop() waking the thread
        clock.sleep(seconds)

    limiter = HostRateLimiter(1, 1, clock=clock, sleep=sleep)
    limiter.on_rate_limited(H, 10.0)
    with pytest.raises(KeyboardInterrupt):
        limiter.acquire(H)
    # The only concurrency slot is free again (otherwise this would block forever).
    with limiter.slot(H):
        pass
    assert limiter.stats()[H]["in_flight"] == 0


def test_stats_shape(clock: FakeClock) -> None:
    limiter = HostRateLimiter(4, 3, clock=clock, sleep=clock.sleep)
    for _ in range(3):
        with limiter.slot(H):
            pass
    stats = limiter.stats()[H]
    assert stats["rate"] == 4.0 and stats["ceiling"] == 4.0
    assert stats["requests"] == 3 and stats["waits"] == 2
    assert stats["wait_seconds"] == pytest.approx(0.5)
    assert set(stats) >= {"rate", "ceiling", "cuts", "paused_seconds", "waits", "rate_limited"}


def test_host_ceiling_from_crawl_delay(clock: FakeClock) -> None:
    limiter = HostRateLimiter(0, 0, clock=clock, sleep=clock.sleep)
    limiter.set_host_ceiling(H, 0.5)
    limiter.acquire(H)
    limiter.acquire(H)
    assert clock.sleeps == [2.0]


# -- AIMD against a server that allows fewer requests than configured ---------------------


class SlidingWindowServer:
    """Accepts a request only if fewer than ``limit`` were accepted in the last second."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.accepted: deque[float] = deque()

    def allow(self, t: float) -> bool:
        while self.accepted and self.accepted[0] <= t - 1.0:
            self.accepted.popleft()
        if len(self.accepted) >= self.limit:
            return False
        self.accepted.append(t)
        return True


class FixedWindowServer:
    """Accepts ``limit`` requests per calendar second."""

    def __init__(self, limit: int) -> None:
        self.limit, self.second, self.count = limit, -1, 0

    def allow(self, t: float) -> bool:
        if math.floor(t) != self.second:
            self.second, self.count = math.floor(t), 0
        self.count += 1
        return self.count <= self.limit


class TokenBucketServer:
    """A bucket of ``limit`` tokens refilled at ``limit`` per second."""

    def __init__(self, limit: int) -> None:
        self.limit, self.tokens, self.last = limit, float(limit), 0.0

    def allow(self, t: float) -> bool:
        self.tokens = min(self.limit, self.tokens + (t - self.last) * self.limit)
        self.last = t
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


Server = SlidingWindowServer | FixedWindowServer | TokenBucketServer
SERVERS: dict[str, Callable[[int], Server]] = {
    "sliding": SlidingWindowServer,
    "fixed": FixedWindowServer,
    "bucket": TokenBucketServer,
}


class Simulation:
    """Workers sharing one limiter, as an event simulation on a fake clock.

    Responses come back ``latency`` seconds after their request starts and are
    delivered (on_success / on_rate_limited) while others sleep, the way they
    would arrive from other threads.
    """

    def __init__(
        self,
        *,
        rate: float,
        workers: int,
        latency: float,
        retry_after: float | None,
        server: str = "sliding",
    ) -> None:
        self.clock = FakeClock(0.0)
        self.server = SERVERS[server](20)
        self.limiter = HostRateLimiter(rate, 0, clock=self.clock, sleep=self.sleep)
        self.workers, self.latency, self.retry_after = workers, latency, retry_after
        self.pending: list[tuple[float, int, float, bool]] = []
        self.seq = itertools.count()
        self.total = self.limited = 0
        self.late: list[tuple[float, bool]] = []

    def deliver_until(self, end: float) -> None:
        while self.pending and self.pending[0][0] <= end:
            done_at, _, sent_at, ok = heapq.heappop(self.pending)
            self.clock.now = max(self.clock.now, done_at)
            if ok:
                self.limiter.on_success(H)
            else:
                self.limiter.on_rate_limited(H, self.retry_after, sent_at=sent_at)

    def sleep(self, seconds: float) -> None:
        end = self.clock.now + seconds
        self.deliver_until(end)
        self.clock.now = max(self.clock.now, end)

    def run(self, seconds: float) -> None:
        while self.clock.now < seconds:
            while len(self.pending) >= self.workers:
                self.sleep(self.pending[0][0] - self.clock.now)
            t = self.limiter.acquire(H)
            ok = self.server.allow(t)
            self.total += 1
            self.limited += not ok
            self.late.append((t, ok))
            heapq.heappush(self.pending, (t + self.latency, next(self.seq), t, ok))
            self.limiter.release(H)


@pytest.mark.parametrize(
    ("server", "rate", "workers", "latency", "retry_after"),
    [
        ("sliding", 100, 1, 0.0, 1.0),
        ("sliding", 100, 1, 0.0, None),
        ("sliding", 100, 10, 0.1, 1.0),
        ("sliding", 100, 10, 0.1, None),
        ("sliding", 100, 10, 0.05, 0.0),
        ("sliding", 100, 32, 0.3, 2.0),
        ("sliding", 0, 10, 0.1, 1.0),  # unlimited: starts from the observed rate
        ("fixed", 100, 10, 0.1, None),
        ("fixed", 100, 32, 0.3, 2.0),
        ("bucket", 100, 10, 0.1, None),
        ("bucket", 100, 32, 0.3, 2.0),
    ],
)
def test_aimd_settles_below_server_limit(
    server: str, rate: float, workers: int, latency: float, retry_after: float | None
) -> None:
    """Configured 100 requests/s (or unlimited), server allows 20/s: under 2 % 429s."""
    sim = Simulation(
        rate=rate, workers=workers, latency=latency, retry_after=retry_after, server=server
    )
    sim.run(300.0)
    assert sim.total > 300 * 10  # still working: not collapsed to the floor
    assert sim.limited / sim.total < 0.02, (sim.limited, sim.total)
    # Over the last 100 s the rate sits at or below the server's limit.
    tail = [t for t, _ in sim.late if t >= 200.0]
    assert 10 <= len(tail) / 100 <= 20.5
