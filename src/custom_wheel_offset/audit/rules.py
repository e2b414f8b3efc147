"""The data-quality rules of `cwo audit` (pure: rows in, findings out).

Each rule looks at stored rows (plain mappings with the columns of the
``vehicles`` and ``fitments`` tables) and yields :class:`Finding` objects
with the rule's name, a severity and the record's identity. Bolt patterns
are read with :mod:`custom_wheel_offset.protocol.specs`, never parsed here.
The rules and bounds are documented in docs/audit.md.

Rules that need the whole catalogue (duplicate identities, vehicles without
fitments, ranges that never vary across a make) keep bounded state in
:class:`CatalogueChecks`, fed one row at a time.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from custom_wheel_offset.protocol.specs import parse_bolt_pattern, same_bolt_pattern

__all__ = [
    "BOUNDS",
    "MIN_VEHICLES_FOR_CONSTANT",
    "RULES",
    "CatalogueChecks",
    "Finding",
    "Severity",
    "check_fitment",
    "check_vehicle",
]

Severity = Literal["warning", "error"]
Row = Mapping[str, Any]

#: Physically plausible values (inclusive). Tighter than the parser's sanity
#: bounds (protocol/api.py), which only refuse what cannot be a reading at all;
#: docs/audit.md says where each number comes from.
BOUNDS: Final[dict[str, tuple[float, float, str]]] = {
    "diameter": (10.0, 34.0, "in"),
    "width": (3.5, 18.0, "in"),
    "offset": (-150.0, 150.0, "mm"),
    "hub_bore": (50.0, 180.0, "mm"),
    "pcd": (90.0, 300.0, "mm"),
}
#: A make's preference set is judged constant only over at least this many vehicles.
MIN_VEHICLES_FOR_CONSTANT: Final = 3

#: rule -> (severity, what it means); the order of docs/audit.md.
RULES: Final[dict[str, tuple[Severity, str]]] = {
    "min_above_max": ("error", "a range's minimum is greater than its maximum"),
    "out_of_bounds": ("error", "a value outside its physically plausible bounds"),
    "bolt_pattern_mismatch": ("error", "the mm and inch bolt patterns name different patterns"),
    "stagger_mismatch": ("warning", "front/rear ranges disagree with the vehicle's stagger"),
    "duplicate_identity": ("warning", "vehicles whose identity differs only by case or spaces"),
    "no_fitment": ("warning", "a vehicle with no fitment record"),
    "constant_ranges": ("warning", "a preference set whose ranges never vary across a make"),
}

IDENTITY: Final = ("year", "make", "model", "trim", "drive")
PREFERENCE: Final = ("suspension", "modification", "rubbing")
_RANGES: Final = ("diameter", "width", "offset")
_VEHICLE_SPEC: Final = ("stock_diameter", "stock_width", "stock_offset", "stock_tire")
_VEHICLE_RANGES: Final = ("diameter", "width")
_SPACES = re.compile(r"\s+")


@dataclass(frozen=True, slots=True)
class Finding:
    """One anomaly: which rule, how bad, which record, and what exactly."""

    rule: str
    severity: Severity
    record: dict[str, Any]
    message: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule": self.rule,
            "severity": self.severity,
            "record": self.record,
            "message": self.message,
        }


def _finding(rule: str, record: dict[str, Any], message: str) -> Finding:
    return Finding(rule, RULES[rule][0], record, message)


def vehicle_identity(row: Row) -> dict[str, Any]:
    return {"table": "vehicles", **{k: row[k] for k in IDENTITY}}


def fitment_identity(row: Row) -> dict[str, Any]:
    return {"table": "fitments", **{k: row[k] for k in IDENTITY + PREFERENCE}}


def _bound_kind(column: str) -> str:
    for kind in ("diameter", "width", "offset"):
        if kind in column:
            return kind
    return column


def _check_value(column: str, value: Any, record: dict[str, Any]) -> Iterator[Finding]:
    if value is None:
        return
    low, high, unit = BOUNDS[_bound_kind(column)]
    if not low <= float(value) <= high:
        yield _finding(
            "out_of_bounds", record, f"{column} = {value:g} {unit} is outside {low:g}..{high:g}"
        )


def _check_ranges(
    row: Row, axles: tuple[str, ...], ranges: tuple[str, ...], record: dict[str, Any]
) -> Iterator[Finding]:
    for axle in axles:
        for name in ranges:
            low, high = row.get(f"{axle}_{name}_min"), row.get(f"{axle}_{name}_max")
            for column, value in ((f"{axle}_{name}_min", low), (f"{axle}_{name}_max", high)):
                yield from _check_value(column, value, record)
            if low is not None and high is not None and low > high:
                yield _finding(
                    "min_above_max",
                    record,
                    f"{axle}_{name}_min {low:g} > {axle}_{name}_max {high:g}",
                )


def _check_bolt_patterns(row: Row, record: dict[str, Any]) -> Iterator[Finding]:
    mm = parse_bolt_pattern(row.get("bolt_pattern_mm")).value
    inch = parse_bolt_pattern(row.get("bolt_pattern_in")).value
    if mm is not None and inch is not None and not same_bolt_pattern(mm, inch):
        yield _finding(
            "bolt_pattern_mismatch",
            record,
            f"bolt_pattern_mm {row['bolt_pattern_mm']!r} ({mm.lug_count}x{mm.pcd_mm:g} mm) "
            f"!= bolt_pattern_in {row['bolt_pattern_in']!r} "
            f"({inch.lug_count}x{inch.pcd_mm:g} mm)",
        )
    # One circle named twice is checked once (the mm form, when both are readable).
    reading = mm if mm is not None else inch
    if reading is not None:
        yield from _check_value("pcd", reading.pcd_mm, record)


def check_vehicle(row: Row) -> Iterator[Finding]:
    """Ranges, bounds and bolt patterns of one vehicle row."""
    record = vehicle_identity(row)
    yield from _check_ranges(row, ("front", "rear"), _VEHICLE_RANGES, record)
    for axle in ("front", "rear"):
        for name in ("stock_diameter", "stock_width", "stock_offset"):
            yield from _check_value(f"{axle}_{name}", row.get(f"{axle}_{name}"), record)
    yield from _check_value("hub_bore", row.get("hub_bore_mm"), record)
    yield from _check_bolt_patterns(row, record)


def check_fitment(row: Row) -> Iterator[Finding]:
    """Ranges, bounds and bolt patterns of one fitment row (``no_data`` rows hold none)."""
    record = fitment_identity(row)
    yield from _check_ranges(row, ("front", "rear"), _RANGES, record)
    yield from _check_bolt_patterns(row, record)


def fitment_ranges(row: Row, axle: str) -> tuple[Any, ...]:
    return tuple(row.get(f"{axle}_{n}_{end}") for n in _RANGES for end in ("min", "max"))


def vehicle_is_staggered(row: Row) -> bool:
    """Its stored rear differs from its front (a rear of all nulls: staggered, rear unknown)."""
    front = tuple(row.get(f"front_{k}") for k in _VEHICLE_SPEC)
    rear = tuple(row.get(f"rear_{k}") for k in _VEHICLE_SPEC)
    return front != rear


def normal_identity(row: Row) -> tuple[Any, ...]:
    """The identity with case folded and runs of spaces made one (and ends trimmed)."""
    return tuple(
        _SPACES.sub(" ", v).strip().casefold() if isinstance(v, str) else v
        for v in (row[k] for k in IDENTITY)
    )


@dataclass
class _VehicleTally:
    identity: dict[str, Any]
    staggered: bool
    fitments: int = 0
    two_axle: int = 0  # ok fitments whose front and rear ranges differ
    same_axle: int = 0  # ok fitments whose front and rear ranges are equal


@dataclass
class _Constant:
    ranges: tuple[Any, ...] | None
    vehicles: int = 1
    varies: bool = False


@dataclass
class CatalogueChecks:
    """The rules over the whole catalogue, fed vehicles first, then fitments."""

    _vehicles: dict[int, _VehicleTally] = field(default_factory=dict)
    _identities: dict[tuple[Any, ...], list[dict[str, Any]]] = field(default_factory=dict)
    _constant: dict[tuple[Any, ...], _Constant] = field(default_factory=dict)

    def add_vehicle(self, row: Row) -> None:
        identity = vehicle_identity(row)
        self._vehicles[int(row["id"])] = _VehicleTally(identity, vehicle_is_staggered(row))
        self._identities.setdefault(normal_identity(row), []).append(identity)

    def add_fitment(self, row: Row) -> None:
        tally = self._vehicles.get(int(row["vehicle_id"]))
        if tally is not None:
            tally.fitments += 1
        if row["status"] != "ok":
            return
        front, rear = fitment_ranges(row, "front"), fitment_ranges(row, "rear")
        if tally is not None:
            if front == rear:
                tally.same_axle += 1
            else:
                tally.two_axle += 1
        key = (row["make"], row["vehicle_type"], *(row[k] for k in PREFERENCE))
        seen = self._constant.get(key)
        if seen is None:
            self._constant[key] = _Constant(front + rear)
        elif not seen.varies:
            seen.vehicles += 1
            seen.varies = seen.ranges != front + rear

    def findings(self) -> Iterator[Finding]:
        yield from self._stagger_findings()
        for identities in self._identities.values():
            if len(identities) > 1:
                names = ", ".join(
                    json.dumps([i[k] for k in IDENTITY], ensure_ascii=False) for i in identities
                )
                yield _finding(
                    "duplicate_identity", identities[0], f"{len(identities)} vehicles: {names}"
                )
        yield from self._constant_findings()

    def _stagger_findings(self) -> Iterator[Finding]:
        for tally in self._vehicles.values():
            if tally.fitments == 0:
                yield _finding("no_fitment", tally.identity, "no fitment record for this vehicle")
            if not tally.staggered and tally.two_axle:
                yield _finding(
                    "stagger_mismatch",
                    tally.identity,
                    f"square vehicle (rear = front) with {tally.two_axle} fitment(s) whose "
                    "front and rear ranges differ",
                )
            elif tally.staggered and tally.two_axle and tally.same_axle:
                yield _finding(
                    "stagger_mismatch",
                    tally.identity,
                    f"staggered vehicle: {tally.same_axle} fitment(s) with identical front and "
                    f"rear ranges beside {tally.two_axle} with different ones",
                )

    def _constant_findings(self) -> Iterator[Finding]:
        for key, seen in self._constant.items():
            if seen.varies or seen.vehicles < MIN_VEHICLES_FOR_CONSTANT:
                continue
            make, vehicle_type, *preference = key
            record = {
                "table": "fitments",
                "make": make,
                "vehicle_type": vehicle_type,
                **dict(zip(PREFERENCE, preference, strict=True)),
            }
            yield _finding(
                "constant_ranges",
                record,
                f"the same ranges for all {seen.vehicles} vehicles of {make} "
                f"({vehicle_type}) under this preference set",
            )
