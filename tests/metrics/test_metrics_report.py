"""The run's metrics JSON: keys, derived totals, summary, writing."""

from __future__ import annotations

import json
from typing import Any

from custom_wheel_offset.metrics.counters import Counters
from custom_wheel_offset.metrics.monitor import PerformanceMonitor
from custom_wheel_offset.metrics.report import (
    REPORT_KEYS,
    build_report,
    summary_lines,
    validate_report,
)

MIB = 1024 * 1024

RUN = {
    "id": 7,
    "started_at": 1_700_000_000.0,
    "ended_at": 1_700_000_100.0,
    "outcome": "completed",
    "exit_code": 0,
    "host": "box",
    "pid": 1234,
}


def make_snapshot() -> dict[str, Any]:
    counters = Counters()
    counters.incr("requests/fitment", 150)
    counters.incr("requests/listing", 50)
    counters.incr("responses/200", 190)
    counters.incr("responses/429", 10)
    counters.incr("retries/fitment", 8)
    counters.incr("retries/listing", 2)
    counters.incr("retry_reason/429", 9)
    counters.incr("retry_reason/timeout", 1)
    counters.incr("records/added/vehicle", 40)
    counters.incr("records/added/fitment", 60)
    counters.incr("records/changed/vehicle", 5)
    counters.incr("records/unchanged/fitment", 7)
    counters.incr("records/skipped", 3)
    counters.incr("records/failed/fitment", 2)
    rss = iter(range(100 * MIB, 200 * MIB, MIB))
    now = [0.0]

    def clock() -> float:
        return now[0]

    monitor = PerformanceMonitor(counters=counters, clock=clock, rss_source=lambda: next(rss))
    for _ in range(50):
        monitor.sample_memory()
        now[0] += 1.0
    monitor.record("fetch", 0.2)
    monitor.record("fetch", 0.4, ok=False)
    monitor.add_section("writer", lambda: {"batches": 4, "rows": 100, "rows_per_transaction": 25})
    monitor.add_section("cache", lambda: {"hits": 3, "misses": 1, "hit_rate": 0.75})
    return monitor.snapshot()


def make_report() -> dict[str, Any]:
    return build_report(
        run=RUN,
        settings_public={"workers": 10, "db": "postgresql://u:***@h/db"},
        snapshot=make_snapshot(),
    )


def test_top_level_keys_exactly() -> None:
    report = make_report()
    assert list(report) == list(REPORT_KEYS)
    assert report["schema_version"] == 1
    assert validate_report(report) == []
    json.dumps(report)


def test_run_section() -> None:
    run = make_report()["run"]
    assert run["id"] == 7
    assert run["started_at"] == "2023-11-14T22:13:20.000Z"
    assert run["ended_at"] == "2023-11-14T22:15:00.000Z"
    assert run["duration_seconds"] == 100.0
    assert (run["outcome"], run["exit_code"], run["host"], run["pid"]) == (
        "completed",
        0,
        "box",
        1234,
    )


def test_config_is_passed_through() -> None:
    assert make_report()["config"] == {"workers": 10, "db": "postgresql://u:***@h/db"}


def test_requests_retries_and_records_are_derived_from_counters() -> None:
    report = make_report()
    assert report["requests"] == {
        "by_kind": {"fitment": 150, "listing": 50},
        "by_status": {"200": 190, "429": 10},
        "total": 200,
    }
    assert report["retries"]["by_kind"] == {"fitment": 8, "listing": 2}
    assert report["retries"]["by_reason"] == {"429": 9, "timeout": 1}
    assert report["retries"]["total"] == 10
    records = report["records"]
    assert (
        records["added"],
        records["changed"],
        records["unchanged"],
        records["skipped"],
        records["failed"],
    ) == (100, 5, 7, 3, 2)
    assert records["by_kind"]["added"] == {"fitment": 60, "vehicle": 40}


def test_sections_and_missing_sections() -> None:
    report = make_report()
    assert report["writer"]["rows_per_transaction"] == 25
    assert report["cache"]["hit_rate"] == 0.75
    assert report["pool"] == {}
    assert report["network"] == {}
    assert report["progress"] == {}
    assert report["memory"]["trend"] == "growing"
    assert report["operations"]["fetch"]["errors"] == 1


def test_empty_snapshot_still_valid() -> None:
    report = build_report(run={}, settings_public={}, snapshot={})
    assert validate_report(report) == []
    assert report["requests"]["total"] == 0
    assert report["records"]["added"] == 0
    assert report["run"]["duration_seconds"] is None
    assert all(line for line in summary_lines(report))


def test_validate_reports_missing_keys() -> None:
    report = make_report()
    del report["memory"]
    del report["run"]["pid"]
    del report["records"]["failed"]
    assert validate_report(report) == ["memory", "run.pid", "records.failed"]


def test_summary_lines() -> None:
    text = "\n".join(summary_lines(make_report()))
    assert "run 7: completed" in text
    assert "1m40s" in text
    assert "requests: 200" in text
    assert "429: 10" in text
    assert "added 100" in text
    assert "failed 2" in text
    assert "1 operation error" in text
    assert "2.00 requests/s" in text
    assert "peak RSS 149.0 MiB" in text
    assert "trend growing" in text
