"""The ``runs`` table and the live progress numbers read by the progress display."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update

from custom_wheel_offset.errors import CwoError
from custom_wheel_offset.storage.frontier import STAGE_KINDS
from custom_wheel_offset.storage.schema import runs

if TYPE_CHECKING:
    from custom_wheel_offset.metrics.counters import Counters
    from custom_wheel_offset.progress import StageProgress
    from custom_wheel_offset.storage.database import OptimizedDatabaseManager
    from custom_wheel_offset.storage.frontier import Frontier

__all__ = ["finish_run_row", "latest_runs", "load_run_report", "progress_snapshot_source"]


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


def latest_runs(db: OptimizedDatabaseManager, limit: int = 5) -> list[dict[str, Any]]:
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
    return [dict(r._mapping) for r in rows]


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


def progress_snapshot_source(
    frontier: Frontier, counters: Counters, kinds: tuple[str, ...]
) -> Callable[[], dict[str, StageProgress]]:
    """A cheap snapshot function: one database count at start, then counters only."""
    from custom_wheel_offset.progress import StageProgress

    baseline = frontier.stage_counts()
    stages = {
        stage: tuple(k for k in stage_kinds if k in kinds)
        for stage, stage_kinds in STAGE_KINDS.items()
    }

    def snapshot() -> dict[str, StageProgress]:
        out: dict[str, StageProgress] = {}
        for stage, stage_kinds in stages.items():
            if not stage_kinds:
                continue
            total = done = failed = 0
            for kind in stage_kinds:
                base = baseline.get(kind, {})
                # Gone items are no work of any run (storage.gone).
                present = sum(n for status, n in base.items() if status != "gone")
                total += present + counters.get(f"items/discovered/{kind}")
                done += base.get("done", 0) + counters.get(f"items/done/{kind}")
                failed += base.get("failed", 0) + counters.get(f"items/failed/{kind}")
            out[stage] = StageProgress(stage=stage, done=done, discovered=total, failed=failed)
        return out

    return snapshot
