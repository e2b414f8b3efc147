"""The performance monitor: operation timings, per-thread work, memory samples, sections.

The internal part of :class:`~.tracker.MetricTracker` (the run's one metrics
component, and the only caller of :meth:`PerformanceMonitor.record`): it keeps
the timing statistics, the *sections* the run's components register (writer,
pool, cache, network, progress statistics) computed when :meth:`snapshot` is
taken, and the memory samples a daemon thread takes of the process's RSS.

Memory does not grow with the number of timed calls: each operation keeps
streaming statistics (Welford's mean and variance, min, max) and a uniform
reservoir sample of at most ``reservoir_size`` durations for the median and
95th percentile; memory samples are thinned by half whenever the list is
full.

Memory trend rule (see docs/metrics.md): ignore a warm-up of
``max(20 % of the sampled time, 10 s)``, fit a least-squares line to the
remaining samples, and call the trend ``growing`` when the fitted growth over
that span exceeds both 10 % of the mean RSS and 10 MiB. A warning is logged
the first time the trend turns ``growing``.
"""

from __future__ import annotations

import bisect
import logging
import math
import random
import statistics
import threading
import time
from collections.abc import Callable
from typing import Any

from custom_wheel_offset.metrics.counters import Counters

__all__ = [
    "DEFAULT_MAX_MEMORY_SAMPLES",
    "DEFAULT_RESERVOIR_SIZE",
    "HISTOGRAM_BOUNDS",
    "OperationStats",
    "PerformanceMonitor",
    "memory_trend",
]

logger = logging.getLogger(__name__)

DEFAULT_RESERVOIR_SIZE = 4096
DEFAULT_MAX_MEMORY_SAMPLES = 600
WARMUP_FRACTION = 0.2
WARMUP_MIN_SECONDS = 10.0
MIN_TREND_SAMPLES = 5
GROWTH_MIN_FRACTION = 0.10
GROWTH_MIN_BYTES = 10 * 1024 * 1024

#: Upper bounds (seconds) of the latency histogram's buckets, doubling from
#: 0.25 ms to about 33 s; one more bucket counts everything slower.
HISTOGRAM_BOUNDS: tuple[float, ...] = tuple(0.001 * 2.0**k for k in range(-2, 16))

_RESERVED_SECTIONS = frozenset(
    {"operations", "threads", "counters", "counters_flat", "memory", "series"}
)


def _round(value: float | None, digits: int = 9) -> float | None:
    return None if value is None else round(value, digits)


class OperationStats:
    """Streaming statistics of one operation's durations, in bounded memory."""

    __slots__ = (
        "_m2",
        "_rng",
        "buckets",
        "count",
        "errors",
        "max",
        "mean",
        "min",
        "reservoir",
        "total",
    )

    def __init__(self, rng: random.Random) -> None:
        self.count = 0
        self.errors = 0
        self.total = 0.0
        self.mean = 0.0
        self._m2 = 0.0
        self.min = math.inf
        self.max = -math.inf
        self.reservoir: list[float] = []
        self.buckets = [0] * (len(HISTOGRAM_BOUNDS) + 1)
        self._rng = rng

    def add(self, seconds: float, ok: bool, reservoir_size: int) -> None:
        self.count += 1
        if not ok:
            self.errors += 1
        self.total += seconds
        # Welford: numerically stable running mean and sum of squared deviations.
        delta = seconds - self.mean
        self.mean += delta / self.count
        self._m2 += delta * (seconds - self.mean)
        if seconds < self.min:
            self.min = seconds
        if seconds > self.max:
            self.max = seconds
        self.buckets[bisect.bisect_left(HISTOGRAM_BOUNDS, seconds)] += 1
        # Algorithm R: every duration seen so far is in the sample with equal probability.
        if len(self.reservoir) < reservoir_size:
            self.reservoir.append(seconds)
        else:
            slot = self._rng.randrange(self.count)
            if slot < reservoir_size:
                self.reservoir[slot] = seconds

    @property
    def stdev(self) -> float:
        """Sample standard deviation (n - 1), 0.0 below two observations."""
        return math.sqrt(self._m2 / (self.count - 1)) if self.count > 1 else 0.0

    def to_dict(self) -> dict[str, Any]:
        sample = sorted(self.reservoir)
        if not sample:
            median = p95 = None
        elif len(sample) == 1:
            median = p95 = sample[0]
        else:
            median = statistics.median(sample)
            p95 = statistics.quantiles(sample, n=20, method="inclusive")[18]
        empty = self.count == 0
        return {
            "count": self.count,
            "errors": self.errors,
            "error_rate": round(self.errors / self.count, 6) if self.count else 0.0,
            "total": _round(self.total),
            "mean": None if empty else _round(self.mean),
            "median": _round(median),
            "p95": _round(p95),
            "min": None if empty else _round(self.min),
            "max": None if empty else _round(self.max),
            "stdev": None if empty else _round(self.stdev),
            "sample_size": len(sample),
            # Every duration, not a sample: counts per bucket whose upper bound
            # is ``le`` seconds (``null``: slower than the last bound).
            "histogram": {
                "le": [round(b, 6) for b in HISTOGRAM_BOUNDS] + [None],
                "counts": list(self.buckets),
            },
        }


class _ThreadStats:
    __slots__ = ("busy", "by_operation", "errors", "first_start", "last_end", "operations")

    def __init__(self, start: float) -> None:
        self.operations = 0
        self.errors = 0
        self.busy = 0.0
        self.first_start = start
        self.last_end = start
        self.by_operation: dict[str, int] = {}

    def to_dict(self) -> dict[str, Any]:
        span = self.last_end - self.first_start
        return {
            "operations": self.operations,
            "errors": self.errors,
            "busy_seconds": _round(self.busy),
            "active_seconds": _round(span),
            "ops_per_second": round(self.operations / span, 3) if span > 0 else None,
            "utilisation": round(min(self.busy / span, 1.0), 4) if span > 0 else None,
            "by_operation": dict(sorted(self.by_operation.items())),
        }


def memory_trend(
    samples: list[tuple[float, int]],
    *,
    warmup_fraction: float = WARMUP_FRACTION,
    warmup_min_seconds: float = WARMUP_MIN_SECONDS,
) -> dict[str, Any]:
    """The trend verdict over ``(seconds_since_start, rss_bytes)`` samples.

    Returns ``{"trend", "slope_bytes_per_min", "growth_bytes", "warmup_seconds"}``;
    the last two numbers are None when there is not enough data to judge.
    """
    span = samples[-1][0] if samples else 0.0
    warmup = max(warmup_fraction * span, warmup_min_seconds)
    tail = [(t, rss) for t, rss in samples if t >= warmup]
    verdict: dict[str, Any] = {
        "trend": "insufficient_data",
        "slope_bytes_per_min": None,
        "growth_bytes": None,
        "warmup_seconds": round(warmup, 3),
    }
    if len(tail) < MIN_TREND_SAMPLES:
        return verdict
    n = len(tail)
    mean_t = sum(t for t, _ in tail) / n
    mean_rss = sum(rss for _, rss in tail) / n
    sxx = sum((t - mean_t) ** 2 for t, _ in tail)
    if sxx <= 0:
        return verdict
    sxy = sum((t - mean_t) * (rss - mean_rss) for t, rss in tail)
    slope = sxy / sxx  # bytes per second
    growth = slope * (tail[-1][0] - tail[0][0])
    growing = growth > GROWTH_MIN_FRACTION * mean_rss and growth > GROWTH_MIN_BYTES
    verdict.update(
        trend="growing" if growing else "stable",
        slope_bytes_per_min=round(slope * 60.0, 1),
        growth_bytes=round(growth),
    )
    return verdict


class PerformanceMonitor:
    """The statistics inside one run's MetricTracker; every method is thread-safe.

    ``clock`` (monotonic seconds) and ``rss_source`` (bytes) are injectable for
    tests; by default they are :func:`time.monotonic` and psutil's RSS of this
    process (psutil is imported on first use).
    """

    def __init__(
        self,
        counters: Counters | None = None,
        *,
        reservoir_size: int = DEFAULT_RESERVOIR_SIZE,
        max_memory_samples: int = DEFAULT_MAX_MEMORY_SAMPLES,
        seed: int = 0,
        clock: Callable[[], float] = time.monotonic,
        rss_source: Callable[[], int] | None = None,
    ) -> None:
        if reservoir_size < 1:
            raise ValueError("reservoir_size must be at least 1")
        if max_memory_samples < 2:
            raise ValueError("max_memory_samples must be at least 2")
        self.counters = counters if counters is not None else Counters()
        self._reservoir_size = reservoir_size
        self._seed = seed
        self._clock = clock
        self._lock = threading.Lock()
        self._operations: dict[str, OperationStats] = {}
        self._threads: dict[str, _ThreadStats] = {}
        self._sections: dict[str, Callable[[], dict[str, Any]]] = {}
        # memory
        self._rss_source = rss_source
        self._mem_lock = threading.Lock()
        self._max_samples = max_memory_samples
        self._samples: list[tuple[float, int]] = []
        self._sample_index = 0
        self._stride = 1
        self._mem_t0: float | None = None
        self._first_rss: int | None = None
        self._last_rss: int | None = None
        self._peak_rss: int | None = None
        self._leak_warned = False
        self._sampler: threading.Thread | None = None
        self._allocator: dict[str, Any] = {}
        self._sampler_stop = threading.Event()
        self._sampler_interval: float | None = None
        self._on_sample: Callable[[int], None] | None = None

    # -- operations -----------------------------------------------------------

    def record(self, operation: str, seconds: float, ok: bool = True) -> None:
        """Add one timed ``operation`` that took ``seconds`` and failed when ``ok`` is False."""
        now = self._clock()
        thread_name = threading.current_thread().name
        with self._lock:
            stats = self._operations.get(operation)
            if stats is None:
                rng = random.Random(f"{self._seed}:{operation}")
                stats = self._operations[operation] = OperationStats(rng)
            stats.add(seconds, ok, self._reservoir_size)
            thread = self._threads.get(thread_name)
            if thread is None:
                thread = self._threads[thread_name] = _ThreadStats(now - seconds)
            thread.operations += 1
            if not ok:
                thread.errors += 1
            thread.busy += seconds
            thread.last_end = max(thread.last_end, now)
            thread.first_start = min(thread.first_start, now - seconds)
            thread.by_operation[operation] = thread.by_operation.get(operation, 0) + 1

    def operations(self) -> dict[str, dict[str, Any]]:
        """Statistics per operation name; durations in seconds."""
        with self._lock:
            return {name: s.to_dict() for name, s in sorted(self._operations.items())}

    def threads(self) -> dict[str, dict[str, Any]]:
        """Work per thread name: counts, busy seconds and throughput over its active span."""
        with self._lock:
            return {name: t.to_dict() for name, t in sorted(self._threads.items())}

    # -- sections -------------------------------------------------------------

    def add_section(self, name: str, fn: Callable[[], dict[str, Any]]) -> None:
        """Register ``fn`` to compute section ``name`` of each snapshot (replaces an older one)."""
        if name in _RESERVED_SECTIONS:
            raise ValueError(f"section name {name!r} is reserved")
        with self._lock:
            self._sections[name] = fn

    def _section_values(self) -> dict[str, Any]:
        with self._lock:
            providers = list(self._sections.items())
        values: dict[str, Any] = {}
        for name, fn in providers:
            # A broken statistics provider must not cost the run its whole report.
            try:
                values[name] = fn()
            except Exception as exc:
                logger.warning("metrics section %r failed", name, exc_info=True)
                values[name] = {"error": f"{type(exc).__name__}: {exc}"}
        return values

    # -- memory ---------------------------------------------------------------

    def _read_rss(self) -> int:
        if self._rss_source is None:
            import psutil  # deferred: only runs that sample memory need it

            process = psutil.Process()
            self._rss_source = lambda: int(process.memory_info().rss)
        return self._rss_source()

    def sample_memory(self) -> int:
        """Take one RSS sample now (the sampler thread calls this); returns the bytes."""
        rss = self._read_rss()
        now = self._clock()
        with self._mem_lock:
            if self._mem_t0 is None:
                self._mem_t0 = now
                self._first_rss = rss
            self._last_rss = rss
            self._peak_rss = rss if self._peak_rss is None else max(self._peak_rss, rss)
            if self._sample_index % self._stride == 0:
                self._samples.append((now - self._mem_t0, rss))
                if len(self._samples) >= self._max_samples:
                    # Keep every other sample and sample half as often from now on,
                    # so the kept samples stay evenly spaced over the whole run.
                    self._samples = self._samples[::2]
                    self._stride *= 2
            self._sample_index += 1
            samples = list(self._samples)
        self._check_trend(samples)
        return rss

    def _check_trend(self, samples: list[tuple[float, int]]) -> dict[str, Any]:
        verdict = memory_trend(samples)
        if verdict["trend"] == "growing" and not self._leak_warned:
            with self._mem_lock:
                first = not self._leak_warned
                self._leak_warned = True
            if first:
                logger.warning(
                    "memory keeps growing: RSS rose by about %.1f MiB over %.0f s "
                    "(%.1f MiB/min); possible leak",
                    verdict["growth_bytes"] / 1048576,
                    samples[-1][0] - verdict["warmup_seconds"],
                    verdict["slope_bytes_per_min"] / 1048576,
                )
        return verdict

    def start_memory_sampler(
        self, interval: float = 1.0, *, on_sample: Callable[[int], None] | None = None
    ) -> None:
        """Start the daemon thread sampling RSS every ``interval`` seconds (idempotent).

        ``on_sample(rss)`` runs after each sample on the same thread (the tracker's series).
        """
        if interval <= 0:
            raise ValueError("interval must be positive")
        if self._sampler is not None and self._sampler.is_alive():
            return
        self._sampler_stop.clear()
        self._sampler_interval = interval
        self._on_sample = on_sample
        self._sample_and_notify()
        self._sampler = threading.Thread(
            target=self._sample_loop, args=(interval,), name="cwo-memory-sampler", daemon=True
        )
        self._sampler.start()

    def _sample_and_notify(self) -> None:
        rss = self.sample_memory()
        if self._on_sample is not None:
            self._on_sample(rss)

    def _sample_loop(self, interval: float) -> None:
        # On a fixed schedule (not ``interval`` after each sample), so that
        # samples never drift across the time series' interval boundaries.
        due = time.monotonic() + interval
        while not self._sampler_stop.wait(max(0.0, due - time.monotonic())):
            self._sample_and_notify()
            due = max(due + interval, time.monotonic())

    def stop_memory_sampler(self) -> None:
        """Stop the sampler thread and take a last sample (no-op when not running)."""
        sampler = self._sampler
        if sampler is None:
            return
        self._sampler_stop.set()
        sampler.join()
        self._sampler = None
        self._sample_and_notify()

    def note_allocator(self, settings: dict[str, Any]) -> None:
        """How the C allocator was set up for this run (``allocator.limit_malloc_arenas``)."""
        self._allocator = dict(settings)

    def memory_report(self) -> dict[str, Any]:
        """RSS samples ``[[seconds_since_start, bytes], ...]``, peak, start, end and the trend."""
        with self._mem_lock:
            samples = list(self._samples)
            first, last, peak = self._first_rss, self._last_rss, self._peak_rss
        verdict = self._check_trend(samples)
        return {
            "samples": [[round(t, 3), rss] for t, rss in samples],
            "sample_interval_seconds": (
                None if self._sampler_interval is None else self._sampler_interval * self._stride
            ),
            "peak_rss_bytes": peak,
            "start_rss_bytes": first,
            "end_rss_bytes": last,
            **verdict,
            "allocator": dict(self._allocator),
        }

    # -- everything -----------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """Everything, JSON-serialisable: operations, threads, counters, memory and sections."""
        snap: dict[str, Any] = {
            "operations": self.operations(),
            "threads": self.threads(),
            "counters": self.counters.tree(),
            "counters_flat": self.counters.snapshot(),
            "memory": self.memory_report(),
        }
        snap.update(self._section_values())
        return snap
