"""MetricTracker: the run's one metrics component (timings, counters, series, report)."""

from __future__ import annotations

import subprocess
import sys
import time
import tracemalloc

import pytest

from custom_wheel_offset.metrics.tracker import MetricTracker

MIB = 1024 * 1024


def test_importing_creates_nothing() -> None:
    code = (
        "import custom_wheel_offset.metrics.tracker as t, sys, threading\n"
        "assert not hasattr(t, '_active')\n"
        "assert 'psutil' not in sys.modules\n"
        "assert threading.active_count() == 1\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_track_records_a_block() -> None:
    tracker = MetricTracker()
    with tracker.track("fetch/fitment") as timing:
        assert timing.operation == "fetch/fitment"
    stats = tracker.operations()["fetch/fitment"]
    assert (stats["count"], stats["errors"]) == (1, 0)
    assert stats["min"] >= 0.0


def test_exception_is_recorded_as_failure_and_propagates() -> None:
    tracker = MetricTracker()
    with pytest.raises(KeyError), tracker.track("parse"):
        raise KeyError("x")
    with tracker.track("parse") as timing:
        timing.ok = False  # a block that returns normally can still count as failed
    stats = tracker.operations()["parse"]
    assert (stats["count"], stats["errors"]) == (2, 2)


def test_decorator_times_each_call() -> None:
    tracker = MetricTracker()

    @tracker.timed("double")
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
    stats = tracker.operations()["double"]
    assert (stats["count"], stats["errors"]) == (3, 1)


def test_two_trackers_never_share_statistics() -> None:
    first, second = MetricTracker(), MetricTracker()
    with first.track("x"):
        pass
    assert "x" not in second.operations()
    assert first.counters is not second.counters


def test_timing_has_no_per_instance_dict() -> None:
    assert not hasattr(MetricTracker().track("x"), "__dict__")


def test_many_uses_allocate_no_unbounded_state() -> None:
    tracker = MetricTracker(reservoir_size=64)

    @tracker.timed("hot_fn")
    def fn() -> None:
        pass

    def burst(n: int) -> None:
        for _ in range(n):
            with tracker.track("hot"):
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
    # 40,000 more tracked calls; a per-call allocation of even 8 bytes would show 320 kB.
    assert after - before < 16_384
    assert tracker.operations()["hot"]["count"] == 22_000
    assert tracker.operations()["hot"]["sample_size"] == 64


def test_samples_turn_counters_and_gauges_into_the_series() -> None:
    now = [0.0]
    rates = iter([2.0, 1.0, None, 1.5])
    tracker = MetricTracker(clock=lambda: now[0], rss_source=lambda: 100 * MIB, series_interval=5)
    tracker.add_gauges(lambda: {"host_rate/h": next(rates)})
    for step in range(4):
        tracker.counters.incr("requests/fitment", 3)
        tracker.counters.incr("responses/200", 2)
        tracker.counters.incr("responses/429")
        tracker.counters.incr("items/done/fitment", 2)
        tracker.counters.incr("bytes_received", 999)  # not a series channel
        tracker.sample()
        now[0] += 3.0 if step < 3 else 0
    series = tracker.series()
    assert series["t"] == [0.0, 5.0]
    assert series["counts"]["requests/fitment"] == [6, 6]
    assert series["counts"]["responses/2xx"] == [4, 4]
    assert series["counts"]["responses/429"] == [2, 2]
    assert series["counts"]["items_done/fitment"] == [4, 4]
    assert "bytes_received" not in series["counts"]
    assert series["gauges"]["host_rate/h"] == [1.5, 1.5]
    assert series["gauges"]["rss_bytes"] == [100 * MIB, 100 * MIB]
    # the first sample covers nothing; the last came at once after the third
    assert series["covered_seconds"] == [3.0, 6.0]


def test_a_broken_gauge_costs_only_its_own_reading(caplog: pytest.LogCaptureFixture) -> None:
    tracker = MetricTracker(rss_source=lambda: MIB)

    def broken() -> dict[str, float]:
        raise RuntimeError("gone")

    tracker.add_gauges(broken)
    tracker.sample()
    assert tracker.series()["gauges"]["rss_bytes"] == [MIB]
    assert "a metrics gauge failed" in caplog.text


def test_sampler_thread_fills_the_series_and_stops() -> None:
    tracker = MetricTracker(rss_source=lambda: MIB)
    tracker.counters.incr("requests/vehicle", 4)
    tracker.start_sampling(interval=0.01)
    deadline = time.monotonic() + 10
    while not tracker.series()["points"] and time.monotonic() < deadline:
        time.sleep(0.01)
    tracker.stop_sampling()
    assert sum(tracker.series()["counts"]["requests/vehicle"]) == 4


def test_report_holds_the_series_and_the_standard_keys() -> None:
    tracker = MetricTracker(rss_source=lambda: MIB)
    tracker.counters.incr("requests/fitment", 2)
    with tracker.track("fitment"):
        pass
    tracker.sample()
    run = {"id": 1, "outcome": "complete", "exit_code": 0, "started_at": 0.0, "ended_at": 1.0}
    report = tracker.report(run=run, settings_public={"workers": 1})
    assert report["series"]["counts"]["requests/fitment"] == [2]
    assert report["requests"]["total"] == 2
    assert report["operations"]["fitment"]["count"] == 1
