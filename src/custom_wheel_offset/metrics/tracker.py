"""``MetricTracker``: time a block or a function into the run's performance monitor.

::

    with MetricTracker("fetch_fitment"):
        body = network.get(url)

    @MetricTracker("parse_fitment")
    def parse_fitment(body: bytes) -> ...: ...

The process-wide monitor is whatever :func:`activate` installed for the run;
nothing is created at import. Without an active monitor, the first use creates
one lazily (so library code and tests never need to check).

A tracker costs two ``perf_counter()`` calls and one locked update of bounded
statistics; it never swallows the block's exception, it records the block as
failed (``ok=False``) and lets the exception propagate.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable
from types import TracebackType
from typing import ParamSpec, TypeVar

from custom_wheel_offset.metrics.monitor import PerformanceMonitor

__all__ = ["MetricTracker", "activate", "active_monitor", "deactivate"]

P = ParamSpec("P")
R = TypeVar("R")

_active: PerformanceMonitor | None = None
_active_lock = threading.Lock()


def activate(monitor: PerformanceMonitor) -> None:
    """Make ``monitor`` the process-wide monitor (the run assembly does this once)."""
    global _active
    with _active_lock:
        _active = monitor


def deactivate() -> None:
    """Forget the process-wide monitor; the next use creates a fresh one."""
    global _active
    with _active_lock:
        _active = None


def active_monitor() -> PerformanceMonitor:
    """The process-wide monitor, created on first use if none was activated."""
    global _active
    monitor = _active
    if monitor is not None:
        return monitor
    with _active_lock:
        if _active is None:
            _active = PerformanceMonitor()
        return _active


class MetricTracker:
    """Times one operation: a context manager, or a decorator timing each call.

    ``monitor=None`` means the process-wide monitor *at the time the block ends*,
    so a decorator applied at import time follows whichever monitor the run
    activates later. One instance times one ``with`` block at a time; as a
    decorator every call is timed independently (and concurrently).
    """

    __slots__ = ("_monitor", "_start", "operation")

    def __init__(self, operation: str, monitor: PerformanceMonitor | None = None) -> None:
        self.operation = operation
        self._monitor = monitor
        self._start = 0.0

    def __enter__(self) -> MetricTracker:
        self._start = time.perf_counter()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        elapsed = time.perf_counter() - self._start
        monitor = self._monitor if self._monitor is not None else active_monitor()
        monitor.record(self.operation, elapsed, exc_type is None)
        # returning None: an exception raised in the block propagates

    def __call__(self, fn: Callable[P, R]) -> Callable[P, R]:
        operation = self.operation
        fixed = self._monitor

        @functools.wraps(fn)
        def timed(*args: P.args, **kwargs: P.kwargs) -> R:
            start = time.perf_counter()
            ok = False
            try:
                result = fn(*args, **kwargs)
                ok = True
                return result
            finally:
                elapsed = time.perf_counter() - start
                monitor = fixed if fixed is not None else active_monitor()
                monitor.record(operation, elapsed, ok)

        return timed
