"""Issue 16 item 5 on a real crawl: the display a person sees, and JSON-only output.

The rich display is checked twice: as rich writes it to a file (the final
frame), and in a real terminal, `cwo scrape` run inside tmux at 80 columns
and the pane captured mid-crawl (skipped where tmux is missing).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from .conftest import cwo_run, scrape_args, wait_until

pytestmark = pytest.mark.slow


def test_rich_display_final_frame_of_a_real_crawl(sandbox, tmp_db: str) -> None:
    with sandbox("tiny") as sb:
        args = [*scrape_args(sb, tmp_db), "--progress", "rich", "--rate", "50"]
        proc = cwo_run(args, env={"COLUMNS": "80"})
    err = proc.stderr.decode()
    assert proc.returncode == 0, err[-3000:]
    frame = err[err.index("elapsed ") :]
    assert re.match(r"elapsed 0:00:\d\d, [\d.]+ req/s, last minute: 0 errors, 0 retries", frame)
    assert re.search(r"^  127\.0\.0\.1:\d+ [\d.?]+ req/s \(--rate 50\)$", frame, re.MULTILINE)
    for stage in ("tree", "vehicles", "preferences", "fitments"):
        line = next(x for x in frame.splitlines() if x.startswith(stage + " "))
        assert re.search(r"(\d+)/\1 done at [\d.]+/s in 0:00:\d\d\s*$", line), line
    rows = [x for x in frame.splitlines() if not re.match(r"\d{4}-\d\d-\d\d |cwo: ", x)]
    assert len(rows) == 6 and max(len(x) for x in rows) <= 80, rows
    # One log format: no rich date column ("[12/03/26 ...]") anywhere.
    assert not re.search(r"\[\d\d/\d\d/\d\d", err), err


def test_json_log_format_makes_every_line_json_summary_included(sandbox, tmp_db: str) -> None:
    with sandbox("tiny") as sb:
        args = [*scrape_args(sb, tmp_db), "--progress", "plain", "--log-format", "json"]
        proc = cwo_run(args)
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = proc.stderr.decode().splitlines()
    records = [json.loads(line) for line in lines]  # fails on any line that is not JSON
    assert any(r["message"].startswith("progress finished after") for r in records)
    summary = records[-1]
    assert summary["summary"] is True and summary["outcome"] == "complete", summary
    assert summary["exit_code"] == 0 and summary["message"].startswith("run 1: complete")
    assert proc.stdout == b""


@pytest.mark.skipif(shutil.which("tmux") is None, reason="needs tmux")
def test_rich_display_in_a_real_terminal_mid_crawl(sandbox, tmp_db: str, tmp_path: Path) -> None:
    session = f"cwo-test-{time.monotonic_ns()}"
    with sandbox("tiny", latency_ms=20) as sb:
        args = [*scrape_args(sb, tmp_db), "--progress", "rich", "--workers", "2"]
        command = " ".join([sys.executable, "-m", "custom_wheel_offset", *args])
        subprocess.run(
            [
                "tmux",
                "new-session",
                "-d",
                "-s",
                session,
                "-x",
                "80",
                "-y",
                "30",
                command + "; sleep 60",
            ],
            check=True,
        )
        try:

            def pane() -> str:
                return subprocess.run(
                    ["tmux", "capture-pane", "-p", "-t", session],
                    capture_output=True,
                    text=True,
                    check=True,
                ).stdout

            wait_until(
                lambda: re.search(r"fitments .*/s, ETA", pane()) is not None, 60, "fitments running"
            )
            mid = pane()
            wait_until(lambda: "cwo: run 1: complete" in pane(), 60, "the run to end")
            end = pane()
        finally:
            subprocess.run(["tmux", "kill-session", "-t", session], check=False)
    assert re.search(r"^elapsed 0:00:\d\d, [\d.?]+ req/s, last minute: ", mid, re.MULTILINE), mid
    assert re.search(r"^tree\s+\S+ +\d+/\d+ ", mid, re.MULTILINE), mid
    assert mid.count("elapsed ") == 1, "the display is drawn once, not scrolled"
    assert max(len(x) for x in mid.splitlines()) <= 80
    assert re.search(r"^fitments\s+\S+ +(\d+)/\1 done at", end, re.MULTILINE), end
