"""The first schema: frontier, vehicles, preference options and sets, fitments, crawls, runs.

Revision ID: 0001
Revises:
Create Date: 2026-11-21

Written out in full (not derived from ``schema.py``) so that this revision
always creates what the first release created, whatever the schema becomes.
Constraint names follow the naming convention of ``schema.metadata``.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

_AXLE_SPEC = (
    "stock_diameter",
    "stock_width",
    "stock_offset",
    "stock_tire",
    "diameter_min",
    "diameter_max",
    "width_min",
    "width_max",
)
_AXLE_RANGE = ("diameter_min", "diameter_max", "width_min", "width_max", "offset_min", "offset_max")


def _spec_columns(prefix: str) -> list[sa.Column[object]]:
    return [
        sa.Column(
            f"{prefix}_{name}", sa.Text() if name == "stock_tire" else sa.Float(), nullable=True
        )
        for name in _AXLE_SPEC
    ]


def _range_columns(prefix: str) -> list[sa.Column[object]]:
    return [sa.Column(f"{prefix}_{name}", sa.Float(), nullable=True) for name in _AXLE_RANGE]


def upgrade() -> None:
    """Create the first release's tables and indexes."""
    _create_crawls()
    _create_frontier()
    _create_preference_options()
    _create_preference_sets()
    _create_runs()
    _create_vehicles()
    _create_fitments()


def _create_crawls() -> None:
    op.create_table(
        "crawls",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("started_at", sa.Float(), nullable=False),
        sa.Column("finished_at", sa.Float(), nullable=True),
        sa.Column("mode", sa.String(length=16), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_crawls")),
    )


def _create_frontier() -> None:
    op.create_table(
        "frontier",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("params", sa.Text(), nullable=True),
        sa.Column("vehicle_id", sa.Integer(), nullable=True),
        sa.Column("prefset_id", sa.Integer(), nullable=True),
        sa.Column("year", sa.Integer(), nullable=True),
        sa.Column("make", sa.Text(), nullable=True),
        sa.Column("model", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=8), server_default="pending", nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("not_before", sa.Float(), server_default="0", nullable=False),
        sa.Column("lease_owner", sa.Text(), nullable=True),
        sa.Column("lease_expires", sa.Float(), nullable=True),
        sa.Column("crawl_id", sa.Integer(), nullable=True),
        sa.Column("updated_at", sa.Float(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_frontier")),
        sa.UniqueConstraint("key", name=op.f("uq_frontier_key")),
    )
    op.create_index("ix_frontier_kind_status", "frontier", ["kind", "status"], unique=False)
    op.create_index(
        "ix_frontier_leased",
        "frontier",
        ["lease_expires"],
        unique=False,
        sqlite_where=sa.text("status = 'leased'"),
        postgresql_where=sa.text("status = 'leased'"),
    )
    op.create_index(
        "ix_frontier_pending",
        "frontier",
        ["kind", "id"],
        unique=False,
        sqlite_where=sa.text("status = 'pending'"),
        postgresql_where=sa.text("status = 'pending'"),
    )


def _create_preference_options() -> None:
    op.create_table(
        "preference_options",
        sa.Column("vehicle_type", sa.Text(), nullable=False),
        sa.Column("suspension", sa.Text(), nullable=False),
        sa.Column("trimming", sa.Text(), nullable=False),
        sa.Column("rubbing", sa.Text(), nullable=False),
        sa.Column("fetched_at", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("vehicle_type", name=op.f("pk_preference_options")),
    )


def _create_preference_sets() -> None:
    op.create_table(
        "preference_sets",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("vehicle_type", sa.Text(), nullable=False),
        sa.Column("suspension", sa.Text(), nullable=False),
        sa.Column("modification", sa.Text(), nullable=False),
        sa.Column("rubbing", sa.Text(), nullable=False),
        sa.Column("current", sa.Boolean(), server_default=sa.text("true"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_preference_sets")),
        sa.UniqueConstraint(
            "vehicle_type",
            "suspension",
            "modification",
            "rubbing",
            name=op.f("uq_preference_sets_vehicle_type_suspension_modification_rubbing"),
        ),
    )


def _create_runs() -> None:
    op.create_table(
        "runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("crawl_id", sa.Integer(), nullable=True),
        sa.Column("started_at", sa.Float(), nullable=False),
        sa.Column("ended_at", sa.Float(), nullable=True),
        sa.Column("outcome", sa.String(length=24), server_default="running", nullable=False),
        sa.Column("exit_code", sa.SmallInteger(), nullable=True),
        sa.Column("host", sa.Text(), nullable=False),
        sa.Column("pid", sa.Integer(), nullable=False),
        sa.Column("settings_json", sa.Text(), nullable=False),
        sa.Column("metrics_json", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_runs")),
    )


def _create_vehicles() -> None:
    op.create_table(
        "vehicles",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("make", sa.Text(), nullable=False),
        sa.Column("model", sa.Text(), nullable=False),
        sa.Column("trim", sa.Text(), nullable=False),
        sa.Column("drive", sa.Text(), nullable=False),
        sa.Column("vehicle_type", sa.Text(), nullable=True),
        sa.Column("chassis_id", sa.Text(), nullable=True),
        sa.Column("bolt_pattern_mm", sa.Text(), nullable=True),
        sa.Column("bolt_pattern_in", sa.Text(), nullable=True),
        sa.Column("hub_bore_mm", sa.Float(), nullable=True),
        sa.Column("lug_type", sa.Text(), nullable=True),
        sa.Column("lug_size", sa.Text(), nullable=True),
        *_spec_columns("front"),
        *_spec_columns("rear"),
        sa.Column("raw_json", sa.Text(), nullable=False),
        sa.Column("fetched_at", sa.Float(), nullable=False),
        sa.Column("crawl_id", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_vehicles")),
        sa.UniqueConstraint(
            "year",
            "make",
            "model",
            "trim",
            "drive",
            name=op.f("uq_vehicles_year_make_model_trim_drive"),
        ),
    )
    op.create_index("ix_vehicles_vehicle_type", "vehicles", ["vehicle_type"], unique=False)


def _create_fitments() -> None:
    op.create_table(
        "fitments",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("vehicle_id", sa.Integer(), nullable=False),
        sa.Column("prefset_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("bolt_pattern_mm", sa.Text(), nullable=True),
        sa.Column("bolt_pattern_in", sa.Text(), nullable=True),
        *_range_columns("front"),
        *_range_columns("rear"),
        sa.Column("raw_block", sa.Text(), nullable=False),
        sa.Column("fetched_at", sa.Float(), nullable=False),
        sa.Column("crawl_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["prefset_id"],
            ["preference_sets.id"],
            name=op.f("fk_fitments_prefset_id_preference_sets"),
        ),
        sa.ForeignKeyConstraint(
            ["vehicle_id"], ["vehicles.id"], name=op.f("fk_fitments_vehicle_id_vehicles")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_fitments")),
        sa.UniqueConstraint(
            "vehicle_id", "prefset_id", name=op.f("uq_fitments_vehicle_id_prefset_id")
        ),
    )


def downgrade() -> None:
    """Drop every table of the first release."""
    op.drop_table("fitments")
    op.drop_index("ix_vehicles_vehicle_type", table_name="vehicles")
    op.drop_table("vehicles")
    op.drop_table("runs")
    op.drop_table("preference_sets")
    op.drop_table("preference_options")
    op.drop_index("ix_frontier_pending", table_name="frontier")
    op.drop_index("ix_frontier_leased", table_name="frontier")
    op.drop_index("ix_frontier_kind_status", table_name="frontier")
    op.drop_table("frontier")
    op.drop_table("crawls")
