"""The change format of ``cwo diff`` and ``cwo sandbox changes`` (docs/history.md).

Pure: no I/O. One change is one JSON object::

    {"change": "added"|"changed"|"gone"|"returned", "what": "vehicle"|"fitment",
     "identity": {...}, "crawl": id, "at": "ISO 8601 UTC", "fields": {name: {"old", "new"}}}

``fields`` only for ``changed``. The field names and values are those of the
export format, flattened (``front_diameter_max``), so a change says exactly
what an export made before it and one made after it differ by. The content
hash of a record is taken over the same flattened export fields, so "changed"
means "its export line changed".

Changes sort by kind (vehicles first), identity (code-point order, as exports),
then crawl: the output is byte-stable for the same history.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from custom_wheel_offset.exporting.format import (
    IDENTITY_KEYS,
    PREFERENCE_KEYS,
    csv_cell,
    flatten,
    jsonl_line,
)

__all__ = [
    "CHANGES",
    "DIFF_CSV_COLUMNS",
    "WHATS",
    "change_csv_row",
    "change_line",
    "change_record",
    "change_sort_key",
    "content_fields",
    "content_hash",
    "field_changes",
    "identity_keys",
    "identity_of",
    "iso_utc",
]

CHANGES = ("added", "changed", "gone", "returned")
WHATS = ("vehicle", "fitment")
DIFF_CSV_COLUMNS: tuple[str, ...] = (
    "change",
    "what",
    *IDENTITY_KEYS,
    *PREFERENCE_KEYS,
    "crawl",
    "at",
    "fields",
)


def identity_keys(what: str) -> tuple[str, ...]:
    return IDENTITY_KEYS if what == "vehicle" else (*IDENTITY_KEYS, *PREFERENCE_KEYS)


def identity_of(what: str, record: Mapping[str, Any]) -> dict[str, Any]:
    """The identity part of an export record (vehicle: 5 keys; fitment: 8)."""
    return {k: record[k] for k in identity_keys(what)}


def content_fields(what: str, record: Mapping[str, Any]) -> dict[str, Any]:
    """The exported fields of a record less its identity, flattened."""
    keys = set(identity_keys(what))
    return {k: v for k, v in flatten(record).items() if k not in keys}


def content_hash(fields: Mapping[str, Any]) -> str:
    """SHA-256 (hex, 32 chars) of a record's flattened non-identity export fields
    (:func:`content_fields`, or ``flatten(vehicle_content(...))`` and the like)."""
    text = json.dumps(dict(fields), ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def field_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """{name: {"old", "new"}} of the flattened fields that differ, in the new record's order."""
    out: dict[str, dict[str, Any]] = {}
    for name in (*new, *(k for k in old if k not in new)):
        if old.get(name) != new.get(name):
            out[name] = {"old": old.get(name), "new": new.get(name)}
    return out


def iso_utc(epoch: float | None) -> str | None:
    """An epoch time as ISO 8601 UTC with seconds (``2026-12-03T12:00:00Z``)."""
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def change_record(
    change: str,
    what: str,
    identity: Mapping[str, Any],
    fields: Mapping[str, Any] | None = None,
    *,
    crawl: int | None = None,
    at: float | None = None,
    plain: bool = False,
) -> dict[str, Any]:
    """One change in documented key order; ``plain`` leaves out ``crawl`` and ``at``
    (what ``cwo sandbox changes`` can know: the site's changes, not when a crawl saw them)."""
    record: dict[str, Any] = {"change": change, "what": what, "identity": dict(identity)}
    if not plain:
        record["crawl"] = crawl
        record["at"] = iso_utc(at)
    if change == "changed":
        record["fields"] = dict(fields or {})
    return record


def change_sort_key(record: Mapping[str, Any]) -> tuple[Any, ...]:
    what = record["what"]
    ident = record["identity"]
    return (
        WHATS.index(what),
        tuple(ident[k] for k in identity_keys(what)),
        record.get("crawl") or 0,
        CHANGES.index(record["change"]),
    )


def change_line(record: Mapping[str, Any]) -> str:
    return jsonl_line(record)


def change_csv_row(record: Mapping[str, Any]) -> dict[str, Any]:
    """A change as a CSV row: identity spread over columns, ``fields`` as JSON text."""
    row: dict[str, Any] = {"change": record["change"], "what": record["what"]}
    for key in (*IDENTITY_KEYS, *PREFERENCE_KEYS):
        row[key] = csv_cell(record["identity"].get(key))
    row["crawl"] = csv_cell(record.get("crawl"))
    row["at"] = csv_cell(record.get("at"))
    fields = record.get("fields")
    row["fields"] = (
        "" if fields is None else json.dumps(fields, ensure_ascii=False, separators=(",", ":"))
    )
    return row
