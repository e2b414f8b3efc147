"""MetricTracker and the process-wide monitor."""

from __future__ import annotations

import subprocess
import sys
import tracemalloc
from collections.abc import Iterator

import pytest

from custom_wheel_offset.metrics import tracker
from custom_wheel_offset.metrics.monitor import PerformanceMonitor
from custom_wheel_offset.metrics.tracker import (
    MetricTracker,
    activate,
    active_monitor,
    deactivate,
)


@pytest.fixture(autouse=True)
def no_active_monitor() -> Iterator[None]:
    deactivate()
    yield
    deactivate()


def test_importing_creates_no_monitor() -> None:
    code = (
        "import custom_wheel_offset.metrics.tracker as t\n"
        "assert t._active is None, t._active\n"
        "import sys\n"
        "assert 'psutil' not in sys.modules\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_context_manager_records_into_given_monitor() -> None:
    monitor = PerformanceMonitor()
    with MetricTracker("fetch", monitor) as t:
        assert t.operation == "fetch"
    stats = monitor.operations()["fetch"]
    assert stats["count"] == 1
    assert stats["errors"] == 0
    assert stats["min"] >= 0.0


def test_exception_is_recorded_as_failure_and_propagates() -> None:
    monitor = PerformanceMonitor()
    with pytest.raises(KeyError), MetricTracker("parse", monitor):
        raise KeyError("x")
    stats = monitor.operations()["parse"]
    assert (stats["count"], stats["errors"]) == (1, 1)


def test_decorator_times_each_call() -> None:
    monitor = PerformanceMonitor()

    @MetricTracker("double", monitor)
    def double(x: int) -> int:
        """Doc."""
        if x < 0:
            raise ValueError("negative")
        return 2 * x

    assert double(3) == 6
    assert double(4) == 8
    with pytest.raises(ValueError):
        double(-1)
    assert double.__name__ == "double" and double.__doc__ == "Doc."
    stats = monitor.operations()["double"]
    assert (stats["count"], stats["errors"]) == (3, 1)


def test_default_monitor_is_the_active_one_at_call_time() -> None:
    @MetricTracker("late")
    def work() -> None:
        pass

    first = PerformanceMonitor()
    activate(first)
    work()
    with MetricTracker("block"):
        pass
    second = PerformanceMonitor()
    activate(second)
    work()
    assert first.operations()["late"]["count"] == 1
    assert first.operations()["block"]["count"] == 1
    assert second.operations()["late"]["count"] == 1
    assert active_monitor() is second


def test_active_monitor_is_created_lazily_once() -> None:
    assert tracker._active is None
    monitor = active_monitor()
    assert active_monitor() is monitor
    with MetricTracker("x"):
        pass
    assert monitor.operations()["x"]["count"] == 1
    deactivate()
    assert active_monitor() is not monitor


def test_tracker_has_no_per_instance_dict() -> None:
    assert not hasattr(MetricTracker("x"), "__dict__")


def test_many_uses_allocate_no_unbounded_state() -> None:
    monitor = PerformanceMonitor(reservoir_size=64)
    timed = MetricTracker("hot", monitor)

    @MetricTracker("hot_fn", monitor)
    def fn() -> None:
        pass

    def burst(n: int) -> None:
        for _ in range(n):
            with MetricTracker("hot", monitor):
                pass
            with timed:
                pass
            fn()

    burst(2_000)  # reservoirs full, per-thread entries created
    tracemalloc.start()
    try:
        before, _ = tracemalloc.get_traced_memory()
        burst(20_000)
        after, _ = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    # 60,000 more tracked calls; a per-call allocation of even 8 bytes would show 480 kB.
    assert after - before < 16_384
    assert monitor.operations()["hot"]["count"] == 44_000
    assert monitor.operations()["hot"]["sample_size"] == 64
