"""The ``runs`` table: a run's row, its outcome and stored report, the last runs."""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update

from custom_wheel_offset.errors import CwoError
from custom_wheel_offset.storage.schema import runs, workers
from custom_wheel_offset.storage.workers import (
    STALE_AFTER_SECONDS,
    lease_seconds_of_runs,
    process_gone,
)

if TYPE_CHECKING:
    from custom_wheel_offset.storage.database import OptimizedDatabaseManager

__all__ = [
    "NO_HEARTBEAT",
    "PROCESS_GONE",
    "finish_run_row",
    "latest_runs",
    "load_run_report",
]


def finish_run_row(
    db: OptimizedDatabaseManager,
    run_id: int,
    *,
    outcome: str,
    exit_code: int,
    report: dict[str, Any],
) -> None:
    with db.begin() as conn:
        conn.execute(
            update(runs)
            .where(runs.c.id == run_id)
            .values(
                ended_at=time.time(),
                outcome=outcome,
                exit_code=exit_code,
                metrics_json=json.dumps(report, ensure_ascii=False),
            )
        )


#: What `cwo status` says of a run still marked running whose process has ended
#: (SIGKILL, power loss): the row cannot say so itself, nobody was left to write it.
PROCESS_GONE = "ended (process gone)"
#: ... and of one on another host whose heartbeat is older than its lease.
NO_HEARTBEAT = "stale (no heartbeat)"


def latest_runs(db: OptimizedDatabaseManager, limit: int = 5) -> list[dict[str, Any]]:
    """The last runs; a ``running`` one whose process is gone says so in ``outcome``.

    ``stored_outcome`` keeps what the row holds.
    """
    with db.read() as conn:
        rows = conn.execute(
            select(
                runs.c.id,
                runs.c.crawl_id,
                runs.c.started_at,
                runs.c.ended_at,
                runs.c.outcome,
                runs.c.exit_code,
                runs.c.host,
                runs.c.pid,
            )
            .order_by(runs.c.id.desc())
            .limit(limit)
        ).all()
    out = [dict(r._mapping) for r in rows]
    open_runs = [r for r in out if r["ended_at"] is None and r["outcome"] == "running"]
    beats = _last_heartbeats(db, {r["id"] for r in open_runs})
    leases = lease_seconds_of_runs(db, {r["id"] for r in open_runs})
    for r in out:
        r["stored_outcome"] = r["outcome"]
    for r in open_runs:
        r["outcome"] = _open_run_outcome(r, beats.get(r["id"]), leases.get(r["id"]))
    return out


def _open_run_outcome(run: dict[str, Any], beat: float | None, lease: float | None) -> str:
    gone = process_gone(run["host"], run["pid"], run["started_at"])
    if gone:
        return PROCESS_GONE
    if gone is None:  # another host: only its heartbeat tells
        limit = min(lease or STALE_AFTER_SECONDS, STALE_AFTER_SECONDS)
        if time.time() - (beat or run["started_at"]) > limit:
            return NO_HEARTBEAT
    return "running"


def _last_heartbeats(db: OptimizedDatabaseManager, run_ids: set[int]) -> dict[int, float]:
    if not run_ids:
        return {}
    with db.read() as conn:
        rows = conn.execute(
            select(workers.c.run_id, workers.c.heartbeat_at).where(workers.c.run_id.in_(run_ids))
        ).all()
    return {r.run_id: r.heartbeat_at for r in rows}


def load_run_report(db: OptimizedDatabaseManager, run_id: int | None) -> dict[str, Any]:
    """The stored metrics JSON of a run (default: the latest run that has one)."""
    query = select(runs.c.id, runs.c.metrics_json, runs.c.outcome)
    if run_id is None:
        query = query.where(runs.c.metrics_json.is_not(None)).order_by(runs.c.id.desc()).limit(1)
    else:
        query = query.where(runs.c.id == run_id)
    with db.read() as conn:
        row = conn.execute(query).first()
    if row is None:
        raise CwoError(
            "no run with metrics in this database"
            if run_id is None
            else f"no run {run_id} in this database",
            hint="run `cwo scrape` first, or pass --db pointing at the crawl's database",
        )
    if row.metrics_json is None:
        raise CwoError(
            f"run {row.id} has no metrics yet (outcome: {row.outcome})",
            hint="a run stores its metrics when it ends; a run killed with SIGKILL never does",
        )
    report: dict[str, Any] = json.loads(row.metrics_json)
    return report
