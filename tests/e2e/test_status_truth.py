"""Issue 16 item 6: `cwo status` tells a dead run from a running one at once.

A real `cwo scrape` process is killed with SIGKILL mid-crawl (it can write
nothing more); `cwo status --json` and the text output, asked right after,
must say the run ended with its process gone and the worker is gone, not
live. The report's configuration names the User-Agent that was sent.
"""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest

from custom_wheel_offset.storage.runs import PROCESS_GONE

from .conftest import cwo_subprocess, invoke, scrape_args, status_json, wait_until

pytestmark = pytest.mark.slow


def test_sigkilled_run_shows_as_ended_process_gone_at_once(sandbox, tmp_db: str) -> None:
    with sandbox("tiny", latency_ms=60) as sb:
        proc = cwo_subprocess(scrape_args(sb, tmp_db, "--workers", "2"))
        try:
            wait_until(lambda: sb.counters()["total_requests"] > 5, 60, "the crawl to be under way")
            # Under way and registered: the run and its worker show as running and live.
            before = status_json(tmp_db)
            assert before["runs"][0]["outcome"] == "running", before["runs"]
            assert [w["state"] for w in before["workers"]] == ["live"], before["workers"]
        finally:
            os.kill(proc.pid, signal.SIGKILL)
            proc.communicate(timeout=10)
        assert proc.returncode == -signal.SIGKILL

    # Asked at once: no heartbeat has had time to age, only the pid can tell.
    status = status_json(tmp_db)
    run = status["runs"][0]
    assert run["pid"] == proc.pid
    assert run["outcome"] == PROCESS_GONE, run
    assert run["stored_outcome"] == "running"
    assert run["ended_at"] is None
    assert [(w["pid"], w["state"]) for w in status["workers"]] == [(proc.pid, "gone")]
    assert time.time() - status["workers"][0]["heartbeat_at"] < 60  # fresh, yet gone

    text = invoke("status", "--db", tmp_db)
    assert text.exit_code == 0, text.output
    run_line = next(
        line for line in text.stdout.splitlines() if f"pid {proc.pid}" in line and "run" in line
    )
    assert PROCESS_GONE in run_line and "running" not in run_line, run_line
    assert any(line.strip().startswith("gone ") for line in text.stdout.splitlines()), text.stdout


def test_report_configuration_names_the_user_agent_sent(
    sandbox, tmp_db: str, tmp_path: Path
) -> None:
    from custom_wheel_offset.settings import Settings

    with sandbox("tiny") as sb:
        assert invoke(*scrape_args(sb, tmp_db, "--stages", "tree")).exit_code == 0
    out = tmp_path / "report.json"
    assert invoke("report", "--db", tmp_db, "--out", str(out)).exit_code == 0
    user_agent = json.loads(out.read_text())["config"]["user_agent"]
    # The network manager sends Settings.effective_user_agent (tests/net checks the header).
    assert user_agent == Settings().effective_user_agent
    assert user_agent.startswith("cwo/"), user_agent
