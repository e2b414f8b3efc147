"""PerformanceMonitor: operation statistics, threads, sections, memory samples and trend."""

from __future__ import annotations

import itertools
import json
import logging
import random
import statistics
import threading
import time

import pytest

from custom_wheel_offset.metrics.counters import Counters
from custom_wheel_offset.metrics.monitor import PerformanceMonitor, memory_trend

MIB = 1024 * 1024


class FakeClock:
    def __init__(self) -> None:
        self.now = 500.0

    def __call__(self) -> float:
        return self.now


class FakeRss:
    def __init__(self, value: int = 100 * MIB) -> None:
        self.value = value

    def __call__(self) -> int:
        return self.value


# -- operation statistics -------------------------------------------------------------


def test_statistics_match_the_statistics_module() -> None:
    data = [0.5, 0.1, 0.9, 0.3, 0.7, 0.2, 1.4, 0.05, 0.6, 0.33]
    monitor = PerformanceMonitor()
    for value in data:
        monitor.record("fetch", value)
    stats = monitor.operations()["fetch"]
    assert stats["count"] == len(data)
    assert stats["errors"] == 0
    assert stats["total"] == pytest.approx(sum(data))
    assert stats["mean"] == pytest.approx(statistics.mean(data))
    assert stats["median"] == pytest.approx(statistics.median(data))
    assert stats["stdev"] == pytest.approx(statistics.stdev(data))
    assert stats["min"] == min(data)
    assert stats["max"] == max(data)
    p95 = statistics.quantiles(data, n=20, method="inclusive")[18]
    assert stats["p95"] == pytest.approx(p95)
    assert stats["sample_size"] == len(data)


def test_welford_is_stable_with_a_large_offset() -> None:
    data = [1e6 + x for x in (0.001, 0.002, 0.003, 0.004)]
    monitor = PerformanceMonitor()
    for value in data:
        monitor.record("x", value)
    assert monitor.operations()["x"]["stdev"] == pytest.approx(statistics.stdev(data), rel=1e-3)


def test_single_observation() -> None:
    monitor = PerformanceMonitor()
    monitor.record("once", 0.25)
    stats = monitor.operations()["once"]
    assert stats["median"] == stats["p95"] == stats["mean"] == 0.25
    assert stats["stdev"] == 0.0


def test_errors_and_error_rate() -> None:
    monitor = PerformanceMonitor()
    for i in range(10):
        monitor.record("write", 0.01, ok=i % 5 != 0)
    stats = monitor.operations()["write"]
    assert stats["errors"] == 2
    assert stats["error_rate"] == pytest.approx(0.2)


def test_reservoir_is_bounded_and_still_representative() -> None:
    monitor = PerformanceMonitor(reservoir_size=256, seed=1)
    rng = random.Random(7)
    data = [rng.uniform(0.0, 1.0) for _ in range(20_000)]
    for value in data:
        monitor.record("parse", value)
    stats = monitor.operations()["parse"]
    assert stats["count"] == 20_000
    assert stats["sample_size"] == 256
    assert len(monitor._operations["parse"].reservoir) == 256
    # exact streaming values, sampled quantiles
    assert stats["mean"] == pytest.approx(statistics.fmean(data))
    assert stats["stdev"] == pytest.approx(statistics.stdev(data))
    assert stats["min"] == pytest.approx(min(data), abs=1e-9)
    assert stats["max"] == pytest.approx(max(data), abs=1e-9)
    assert stats["median"] == pytest.approx(0.5, abs=0.1)
    assert stats["p95"] == pytest.approx(0.95, abs=0.05)


def test_reservoir_keeps_late_values() -> None:
    # If the reservoir only kept the first values, the median would stay at 0.
    monitor = PerformanceMonitor(reservoir_size=100, seed=3)
    for _ in range(1000):
        monitor.record("x", 0.0)
    for _ in range(9000):
        monitor.record("x", 1.0)
    assert monitor.operations()["x"]["median"] == 1.0


def test_sampling_is_reproducible_with_a_seed() -> None:
    def run(seed: int) -> float | None:
        monitor = PerformanceMonitor(reservoir_size=10, seed=seed)
        for i in range(1000):
            monitor.record("x", float(i))
        return monitor.operations()["x"]["median"]

    assert run(5) == run(5)


# -- threads --------------------------------------------------------------------------


def test_per_thread_counts_from_real_threads() -> None:
    monitor = PerformanceMonitor()
    per_thread = {"worker-a": 30, "worker-b": 50, "worker-c": 7}
    start = threading.Barrier(len(per_thread))

    def work(n: int) -> None:
        start.wait()
        for i in range(n):
            monitor.record("fetch" if i % 2 else "parse", 0.001, ok=i != 0)

    threads = [
        threading.Thread(target=work, args=(n,), name=name) for name, n in per_thread.items()
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    report = monitor.threads()
    for name, n in per_thread.items():
        assert report[name]["operations"] == n
        assert report[name]["errors"] == 1
        assert report[name]["busy_seconds"] == pytest.approx(0.001 * n)
        assert sum(report[name]["by_operation"].values()) == n
    assert monitor.operations()["fetch"]["count"] + monitor.operations()["parse"]["count"] == 87


def test_thread_throughput_over_its_active_span() -> None:
    clock = FakeClock()
    monitor = PerformanceMonitor(clock=clock)
    for _ in range(10):
        clock.now += 1.0
        monitor.record("fetch", 0.5)
    stats = monitor.threads()[threading.current_thread().name]
    # first op started at 500.5, last ended at 510.0
    assert stats["active_seconds"] == pytest.approx(9.5)
    assert stats["ops_per_second"] == pytest.approx(10 / 9.5, rel=1e-3)
    assert stats["busy_seconds"] == pytest.approx(5.0)
    assert stats["utilisation"] == pytest.approx(5.0 / 9.5, rel=1e-3)


# -- sections and snapshot ------------------------------------------------------------


def test_snapshot_has_everything_and_is_json() -> None:
    counters = Counters()
    counters.incr("requests/fitment", 3)
    monitor = PerformanceMonitor(counters=counters, rss_source=FakeRss(), clock=FakeClock())
    monitor.record("fetch", 0.2)
    monitor.add_section("cache", lambda: {"hits": 4})
    snap = monitor.snapshot()
    assert set(snap) == {"operations", "threads", "counters", "counters_flat", "memory", "cache"}
    assert snap["counters"] == {"requests": {"fitment": 3}}
    assert snap["counters_flat"] == {"requests/fitment": 3}
    assert snap["cache"] == {"hits": 4}
    json.dumps(snap)


def test_monitor_creates_its_own_counters() -> None:
    monitor = PerformanceMonitor()
    assert isinstance(monitor.counters, Counters)
    assert PerformanceMonitor().counters is not monitor.counters


def test_sections_are_computed_at_snapshot_time() -> None:
    monitor = PerformanceMonitor()
    value = {"n": 1}
    monitor.add_section("pool", lambda: dict(value))
    value["n"] = 2
    assert monitor.snapshot()["pool"] == {"n": 2}


def test_a_failing_section_does_not_lose_the_snapshot(caplog: pytest.LogCaptureFixture) -> None:
    monitor = PerformanceMonitor()

    def broken() -> dict[str, int]:
        raise RuntimeError("no pool")

    monitor.add_section("pool", broken)
    with caplog.at_level(logging.WARNING):
        snap = monitor.snapshot()
    assert snap["pool"] == {"error": "RuntimeError: no pool"}
    assert "operations" in snap
    assert any("pool" in r.getMessage() for r in caplog.records)


def test_reserved_section_names_are_refused() -> None:
    with pytest.raises(ValueError):
        PerformanceMonitor().add_section("memory", dict)


# -- memory ---------------------------------------------------------------------------


def feed(monitor: PerformanceMonitor, clock: FakeClock, rss: FakeRss, values: list[int]) -> None:
    for value in values:
        rss.value = value
        monitor.sample_memory()
        clock.now += 1.0


def make_memory_monitor(
    max_memory_samples: int = 600,
) -> tuple[PerformanceMonitor, FakeClock, FakeRss]:
    clock, rss = FakeClock(), FakeRss()
    monitor = PerformanceMonitor(clock=clock, rss_source=rss, max_memory_samples=max_memory_samples)
    return monitor, clock, rss


def test_flat_memory_is_stable(caplog: pytest.LogCaptureFixture) -> None:
    monitor, clock, rss = make_memory_monitor()
    noise = random.Random(2)
    with caplog.at_level(logging.WARNING):
        feed(monitor, clock, rss, [200 * MIB + noise.randint(-MIB, MIB) for _ in range(120)])
    report = monitor.memory_report()
    assert report["trend"] == "stable"
    assert abs(report["slope_bytes_per_min"]) < MIB
    assert report["warmup_seconds"] == pytest.approx(0.2 * 119)
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_rising_memory_is_growing_and_warns_once(caplog: pytest.LogCaptureFixture) -> None:
    monitor, clock, rss = make_memory_monitor()
    with caplog.at_level(logging.WARNING, logger="custom_wheel_offset.metrics.monitor"):
        feed(monitor, clock, rss, [100 * MIB + i * MIB for i in range(100)])  # +1 MiB/s
        report = monitor.memory_report()
        monitor.memory_report()
    assert report["trend"] == "growing"
    assert report["slope_bytes_per_min"] == pytest.approx(60 * MIB, rel=1e-6)
    assert report["growth_bytes"] == pytest.approx(79 * MIB, rel=1e-6)
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1
    assert "memory keeps growing" in warnings[0].getMessage()


def test_growth_below_ten_mib_is_stable() -> None:
    # +35 % but only 7 MiB: a small process filling its caches is not a leak.
    monitor, clock, rss = make_memory_monitor()
    feed(monitor, clock, rss, [20 * MIB + i * 100_000 for i in range(100)])
    assert monitor.memory_report()["trend"] == "stable"


def test_growth_below_ten_percent_is_stable() -> None:
    # +79 MiB, but on a 2 GiB process that is under 10 %.
    monitor, clock, rss = make_memory_monitor()
    feed(monitor, clock, rss, [2048 * MIB + i * MIB for i in range(100)])
    assert monitor.memory_report()["trend"] == "stable"


def test_growth_during_warm_up_is_ignored() -> None:
    monitor, clock, rss = make_memory_monitor()
    values = [50 * MIB + i * 10 * MIB for i in range(20)] + [250 * MIB] * 80
    feed(monitor, clock, rss, values)
    assert monitor.memory_report()["trend"] == "stable"


def test_few_samples_are_insufficient_data() -> None:
    monitor, clock, rss = make_memory_monitor()
    feed(monitor, clock, rss, [100 * MIB + i * 50 * MIB for i in range(8)])
    report = monitor.memory_report()
    assert report["trend"] == "insufficient_data"
    assert report["slope_bytes_per_min"] is None
    assert report["peak_rss_bytes"] == 100 * MIB + 7 * 50 * MIB


def test_no_samples() -> None:
    report = PerformanceMonitor().memory_report()
    assert report["samples"] == []
    assert report["trend"] == "insufficient_data"
    assert report["peak_rss_bytes"] is None


def test_memory_samples_are_bounded_and_evenly_thinned() -> None:
    monitor, clock, rss = make_memory_monitor(max_memory_samples=50)
    values = [100 * MIB + (i % 7) for i in range(1000)]
    values[333] = 900 * MIB  # a spike that thinning may drop from the list
    feed(monitor, clock, rss, values)
    report = monitor.memory_report()
    times = [t for t, _ in report["samples"]]
    assert 25 <= len(times) < 50
    assert times == sorted(times)
    assert times[0] == 0.0
    gaps = {round(b - a, 6) for a, b in itertools.pairwise(times)}
    assert len(gaps) == 1  # evenly spaced over the whole run
    assert times[-1] > 900  # covers the whole run, not just its start
    assert report["peak_rss_bytes"] == 900 * MIB
    assert report["start_rss_bytes"] == values[0]
    assert report["end_rss_bytes"] == values[-1]


def test_memory_trend_function_directly() -> None:
    assert memory_trend([])["trend"] == "insufficient_data"
    same_time = [(20.0, 100 * MIB)] * 10
    assert memory_trend(same_time)["trend"] == "insufficient_data"


def test_sampler_thread_samples_and_stops() -> None:
    rss = FakeRss()
    monitor = PerformanceMonitor(rss_source=rss)
    monitor.start_memory_sampler(interval=0.01)
    monitor.start_memory_sampler(interval=0.01)  # idempotent
    deadline = time.monotonic() + 10
    while len(monitor.memory_report()["samples"]) < 5 and time.monotonic() < deadline:
        time.sleep(0.01)
    sampler = monitor._sampler
    monitor.stop_memory_sampler()
    assert sampler is not None and not sampler.is_alive()
    report = monitor.memory_report()
    assert len(report["samples"]) >= 5
    assert report["peak_rss_bytes"] == 100 * MIB
    count = len(report["samples"])
    time.sleep(0.05)
    assert len(monitor.memory_report()["samples"]) == count
    monitor.stop_memory_sampler()  # no-op


def test_default_rss_source_uses_psutil() -> None:
    rss = PerformanceMonitor().sample_memory()
    assert rss > 1024 * 1024


def test_latency_histogram_counts_every_duration_in_doubling_buckets() -> None:
    from custom_wheel_offset.metrics.monitor import HISTOGRAM_BOUNDS

    monitor = PerformanceMonitor(reservoir_size=2)
    for seconds in (0.0001, 0.0003, 0.003, 0.003, 40.0):
        monitor.record("op", seconds)
    histogram = monitor.operations()["op"]["histogram"]
    assert histogram["le"][:3] == [0.00025, 0.0005, 0.001] and histogram["le"][-1] is None
    assert len(histogram["counts"]) == len(HISTOGRAM_BOUNDS) + 1 == len(histogram["le"])
    assert sum(histogram["counts"]) == 5  # every duration, though the reservoir holds 2
    assert histogram["counts"][0] == 1  # <= 0.25 ms
    assert histogram["counts"][1] == 1  # <= 0.5 ms
    assert histogram["counts"][HISTOGRAM_BOUNDS.index(0.004)] == 2
    assert histogram["counts"][-1] == 1  # slower than the last bound
