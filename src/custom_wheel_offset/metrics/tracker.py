"""``MetricTracker``: the run's one metrics component.

The run assembly (``crawl.workflow_v3``) creates one per run and hands it to
the network manager, the writer and the processor. It times operations, holds
the counters, samples memory, keeps the per-interval time series and writes
the run's metrics JSON that `cwo report` reads::

    tracker = MetricTracker()
    with tracker.track("fetch/fitment"):
        body = network.get(url)

    @tracker.timed("parse/fitment")
    def parse_fitment(body: bytes) -> ...: ...

A timing costs two ``perf_counter()`` calls and one locked update of bounded
statistics; an exception raised in the block is recorded as a failure
(``ok=False``) and propagates. The statistics themselves live in its internal
:class:`~.monitor.PerformanceMonitor`; nothing else records timings.

Nothing is created at import and there is no process-wide tracker: a test or
a library caller builds its own.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any, ParamSpec, TypeVar

from custom_wheel_offset.metrics.counters import Counters
from custom_wheel_offset.metrics.monitor import PerformanceMonitor
from custom_wheel_offset.metrics.series import (
    DEFAULT_INTERVAL,
    DEFAULT_MAX_POINTS,
    IntervalSeries,
    series_channel,
)

__all__ = ["Gauges", "MetricTracker", "Timing"]

log = logging.getLogger(__name__)

P = ParamSpec("P")
R = TypeVar("R")

#: A function read at each sample: gauge name -> current value (None: no reading).
Gauges = Callable[[], Mapping[str, float | None]]


class Timing:
    """One timed block (``tracker.track(...)``); set ``ok = False`` to count it failed."""

    __slots__ = ("_monitor", "_start", "ok", "operation")

    def __init__(self, monitor: PerformanceMonitor, operation: str) -> None:
        self._monitor = monitor
        self.operation = operation
        self.ok = True
        self._start = 0.0

    def __enter__(self) -> Timing:
        self._start = time.perf_counter()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        elapsed = time.perf_counter() - self._start
        self._monitor.record(self.operation, elapsed, self.ok and exc_type is None)
        # returning None: an exception raised in the block propagates


class MetricTracker:
    """Timings, counters, memory samples, time series and the metrics JSON of one run.

    ``clock`` and ``rss_source`` are injectable for tests (monotonic seconds,
    bytes); ``series_interval`` and ``series_points`` bound the time series.
    """

    def __init__(
        self,
        counters: Counters | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        rss_source: Callable[[], int] | None = None,
        series_interval: float = DEFAULT_INTERVAL,
        series_points: int = DEFAULT_MAX_POINTS,
        reservoir_size: int | None = None,
    ) -> None:
        self.counters = counters if counters is not None else Counters()
        extra = {} if reservoir_size is None else {"reservoir_size": reservoir_size}
        self._monitor = PerformanceMonitor(
            self.counters, clock=clock, rss_source=rss_source, **extra
        )
        self._clock = clock
        self._series = IntervalSeries(series_interval, series_points)
        self._series_lock = threading.Lock()
        self._last_counts: dict[str, int] = {}
        self._last_sample: float | None = None
        self._gauges: list[Gauges] = []

    # -- timing -----------------------------------------------------------------------

    def track(self, operation: str) -> Timing:
        """A context manager timing one block as ``operation``."""
        return Timing(self._monitor, operation)

    def timed(self, operation: str) -> Callable[[Callable[P, R]], Callable[P, R]]:
        """A decorator timing every call of the function as ``operation``."""
        monitor = self._monitor

        def decorate(fn: Callable[P, R]) -> Callable[P, R]:
            @functools.wraps(fn)
            def timed_call(*args: P.args, **kwargs: P.kwargs) -> R:
                start = time.perf_counter()
                ok = False
                try:
                    result = fn(*args, **kwargs)
                    ok = True
                    return result
                finally:
                    monitor.record(operation, time.perf_counter() - start, ok)

            return timed_call

        return decorate

    def operations(self) -> dict[str, dict[str, Any]]:
        """Statistics per operation name (see :class:`~.monitor.OperationStats`)."""
        return self._monitor.operations()

    # -- what the run's parts report ----------------------------------------------------

    def add_section(self, name: str, fn: Callable[[], dict[str, Any]]) -> None:
        """Register a component's statistics, computed when the report is built."""
        self._monitor.add_section(name, fn)

    def add_gauges(self, fn: Gauges) -> None:
        """Register a function read at every sample into the time series' gauges."""
        self._gauges.append(fn)

    def note_allocator(self, settings: dict[str, Any]) -> None:
        self._monitor.note_allocator(settings)

    # -- sampling -----------------------------------------------------------------------

    def start_sampling(self, interval: float = 1.0) -> None:
        """Sample memory, counters and gauges every ``interval`` seconds (a daemon thread)."""
        self._monitor.start_memory_sampler(interval, on_sample=self._sample_series)

    def stop_sampling(self) -> None:
        """Stop the sampler and take a last sample (no-op when not running)."""
        self._monitor.stop_memory_sampler()

    def sample(self) -> None:
        """Take one sample now (the sampler thread does this every interval)."""
        self._sample_series(self._monitor.sample_memory())

    def _sample_series(self, rss: int) -> None:
        counts: dict[str, int] = {}
        with self._series_lock:
            current = self.counters.snapshot()
            for name, value in current.items():
                channel = series_channel(name)
                if channel is None:
                    continue
                delta = value - self._last_counts.get(name, 0)
                self._last_counts[name] = value
                if delta:
                    counts[channel] = counts.get(channel, 0) + delta
            gauges: dict[str, float | None] = {"rss_bytes": float(rss)}
            for fn in self._gauges:
                gauges.update(self._read_gauges(fn))
            now = self._clock()
            covered = 0.0 if self._last_sample is None else max(now - self._last_sample, 0.0)
            self._last_sample = now
            self._series.add(now, counts, gauges, covered)

    @staticmethod
    def _read_gauges(fn: Gauges) -> Mapping[str, float | None]:
        # A broken gauge must not stop the sampler (and with it the memory samples).
        try:
            return fn()
        except Exception:
            log.warning("a metrics gauge failed", exc_info=True)
            return {}

    def series(self) -> dict[str, Any]:
        """The time series as documented in docs/metrics.md ("series")."""
        with self._series_lock:
            return self._series.to_dict()

    # -- the metrics JSON ---------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        """Operations, threads, counters, memory, series and every registered section."""
        snap = self._monitor.snapshot()
        snap["series"] = self.series()
        return snap

    def report(
        self, *, run: Mapping[str, Any], settings_public: Mapping[str, Any]
    ) -> dict[str, Any]:
        """The run's metrics JSON (docs/metrics.md)."""
        from custom_wheel_offset.metrics.report import build_report

        return build_report(run=run, settings_public=settings_public, snapshot=self.snapshot())

    def write_report(
        self,
        save: Callable[[dict[str, Any]], object],
        *,
        run: Mapping[str, Any],
        settings_public: Mapping[str, Any],
    ) -> dict[str, Any]:
        """Build the metrics JSON and write it through ``save``; returns it.

        The run assembly passes a ``save`` that stores it with the run's row
        (``storage.runs.finish_run_row``), which is what `cwo report` reads; the
        tracker itself knows no database, so every room can use it.
        """
        report = self.report(run=run, settings_public=settings_public)
        save(report)
        return report
