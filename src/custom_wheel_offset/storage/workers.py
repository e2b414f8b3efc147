"""Registered worker processes: who is crawling, how fast, and who went quiet."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from sqlalchemy import select, update

from custom_wheel_offset.storage.schema import workers

if TYPE_CHECKING:
    from custom_wheel_offset.storage.database import OptimizedDatabaseManager

__all__ = ["STALE_AFTER_SECONDS", "heartbeat", "list_workers", "register_worker", "stop_worker"]

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


def list_workers(db: OptimizedDatabaseManager, *, limit: int = 20) -> list[dict[str, Any]]:
    now = time.time()
    with db.read() as conn:
        rows = conn.execute(select(workers).order_by(workers.c.id.desc()).limit(limit)).all()
    out = []
    for r in rows:
        m = dict(r._mapping)
        if m["stopped_at"]:
            m["state"] = "ended"
        elif now - m["heartbeat_at"] > STALE_AFTER_SECONDS:
            m["state"] = "stale"
        else:
            m["state"] = "live"
        out.append(m)
    return out
