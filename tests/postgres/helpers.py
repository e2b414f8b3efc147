"""Helpers of the PostgreSQL tests: run the real `cwo` command line in subprocesses."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from custom_wheel_offset.sandbox.server import RunningSandbox

SCRAPE_TIMEOUT = 150.0

STARTED: list[subprocess.Popen[bytes]] = []
"""Every scrape started by a test; the ``_no_leftover_scrapes`` fixture kills what still runs."""


def child_env() -> dict[str, str]:
    """The test's environment for a `cwo` subprocess, talking to 127.0.0.1 directly."""
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env["NO_PROXY"] = "127.0.0.1,localhost"
    env["PYTHONUNBUFFERED"] = "1"
    return env


def cwo(*args: str, timeout: float = 60.0) -> subprocess.CompletedProcess[str]:
    """Run one `cwo` command to its end; its output is kept for assertion messages."""
    return subprocess.run(
        [sys.executable, "-m", "custom_wheel_offset", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=child_env(),
        check=False,
    )


@dataclass
class Scrape:
    """A `cwo scrape` subprocess writing its output to a log file."""

    name: str
    proc: subprocess.Popen[bytes]
    log: Path

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def wait(self, timeout: float = SCRAPE_TIMEOUT) -> int:
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            pytest.fail(f"{self.name} did not finish in {timeout:.0f} s:\n{self.output()[-3000:]}")


def start_scrape(
    sb: RunningSandbox,
    db_url: str,
    name: str,
    log_dir: Path,
    *extra: str,
    workers: int = 8,
) -> Scrape:
    """Start `cwo scrape --workers N --worker-name NAME` against ``sb`` and ``db_url``."""
    log = log_dir / f"{name}.log"
    command: Sequence[str] = [
        sys.executable,
        "-m",
        "custom_wheel_offset",
        "scrape",
        "--workers",
        str(workers),
        "--worker-name",
        name,
        "--db",
        db_url,
        "--api-base",
        sb.api_base,
        "--store-base",
        sb.store_base,
        "--rate",
        "0",
        "--progress",
        "off",
        *extra,
    ]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            command, stdout=out, stderr=subprocess.STDOUT, env=child_env(), cwd=log_dir
        )
    STARTED.append(proc)
    return Scrape(name, proc, log)


def assert_export_equals_truth(db_url: str, truth: Path, out_dir: Path) -> None:
    """`cwo export` of vehicles and fitments is byte-identical to the truth files."""
    for what in ("vehicles", "fitments"):
        out = out_dir / f"export-{what}.jsonl"
        result = cwo(
            "export", "--what", what, "--format", "jsonl", "--db", db_url, "--out", str(out)
        )
        assert result.returncode == 0, result.stderr
        expected = (truth / f"{what}.jsonl").read_bytes()
        got = out.read_bytes()
        if got != expected:
            exp_lines, got_lines = expected.splitlines(), got.splitlines()
            missing = len(set(exp_lines) - set(got_lines))
            extra = len(set(got_lines) - set(exp_lines))
            pytest.fail(
                f"{what}: export differs from the truth: {len(got_lines)} lines vs "
                f"{len(exp_lines)}; {missing} missing, {extra} unexpected"
            )


def duplicates(counters: dict[str, Any], kinds: Sequence[str]) -> dict[str, int]:
    """Kinds whose URLs the sandbox answered successfully more than once."""
    return {k: counters["duplicate_ok"][k] for k in kinds if counters["duplicate_ok"][k]}
