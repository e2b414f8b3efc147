"""The browsing views: flat, documented rows over the stored crawl (pure SQL text).

``vehicle_specs``: one row per vehicle the site still has, its specification
texts and the numbers read from them. ``fitment_ranges``: one row per vehicle
and current preference set, with the vehicle's identity and bolt-pattern
numbers beside the ranges, so "what fits" is one ``WHERE`` away. Rows marked
gone (``gone_crawl IS NOT NULL``) are left out of both; so are preference sets
the latest options answer no longer offers.

Migration 0005 creates these views with its own frozen copy of this text; a
test checks that the two are equal, so a change here needs a new revision
that drops and re-creates them. Columns are documented in docs/querying.md.
"""

from __future__ import annotations

from custom_wheel_offset.protocol.records import AXLE_RANGE_KEYS, AXLE_SPEC_KEYS

__all__ = ["FITMENT_RANGE_COLUMNS", "VEHICLE_SPEC_COLUMNS", "VIEWS", "view_ddl"]

# The export format's axle keys (protocol/records.py): one list for the schema,
# the exports and these views.
_AXLE_SPEC = AXLE_SPEC_KEYS
_AXLE_RANGE = AXLE_RANGE_KEYS

VEHICLE_SPEC_COLUMNS: tuple[str, ...] = (
    "vehicle_id",
    "year",
    "make",
    "model",
    "trim",
    "drive",
    "vehicle_type",
    "chassis_id",
    "bolt_pattern_mm",
    "bolt_pattern_in",
    "lug_count",
    "pcd_mm",
    "hub_bore_mm",
    "lug_type",
    "lug_size",
    "thread_diameter_mm",
    "thread_pitch_mm",
    "spec_notes",
    *(f"{axle}_{k}" for axle in ("front", "rear") for k in _AXLE_SPEC),
)
FITMENT_RANGE_COLUMNS: tuple[str, ...] = (
    "vehicle_id",
    "year",
    "make",
    "model",
    "trim",
    "drive",
    "vehicle_type",
    "lug_count",
    "pcd_mm",
    "hub_bore_mm",
    "suspension",
    "modification",
    "rubbing",
    "status",
    "bolt_pattern_mm",
    "bolt_pattern_in",
    *(f"{axle}_{k}" for axle in ("front", "rear") for k in _AXLE_RANGE),
)

_VEHICLE_SPECS = (
    "SELECT v.id AS vehicle_id, "
    + ", ".join(f"v.{c}" for c in VEHICLE_SPEC_COLUMNS[1:])
    + " FROM vehicles v WHERE v.gone_crawl IS NULL"
)
# The fitment's own bolt pattern (what its page showed) is kept; the vehicle's
# numbers come from its specification.
_FROM_VEHICLE = {"vehicle_type", "lug_count", "pcd_mm", "hub_bore_mm"}
_FROM_PREFS = {"suspension", "modification", "rubbing"}


def _fitment_column(name: str) -> str:
    if name in ("year", "make", "model", "trim", "drive") or name in _FROM_VEHICLE:
        return f"v.{name}"
    if name in _FROM_PREFS:
        return f"p.{name}"
    return f"f.{name}"


_FITMENT_RANGES = (
    "SELECT " + ", ".join(_fitment_column(c) for c in FITMENT_RANGE_COLUMNS) + " FROM fitments f"
    " JOIN vehicles v ON v.id = f.vehicle_id"
    ' JOIN preference_sets p ON p.id = f.prefset_id AND p."current"'
    " WHERE f.gone_crawl IS NULL AND v.gone_crawl IS NULL"
)

VIEWS: dict[str, str] = {"vehicle_specs": _VEHICLE_SPECS, "fitment_ranges": _FITMENT_RANGES}
"""View name -> its SELECT."""


def view_ddl(name: str) -> str:
    """``CREATE VIEW name AS SELECT ...`` (SQLite and PostgreSQL)."""
    return f"CREATE VIEW {name} AS {VIEWS[name]}"
