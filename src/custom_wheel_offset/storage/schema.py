"""The database schema (SQLAlchemy Core), shared by SQLite and PostgreSQL.

Tables:
- ``frontier``: every unit of work, one row each (see ``storage.frontier``).
  ``gone_crawl`` on frontier, vehicles and fitments: the crawl in which the
  site stopped having the row's page or record (never deleted; NULL: present).
- ``vehicles``: one row per (year, make, model, trim, drive), specs plus raw JSON.
- ``preference_options``: the three option lists of each vehicle type.
- ``preference_sets``: one row per (vehicle type, suspension, modification, rubbing);
  ``current`` marks the sets the latest options answer still offers.
- ``fitments``: one row per (vehicle, preference set), ranges plus the raw HTML block.
- ``crawls``: crawl generations (a crawl ends when the frontier has no open item).
- ``history``: one row per change of a vehicle or fitment record (added, changed,
  gone, returned), written in the transaction of the change (docs/history.md).
  Vehicles and fitments carry ``first_seen``/``last_seen``/``last_changed``
  (epoch seconds), the crawls that did each, and ``content_hash`` of their
  exported fields.
- ``runs``: one row per `cwo scrape` process, with its settings and metrics JSON.
- ``workers``: live and past worker processes (several machines on PostgreSQL).
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

from custom_wheel_offset.protocol.records import AXLE_RANGE_KEYS, AXLE_SPEC_KEYS

__all__ = [
    "AXLE_RANGE_FIELDS",
    "AXLE_SPEC_FIELDS",
    "crawls",
    "fitments",
    "frontier",
    "history",
    "metadata",
    "preference_options",
    "preference_sets",
    "runs",
    "vehicles",
    "workers",
]

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# One column per field of the records' axles (the export format's front/rear keys
# come from the same tuples; neither side reads the other).
AXLE_SPEC_FIELDS = AXLE_SPEC_KEYS
AXLE_RANGE_FIELDS = AXLE_RANGE_KEYS


def _axle_spec_columns(prefix: str) -> list[Column[object]]:
    return [
        Column(f"{prefix}_{name}", Text if name == "stock_tire" else Float)
        for name in AXLE_SPEC_FIELDS
    ]


def _axle_range_columns(prefix: str) -> list[Column[object]]:
    return [Column(f"{prefix}_{name}", Float) for name in AXLE_RANGE_FIELDS]


def _history_columns() -> list[Column[object]]:
    """When a record was first seen, last confirmed and last changed, and by which crawls."""
    return [
        Column("first_seen", Float),
        Column("last_seen", Float),
        Column("last_changed", Float),
        Column("first_crawl", Integer),
        Column("seen_crawl", Integer),
        Column("changed_crawl", Integer),
        # Of the exported fields less the identity (exporting.changes.content_hash);
        # NULL for rows stored before 0006 until they are fetched again.
        Column("content_hash", Text),
    ]


frontier = Table(
    "frontier",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key", Text, nullable=False, unique=True),
    Column("kind", String(16), nullable=False),
    Column("params", Text),  # JSON of the item's parameters (tree, vehicle, options kinds)
    Column("vehicle_id", Integer),  # fitment kind: which vehicle ...
    Column("prefset_id", Integer),  # ... with which preference set
    Column("year", Integer),  # identity parts kept as columns for filters and status
    Column("make", Text),
    Column("model", Text),
    Column("status", String(8), nullable=False, server_default="pending"),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("last_error", Text),
    # Why it failed, as a short stable code (errors.failure_code), and in how many
    # runs: past --item-attempts a new run no longer re-opens it.
    Column("failure_code", Text),
    Column("failed_runs", Integer, nullable=False, server_default="0"),
    Column("not_before", Float, nullable=False, server_default="0"),
    Column("lease_owner", Text),
    Column("lease_expires", Float),
    Column("crawl_id", Integer),
    Column("updated_at", Float),
    # The listing item that listed it last (NULL: the root, or fanned out): a
    # listing that no longer names a child marks it gone (docs/resilience.md).
    Column("parent_id", Integer),
    # The crawl in which the site stopped having it (status 'gone'); NULL: present.
    Column("gone_crawl", Integer),
)
# Claims read pending rows of one kind in id order; a partial index keeps that a
# range scan however many done rows the table holds.
Index(
    "ix_frontier_pending",
    frontier.c.kind,
    frontier.c.id,
    sqlite_where=text("status = 'pending'"),
    postgresql_where=text("status = 'pending'"),
)
Index(
    "ix_frontier_leased",
    frontier.c.lease_expires,
    sqlite_where=text("status = 'leased'"),
    postgresql_where=text("status = 'leased'"),
)
Index("ix_frontier_kind_status", frontier.c.kind, frontier.c.status)
Index("ix_frontier_parent_id", frontier.c.parent_id)
Index("ix_frontier_vehicle_id", frontier.c.vehicle_id)

vehicles = Table(
    "vehicles",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("year", Integer, nullable=False),
    Column("make", Text, nullable=False),
    Column("model", Text, nullable=False),
    Column("trim", Text, nullable=False),
    Column("drive", Text, nullable=False),
    Column("vehicle_type", Text),
    Column("chassis_id", Text),
    Column("bolt_pattern_mm", Text),
    Column("bolt_pattern_in", Text),
    Column("hub_bore_mm", Float),
    Column("lug_type", Text),
    Column("lug_size", Text),
    # Read from the texts above (exporting.format.typed_fields); spec_notes is a
    # JSON object of typed field -> why it is null, NULL when everything was read.
    Column("lug_count", Integer),
    Column("pcd_mm", Float),
    Column("thread_diameter_mm", Float),
    Column("thread_pitch_mm", Float),
    Column("spec_notes", Text),
    *_axle_spec_columns("front"),
    *_axle_spec_columns("rear"),
    Column("raw_json", Text, nullable=False),
    Column("fetched_at", Float, nullable=False),
    Column("crawl_id", Integer),
    Column("gone_crawl", Integer),  # the crawl that found it gone; NULL: present
    *_history_columns(),
    UniqueConstraint("year", "make", "model", "trim", "drive"),
)
Index("ix_vehicles_vehicle_type", vehicles.c.vehicle_type)
# `cwo fits` selects vehicles by bolt pattern (lug count, then a PCD range).
Index("ix_vehicles_lug_count_pcd_mm", vehicles.c.lug_count, vehicles.c.pcd_mm)

preference_options = Table(
    "preference_options",
    metadata,
    Column("vehicle_type", Text, primary_key=True),
    Column("suspension", Text, nullable=False),  # JSON lists, as served (de-duplicated)
    Column("trimming", Text, nullable=False),
    Column("rubbing", Text, nullable=False),
    Column("fetched_at", Float, nullable=False),
)

preference_sets = Table(
    "preference_sets",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("vehicle_type", Text, nullable=False),
    Column("suspension", Text, nullable=False),
    Column("modification", Text, nullable=False),
    Column("rubbing", Text, nullable=False),
    Column("current", Boolean, nullable=False, server_default=text("true")),
    Column("gone_crawl", Integer),  # the crawl whose options no longer offered it
    UniqueConstraint("vehicle_type", "suspension", "modification", "rubbing"),
)

fitments = Table(
    "fitments",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("vehicle_id", Integer, ForeignKey("vehicles.id"), nullable=False),
    Column("prefset_id", Integer, ForeignKey("preference_sets.id"), nullable=False),
    Column("status", String(8), nullable=False),
    Column("bolt_pattern_mm", Text),
    Column("bolt_pattern_in", Text),
    *_axle_range_columns("front"),
    *_axle_range_columns("rear"),
    Column("raw_block", Text, nullable=False),
    Column("fetched_at", Float, nullable=False),
    Column("crawl_id", Integer),
    Column("gone_crawl", Integer),  # the crawl that found it gone; NULL: present
    *_history_columns(),
    UniqueConstraint("vehicle_id", "prefset_id"),
)

history = Table(
    "history",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("what", String(8), nullable=False),  # vehicle | fitment
    Column("record_id", Integer, nullable=False),  # vehicles.id or fitments.id
    Column("identity", Text, nullable=False),  # JSON, the export's identity keys
    Column("crawl_id", Integer, nullable=False),
    Column("at", Float, nullable=False),
    Column("change", String(8), nullable=False),  # added | changed | gone | returned
    Column("fields", Text),  # JSON {name: {"old", "new"}}, for changed only
)
Index("ix_history_crawl_id", history.c.crawl_id)
Index("ix_history_record", history.c.what, history.c.record_id)

crawls = Table(
    "crawls",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("started_at", Float, nullable=False),
    Column("finished_at", Float),
    Column("mode", String(16), nullable=False),  # full | skip_existing
)

runs = Table(
    "runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("crawl_id", Integer),
    Column("started_at", Float, nullable=False),
    Column("ended_at", Float),
    Column("outcome", String(24), nullable=False, server_default="running"),
    Column("exit_code", SmallInteger),
    Column("host", Text, nullable=False),
    Column("pid", Integer, nullable=False),
    Column("settings_json", Text, nullable=False),
    Column("metrics_json", Text),
)

workers = Table(
    "workers",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("owner", Text, nullable=False, unique=True),  # host:pid:run
    Column("host", Text, nullable=False),
    Column("pid", Integer, nullable=False),
    Column("run_id", Integer),
    Column("started_at", Float, nullable=False),
    Column("heartbeat_at", Float, nullable=False),
    Column("items_done", Integer, nullable=False, server_default="0"),
    Column("rate", Float, nullable=False, server_default="0"),
    Column("stopped_at", Float),
)
