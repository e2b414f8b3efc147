"""Issue 3 end to end: `cwo scrape` over real HTTP into a real SQLite file equals the truth."""

from __future__ import annotations

import json
import os
import platform
import random
import signal
import sqlite3
import sys
import time
from pathlib import Path

import pytest

from .conftest import cwo_subprocess, export_matches_truth, invoke, scrape_args

RECORD_KINDS = ("vehicle", "fitment")


def test_tiny_crawl_equals_truth_and_report_agrees_with_sandbox(
    sandbox, truth_dir, tmp_db: str, tmp_path: Path
) -> None:
    with sandbox("tiny") as sb:
        result = invoke(*scrape_args(sb, tmp_db, "--workers", "10"))
        assert result.exit_code == 0, result.output
        served = sb.counters()
    export_matches_truth(tmp_db, truth_dir("tiny"), tmp_path)

    report_file = tmp_path / "report.json"
    result = invoke("report", "--db", tmp_db, "--out", str(report_file))
    assert result.exit_code == 0, result.output
    report = json.loads(report_file.read_text())
    from custom_wheel_offset.metrics.report import validate_report

    assert validate_report(report) == []
    assert report["run"]["outcome"] == "complete"
    # What the scraper says it sent is what the sandbox says it received.
    assert {k: v for k, v in report["requests"]["by_kind"].items() if v} == {
        k: v for k, v in served["requests"].items() if v
    }
    for section in ("operations", "threads", "writer", "memory", "config", "cache"):
        assert report[section], section
    # Every claim names preference sets; only the first sight of each is read.
    cache = report["cache"]
    assert cache["misses"] == cache["size"] > 0
    assert cache["hits"] > cache["misses"]
    assert report["writer"]["rows_per_transaction"] > 1
    assert report["memory"]["samples"]
    if sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc":
        if not os.environ.get("MALLOC_ARENA_MAX"):
            allocator = report["memory"]["allocator"]
            assert (allocator["malloc_arena_max"], allocator["source"]) == (2, "cwo")
    if hasattr(os, "sched_setaffinity") and len(os.sched_getaffinity(0)) > 1:
        assert report["memory"]["allocator"]["cpu_affinity"]["cpus"] == "one"
    assert "fitment" in str(report["operations"])


def test_small_crawl_with_ten_workers_equals_truth(
    sandbox, truth_dir, tmp_db: str, tmp_path: Path
) -> None:
    with sandbox("small") as sb:
        result = invoke(*scrape_args(sb, tmp_db, "--workers", "10"))
        assert result.exit_code == 0, result.output
    export_matches_truth(tmp_db, truth_dir("small"), tmp_path)


def test_skip_existing_rerun_fetches_no_vehicle_or_fitment(
    sandbox, tmp_db: str, tmp_path: Path
) -> None:
    with sandbox("tiny") as sb:
        assert invoke(*scrape_args(sb, tmp_db, "--workers", "6")).exit_code == 0
        before = _row_counts(tmp_db)
        sb.reset_counters()
        result = invoke(*scrape_args(sb, tmp_db, "--workers", "6", "--skip-existing"))
        assert result.exit_code == 0, result.output
        served = sb.counters()["requests"]
    assert served.get("vehicle", 0) == 0 and served.get("fitment", 0) == 0
    assert served.get("years", 0) == 1  # the listings were walked again
    assert _row_counts(tmp_db) == before


def test_without_skip_existing_a_new_crawl_fetches_everything_again(sandbox, tmp_db: str) -> None:
    with sandbox("tiny") as sb:
        assert invoke(*scrape_args(sb, tmp_db, "--workers", "6")).exit_code == 0
        first = dict(sb.counters()["requests"])
        sb.reset_counters()
        assert invoke(*scrape_args(sb, tmp_db, "--workers", "6")).exit_code == 0
        second = sb.counters()["requests"]
    assert second["fitment"] == first["fitment"] and second["vehicle"] == first["vehicle"]


def _row_counts(db_url: str) -> tuple[int, int]:
    path = db_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as conn:
        return (
            conn.execute("SELECT count(*) FROM vehicles").fetchone()[0],
            conn.execute("SELECT count(*) FROM fitments").fetchone()[0],
        )


def _leased_records(db_url: str) -> int:
    path = db_url.removeprefix("sqlite:///")
    with sqlite3.connect(path) as conn:
        return conn.execute(
            "SELECT count(*) FROM frontier "
            "WHERE status = 'leased' AND kind IN ('vehicle', 'fitment')"
        ).fetchone()[0]


@pytest.mark.parametrize("seed", [11])
def test_sigkill_at_a_random_moment_then_restart_equals_truth(
    sandbox, truth_dir, tmp_db: str, tmp_path: Path, seed: int
) -> None:
    """Only what was in flight when the process died is fetched twice."""
    rng = random.Random(seed)
    with sandbox("small", latency_ms=5) as sb:
        args = scrape_args(sb, tmp_db, "--workers", "10")
        proc = cwo_subprocess(args)
        # Kill once the fitment stage is under way (a random moment within it).
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and sb.counters()["requests"].get("fitment", 0) < 200:
            time.sleep(0.05)
        time.sleep(rng.uniform(0.0, 1.0))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        in_flight = _leased_records(tmp_db)
        assert 0 < sb.counters()["requests"]["fitment"] < 4000, "the kill missed the fitment stage"
        again = cwo_subprocess(args)
        out, _ = again.communicate(timeout=240)
        assert again.returncode == 0, out.decode(errors="replace")[-2000:]
        duplicates = sb.counters()["duplicate_ok"]
    refetched = sum(duplicates.get(kind, 0) for kind in RECORD_KINDS)
    assert refetched <= in_flight, (refetched, in_flight)
    export_matches_truth(tmp_db, truth_dir("small"), tmp_path)
