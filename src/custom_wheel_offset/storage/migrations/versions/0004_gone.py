"""Gone marks: ``gone_crawl`` on frontier, vehicles and fitments; ``frontier.parent_id``.

Revision ID: 0004
Revises: 0003
Create Date: 2027-01-20

``gone_crawl`` is the crawl in which the site stopped having a page or record
(a listing no longer names it, or its URL answers 404/410 after having
worked); NULL means present. Rows are never deleted (docs/resilience.md).
``parent_id`` is the listing item that listed a row: a listing re-fetched
without one of its children marks that child gone.

Rows of listed kinds get their ``parent_id`` back-filled from their keys (a
child's key is its parent's key with one more percent-encoded part), so that
the first crawl after the upgrade already notices children no longer listed.
Self-contained: it must do the same whatever cwo's key format becomes.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None

# The kind of each listed kind's parent, as keys were formed when this was written.
_PARENT_KIND = {
    "makes": "years",
    "models": "makes",
    "model_info": "models",
    "drives": "model_info",
    "vehicle": "drives",
}


def parent_key(key: str, kind: str) -> str | None:
    """The key of the listing that lists ``key`` (None for the root and fanned-out kinds)."""
    parent = _PARENT_KIND.get(kind)
    if parent is None:
        return None
    parts = key.split("/")
    if parts[0] != kind or len(parts) < 2:
        return None
    return "/".join([parent, *parts[1:-1]])


def upgrade() -> None:
    """Add the columns and indexes; back-fill ``parent_id`` of listed rows."""
    conn = op.get_bind()
    inspector = sa.inspect(conn)
    # Unversioned tables are stamped 0001/0002 (storage.migrations); made by a
    # newer ``metadata.create_all``, they hold these columns already.
    for table in ("frontier", "vehicles", "fitments"):
        if "gone_crawl" not in {c["name"] for c in inspector.get_columns(table)}:
            op.add_column(table, sa.Column("gone_crawl", sa.Integer(), nullable=True))
    if "parent_id" not in {c["name"] for c in inspector.get_columns("frontier")}:
        op.add_column("frontier", sa.Column("parent_id", sa.Integer(), nullable=True))
    indexes = {i["name"] for i in inspector.get_indexes("frontier")}
    for name, column in (
        ("ix_frontier_parent_id", "parent_id"),
        ("ix_frontier_vehicle_id", "vehicle_id"),
    ):
        if name not in indexes:
            op.create_index(name, "frontier", [column])
    frontier = sa.table(
        "frontier",
        sa.column("id", sa.Integer()),
        sa.column("key", sa.Text()),
        sa.column("kind", sa.String()),
        sa.column("parent_id", sa.Integer()),
    )
    rows = conn.execute(
        sa.select(frontier.c.id, frontier.c.key, frontier.c.kind).where(
            frontier.c.kind.in_([*_PARENT_KIND, *_PARENT_KIND.values()])
        )
    ).all()
    id_of = {row.key: row.id for row in rows}
    links = [
        {"b_id": row.id, "b_parent": id_of[pk]}
        for row in rows
        if (pk := parent_key(row.key, row.kind)) is not None and pk in id_of
    ]
    if links:
        conn.execute(
            frontier.update()
            .where(frontier.c.id == sa.bindparam("b_id"))
            .values(parent_id=sa.bindparam("b_parent")),
            links,
        )


def downgrade() -> None:
    """Drop the indexes and columns."""
    op.drop_index("ix_frontier_vehicle_id", table_name="frontier")
    op.drop_index("ix_frontier_parent_id", table_name="frontier")
    with op.batch_alter_table("frontier") as batch:
        batch.drop_column("parent_id")
        batch.drop_column("gone_crawl")
    for table in ("vehicles", "fitments"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("gone_crawl")
