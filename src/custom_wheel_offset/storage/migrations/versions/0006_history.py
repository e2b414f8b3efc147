"""Record history: first/last seen and last changed on vehicles and fitments; ``history``.

Revision ID: 0006
Revises: 0004
Create Date: 2027-02-01

Vehicles and fitments get ``first_seen``, ``last_seen`` and ``last_changed``
(epoch seconds), the crawls that did each (``first_crawl``, ``seen_crawl``,
``changed_crawl``) and ``content_hash``. Stored rows know only when they were
last fetched, so all three times are back-filled from ``fetched_at`` and the
three crawls from ``crawl_id``; ``content_hash`` stays NULL until the row is
fetched again (the writer then compares the stored fields themselves).
``preference_sets.gone_crawl`` marks sets the options no longer offer.
``history`` holds one row per added, changed, gone or returned record.

Revises 0004 for now: 0005 (typed fields) is being written in parallel and
this revision will be re-chained after it at merge.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | None = None
depends_on: str | None = None

TIMES = ("first_seen", "last_seen", "last_changed")
CRAWLS = ("first_crawl", "seen_crawl", "changed_crawl")


def upgrade() -> None:
    """Add the columns and the table; back-fill the times and crawls of stored records."""
    conn = op.get_bind()
    inspector = sa.inspect(conn)
    for table in ("vehicles", "fitments"):
        have = {c["name"] for c in inspector.get_columns(table)}
        for name in TIMES:
            if name not in have:
                op.add_column(table, sa.Column(name, sa.Float(), nullable=True))
        for name in CRAWLS:
            if name not in have:
                op.add_column(table, sa.Column(name, sa.Integer(), nullable=True))
        if "content_hash" not in have:
            op.add_column(table, sa.Column("content_hash", sa.Text(), nullable=True))
        rows = sa.table(
            table,
            sa.column("fetched_at", sa.Float()),
            sa.column("crawl_id", sa.Integer()),
            *(sa.column(n, sa.Float()) for n in TIMES),
            *(sa.column(n, sa.Integer()) for n in CRAWLS),
        )
        conn.execute(
            rows.update()
            .where(rows.c.first_seen.is_(None))
            .values(
                **{n: rows.c.fetched_at for n in TIMES},
                **{n: rows.c.crawl_id for n in CRAWLS},
            )
        )
    if "gone_crawl" not in {c["name"] for c in inspector.get_columns("preference_sets")}:
        op.add_column("preference_sets", sa.Column("gone_crawl", sa.Integer(), nullable=True))
    if not inspector.has_table("history"):
        op.create_table(
            "history",
            sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
            sa.Column("what", sa.String(8), nullable=False),
            sa.Column("record_id", sa.Integer(), nullable=False),
            sa.Column("identity", sa.Text(), nullable=False),
            sa.Column("crawl_id", sa.Integer(), nullable=False),
            sa.Column("at", sa.Float(), nullable=False),
            sa.Column("change", sa.String(8), nullable=False),
            sa.Column("fields", sa.Text(), nullable=True),
            sa.PrimaryKeyConstraint("id", name="pk_history"),
        )
        op.create_index("ix_history_crawl_id", "history", ["crawl_id"])
        op.create_index("ix_history_record", "history", ["what", "record_id"])


def downgrade() -> None:
    """Drop the table and the columns."""
    op.drop_index("ix_history_record", table_name="history")
    op.drop_index("ix_history_crawl_id", table_name="history")
    op.drop_table("history")
    # Plain DROP COLUMN (SQLite 3.35+): a batch copy of the table would trip over
    # the views of 0005 that read it.
    op.drop_column("preference_sets", "gone_crawl")
    for table in ("vehicles", "fitments"):
        for name in (*TIMES, *CRAWLS, "content_hash"):
            op.drop_column(table, name)
