"""Issue 4 end to end: signals, SIGKILL, overlapping cron runs and cron output.

Every scrape that is interrupted here is a real ``cwo`` process
(``cwo_subprocess``) against the in-process sandbox, given some latency (or
held requests, or a long 429 pause) so that it is really mid-run when the
signal arrives. After each interruption the next run must complete the same
crawl, equal to the truth.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from custom_wheel_offset.errors import (
    EXIT_FAILED_ITEMS,
    EXIT_LOCKED,
    EXIT_OK,
    EXIT_SIGINT,
    EXIT_SIGTERM,
)

from .conftest import (
    cwo_run,
    cwo_subprocess,
    export_matches_truth,
    frontier_totals,
    invoke,
    scrape_args,
    sqlite_file,
    status_json,
    wait_until,
)

pytestmark = pytest.mark.slow


def _fitments_requested(sb) -> int:  # type: ignore[no-untyped-def]
    return sb.counters()["requests"].get("fitment", 0)


def _hold_requests_mid_run(sb) -> None:  # type: ignore[no-untyped-def]
    """Once the fitment stage is under way, let the server hold half the requests for 60 s.

    The client's read timeout is 30 s (the default), so the held requests are
    still in flight when the signal comes.
    """
    from custom_wheel_offset.sandbox import FaultConfig

    wait_until(lambda: _fitments_requested(sb) >= 20, 60, "the fitment stage")
    sb.set_faults(FaultConfig(latency_ms=40, hold_rate=0.5, hold_seconds=60))
    wait_until(lambda: sb.counters()["faults"]["held"] >= 2, 30, "two held requests")
    assert sb.counters()["in_flight"] >= 2


def _stop_with(proc: subprocess.Popen[bytes], signum: int) -> tuple[int, float, str]:
    """Send ``signum``; (exit code, seconds until the process ended, its output)."""
    sent = time.monotonic()
    proc.send_signal(signum)
    try:
        out, _ = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        out, _ = proc.communicate()
        pytest.fail(f"still running 30 s after {signal.Signals(signum).name}: {out[-2000:]!r}")
    return proc.returncode, time.monotonic() - sent, out.decode("utf-8", "replace")


def _latest_run(db_url: str) -> dict[str, object]:
    return status_json(db_url)["runs"][0]


def _integrity(db_url: str) -> str:
    with sqlite3.connect(sqlite_file(db_url)) as conn:
        return conn.execute("PRAGMA integrity_check").fetchone()[0]


def _complete_and_equal(sb, db_url: str, truth: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from custom_wheel_offset.sandbox import FaultConfig

    sb.set_faults(FaultConfig())
    result = invoke(*scrape_args(sb, db_url, "--workers", "10"))
    assert result.exit_code == EXIT_OK, result.output[-3000:]
    export_matches_truth(db_url, truth, tmp_path)
    assert frontier_totals(db_url).keys() == {"done"}


# -- SIGINT / SIGTERM ----------------------------------------------------------------------------


def test_sigint_mid_run_with_held_requests_exits_130_within_10s_and_the_next_run_completes(
    sandbox, truth_dir, tmp_db: str, tmp_path: Path
) -> None:
    """Some requests are held by the server for 60 s (default read timeout 30 s) at Ctrl-C."""
    with sandbox("tiny", latency_ms=40) as sb:
        proc = cwo_subprocess(scrape_args(sb, tmp_db, "--workers", "4"))
        _hold_requests_mid_run(sb)
        code, seconds, out = _stop_with(proc, signal.SIGINT)
        assert code == EXIT_SIGINT, out[-3000:]
        assert seconds < 10, f"exit took {seconds:.1f} s"
        assert "interrupted" in out and "resumes" in out, out[-1000:]
        run = _latest_run(tmp_db)
        assert run["outcome"] == "interrupted" and run["exit_code"] == EXIT_SIGINT, run
        assert frontier_totals(tmp_db).get("leased", 0) == 0, "leases were not given back"
        _complete_and_equal(sb, tmp_db, truth_dir("tiny"), tmp_path)


def test_sigterm_during_a_long_retry_after_pause_exits_143_within_10s(
    sandbox, truth_dir, tmp_db: str, tmp_path: Path
) -> None:
    """A 429 with Retry-After: 30 parks every worker; SIGTERM must still end the run at once."""
    with sandbox("tiny", latency_ms=20, rate_429=0.05, retry_after=30) as sb:
        proc = cwo_subprocess(scrape_args(sb, tmp_db, "--workers", "4"))
        wait_until(lambda: sb.counters()["faults"]["rate_429"] > 0, 60, "a 429")
        time.sleep(0.5)  # the client is now waiting out the 30 s pause
        code, seconds, out = _stop_with(proc, signal.SIGTERM)
        assert code == EXIT_SIGTERM, out[-3000:]
        assert seconds < 10, f"exit took {seconds:.1f} s"
        run = _latest_run(tmp_db)
        assert run["outcome"] == "interrupted" and run["exit_code"] == EXIT_SIGTERM, run
        assert frontier_totals(tmp_db).get("leased", 0) == 0
        _complete_and_equal(sb, tmp_db, truth_dir("tiny"), tmp_path)


def test_second_ctrl_c_exits_at_once_without_damaging_the_database(
    sandbox, truth_dir, tmp_db: str, tmp_path: Path
) -> None:
    with sandbox("tiny", latency_ms=40) as sb:
        proc = cwo_subprocess(scrape_args(sb, tmp_db, "--workers", "4"))
        _hold_requests_mid_run(sb)
        proc.send_signal(signal.SIGINT)
        time.sleep(0.2)
        code, seconds, out = _stop_with(proc, signal.SIGINT)
        assert code == EXIT_SIGINT, out[-3000:]
        assert seconds < 2, f"the second Ctrl-C took {seconds:.1f} s"
        assert _integrity(tmp_db) == "ok"
        _complete_and_equal(sb, tmp_db, truth_dir("tiny"), tmp_path)


def test_three_sigkills_at_random_moments_each_followed_by_a_restart_end_equal_to_truth(
    sandbox, truth_dir, tmp_db: str, tmp_path: Path
) -> None:
    rng = random.Random(4)
    # 60 ms per request: a whole run is about 7 s of requests, three kills at most 3.6 s.
    with sandbox("tiny", latency_ms=60) as sb:
        args = scrape_args(sb, tmp_db, "--workers", "4")
        for kill in range(3):
            before = sb.counters()["total_requests"]
            proc = cwo_subprocess(args)
            wait_until(
                lambda before=before: sb.counters()["total_requests"] > before,
                60,
                f"run {kill + 1} to send requests",
            )
            time.sleep(rng.uniform(0.0, 1.2))
            assert proc.poll() is None, f"run {kill + 1} ended before its SIGKILL"
            os.kill(proc.pid, signal.SIGKILL)
            proc.communicate(timeout=10)
            assert proc.returncode == -signal.SIGKILL
            assert _integrity(tmp_db) == "ok"
        runs = status_json(tmp_db)["runs"]
        assert len(runs) == 3 and {r["stored_outcome"] for r in runs} == {"running"}, runs
        assert {r["outcome"] for r in runs} == {"ended (process gone)"}, runs
        _complete_and_equal(sb, tmp_db, truth_dir("tiny"), tmp_path)
    final = status_json(tmp_db)["runs"][0]
    assert final["outcome"] == "complete"
    assert len({r["crawl_id"] for r in status_json(tmp_db)["runs"]}) == 1, "not one crawl resumed"


# -- two runs on one database ----------------------------------------------------------------


def test_overlapping_runs_second_exits_4_naming_the_holder_and_wait_queues(
    sandbox, truth_dir, tmp_db: str, tmp_path: Path
) -> None:
    from custom_wheel_offset.sandbox import FaultConfig

    with sandbox("tiny", latency_ms=50) as sb:  # the first run lasts about 6 s
        args = scrape_args(sb, tmp_db, "--workers", "4")
        first = cwo_subprocess(args)
        wait_until(lambda: sb.counters()["total_requests"] > 0, 60, "the first run to start")

        started = time.monotonic()
        second = invoke(*args)
        assert second.exit_code == EXIT_LOCKED, second.output
        assert time.monotonic() - started < 10, "the second run did not exit at once"
        assert f"pid {first.pid}" in second.stderr, second.stderr
        assert "--wait" in second.stderr

        queued = cwo_subprocess([*args, "--wait"])
        time.sleep(1.5)  # long enough for the queued process to reach the lock
        assert first.poll() is None, "the first run ended before the second could queue"
        assert queued.poll() is None, "the --wait run did not wait"
        out, _ = first.communicate(timeout=120)
        assert first.returncode == EXIT_OK, out[-2000:]
        sb.set_faults(FaultConfig())  # no more latency: the queued crawl goes fast
        out, _ = queued.communicate(timeout=120)
        assert queued.returncode == EXIT_OK, out[-2000:]
    runs = sorted(status_json(tmp_db)["runs"], key=lambda r: r["id"])
    assert [r["pid"] for r in runs] == [first.pid, queued.pid], runs
    assert runs[1]["started_at"] >= runs[0]["ended_at"], "the --wait run did not wait"
    export_matches_truth(tmp_db, truth_dir("tiny"), tmp_path)


# -- cron: no TTY ----------------------------------------------------------------------------------

CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")  # anything but \t and \n; \x1b starts ANSI codes
LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} (DEBUG|INFO|WARNING|ERROR|CRITICAL) ")
SUMMARY = re.compile(r"^cwo: run \d+: (complete|failed_items|partial|interrupted|blocked) ")


def _cron_args(sb, db_url: str, *extra: str) -> list[str]:  # type: ignore[no-untyped-def]
    args = scrape_args(sb, db_url, "--workers", "4", *extra)
    i = args.index("--progress")
    del args[i : i + 2]  # the default (auto): what cron gets
    return args


def _lines(raw: bytes) -> list[str]:
    text = raw.decode("utf-8")
    assert not CONTROL.search(text), [m.group() for m in CONTROL.finditer(text)][:5]
    return text.splitlines()


def test_cron_without_a_tty_writes_plain_log_lines_and_one_summary_line(
    sandbox, tmp_db: str
) -> None:
    with sandbox("tiny") as sb:
        proc = cwo_run(_cron_args(sb, tmp_db))
    assert proc.returncode == EXIT_OK, proc.stderr[-3000:]
    assert _lines(proc.stdout) == []
    lines = _lines(proc.stderr)
    summaries = [line for line in lines if SUMMARY.match(line)]
    assert summaries == [lines[-1]], lines[-3:]
    others = [line for line in lines[:-1] if not LOG_LINE.match(line)]
    assert others == [], others[:5]


def test_cron_json_logs_and_log_file(sandbox, tmp_db: str, tmp_path: Path) -> None:
    log_file = tmp_path / "cwo.log"
    with sandbox("tiny") as sb:
        proc = cwo_run(_cron_args(sb, tmp_db, "--log-format", "json", "--log-file", str(log_file)))
    assert proc.returncode == EXIT_OK, proc.stderr[-3000:]
    lines = _lines(proc.stderr)
    # Every line is JSON, the closing summary included (issue 16).
    summary = json.loads(lines[-1])
    assert summary["summary"] is True and SUMMARY.match(f"cwo: {summary['message']}"), summary
    records = [json.loads(line) for line in lines[:-1]]
    assert records and all({"ts", "level", "logger", "message"} <= r.keys() for r in records)
    assert any("complete" in r["message"] for r in records)
    in_file = [json.loads(line) for line in _lines(log_file.read_bytes())]
    assert in_file == records  # the summary is printed, not logged


def test_cron_quiet_prints_only_warnings_and_the_summary(sandbox, tmp_db: str) -> None:
    """One listing is disallowed by robots.txt: its item fails with a warning, exit 3."""
    with sandbox("tiny", robots_disallow=("/fitment/vehicle/co/2023/Honda",)) as sb:
        proc = cwo_run(_cron_args(sb, tmp_db, "--quiet"))
    assert proc.returncode == EXIT_FAILED_ITEMS, proc.stderr[-3000:]
    lines = _lines(proc.stderr)
    warnings = [line for line in lines if LOG_LINE.match(line)]
    assert warnings and all(" WARNING " in w or " ERROR " in w for w in warnings), warnings
    assert any("robots.txt" in w for w in warnings), warnings
    summaries = [line for line in lines if SUMMARY.match(line)]
    assert len(summaries) == 1 and summaries[0].startswith("cwo: run 1: failed_items"), lines
    rest = [line for line in lines if line not in warnings and line not in summaries]
    # Besides the summary, at most the one line that says what to do about the failures.
    assert all(line.startswith("cwo: ") and "cwo status" in line for line in rest), rest
