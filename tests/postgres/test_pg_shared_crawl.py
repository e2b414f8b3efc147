"""Issue 6: several `cwo scrape` processes share one crawl through PostgreSQL.

Each test runs the real command line in subprocesses against one sandbox and a
fresh PostgreSQL schema, then compares `cwo export` with the sandbox's truth
byte for byte and asks the sandbox which URLs it answered more than once.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import ProgrammingError
from sqlalchemy.pool import NullPool

from custom_wheel_offset.sandbox.server import RunningSandbox
from custom_wheel_offset.storage.schema import frontier, runs, workers

from .helpers import SCRAPE_TIMEOUT, assert_export_equals_truth, cwo, duplicates, start_scrape

pytestmark = [pytest.mark.postgres, pytest.mark.slow]

RECORD_KINDS = ("vehicle", "fitment")


@pytest.fixture
def engine(postgres_url: str) -> Iterator[Engine]:
    """An engine on the test's schema, for looking at the crawl from outside."""
    eng = create_engine(postgres_url, poolclass=NullPool)
    yield eng
    eng.dispose()


def _run_rows(engine: Engine) -> list[dict[str, Any]]:
    """Every run's outcome and the items it completed, from its stored metrics."""
    with engine.connect() as conn:
        rows = conn.execute(select(runs.c.pid, runs.c.outcome, runs.c.metrics_json)).all()
    out = []
    for row in rows:
        metrics = json.loads(row.metrics_json) if row.metrics_json else {}
        done = metrics.get("counters", {}).get("items", {}).get("done", {})
        out.append({"pid": row.pid, "outcome": row.outcome, "done": done})
    return out


def _leased_by(engine: Engine, pid: int) -> int:
    """How many frontier items a process (by pid) holds leased now (0 before the schema exists)."""
    try:
        with engine.connect() as conn:
            return conn.execute(
                select(func.count())
                .select_from(frontier)
                .where(frontier.c.status == "leased", frontier.c.lease_owner.like(f"%:{pid}:%"))
            ).scalar_one()
    except ProgrammingError:  # the first process has not created the tables yet
        return 0


def _open_items(engine: Engine) -> dict[tuple[str, str], int]:
    """{(kind, status): count} of the items not done, so a failure shows which ones."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(frontier.c.kind, frontier.c.status, func.count())
            .where(frontier.c.status.in_(("pending", "leased", "failed")))
            .group_by(frontier.c.kind, frontier.c.status)
        ).all()
    return {(kind, status): n for kind, status, n in rows}


def test_three_processes_share_one_crawl_and_fetch_nothing_twice(
    postgres_url: str,
    engine: Engine,
    small_sandbox: RunningSandbox,
    small_truth: Path,
    tmp_path: Path,
) -> None:
    scrapes = [start_scrape(small_sandbox, postgres_url, f"w{k}", tmp_path) for k in (1, 2, 3)]
    for scrape in scrapes:
        code = scrape.wait()
        assert code == 0, f"{scrape.name} exited {code}:\n{scrape.output()[-3000:]}"
    counters = small_sandbox.counters()

    assert duplicates(counters, RECORD_KINDS) == {}
    assert_export_equals_truth(postgres_url, small_truth, tmp_path)
    assert _open_items(engine) == {}

    # The work was shared: every process completed items (none gave up early
    # while the others still worked), and together they did each page once.
    rows = _run_rows(engine)
    assert sorted(r["pid"] for r in rows) == sorted(s.proc.pid for s in scrapes)
    assert all(r["outcome"] == "complete" for r in rows), rows
    assert all(sum(r["done"].values()) > 0 for r in rows), rows
    truth_fitments = len((small_truth / "fitments.jsonl").read_bytes().splitlines())
    assert sum(r["done"].get("fitment", 0) for r in rows) == truth_fitments
    assert sum(r["done"].get("fitment", 0) for r in rows) == counters["requests"]["fitment"]

    # `cwo status` lists the three worker processes, ended.
    status = cwo("status", "--json", "--db", postgres_url)
    assert status.returncode == 0, status.stderr
    listed = json.loads(status.stdout)["workers"]
    assert sorted((w["pid"], w["state"]) for w in listed) == sorted(
        (s.proc.pid, "ended") for s in scrapes
    )


def test_sigkilled_process_leases_expire_and_the_others_finish(
    postgres_url: str,
    engine: Engine,
    small_sandbox: RunningSandbox,
    small_truth: Path,
    tmp_path: Path,
) -> None:
    lease = "5"
    scrapes = [
        start_scrape(small_sandbox, postgres_url, f"w{k}", tmp_path, "--lease-seconds", lease)
        for k in (1, 2, 3)
    ]
    victim = scrapes[1]
    # Kill it late in the run, while it holds leases on several items: the
    # others run out of work of their own before its leases expire, so they
    # must notice the expiry while idle, not only while busy.
    late = len((small_truth / "fitments.jsonl").read_bytes().splitlines()) * 3 // 4
    deadline = time.monotonic() + SCRAPE_TIMEOUT
    held = 0
    while time.monotonic() < deadline and victim.proc.poll() is None:
        held = _leased_by(engine, victim.proc.pid)
        if held >= 4 and small_sandbox.counters()["requests"]["fitment"] > late:
            break
        time.sleep(0.1)
    assert victim.proc.poll() is None, (
        f"the victim ended before it could be killed (held {held}, fitment requests "
        f"{small_sandbox.counters()['requests']['fitment']} of {late} needed):\n{victim.output()}"
    )
    os.kill(victim.proc.pid, signal.SIGKILL)
    assert victim.proc.wait(timeout=10) == -signal.SIGKILL
    assert held >= 4
    orphaned = _leased_by(engine, victim.proc.pid)
    assert orphaned > 0  # its leases outlive it until they expire

    for scrape in (scrapes[0], scrapes[2]):
        code = scrape.wait()
        assert code == 0, f"{scrape.name} exited {code}:\n{scrape.output()[-3000:]}"

    assert _leased_by(engine, victim.proc.pid) == 0
    assert _open_items(engine) == {}
    assert_export_equals_truth(postgres_url, small_truth, tmp_path)

    # The killed process left its worker row without an end; the others ended.
    with engine.connect() as conn:
        rows = {
            r.pid: r.stopped_at for r in conn.execute(select(workers.c.pid, workers.c.stopped_at))
        }
    assert rows[victim.proc.pid] is None
    assert all(rows[s.proc.pid] is not None for s in (scrapes[0], scrapes[2]))
