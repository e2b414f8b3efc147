"""Typed specification fields on ``vehicles``, and the browsing views.

Revision ID: 0005
Revises: 0004
Create Date: 2027-02-03

``lug_count``, ``pcd_mm`` (from the bolt pattern, either unit),
``thread_diameter_mm``, ``thread_pitch_mm`` (from the lug size) and
``spec_notes`` (a JSON object: typed field -> why it is null; NULL when all
were read) sit beside the texts they are read from, which keep their meaning.
Existing rows are back-filled from their stored ``raw_json`` (no fetching),
read with cwo's own vehicle parser and ``exporting.format.typed_fields``, so a
back-filled row holds exactly what a fresh crawl writes; a ``raw_json`` the
parser refuses falls back to the row's stored texts.

The views ``vehicle_specs`` and ``fitment_ranges`` (docs/querying.md) are
created from a frozen copy of ``query.views`` (a test checks the two agree).
On SQLite a later revision that recreates ``vehicles``, ``fitments`` or
``preference_sets`` in batch mode must drop these views first and create them
again afterwards.
"""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None

TYPED_COLUMNS = (
    ("lug_count", sa.Integer()),
    ("pcd_mm", sa.Float()),
    ("thread_diameter_mm", sa.Float()),
    ("thread_pitch_mm", sa.Float()),
    ("spec_notes", sa.Text()),
)

VEHICLE_SPECS = (
    "SELECT v.id AS vehicle_id, v.year, v.make, v.model, v.trim, v.drive, "
    "v.vehicle_type, v.chassis_id, v.bolt_pattern_mm, v.bolt_pattern_in, v.lug_count,"
    " v.pcd_mm, v.hub_bore_mm, v.lug_type, v.lug_size, v.thread_diameter_mm, "
    "v.thread_pitch_mm, v.spec_notes, v.front_stock_diameter, v.front_stock_width, "
    "v.front_stock_offset, v.front_stock_tire, v.front_diameter_min, "
    "v.front_diameter_max, v.front_width_min, v.front_width_max, "
    "v.rear_stock_diameter, v.rear_stock_width, v.rear_stock_offset, "
    "v.rear_stock_tire, v.rear_diameter_min, v.rear_diameter_max, v.rear_width_min, "
    "v.rear_width_max FROM vehicles v WHERE v.gone_crawl IS NULL"
)
FITMENT_RANGES = (
    "SELECT f.vehicle_id, v.year, v.make, v.model, v.trim, v.drive, v.vehicle_type, "
    "v.lug_count, v.pcd_mm, v.hub_bore_mm, p.suspension, p.modification, p.rubbing, "
    "f.status, f.bolt_pattern_mm, f.bolt_pattern_in, f.front_diameter_min, "
    "f.front_diameter_max, f.front_width_min, f.front_width_max, f.front_offset_min, "
    "f.front_offset_max, f.rear_diameter_min, f.rear_diameter_max, f.rear_width_min, "
    "f.rear_width_max, f.rear_offset_min, f.rear_offset_max FROM fitments f JOIN "
    "vehicles v ON v.id = f.vehicle_id JOIN preference_sets p ON p.id = f.prefset_id "
    'AND p."current" WHERE f.gone_crawl IS NULL AND v.gone_crawl IS NULL'
)
VIEWS = {"vehicle_specs": VEHICLE_SPECS, "fitment_ranges": FITMENT_RANGES}

BACKFILL_CHUNK = 2000

_vehicles = sa.table(
    "vehicles",
    sa.column("id", sa.Integer()),
    sa.column("raw_json", sa.Text()),
    sa.column("bolt_pattern_mm", sa.Text()),
    sa.column("bolt_pattern_in", sa.Text()),
    sa.column("lug_size", sa.Text()),
    sa.column("hub_bore_mm", sa.Float()),
    *(sa.column(name, kind) for name, kind in TYPED_COLUMNS),
)


def typed_row(row: Any) -> dict[str, Any]:
    """The typed fields of one stored vehicle row, read from its raw JSON."""
    from custom_wheel_offset.errors import ParseError
    from custom_wheel_offset.exporting.format import typed_fields
    from custom_wheel_offset.protocol.api import parse_vehicle

    texts = (row.bolt_pattern_mm, row.bolt_pattern_in, row.lug_size)
    try:
        spec = parse_vehicle((row.raw_json or "").encode("utf-8"))
        texts = (spec.bolt_pattern_mm, spec.bolt_pattern_in, spec.lug_size)
    except ParseError:
        pass  # the stored texts are what that JSON was read as when it was written
    typed = typed_fields(*texts, row.hub_bore_mm)
    notes = typed["spec_notes"]
    typed["spec_notes"] = (
        None if notes is None else json.dumps(notes, ensure_ascii=False, sort_keys=True)
    )
    return {"b_id": row.id, **typed}


def _backfill(conn: sa.engine.Connection) -> None:
    v = _vehicles.c
    query = sa.select(
        v.id, v.raw_json, v.bolt_pattern_mm, v.bolt_pattern_in, v.lug_size, v.hub_bore_mm
    ).order_by(v.id)
    rows = [typed_row(row) for row in conn.execute(query)]
    update = (
        _vehicles.update()
        .where(v.id == sa.bindparam("b_id"))
        .values({name: sa.bindparam(name) for name, _ in TYPED_COLUMNS})
    )
    for start in range(0, len(rows), BACKFILL_CHUNK):
        conn.execute(update, rows[start : start + BACKFILL_CHUNK])


def upgrade() -> None:
    """Add the typed columns and their index, back-fill them, create the views."""
    conn = op.get_bind()
    inspector = sa.inspect(conn)
    # Unversioned tables are stamped 0001/0002 (storage.migrations); made by a
    # newer ``metadata.create_all``, they hold these columns already.
    present = {c["name"] for c in inspector.get_columns("vehicles")}
    for name, kind in TYPED_COLUMNS:
        if name not in present:
            op.add_column("vehicles", sa.Column(name, kind, nullable=True))
    if "ix_vehicles_lug_count_pcd_mm" not in {i["name"] for i in inspector.get_indexes("vehicles")}:
        op.create_index("ix_vehicles_lug_count_pcd_mm", "vehicles", ["lug_count", "pcd_mm"])
    _backfill(conn)
    existing = set(inspector.get_view_names())
    for name, select in VIEWS.items():
        if name not in existing:
            op.execute(f"CREATE VIEW {name} AS {select}")


def downgrade() -> None:
    """Drop the views, the index and the columns."""
    for name in VIEWS:
        op.execute(f"DROP VIEW IF EXISTS {name}")
    op.drop_index("ix_vehicles_lug_count_pcd_mm", table_name="vehicles")
    # A plain ALTER TABLE ... DROP COLUMN (SQLite 3.35+): batch mode would recreate
    # ``vehicles``, which fitments reference, and foreign keys cannot be switched
    # off inside the migration's transaction.
    for name, _ in reversed(TYPED_COLUMNS):
        op.execute(f"ALTER TABLE vehicles DROP COLUMN {name}")
