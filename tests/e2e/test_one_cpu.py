"""`cwo scrape` keeps the crawl's threads on one CPU core (cpus.py), and `--cpus all` does not.

The crawl runs in this process through click's CliRunner against the real
sandbox, and a worker thread's own affinity is read while it works: the
threads a crawl starts take the core the command chose. The calling
thread gets its cores back afterwards, and the run's report says what was done.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path
from typing import Any

import pytest

from custom_wheel_offset import cpus
from custom_wheel_offset.crawl import items

from .conftest import invoke, scrape_args

pytestmark = pytest.mark.skipif(
    not hasattr(os, "sched_setaffinity") or len(os.sched_getaffinity(0)) < 2,
    reason="needs CPU affinity and at least two cores",
)


def _crawl_seeing_worker_cores(
    sandbox: Any, db: str, monkeypatch: pytest.MonkeyPatch, *extra: str
) -> set[frozenset[int]]:
    """Crawl the tiny sandbox; the CPU sets its worker threads ran with."""
    seen: set[frozenset[int]] = set()
    handle = items.ItemHandler.handle

    def observed(self: items.ItemHandler, item: Any) -> Any:
        if threading.current_thread() is not threading.main_thread():
            seen.add(frozenset(os.sched_getaffinity(0)))
        return handle(self, item)

    monkeypatch.setattr(items.ItemHandler, "handle", observed)
    with sandbox("tiny") as sb:
        result = invoke(*scrape_args(sb, db, "--workers", "4", *extra))
    assert result.exit_code == 0, result.output
    return seen


def _affinity_reported(db: str, tmp_path: Path) -> dict[str, Any]:
    out = tmp_path / "report.json"
    assert invoke("report", "--db", db, "--out", str(out)).exit_code == 0
    return json.loads(out.read_text())["memory"]["allocator"]["cpu_affinity"]


def test_a_crawl_runs_its_threads_on_one_core_and_gives_the_caller_its_cores_back(
    sandbox: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = os.sched_getaffinity(0)
    db = f"sqlite:///{tmp_path / 'crawl.db'}"
    seen = _crawl_seeing_worker_cores(sandbox, db, monkeypatch)
    assert os.sched_getaffinity(0) == before
    chosen = cpus._pick(before, os.getpid())
    assert seen == {frozenset({chosen})}
    assert _affinity_reported(db, tmp_path) == {
        "cpus": "one",
        "cpu": chosen,
        "allowed": len(before),
    }


def test_cpus_all_leaves_the_threads_to_the_scheduler(
    sandbox: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = os.sched_getaffinity(0)
    db = f"sqlite:///{tmp_path / 'crawl.db'}"
    seen = _crawl_seeing_worker_cores(sandbox, db, monkeypatch, "--cpus", "all")
    assert seen == {frozenset(before)}
    assert _affinity_reported(db, tmp_path) == {"cpus": "all", "cpu": None, "allowed": None}


def test_processes_of_one_machine_spread_over_its_cores() -> None:
    cores = {0, 1, 2, 3}
    assert {cpus._pick(cores, pid) for pid in range(100, 104)} == cores
    assert cpus._pick({5}, 12345) == 5


def test_a_refused_affinity_leaves_the_crawl_on_every_core(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def refuse(pid: int, mask: Any) -> None:
        raise PermissionError(1, "Operation not permitted")

    monkeypatch.setattr(os, "sched_setaffinity", refuse)
    with cpus.one_cpu("one") as state:
        assert state == {"cpus": "all", "cpu": None, "allowed": None}
