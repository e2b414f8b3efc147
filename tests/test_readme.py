"""The README's examples work as written: every block marked ``sh runnable`` is run.

The blocks run in order, in one temporary directory, each in its own
``sh -e`` subprocess (like a reader pasting them one after another) against
the built-in sandbox at its tiny size. ``cwo`` is this checkout's package
(a shim on ``PATH``) and ``python3 -m pip install ...`` is skipped: that the
install works on a fresh clone is what ``.ci/run`` shows. The set-up
commands, the crontab example and ``.ci/run`` are also checked against each
other, so the README cannot drift from what CI runs.
"""

from __future__ import annotations

import os
import re
import shlex
import stat
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
FENCE = re.compile(r"^```([^\n]*)\n(.*?)^```", re.MULTILINE | re.DOTALL)
PIP_INSTALL = re.compile(r"python3 -m pip install -e \S+ && ")


def _blocks(info: str) -> list[str]:
    text = README.read_text(encoding="utf-8")
    return [body for found, body in FENCE.findall(text) if found.strip() == info]


def _shim(bin_dir: Path) -> None:
    bin_dir.mkdir()
    cwo = bin_dir / "cwo"
    cwo.write_text(f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -m custom_wheel_offset "$@"\n')
    cwo.chmod(cwo.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


def test_every_runnable_block_runs_against_the_sandbox(tmp_path: Path) -> None:
    blocks = _blocks("sh runnable")
    assert len(blocks) >= 4, "the set-up, export, report and status examples are runnable"
    _shim(tmp_path / "bin")
    env = {
        **os.environ,
        "PATH": f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": str(ROOT / "src"),
    }
    exported: dict[str, str] = {}
    for block in blocks:
        script = PIP_INSTALL.sub("", block)
        proc = subprocess.run(
            ["sh", "-e", "-c", script],
            cwd=tmp_path,
            env={**env, **exported},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 0, f"README block failed:\n{block}\n{proc.stderr[-3000:]}"
        # An `export NAME=value` line holds for the blocks after it, as in one shell.
        for name, value in re.findall(r"^export (CWO_\w+)=(\S+)", block, re.MULTILINE):
            exported[name] = value
    assert (tmp_path / "data" / "sandbox.db").is_file()
    assert not (tmp_path / "data" / "cwo.db").exists()  # read-only commands created nothing
    assert (tmp_path / "fitments.csv").read_text(encoding="utf-8").startswith("year,make,model")
    assert (tmp_path / "vehicles.jsonl").read_text(encoding="utf-8").count("\n") > 0


def test_set_up_is_a_venv_line_then_exactly_two_commands() -> None:
    sh = _blocks("sh")
    assert sh[0].strip() == "python3 -m venv .venv && . .venv/bin/activate"
    setup = _blocks("sh runnable")[0].strip()
    assert setup.startswith("python3 -m pip install -e . && cwo scrape --sandbox")
    assert sh[1].strip() == "python3 -m pip install -e '.[test]' && python3 -m pytest"


def test_ci_runs_exactly_the_readme_test_command() -> None:
    test_command = _blocks("sh")[1].strip()
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    commands = [line for line in ci.splitlines() if line and not line.startswith(("#", " "))]
    assert commands[-1] == test_command


def test_the_crontab_example_uses_absolute_paths_a_log_file_and_the_exit_code() -> None:
    (block,) = _blocks("crontab")
    entries = [line for line in block.splitlines() if line and not line.startswith("#")]
    assert len(entries) == 1
    fields = entries[0].split(None, 5)
    assert len(fields) == 6, "five time fields and a command"
    command = fields[5]
    assert re.search(r"cd /\S+ && /\S+/bin/cwo scrape", command)
    assert "--log-file /" in command and "sqlite:////" in command  # absolute database path
    assert "rc=$?" in command
    # The exit-code handling is valid shell that stays silent on 0 and 4 and speaks on 3.
    handling = command[command.index("rc=$?") :].replace("rc=$?", "rc=$1")
    for rc, speaks in ((0, False), (4, False), (3, True), (2, True)):
        proc = subprocess.run(
            ["sh", "-c", handling, "sh", str(rc)], capture_output=True, text=True, timeout=10
        )
        assert bool(proc.stdout.strip()) is speaks, (rc, proc.stdout)
