"""Registered worker processes: who is crawling, how fast, and who went quiet."""

from __future__ import annotations

import json
import socket
import time
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update

from custom_wheel_offset.storage.schema import runs, workers

if TYPE_CHECKING:
    from custom_wheel_offset.storage.database import OptimizedDatabaseManager

__all__ = [
    "STALE_AFTER_SECONDS",
    "heartbeat",
    "lease_seconds_of_runs",
    "list_workers",
    "process_gone",
    "register_worker",
    "stop_worker",
    "worker_state",
]

STALE_AFTER_SECONDS = 120.0


def register_worker(
    db: OptimizedDatabaseManager, *, owner: str, host: str, pid: int, run_id: int
) -> None:
    now = time.time()
    with db.begin() as conn:
        conn.execute(
            workers.insert().values(
                owner=owner, host=host, pid=pid, run_id=run_id, started_at=now, heartbeat_at=now
            )
        )


def heartbeat(db: OptimizedDatabaseManager, *, owner: str, items_done: int, rate: float) -> None:
    with db.begin() as conn:
        conn.execute(
            update(workers)
            .where(workers.c.owner == owner)
            .values(heartbeat_at=time.time(), items_done=items_done, rate=rate)
        )


def stop_worker(
    db: OptimizedDatabaseManager,
    *,
    owner: str,
    items_done: int | None = None,
    rate: float | None = None,
) -> None:
    """Mark a worker ended; pass its final counts, or a short run shows the last heartbeat's."""
    final: dict[str, float] = {}
    if items_done is not None:
        final["items_done"] = items_done
    if rate is not None:
        final["rate"] = rate
    with db.begin() as conn:
        conn.execute(
            update(workers).where(workers.c.owner == owner).values(stopped_at=time.time(), **final)
        )


def process_gone(host: str, pid: int, started_at: float) -> bool | None:
    """Whether the process ``pid`` that registered at ``started_at`` on ``host`` has ended.

    ``None`` when ``host`` is another machine: only its heartbeat can tell.
    A live pid whose process was created after ``started_at`` is another
    process that reused the pid, so the registered one is gone too.
    """
    import psutil

    if host != socket.gethostname():
        return None
    try:
        created = psutil.Process(pid).create_time()
    except psutil.NoSuchProcess:
        return True
    except psutil.AccessDenied:
        # Alive but not ours to inspect: the pid alone has to do.
        return not psutil.pid_exists(pid)
    # create_time() is rounded by the kernel's clock ticks: allow a second.
    return created > started_at + 1.0


def worker_state(row: dict[str, Any], *, now: float, lease_seconds: float | None = None) -> str:
    """``ended``, ``gone`` (same host, process no longer alive), ``stale`` or ``live``.

    Another host's worker is stale once its heartbeat is older than its lease
    (or ``STALE_AFTER_SECONDS``, if shorter): its items are then free to take.
    """
    if row["stopped_at"]:
        return "ended"
    if process_gone(row["host"], row["pid"], row["started_at"]):
        return "gone"
    limit = min(lease_seconds or STALE_AFTER_SECONDS, STALE_AFTER_SECONDS)
    if now - row["heartbeat_at"] > limit:
        return "stale"
    return "live"


def list_workers(db: OptimizedDatabaseManager, *, limit: int = 20) -> list[dict[str, Any]]:
    """The last ``limit`` workers, each with its ``state`` (see :func:`worker_state`)."""
    now = time.time()
    with db.read() as conn:
        rows = conn.execute(select(workers).order_by(workers.c.id.desc()).limit(limit)).all()
    leases = lease_seconds_of_runs(db, {r.run_id for r in rows if r.run_id is not None})
    out = []
    for r in rows:
        m = dict(r._mapping)
        m["state"] = worker_state(m, now=now, lease_seconds=leases.get(m["run_id"]))
        out.append(m)
    return out


def lease_seconds_of_runs(db: OptimizedDatabaseManager, run_ids: set[int]) -> dict[int, float]:
    """Each run's ``--lease-seconds``, from its stored settings (absent if not recorded)."""
    if not run_ids:
        return {}
    with db.read() as conn:
        rows = conn.execute(
            select(runs.c.id, runs.c.settings_json).where(runs.c.id.in_(run_ids))
        ).all()
    out: dict[int, float] = {}
    for r in rows:
        try:
            lease = json.loads(r.settings_json).get("lease_seconds")
        except (ValueError, AttributeError):  # an unreadable or non-object settings row
            continue
        if isinstance(lease, (int, float)) and lease > 0:
            out[r.id] = float(lease)
    return out
