"""What the stored catalogue covers, for the HTML report (read-only queries).

Vehicles per year and per make (present ones), and per make how many fitment
pages are ``ok``, ``no_data``, ``failed`` (frontier items that failed) or
``gone`` (records the site no longer has).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import case, func, select

from custom_wheel_offset.storage.schema import fitments, frontier, vehicles

if TYPE_CHECKING:
    from custom_wheel_offset.storage.database import OptimizedDatabaseManager

__all__ = ["FITMENT_STATUSES", "coverage"]

FITMENT_STATUSES = ("ok", "no_data", "failed", "gone")


def coverage(db: OptimizedDatabaseManager) -> dict[str, Any]:
    """``{"vehicles_per_year": {year: n}, "vehicles_per_make": {make: n},
    "fitments_per_make": {make: {"ok", "no_data", "failed", "gone"}}}`` (sorted keys)."""
    present = vehicles.c.gone_crawl.is_(None)
    with db.read() as conn:
        per_year = conn.execute(
            select(vehicles.c.year, func.count()).where(present).group_by(vehicles.c.year)
        ).all()
        per_make = conn.execute(
            select(vehicles.c.make, func.count()).where(present).group_by(vehicles.c.make)
        ).all()
        by_status = conn.execute(
            select(vehicles.c.make, fitments.c.status, _gone_flag(), func.count())
            .select_from(fitments.join(vehicles, vehicles.c.id == fitments.c.vehicle_id))
            .group_by(vehicles.c.make, fitments.c.status, _gone_flag())
        ).all()
        failed = conn.execute(
            select(frontier.c.make, func.count())
            .where(frontier.c.kind == "fitment", frontier.c.status == "failed")
            .group_by(frontier.c.make)
        ).all()
    makes: dict[str, dict[str, int]] = {}
    for make, fitment_status, is_gone, n in by_status:
        key = "gone" if is_gone else fitment_status
        counts = makes.setdefault(make, dict.fromkeys(FITMENT_STATUSES, 0))
        counts[key] = counts.get(key, 0) + int(n)
    for make, n in failed:
        makes.setdefault(make or "(unknown)", dict.fromkeys(FITMENT_STATUSES, 0))["failed"] += n
    return {
        "vehicles_per_year": {int(y): int(n) for y, n in sorted(per_year)},
        "vehicles_per_make": {m: int(n) for m, n in sorted(per_make)},
        "fitments_per_make": dict(sorted(makes.items())),
    }


def _gone_flag() -> Any:
    # A fitment of a gone vehicle is gone too, whatever its own row says.
    gone = fitments.c.gone_crawl.is_not(None) | vehicles.c.gone_crawl.is_not(None)
    return case((gone, 1), else_=0)
