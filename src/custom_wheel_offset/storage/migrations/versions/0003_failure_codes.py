"""Failure codes: ``frontier.failure_code`` and ``frontier.failed_runs``.

Revision ID: 0003
Revises: 0002
Create Date: 2027-01-12

``failure_code`` is the short, stable name of why an item failed (``http_404``,
``timeout``, ``internal:RecursionError``; docs/resilience.md), stored apart
from the message so that `cwo status` can group by it. ``failed_runs`` counts
the runs in which the item failed: past ``--item-attempts`` it is no longer
re-opened by a new run (``--retry-failed`` still takes it).

Rows that failed before this revision get a code derived from their stored
message where its wording says (the messages of cwo's own errors), else
``legacy``; their ``failed_runs`` becomes 1. Self-contained: this revision must
do the same whatever cwo's error classes become.
"""

from __future__ import annotations

import re

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None

_HTTP_STATUS = re.compile(r"\bHTTP (\d{3})\b")
# (what the stored message starts with or holds, the code), first match wins.
_LEGACY_WORDING: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"^TruncatedBodyError: |body cut short"), "truncated"),
    (re.compile(r"^ParseError: "), "parse_error"),
    (re.compile(r"^ChallengeError: "), "challenge"),
    (re.compile(r"timed out (connecting|reading)"), "timeout"),
    (re.compile(r"connection failed to |request failed for "), "connection"),
    (re.compile(r"TLS (error|certificate)"), "tls"),
    (re.compile(r"proxy failed for "), "proxy"),
    (re.compile(r"undecodable body"), "decoding"),
    (re.compile(r"response larger than \d+ bytes"), "too_large"),
    (re.compile(r"to another host \(.*\) refused|more than \d+ redirects"), "redirect_refused"),
    (re.compile(r" is disallowed by robots\.txt of "), "robots_disallowed"),
)


def legacy_code(message: str | None) -> str:
    """The best code the wording of a message stored before failure codes allows."""
    text = message or ""
    for pattern, code in _LEGACY_WORDING:
        if pattern.search(text):
            return code
    status = _HTTP_STATUS.search(text)
    if status and int(status.group(1)) >= 400:
        return f"http_{status.group(1)}"
    return "legacy"


def upgrade() -> None:
    """Add the two columns; give every failed row a code and one failed run."""
    conn = op.get_bind()
    # Tables made by ``metadata.create_all`` before migrations existed are stamped
    # 0001/0002 (storage.migrations); made by a newer create_all, they hold these already.
    have = {c["name"] for c in sa.inspect(conn).get_columns("frontier")}
    if "failure_code" not in have:
        op.add_column("frontier", sa.Column("failure_code", sa.Text(), nullable=True))
    if "failed_runs" not in have:
        op.add_column(
            "frontier",
            sa.Column("failed_runs", sa.Integer(), server_default="0", nullable=False),
        )
    frontier = sa.table(
        "frontier",
        sa.column("id", sa.Integer()),
        sa.column("status", sa.String()),
        sa.column("last_error", sa.Text()),
        sa.column("failure_code", sa.Text()),
        sa.column("failed_runs", sa.Integer()),
    )
    failed = conn.execute(
        sa.select(frontier.c.id, frontier.c.last_error).where(frontier.c.status == "failed")
    ).all()
    if not failed:
        return
    conn.execute(
        frontier.update()
        .where(frontier.c.id == sa.bindparam("b_id"))
        .values(failure_code=sa.bindparam("b_code"), failed_runs=1),
        [{"b_id": row.id, "b_code": legacy_code(row.last_error)} for row in failed],
    )


def downgrade() -> None:
    """Drop the two columns."""
    with op.batch_alter_table("frontier") as batch:
        batch.drop_column("failed_runs")
        batch.drop_column("failure_code")
