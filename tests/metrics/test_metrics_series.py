"""The per-interval series stays bounded for any run length and keeps its totals."""

from __future__ import annotations

import pytest

from custom_wheel_offset.metrics.series import IntervalSeries, series_channel, status_class
from custom_wheel_offset.metrics.tracker import MetricTracker

WEEK = 7 * 24 * 3600


def test_a_simulated_week_long_run_stays_bounded_and_keeps_its_totals() -> None:
    # A fake clock: one sample a minute for a week through the real tracker
    # (the sampler takes one a second; a minute keeps the test quick, the
    # merging is the same).
    now = [0.0]
    rss = [50 * 1024 * 1024]
    tracker = MetricTracker(clock=lambda: now[0], rss_source=lambda: rss[0])
    tracker.add_gauges(lambda: {"in_flight": 4.0})
    largest = 0
    expected_requests = 0
    for minute in range(WEEK // 60):
        n = 1 + minute % 7
        tracker.counters.incr("requests/fitment", n)
        tracker.counters.incr("responses/200", n)
        expected_requests += n
        tracker.sample()
        largest = max(largest, tracker.series()["points"] if minute % 997 == 0 else 0)
        now[0] += 60.0
    series = tracker.series()
    assert series["points"] <= series["max_points"] == 360
    assert largest <= 360
    assert series["interval_seconds"] * series["points"] >= WEEK - 60
    assert sum(series["counts"]["requests/fitment"]) == expected_requests
    assert sum(series["counts"]["responses/2xx"]) == expected_requests
    assert set(series["gauges"]["in_flight"]) == {4.0}
    assert len(series["t"]) == len(series["counts"]["requests/fitment"]) == series["points"]
    assert sum(series["covered_seconds"]) == (WEEK // 60 - 1) * 60.0


def test_merging_halves_resolution_and_keeps_gauge_means() -> None:
    series = IntervalSeries(interval=1, max_points=4)
    for t in range(8):
        series.add(float(t), {"n": 1}, {"g": float(t)}, covered=1.0)
    assert len(series) == 4 and series.interval == 2
    out = series.to_dict()
    assert out["counts"]["n"] == [2, 2, 2, 2]
    assert out["gauges"]["g"] == [0.5, 2.5, 4.5, 6.5]
    assert out["covered_seconds"] == [2.0, 2.0, 2.0, 2.0]
    series.add(8.0, {"n": 1})
    assert series.interval == 4 and len(series) == 3
    assert series.totals() == {"n": 9}


def test_a_gap_leaves_empty_intervals_and_missing_gauges() -> None:
    series = IntervalSeries(interval=5, max_points=10)
    series.add(0.0, {"n": 2}, {"g": 1.0})
    series.add(12.0, {"n": 1}, {"g": None})
    out = series.to_dict()
    assert out["t"] == [0.0, 5.0, 10.0]
    assert out["counts"]["n"] == [2, 0, 1]
    assert out["gauges"]["g"] == [1.0, None, None]


@pytest.mark.parametrize("bad", [{"interval": 0}, {"max_points": 3}, {"max_points": 1}])
def test_bad_bounds_are_refused(bad: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        IntervalSeries(**bad)  # type: ignore[arg-type]


def test_channels() -> None:
    assert series_channel("requests/fitment") == "requests/fitment"
    assert series_channel("responses/503") == "responses/5xx"
    assert series_channel("responses/429") == "responses/429"
    assert series_channel("retries/vehicle") == "retries"
    assert series_channel("retries/reason/timeout") is None
    assert series_channel("challenges/vehicle") == "challenges"
    assert series_channel("items/done/fitment") == "items_done/fitment"
    assert series_channel("items/failed/x") is None
    assert series_channel("writer/rows") == "writer_rows"
    assert status_class("abc") == "other"
