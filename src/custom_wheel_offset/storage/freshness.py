"""How fresh the stored catalogue is: record ages, the last complete crawl, the refresh cycle.

For `cwo status` (issue 14 item 5, docs/history.md). A record's age is the time
since a crawl last confirmed it (``last_seen``); records marked gone are left
out. The projected refresh cycle is arithmetic on what the database holds: the
present vehicle and fitment records, the request rate the latest runs
achieved (requests / duration, from their metrics), and the configured
``--refresh-budget``.
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from custom_wheel_offset.storage.schema import crawls, fitments, runs, vehicles

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

__all__ = ["freshness", "percentile"]

RUNS_OBSERVED = 5  # latest runs with metrics whose request rate is averaged


def percentile(ordered: list[float], fraction: float) -> float | None:
    """The nearest-rank percentile of an ascending list (None when empty)."""
    if not ordered:
        return None
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def _last_seen(conn: Connection) -> list[float]:
    out: list[float] = []
    for table in (vehicles, fitments):
        out.extend(
            v
            for v in conn.execute(
                select(table.c.last_seen).where(table.c.gone_crawl.is_(None))
            ).scalars()
            if v is not None
        )
    out.sort()
    return out


def _observed_rate(conn: Connection) -> float | None:
    """Requests per second over the latest runs that recorded metrics."""
    rows = conn.execute(
        select(runs.c.metrics_json)
        .where(runs.c.metrics_json.is_not(None))
        .order_by(runs.c.id.desc())
        .limit(RUNS_OBSERVED)
    ).scalars()
    requests = seconds = 0.0
    for text in rows:
        report = json.loads(text)
        duration = (report.get("run") or {}).get("duration_seconds")
        if duration:
            requests += float((report.get("requests") or {}).get("total") or 0)
            seconds += float(duration)
    return requests / seconds if seconds > 0 and requests > 0 else None


def _last_complete_crawl(conn: Connection) -> dict[str, Any] | None:
    row = conn.execute(
        select(crawls.c.id, crawls.c.mode, crawls.c.started_at, crawls.c.finished_at)
        .where(crawls.c.finished_at.is_not(None))
        .order_by(crawls.c.id.desc())
        .limit(1)
    ).first()
    return None if row is None else dict(row._mapping)


def _cycle(records: int, rate: float | None, budget: int | None) -> dict[str, Any]:
    """A full refresh cycle: fetch time of every record page at the observed rate, and
    how many runs of the configured budget it takes."""
    return {
        "record_pages": records,
        "observed_requests_per_second": None if rate is None else round(rate, 3),
        "fetch_seconds": None if not rate else round(records / rate, 1),
        "budget": budget,
        "runs": None if not budget else math.ceil(records / budget),
        "seconds_per_run": None if not (budget and rate) else round(budget / rate, 1),
    }


def freshness(conn: Connection, *, now: float, window: float, budget: int | None) -> dict[str, Any]:
    """Ages (median, 90th percentile, oldest) in seconds, records past ``window``, the last
    complete crawl and the projected refresh cycle."""
    seen = _last_seen(conn)
    ages = [now - t for t in reversed(seen)]  # ascending ages
    return {
        "records": len(seen),
        "age_median_seconds": _rounded(percentile(ages, 0.5)),
        "age_p90_seconds": _rounded(percentile(ages, 0.9)),
        "age_oldest_seconds": _rounded(ages[-1] if ages else None),
        "window_seconds": window,
        "past_window": sum(1 for t in seen if now - t > window),
        "last_complete_crawl": _last_complete_crawl(conn),
        "refresh_cycle": _cycle(len(seen), _observed_rate(conn), budget),
    }


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 1)
