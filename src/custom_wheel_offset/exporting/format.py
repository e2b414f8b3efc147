"""The export format: records to dictionaries, JSONL lines and CSV rows.

This is the one definition of the documented export schema. `cwo export`
(from the database) and `cwo sandbox truth` (from the sandbox's catalogue)
both go through it, so two exports of the same data are byte-identical.

Order of records: by identity, comparing strings by code point (Python's
order; SQLite BINARY and PostgreSQL ``COLLATE "C"`` agree with it for UTF-8).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from custom_wheel_offset.protocol.records import (
    AXLE_RANGE_KEYS,
    AXLE_SPEC_KEYS,
    AxleRanges,
    AxleSpec,
    FitmentPage,
    PreferenceSet,
    VehicleId,
    VehicleSpec,
)
from custom_wheel_offset.protocol.specs import parse_bolt_pattern, parse_lug_size

__all__ = [
    "CSV_FORMULA_STARTS",
    "FITMENT_CSV_COLUMNS",
    "TYPED_KEYS",
    "VEHICLE_CSV_COLUMNS",
    "csv_cell",
    "csv_row",
    "fitment_content",
    "fitment_record",
    "fitment_sort_key",
    "flatten",
    "jsonl_line",
    "spec_typed_fields",
    "typed_fields",
    "vehicle_content",
    "vehicle_record",
    "vehicle_sort_key",
]

# Numbers read from the vehicle's free-text specifications (protocol.specs), beside
# the text they were read from; ``spec_notes`` says why a null could not be read.
TYPED_KEYS = (
    "lug_count",
    "pcd_mm",
    "thread_diameter_mm",
    "thread_pitch_mm",
    "spec_notes",
)
IDENTITY_KEYS = ("year", "make", "model", "trim", "drive")
PREFERENCE_KEYS = ("suspension", "modification", "rubbing")

VEHICLE_CSV_COLUMNS: tuple[str, ...] = (
    *IDENTITY_KEYS,
    "vehicle_type",
    "chassis_id",
    "bolt_pattern_mm",
    "bolt_pattern_in",
    "hub_bore_mm",
    "lug_type",
    "lug_size",
    *TYPED_KEYS,
    *(f"front_{k}" for k in AXLE_SPEC_KEYS),
    *(f"rear_{k}" for k in AXLE_SPEC_KEYS),
)
FITMENT_CSV_COLUMNS: tuple[str, ...] = (
    *IDENTITY_KEYS,
    *PREFERENCE_KEYS,
    "status",
    "bolt_pattern_mm",
    "bolt_pattern_in",
    *(f"front_{k}" for k in AXLE_RANGE_KEYS),
    *(f"rear_{k}" for k in AXLE_RANGE_KEYS),
)


def _identity(vehicle: VehicleId) -> dict[str, Any]:
    return {
        "year": vehicle.year,
        "make": vehicle.make,
        "model": vehicle.model,
        "trim": vehicle.trim,
        "drive": vehicle.drive,
    }


def _axle_spec(axle: AxleSpec) -> dict[str, Any]:
    return {k: getattr(axle, k) for k in AXLE_SPEC_KEYS}


def _axle_ranges(axle: AxleRanges) -> dict[str, Any]:
    return {k: getattr(axle, k) for k in AXLE_RANGE_KEYS}


def typed_fields(
    bolt_pattern_mm: str | None,
    bolt_pattern_in: str | None,
    lug_size: str | None,
    hub_bore_mm: float | None,
) -> dict[str, Any]:
    """The typed fields read from a vehicle's specification texts (pure).

    The millimetre bolt pattern is read first; the inch form only when that
    one is missing or unreadable. ``spec_notes`` maps each typed field left
    null (``hub_bore_mm`` included) to why; it is None when everything was read.
    """
    notes: dict[str, str] = {}
    bolt = parse_bolt_pattern(bolt_pattern_mm)
    if bolt.value is None and bolt_pattern_in is not None:
        inch = parse_bolt_pattern(bolt_pattern_in)
        bolt = inch if inch.value is not None or bolt_pattern_mm is None else bolt
    if bolt.value is None:
        notes["lug_count"] = notes["pcd_mm"] = bolt.reason or "unreadable"
    thread = parse_lug_size(lug_size)
    if thread.value is None:
        notes["thread_diameter_mm"] = notes["thread_pitch_mm"] = thread.reason or "unreadable"
    if hub_bore_mm is None:
        notes["hub_bore_mm"] = "missing"
    return {
        "lug_count": bolt.value.lug_count if bolt.value else None,
        "pcd_mm": bolt.value.pcd_mm if bolt.value else None,
        "thread_diameter_mm": thread.value.diameter_mm if thread.value else None,
        "thread_pitch_mm": thread.value.pitch_mm if thread.value else None,
        # Keys sorted, as the database's JSON text holds them: an export reads the same.
        "spec_notes": dict(sorted(notes.items())) or None,
    }


def spec_typed_fields(spec: VehicleSpec) -> dict[str, Any]:
    """:func:`typed_fields` of a parsed specification."""
    return typed_fields(spec.bolt_pattern_mm, spec.bolt_pattern_in, spec.lug_size, spec.hub_bore_mm)


def vehicle_record(
    vehicle: VehicleId, spec: VehicleSpec, typed: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The export dictionary of one vehicle, keys in documented order.

    ``typed``: the typed fields as stored (an export); read from ``spec`` when None.
    """
    return {**_identity(vehicle), **vehicle_content(spec, typed)}


def vehicle_content(spec: VehicleSpec, typed: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A vehicle record less its identity (what its content hash covers)."""
    if typed is None:
        typed = spec_typed_fields(spec)
    return {
        "vehicle_type": spec.vehicle_type,
        "chassis_id": spec.chassis_id,
        "bolt_pattern_mm": spec.bolt_pattern_mm,
        "bolt_pattern_in": spec.bolt_pattern_in,
        "hub_bore_mm": spec.hub_bore_mm,
        "lug_type": spec.lug_type,
        "lug_size": spec.lug_size,
        **{k: typed[k] for k in TYPED_KEYS},
        "front": _axle_spec(spec.front),
        "rear": _axle_spec(spec.rear),
    }


def fitment_record(
    vehicle: VehicleId, preferences: PreferenceSet, page: FitmentPage
) -> dict[str, Any]:
    """The export dictionary of one (vehicle, preference set), keys in documented order."""
    return {**_identity(vehicle), **asdict(preferences), **fitment_content(page)}


def fitment_content(page: FitmentPage) -> dict[str, Any]:
    """A fitment record less its identity (what its content hash covers)."""
    return {
        "status": page.status,
        "bolt_pattern_mm": page.bolt_pattern_mm,
        "bolt_pattern_in": page.bolt_pattern_in,
        "front": _axle_ranges(page.front),
        "rear": _axle_ranges(page.rear),
    }


def vehicle_sort_key(record: Mapping[str, Any]) -> tuple[Any, ...]:
    return tuple(record[k] for k in IDENTITY_KEYS)


def fitment_sort_key(record: Mapping[str, Any]) -> tuple[Any, ...]:
    return tuple(record[k] for k in (*IDENTITY_KEYS, *PREFERENCE_KEYS))


def jsonl_line(record: Mapping[str, Any]) -> str:
    """One JSON object on one line, UTF-8 text kept as is, newline-terminated.

    Control characters and quotes inside names are escaped by ``json``; a
    newline inside a name can therefore never break a line.
    """
    return json.dumps(record, ensure_ascii=False, separators=(", ", ": ")) + "\n"


def flatten(record: Mapping[str, Any]) -> dict[str, Any]:
    """``front``/``rear`` objects become ``front_*``/``rear_*`` keys (the CSV and
    database column names); any other object (``spec_notes``) becomes JSON text,
    keys sorted, as the database column and the CSV cell hold it."""
    flat: dict[str, Any] = {}
    for key, value in record.items():
        if isinstance(value, Mapping) and key in ("front", "rear"):
            for inner, inner_value in value.items():
                flat[f"{key}_{inner}"] = inner_value
        elif isinstance(value, Mapping):
            flat[key] = json.dumps(value, ensure_ascii=False, sort_keys=True)
        else:
            flat[key] = value
    return flat


#: A spreadsheet reads a text cell starting with one of these as a formula
#: (``=HYPERLINK(...)``, ``+cmd|...``, ``@SUM(...)``); tab and carriage return
#: start one after the program strips them.
CSV_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any, *, raw: bool = False) -> Any:
    """One CSV cell: ``None`` is empty; text that a spreadsheet would run as a
    formula gets a ``'`` in front unless ``raw``. Numbers are not text and keep
    their sign (``-12.5`` stays ``-12.5``)."""
    if value is None:
        return ""
    if not raw and isinstance(value, str) and value.startswith(CSV_FORMULA_STARTS):
        return "'" + value
    return value


def csv_row(record: Mapping[str, Any], *, raw: bool = False) -> dict[str, Any]:
    """The record flattened, with ``None`` as an empty cell and formula-looking
    text defused (see :func:`csv_cell`)."""
    return {k: csv_cell(v, raw=raw) for k, v in flatten(record).items()}
