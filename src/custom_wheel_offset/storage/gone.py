"""Gone marks: what the site no longer has is marked with the crawl that found it, never deleted.

Two ways to go (docs/resilience.md, "Gone"):

- a listing item re-fetched no longer names a child it named before
  (``frontier.parent_id``): that child goes;
- a URL whose item was done in an earlier crawl (``frontier.crawl_id`` set)
  answers HTTP 404 or 410: that item goes instead of failing.

What hangs below goes with it: the items a gone listing listed, a gone vehicle
item's vehicle record, its fitment items and fitment records. Each record
marked gets a 'gone' history row (``storage.history``). A gone item has
status ``gone`` and ``gone_crawl``: no crawl re-opens it and it does not count
as failed. When a listing names it again it comes back (status ``pending``,
mark cleared); its records lose their mark when they are fetched again.

Every function here runs inside the writer's transaction of the outcome that
revealed the change, so a mark is never half-written.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING, Any

from sqlalchemy import and_, bindparam, select, tuple_, update

from custom_wheel_offset.storage import history
from custom_wheel_offset.storage.database import sorted_chunks
from custom_wheel_offset.storage.schema import fitments, frontier, vehicles

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

__all__ = ["GONE_CODES", "come_back", "gone_after_404", "link_children", "mark_gone", "unlisted"]

log = logging.getLogger(__name__)

# Failure codes meaning "the site has no such page": on a URL that worked before, gone.
GONE_CODES = frozenset({"http_404", "http_410"})


def gone_after_404(conn: Connection, ids: Collection[int], owner: str) -> set[int]:
    """Of these leased items that answered 404/410, those that were done in an earlier crawl."""
    found: set[int] = set()
    for chunk in sorted_chunks(ids):
        found.update(
            conn.execute(
                select(frontier.c.id).where(
                    frontier.c.id.in_(chunk),
                    frontier.c.status == "leased",
                    frontier.c.lease_owner == owner,
                    frontier.c.crawl_id.is_not(None),
                )
            ).scalars()
        )
    return found


def link_children(conn: Connection, listed: Mapping[int, Collection[str]]) -> None:
    """Record a parent on listed rows that have none (rows older than the column).

    ``listed`` maps each listing item's id to the keys it names; a key named
    by several listings gets the lowest listing id. One search for the whole
    batch: rows without a parent are rare (only those from before the column).
    """
    parent_of: dict[str, int] = {}
    for parent_id in sorted(listed, reverse=True):
        parent_of.update(dict.fromkeys(listed[parent_id], parent_id))
    orphans: list[tuple[int, str]] = []
    for chunk in sorted_chunks(parent_of):
        orphans += [
            (row.id, row.key)
            for row in conn.execute(
                select(frontier.c.id, frontier.c.key).where(
                    frontier.c.key.in_(chunk), frontier.c.parent_id.is_(None)
                )
            )
        ]
    if orphans:
        conn.execute(
            update(frontier)
            .where(frontier.c.id == bindparam("b_id"), frontier.c.parent_id.is_(None))
            .values(parent_id=bindparam("b_parent")),
            [{"b_id": i, "b_parent": parent_of[key]} for i, key in sorted(orphans)],
        )


def unlisted(conn: Connection, listed: Mapping[int, Collection[str]]) -> list[int]:
    """Present children of these listings that no listing of the batch names any more.

    A child its own listing no longer names but another listing of the same
    batch does (it comes back there) stays.
    """
    named = set().union(*listed.values())
    missing: list[int] = []
    for chunk in sorted_chunks(listed):
        rows = conn.execute(
            select(frontier.c.id, frontier.c.key).where(
                frontier.c.parent_id.in_(chunk), frontier.c.gone_crawl.is_(None)
            )
        ).all()
        missing += [row.id for row in rows if row.key not in named]
    return sorted(missing)


def come_back(conn: Connection, keys: Collection[str], now: float) -> int:
    """Re-open gone items a listing names again; their records are cleared when re-fetched."""
    back = 0
    for chunk in sorted_chunks(keys):
        rows = conn.execute(
            update(frontier)
            .where(frontier.c.key.in_(chunk), frontier.c.status == "gone")
            .values(
                status="pending",
                gone_crawl=None,
                attempts=0,
                not_before=0.0,
                last_error=None,
                failure_code=None,
                updated_at=now,
            )
            .returning(frontier.c.key)
        ).all()
        for row in rows:
            log.info("%s is listed again: it comes back and is fetched again", row.key)
        back += len(rows)
    return back


def mark_gone(
    conn: Connection,
    ids: Collection[int],
    crawl_id: int,
    now: float,
    records: dict[str, int] | None = None,
) -> dict[str, int]:
    """Mark these items gone in ``crawl_id``, with everything below them; {kind: items marked}.

    ``records``, when given, receives {"vehicle"|"fitment": records marked gone} and
    {"vehicle/undone"|"fitment/undone": their 'changed' rows of this crawl replaced}.
    """
    marked: dict[str, int] = {}
    vehicle_ids: set[int] = set()
    fitment_keys: set[tuple[int, int]] = set()
    level = set(ids)
    while level:
        rows = _mark_items(conn, frontier.c.id, level, crawl_id, now)
        for row in rows:
            marked[row.kind] = marked.get(row.kind, 0) + 1
            if row.kind == "vehicle":
                vehicle_ids.update(_vehicle_ids(conn, row.params))
            elif row.kind == "fitment" and row.vehicle_id is not None:
                fitment_keys.add((row.vehicle_id, row.prefset_id))
        # The items the gone listings listed (a vehicle item lists none).
        parents = [row.id for row in rows]
        level = set()
        for chunk in sorted_chunks(parents):
            level.update(
                conn.execute(
                    select(frontier.c.id).where(
                        frontier.c.parent_id.in_(chunk), frontier.c.gone_crawl.is_(None)
                    )
                ).scalars()
            )
    if vehicle_ids:
        for row in _mark_items(conn, frontier.c.vehicle_id, vehicle_ids, crawl_id, now):
            marked[row.kind] = marked.get(row.kind, 0) + 1
    went = _mark_records(conn, vehicle_ids, fitment_keys, crawl_id, now)
    if records is not None:
        for what, n in went.items():
            records[what] = records.get(what, 0) + n
    if marked:
        log.info(
            "gone in crawl %d: %s",
            crawl_id,
            ", ".join(f"{n} {kind} item(s)" for kind, n in sorted(marked.items())),
        )
    return marked


def _mark_records(
    conn: Connection,
    vehicle_ids: Collection[int],
    fitment_keys: Collection[tuple[int, int]],
    crawl_id: int,
    now: float,
) -> dict[str, int]:
    """Mark these vehicles (with their fitments) and fitments gone; a history row each."""
    gone_vehicles: list[int] = []
    gone_fitments: list[int] = []
    for chunk in sorted_chunks(vehicle_ids):
        gone_vehicles += conn.execute(
            update(vehicles)
            .where(vehicles.c.id.in_(chunk), vehicles.c.gone_crawl.is_(None))
            .values(gone_crawl=crawl_id)
            .returning(vehicles.c.id)
        ).scalars()
        gone_fitments += conn.execute(
            update(fitments)
            .where(fitments.c.vehicle_id.in_(chunk), fitments.c.gone_crawl.is_(None))
            .values(gone_crawl=crawl_id)
            .returning(fitments.c.id)
        ).scalars()
    for pairs in sorted_chunks(fitment_keys):
        gone_fitments += conn.execute(
            update(fitments)
            .where(
                tuple_(fitments.c.vehicle_id, fitments.c.prefset_id).in_(pairs),
                fitments.c.gone_crawl.is_(None),
            )
            .values(gone_crawl=crawl_id)
            .returning(fitments.c.id)
        ).scalars()
    # "<what>/undone": changes of this crawl the going replaced (storage.history.record_gone).
    return {
        "vehicle": len(gone_vehicles),
        "fitment": len(gone_fitments),
        "vehicle/undone": history.record_gone(conn, "vehicle", gone_vehicles, crawl_id, now),
        "fitment/undone": history.record_gone(conn, "fitment", gone_fitments, crawl_id, now),
    }


def _mark_items(
    conn: Connection, column: Any, values: Collection[int], crawl_id: int, now: float
) -> list[Any]:
    """Set status 'gone' on present rows whose ``column`` is in ``values``; the rows marked."""
    out: list[Any] = []
    for chunk in sorted_chunks(values):
        out.extend(
            conn.execute(
                update(frontier)
                .where(column.in_(chunk), frontier.c.gone_crawl.is_(None))
                .values(
                    status="gone",
                    gone_crawl=crawl_id,
                    lease_owner=None,
                    lease_expires=None,
                    updated_at=now,
                )
                .returning(
                    frontier.c.id,
                    frontier.c.kind,
                    frontier.c.params,
                    frontier.c.vehicle_id,
                    frontier.c.prefset_id,
                )
            ).all()
        )
    return out


def _vehicle_ids(conn: Connection, params: str | None) -> list[int]:
    """The vehicle record of a vehicle item (none when it was never fetched)."""
    p = json.loads(params) if params else {}
    try:
        identity = (p["year"], p["make"], p["model"], p["trim"], p["drive"])
    except KeyError:
        return []
    return list(
        conn.execute(
            select(vehicles.c.id).where(
                and_(
                    vehicles.c.year == identity[0],
                    vehicles.c.make == identity[1],
                    vehicles.c.model == identity[2],
                    vehicles.c.trim == identity[3],
                    vehicles.c.drive == identity[4],
                )
            )
        ).scalars()
    )
