"""Record history: compare a fetched record with the stored one, write history rows, read them.

Every function that writes runs inside the writer's transaction of the change
(or of the gone mark), so a record's new state and its history row are
committed together or not at all (issue 14 item 7).

The record side (:func:`judge`) works on the flattened export fields, which
are also the column names of ``vehicles`` and ``fitments``: "changed" means the
record's export line changed, and ``fields`` says how.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from custom_wheel_offset.exporting.changes import content_hash, field_changes
from custom_wheel_offset.exporting.format import (
    FITMENT_CSV_COLUMNS,
    IDENTITY_KEYS,
    PREFERENCE_KEYS,
    VEHICLE_CSV_COLUMNS,
)
from custom_wheel_offset.storage.database import sorted_chunks
from custom_wheel_offset.storage.schema import fitments, history, preference_sets, vehicles

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

__all__ = [
    "FITMENT_CONTENT",
    "VEHICLE_CONTENT",
    "Bound",
    "Change",
    "diff_records",
    "fitment_identities",
    "insert_changes",
    "judge",
    "parse_bound",
    "record_gone",
    "vehicle_identities",
]

VEHICLE_CONTENT = tuple(c for c in VEHICLE_CSV_COLUMNS if c not in IDENTITY_KEYS)
FITMENT_CONTENT = tuple(
    c for c in FITMENT_CSV_COLUMNS if c not in (*IDENTITY_KEYS, *PREFERENCE_KEYS)
)


@dataclass(frozen=True, slots=True)
class Change:
    """One history row to write, before its record's id and identity are known."""

    change: str
    fields: dict[str, dict[str, Any]] | None = None


def judge(
    row: dict[str, Any],
    old: Any,
    content: tuple[str, ...],
    now: float,
    crawl_id: int,
) -> list[Change]:
    """Fill the history columns of a record row about to be written; its changes.

    ``old`` is the stored row (a mapping of its columns) or None.

    New: added. Stored and marked gone: returned. Fields differ: changed (with
    old and new values). Otherwise only ``last_seen`` moves.
    """
    new_fields = {c: row[c] for c in content}
    row["content_hash"] = content_hash(new_fields)
    row["last_seen"], row["seen_crawl"] = now, crawl_id
    row["first_seen"], row["first_crawl"] = now, crawl_id  # kept by the upsert when stored
    row["last_changed"], row["changed_crawl"] = now, crawl_id
    if old is None:
        return [Change("added")]
    out: list[Change] = []
    if old["gone_crawl"] is not None:
        out.append(Change("returned"))
    fields = field_changes({c: old[c] for c in content}, new_fields)
    if fields:
        out.append(Change("changed", fields))
    else:
        row["last_changed"], row["changed_crawl"] = old["last_changed"], old["changed_crawl"]
    return out


def vehicle_identities(conn: Connection, ids: Collection[int]) -> dict[int, dict[str, Any]]:
    """{vehicles.id: identity} of these vehicles."""
    v = vehicles.c
    out: dict[int, dict[str, Any]] = {}
    for chunk in sorted_chunks(ids):
        for row in conn.execute(
            select(v.id, v.year, v.make, v.model, v.trim, v.drive).where(v.id.in_(chunk))
        ):
            out[row.id] = {k: getattr(row, k) for k in IDENTITY_KEYS}
    return out


def fitment_identities(conn: Connection, ids: Collection[int]) -> dict[int, dict[str, Any]]:
    """{fitments.id: identity (vehicle's and preference set's names)} of these fitments."""
    v, p, f = vehicles.c, preference_sets.c, fitments.c
    out: dict[int, dict[str, Any]] = {}
    for chunk in sorted_chunks(ids):
        query = (
            select(f.id, v.year, v.make, v.model, v.trim, v.drive, *(p[k] for k in PREFERENCE_KEYS))
            .select_from(
                fitments.join(vehicles, f.vehicle_id == v.id).join(
                    preference_sets, f.prefset_id == p.id
                )
            )
            .where(f.id.in_(chunk))
        )
        for row in conn.execute(query):
            out[row.id] = {k: getattr(row, k) for k in (*IDENTITY_KEYS, *PREFERENCE_KEYS)}
    return out


def insert_changes(
    conn: Connection,
    what: str,
    changes: Mapping[int, list[Change]],
    crawl_id: int,
    now: float,
) -> int:
    """Write the history rows of these records ({record id: changes}); how many."""
    ids = [i for i, found in changes.items() if found]
    if not ids:
        return 0
    identify = vehicle_identities if what == "vehicle" else fitment_identities
    identities = identify(conn, ids)
    rows = [
        {
            "what": what,
            "record_id": record_id,
            "identity": json.dumps(identities[record_id], ensure_ascii=False),
            "crawl_id": crawl_id,
            "at": now,
            "change": c.change,
            "fields": None if c.fields is None else json.dumps(c.fields, ensure_ascii=False),
        }
        for record_id in sorted(ids)
        for c in changes[record_id]
    ]
    conn.execute(history.insert(), rows)
    return len(rows)


def record_gone(
    conn: Connection, what: str, ids: Collection[int], crawl_id: int, now: float
) -> int:
    """'gone' history rows for records just marked gone; how many 'changed' rows it undid.

    A record that changed earlier in the same crawl keeps its last present
    content and loses that 'changed' row: one crawl records one net change per
    record. (A full crawl fetches fitment pages before the vehicle whose 404
    reveals it is gone, and the site shows a withdrawn vehicle's fitment pages
    without data: that is the vehicle going, not its fitments changing.)
    """
    undone = _undo_changes(conn, what, ids, crawl_id)
    insert_changes(conn, what, {i: [Change("gone")] for i in ids}, crawl_id, now)
    return undone


def _undo_changes(conn: Connection, what: str, ids: Collection[int], crawl_id: int) -> int:
    from sqlalchemy import delete, update

    table, content = (
        (vehicles, VEHICLE_CONTENT) if what == "vehicle" else (fitments, FITMENT_CONTENT)
    )
    h = history.c
    undone = 0
    for chunk in sorted_chunks(ids):
        rows = conn.execute(
            select(h.id, h.record_id, h.fields).where(
                h.what == what,
                h.crawl_id == crawl_id,
                h.change == "changed",
                h.record_id.in_(chunk),
            )
        ).all()
        for row in sorted(rows, key=lambda r: r.id, reverse=True):
            old = {name: value["old"] for name, value in json.loads(row.fields).items()}
            conn.execute(update(table).where(table.c.id == row.record_id).values(**old))
            stored = conn.execute(
                select(*(table.c[c] for c in content)).where(table.c.id == row.record_id)
            ).one()
            conn.execute(
                update(table)
                .where(table.c.id == row.record_id)
                .values(content_hash=content_hash(dict(zip(content, stored, strict=True))))
            )
        if rows:
            conn.execute(delete(history).where(h.id.in_([r.id for r in rows])))
            undone += len(rows)
    return undone


# -- reading: cwo diff ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Bound:
    """One end of a diff range: a crawl id, or a time (epoch seconds)."""

    crawl: int | None = None
    at: float | None = None


def parse_bound(text: str | None, option: str) -> Bound | None:
    """``--since``/``--until``: a crawl id (digits) or an ISO 8601 date or time (UTC unless
    it says otherwise); bad input is a :class:`ConfigError` naming the option."""
    from datetime import UTC, datetime

    from custom_wheel_offset.errors import ConfigError

    if text is None or not text.strip():
        return None
    text = text.strip()
    if text.isdigit():
        return Bound(crawl=int(text))
    try:
        when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(
            f"{option} must be a crawl id or an ISO 8601 date or time, not {text!r}",
            hint=f"e.g. {option} 3, {option} 2026-12-01 or {option} 2026-12-01T06:00:00Z",
        ) from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return Bound(at=when.timestamp())


def diff_records(
    conn: Connection,
    *,
    since: Bound | None = None,
    until: Bound | None = None,
    what: str | None = None,
    plain: bool = False,
) -> list[dict[str, Any]]:
    """The changes after ``since`` (a crawl: those of later crawls) up to ``until``
    (a crawl: including it), as ``cwo diff`` lines, sorted (exporting.changes)."""
    from custom_wheel_offset.exporting.changes import change_record, change_sort_key

    h = history.c
    query = select(h.what, h.identity, h.crawl_id, h.at, h.change, h.fields)
    if since is not None:
        query = query.where(
            h.crawl_id > since.crawl if since.crawl is not None else h.at >= since.at
        )
    if until is not None:
        query = query.where(
            h.crawl_id <= until.crawl if until.crawl is not None else h.at < until.at
        )
    if what is not None:
        query = query.where(h.what == what)
    out = []
    for row in conn.execute(query.order_by(h.id)):
        record = change_record(
            row.change,
            row.what,
            json.loads(row.identity),
            None if row.fields is None else json.loads(row.fields),
            crawl=row.crawl_id,
            at=row.at,
        )
        out.append(record)
    # Sorted with crawl and at present (a record's changes in crawl order), then made plain.
    out.sort(key=change_sort_key)
    if plain:
        for record in out:
            record.pop("crawl")
            record.pop("at")
    return out
