"""`cwo export | head`: a reader that stops early ends the export quietly, with exit 141.

The real command in its own process writes into a pipe whose reader takes
one line and closes it, as `head -1` does. The pipe holds 4 KB (Linux's
``F_SETPIPE_SZ``), less than any of these exports, so the export is still
writing when the reader leaves. Before, Python reported the export's read
transaction, closed after the database was gone, as an "Exception ignored"
traceback, and click's exit 1 read as an internal error.
"""

from __future__ import annotations

import fcntl
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from custom_wheel_offset.errors import EXIT_SIGPIPE

from .conftest import invoke, scrape_args

F_SETPIPE_SZ = getattr(fcntl, "F_SETPIPE_SZ", 1031)


@pytest.mark.skipif(sys.platform != "linux", reason="sets a pipe's size, which is Linux's")
def test_a_reader_that_stops_early_ends_the_export_quietly(sandbox: Any, tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'crawl.db'}"
    with sandbox("tiny") as sb:
        assert invoke(*scrape_args(sb, db)).exit_code == 0
    for what, fmt in (("fitments", "csv"), ("fitments", "jsonl"), ("vehicles", "jsonl")):
        first, code, stderr = _export_to_a_reader_of_one_line(db, what, fmt)
        assert first.strip(), f"{what} {fmt}: the export wrote nothing before the reader left"
        assert code == EXIT_SIGPIPE, f"{what} {fmt}: exit {code}\n{stderr}"
        assert stderr == "", f"{what} {fmt}"


def _export_to_a_reader_of_one_line(db: str, what: str, fmt: str) -> tuple[bytes, int, str]:
    """(the line read, the exit code, stderr) of `cwo export ... | head -1`."""
    read_end, write_end = os.pipe()
    fcntl.fcntl(write_end, F_SETPIPE_SZ, 4096)
    command = [sys.executable, "-m", "custom_wheel_offset", "export", "--what", what]
    process = subprocess.Popen(
        [*command, "--format", fmt, "--db", db], stdout=write_end, stderr=subprocess.PIPE
    )
    os.close(write_end)
    with os.fdopen(read_end, "rb") as reader:
        first = reader.readline()
    # The reader is gone, as `head -1` is after its line.
    assert process.stderr is not None
    stderr = process.stderr.read().decode()
    return first, process.wait(timeout=60), stderr
