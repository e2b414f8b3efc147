"""`cwo lookup`: "what fits my car?" -- a vehicle's specifications and its ranges.

Names match exactly (as the site spells them); when nothing matches, the
result is empty and says which name was not found and the closest stored
spellings. A preference value that no vehicle type offers is bad input
(:func:`~custom_wheel_offset.query.options.check_preferences`, exit 2).

The vehicle part of an answer is the export's vehicle record; each range row
is the export's fitment record without the identity. Gone vehicles, gone
fitments and preference sets the site no longer offers are left out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, select, true

from custom_wheel_offset.exporting.format import AXLE_RANGE_KEYS
from custom_wheel_offset.query.options import (
    PreferenceFilter,
    check_preferences,
    did_you_mean,
    suggest,
)
from custom_wheel_offset.storage.schema import fitments, preference_sets, vehicles

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from custom_wheel_offset.storage.database import OptimizedDatabaseManager

__all__ = ["LookupQuery", "LookupResult", "lookup", "preference_conditions", "ranges_of"]


@dataclass(frozen=True, slots=True)
class LookupQuery:
    """One vehicle question: identity parts (trim and drive optional) and preferences."""

    year: int
    make: str
    model: str
    trim: str | None = None
    drive: str | None = None
    prefs: PreferenceFilter = field(default_factory=PreferenceFilter)

    def as_json(self) -> dict[str, Any]:
        return {
            "year": self.year,
            "make": self.make,
            "model": self.model,
            "trim": self.trim,
            "drive": self.drive,
            **{k: getattr(self.prefs, k) for k in ("suspension", "trimming", "rubbing")},
        }


@dataclass(frozen=True, slots=True)
class LookupResult:
    """The vehicles found (export records, each with ``ranges``) or why none was."""

    query: LookupQuery
    vehicles: list[dict[str, Any]]
    not_found: str | None = None
    suggestions: list[str] = field(default_factory=list)

    @property
    def message(self) -> str | None:
        """What to tell the user when nothing matched (None when something did)."""
        if self.vehicles:
            return None
        text = self.not_found or "no vehicle matches"
        return f"{text}; {did_you_mean(self.suggestions)}" if self.suggestions else text

    def as_json(self) -> dict[str, Any]:
        return {
            "query": self.query.as_json(),
            "vehicles": self.vehicles,
            "message": self.message,
            "suggestions": self.suggestions,
        }


def preference_conditions(prefs: PreferenceFilter) -> list[Any]:
    """``WHERE`` terms on ``preference_sets`` for the given preferences."""
    p = preference_sets.c
    out = []
    if prefs.suspension is not None:
        out.append(p.suspension == prefs.suspension)
    if prefs.trimming is not None:
        out.append(p.modification == prefs.trimming)
    if prefs.rubbing is not None:
        out.append(p.rubbing == prefs.rubbing)
    return out


def _range_row(m: Any) -> dict[str, Any]:
    return {
        "suspension": m["suspension"],
        "modification": m["modification"],
        "rubbing": m["rubbing"],
        "status": m["status"],
        "bolt_pattern_mm": m["bolt_pattern_mm"],
        "bolt_pattern_in": m["bolt_pattern_in"],
        "front": {k: m[f"front_{k}"] for k in AXLE_RANGE_KEYS},
        "rear": {k: m[f"rear_{k}"] for k in AXLE_RANGE_KEYS},
    }


def ranges_of(
    conn: Connection, vehicle_ids: Sequence[int], prefs: PreferenceFilter
) -> dict[int, list[dict[str, Any]]]:
    """Vehicle id -> its range rows (current preference sets, in the order they were stored)."""
    f, p = fitments.c, preference_sets.c
    query = (
        select(f.vehicle_id, p.suspension, p.modification, p.rubbing, fitments)
        .select_from(
            fitments.join(preference_sets, and_(f.prefset_id == p.id, p.current == true()))
        )
        .where(f.vehicle_id.in_(list(vehicle_ids)), f.gone_crawl.is_(None))
        .where(*preference_conditions(prefs))
        .order_by(f.vehicle_id, p.id)
    )
    out: dict[int, list[dict[str, Any]]] = {vid: [] for vid in vehicle_ids}
    for row in conn.execute(query):
        out[row.vehicle_id].append(_range_row(row._mapping))
    return out


def _why_not_found(conn: Connection, q: LookupQuery) -> tuple[str, list[str]]:
    """Which part of the identity names nothing stored, and the closest stored spellings."""
    v = vehicles.c
    scope: list[Any] = [v.gone_crawl.is_(None)]
    steps = (
        ("year", v.year, q.year),
        ("make", v.make, q.make),
        ("model", v.model, q.model),
        ("trim", v.trim, q.trim),
        ("drive", v.drive, q.drive),
    )
    said: list[str] = []
    for name, column, value in steps:
        if value is None:
            continue
        stored = list(conn.execute(select(column).where(*scope).distinct()).scalars())
        if value not in stored:
            where = f" for {' '.join(said)}" if said else ""
            if name == "year":
                span = f"{min(stored)}-{max(stored)}" if stored else "none"
                return f"no vehicle of {value} is stored (years stored: {span})", []
            return f"no {name} {value!r} is stored{where}", suggest(str(value), map(str, stored))
        scope.append(column == value)
        said.append(str(value))
    return "no vehicle matches", []


def lookup(db: OptimizedDatabaseManager, q: LookupQuery) -> LookupResult:
    """The vehicles named by ``q`` with their specifications and range rows."""
    from custom_wheel_offset.exporting.export import vehicle_record_of_row

    check_preferences(db, q.prefs)
    v = vehicles.c
    query = select(vehicles).where(
        v.year == q.year, v.make == q.make, v.model == q.model, v.gone_crawl.is_(None)
    )
    if q.trim is not None:
        query = query.where(v.trim == q.trim)
    if q.drive is not None:
        query = query.where(v.drive == q.drive)
    with db.read() as conn:
        # Sorted here: code-point order on either database (as the exports).
        rows = sorted(conn.execute(query).all(), key=lambda r: (r.trim, r.drive))
        if not rows:
            why, close = _why_not_found(conn, q)
            return LookupResult(q, [], why, close)
        ranges = ranges_of(conn, [r.id for r in rows], q.prefs)
    found = [{**vehicle_record_of_row(r._mapping), "ranges": ranges[r.id]} for r in rows]
    return LookupResult(q, found)
