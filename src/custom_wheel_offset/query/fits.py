"""`cwo fits`: "which cars does this wheel fit?", and for one car, why not.

A wheel fits a vehicle with a preference set when all of these hold:

1. same lug count, and pitch-circle diameters within 0.6 mm (the site rounds
   inch forms: 5x4.5 is 114.3 mm); the vehicle's numbers are its typed fields;
2. with ``center_bore``: the wheel's centre bore is at least the vehicle's hub
   bore (a vehicle whose hub bore is unknown is not a match);
3. the fitment page has data (status ``ok``);
4. each size given is inside that axle's range for that preference set:
   ``diameter`` on both axles, ``width``/``offset`` on the front and, unless
   ``rear_width``/``rear_offset`` say otherwise, on the rear too (a square set
   goes on both axles). A range the site left blank is not a match.

:func:`failures` is that definition in Python (used by ``--explain``);
:func:`fit_conditions` is the same in SQL (used by :func:`fits`, from indexes).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, select, true

from custom_wheel_offset.errors import ConfigError
from custom_wheel_offset.exporting.format import AXLE_RANGE_KEYS
from custom_wheel_offset.protocol.specs import parse_bolt_pattern
from custom_wheel_offset.query.lookup import LookupQuery, preference_conditions
from custom_wheel_offset.query.options import PreferenceFilter, check_preferences
from custom_wheel_offset.storage.schema import fitments, preference_sets, vehicles

if TYPE_CHECKING:
    from custom_wheel_offset.storage.database import OptimizedDatabaseManager

__all__ = [
    "PCD_TOLERANCE_MM",
    "FitsQuery",
    "Wheel",
    "explain",
    "failures",
    "fit_conditions",
    "fits",
    "make_wheel",
    "vehicle_failures",
]

PCD_TOLERANCE_MM = 0.6
"""As ``protocol.specs.same_bolt_pattern``: two PCDs closer than this are one circle."""


@dataclass(frozen=True, slots=True)
class Wheel:
    """A wheel (or a staggered set): bolt pattern in numbers, sizes in inches and mm."""

    bolt_pattern: str
    lug_count: int
    pcd_mm: float
    center_bore: float | None = None
    diameter: float | None = None
    width: float | None = None
    offset: float | None = None
    rear_width: float | None = None
    rear_offset: float | None = None

    def sizes(self) -> dict[str, dict[str, float | None]]:
        """Axle -> the sizes to check there (None: not given)."""
        rear_width = self.width if self.rear_width is None else self.rear_width
        rear_offset = self.offset if self.rear_offset is None else self.rear_offset
        return {
            "front": {"diameter": self.diameter, "width": self.width, "offset": self.offset},
            "rear": {"diameter": self.diameter, "width": rear_width, "offset": rear_offset},
        }

    def as_json(self) -> dict[str, Any]:
        return {
            "bolt_pattern": self.bolt_pattern,
            "lug_count": self.lug_count,
            "pcd_mm": self.pcd_mm,
            "center_bore": self.center_bore,
            "diameter": self.diameter,
            "width": self.width,
            "offset": self.offset,
            "rear_width": self.rear_width,
            "rear_offset": self.rear_offset,
        }


def make_wheel(bolt_pattern: str, **sizes: float | None) -> Wheel:
    """A :class:`Wheel` from the bolt-pattern text (either unit); unreadable is exit 2."""
    reading = parse_bolt_pattern(bolt_pattern)
    if reading.value is None:
        raise ConfigError(
            f"--bolt-pattern {bolt_pattern!r}: {reading.reason}",
            hint="write it as LUGSxPCD: 5x114.3 (millimetres) or 5x4.5 (inches)",
        )
    return Wheel(bolt_pattern, reading.value.lug_count, reading.value.pcd_mm, **sizes)


@dataclass(frozen=True, slots=True)
class FitsQuery:
    """A wheel, the preference sets to consider, and optional year range and makes."""

    wheel: Wheel
    prefs: PreferenceFilter = field(default_factory=PreferenceFilter)
    years: tuple[int, int] | None = None
    makes: tuple[str, ...] = ()

    def as_json(self) -> dict[str, Any]:
        return {
            **self.wheel.as_json(),
            **{k: getattr(self.prefs, k) for k in ("suspension", "trimming", "rubbing")},
            "years": list(self.years) if self.years else None,
            "makes": list(self.makes),
        }


def _axle_failures(wheel: Wheel, rng: Mapping[str, Any]) -> list[str]:
    out = []
    for axle, sizes in wheel.sizes().items():
        for name, size in sizes.items():
            if size is None:
                continue
            lo, hi = rng[axle][f"{name}_min"], rng[axle][f"{name}_max"]
            if lo is None or hi is None:
                out.append(f"{axle} {name} range unknown")
            elif not lo <= size <= hi:
                out.append(f"{axle} {name} {size:g} outside {lo:g} to {hi:g}")
    return out


def vehicle_failures(wheel: Wheel, vehicle: Mapping[str, Any]) -> list[str]:
    """Why the wheel cannot fit this vehicle whatever the preferences (empty: it can)."""
    out = []
    notes = vehicle.get("spec_notes") or {}
    if vehicle["lug_count"] is None or vehicle["pcd_mm"] is None:
        out.append(f"vehicle bolt pattern unknown ({notes.get('pcd_mm', 'missing')})")
    elif vehicle["lug_count"] != wheel.lug_count or not (
        abs(vehicle["pcd_mm"] - wheel.pcd_mm) < PCD_TOLERANCE_MM
    ):
        out.append(
            f"bolt pattern {vehicle['lug_count']}x{vehicle['pcd_mm']:g} mm is not the "
            f"wheel's {wheel.lug_count}x{wheel.pcd_mm:g} mm"
        )
    if wheel.center_bore is not None:
        hub = vehicle["hub_bore_mm"]
        if hub is None:
            out.append("vehicle hub bore unknown")
        elif wheel.center_bore < hub:
            out.append(f"centre bore {wheel.center_bore:g} mm smaller than hub bore {hub:g} mm")
    return out


def failures(wheel: Wheel, vehicle: Mapping[str, Any], rng: Mapping[str, Any]) -> list[str]:
    """Every condition the wheel fails on this vehicle with this range row (empty: it fits)."""
    out = vehicle_failures(wheel, vehicle)
    if rng["status"] != "ok":
        return [*out, "no fitment data for this preference set"]
    return out + _axle_failures(wheel, rng)


def fit_conditions(wheel: Wheel) -> list[Any]:
    """:func:`failures` as SQL terms on ``vehicles`` and ``fitments`` (a NULL never matches)."""
    v, f = vehicles.c, fitments.c
    terms: list[Any] = [
        v.lug_count == wheel.lug_count,
        v.pcd_mm > wheel.pcd_mm - PCD_TOLERANCE_MM,
        v.pcd_mm < wheel.pcd_mm + PCD_TOLERANCE_MM,
        f.status == "ok",
    ]
    if wheel.center_bore is not None:
        terms.append(v.hub_bore_mm <= wheel.center_bore)
    for axle, sizes in wheel.sizes().items():
        for name, size in sizes.items():
            if size is not None:
                terms.append(f[f"{axle}_{name}_min"] <= size)
                terms.append(f[f"{axle}_{name}_max"] >= size)
    return terms


_IDENTITY = ("year", "make", "model", "trim", "drive")
_FLAT: tuple[str, ...] = (
    *_IDENTITY,
    *("vehicle_type", "bolt_pattern_mm", "bolt_pattern_in", "hub_bore_mm"),
    *("suspension", "modification", "rubbing"),
)
# Identity, then preferences: positions in the selected columns (see fits()).
_ORDER = itemgetter(0, 1, 2, 3, 4, 9, 10, 11)


def _fit_row(r: Sequence[Any]) -> dict[str, Any]:
    # Positional: a broad wheel matches tens of thousands of rows, and building
    # them by column name cost more than the query itself.
    row = dict(zip(_FLAT, r[:12], strict=True))
    row["front"] = dict(zip(AXLE_RANGE_KEYS, r[12:18], strict=True))
    row["rear"] = dict(zip(AXLE_RANGE_KEYS, r[18:24], strict=True))
    return row


def fits(db: OptimizedDatabaseManager, q: FitsQuery) -> list[dict[str, Any]]:
    """Every (vehicle, preference set) the wheel fits, sorted by identity and preferences."""
    check_preferences(db, q.prefs)
    v, f, p = vehicles.c, fitments.c, preference_sets.c
    columns = [v[k] for k in _FLAT[:9]] + [p.suspension, p.modification, p.rubbing]
    columns += [f[f"{axle}_{k}"] for axle in ("front", "rear") for k in AXLE_RANGE_KEYS]
    query = (
        select(*columns)
        .select_from(
            vehicles.join(fitments, f.vehicle_id == v.id).join(
                preference_sets, and_(f.prefset_id == p.id, p.current == true())
            )
        )
        .where(v.gone_crawl.is_(None), f.gone_crawl.is_(None), *fit_conditions(q.wheel))
        .where(*preference_conditions(q.prefs))
    )
    if q.years is not None:
        query = query.where(v.year.between(*q.years))
    if q.makes:
        query = query.where(v.make.in_(list(q.makes)))
    with db.read() as conn:
        # Sorted here, not by the database: code-point order on either database (as the exports).
        rows = sorted(conn.execute(query).all(), key=_ORDER)
    return [_fit_row(r) for r in rows]


def explain(db: OptimizedDatabaseManager, wheel: Wheel, vehicle: LookupQuery) -> dict[str, Any]:
    """For the vehicle(s) named: per preference set, the conditions the wheel fails.

    Returns ``{"lookup": LookupResult, "vehicles": [{..., "vehicle_failures": [...],
    "ranges": [{..., "fits": bool, "failures": [...]}]}]}``.
    """
    from custom_wheel_offset.query.lookup import lookup

    found = lookup(db, vehicle)
    explained = []
    for record in found.vehicles:
        ranges = [
            {**rng, "fits": not (why := failures(wheel, record, rng)), "failures": why}
            for rng in record["ranges"]
        ]
        explained.append(
            {**record, "vehicle_failures": vehicle_failures(wheel, record), "ranges": ranges}
        )
    return {"lookup": found, "vehicles": explained}
