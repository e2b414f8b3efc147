"""What changed between two editions of a sandbox catalogue, as ``cwo diff`` lines.

Computed from the catalogue model (the truth records of each edition), never
by crawling: a correct crawl of every edition from ``first`` to ``last``,
each in full, makes ``cwo diff --plain --since <crawl of first>`` print
exactly these lines (docs/history.md). Each step's changes are listed on
their own, as the crawl of that edition records them; a record present in an
earlier edition of the range that comes back is ``returned``, not ``added``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from custom_wheel_offset.errors import ConfigError
from custom_wheel_offset.exporting.changes import (
    change_line,
    change_record,
    change_sort_key,
    content_fields,
    field_changes,
    identity_keys,
    identity_of,
)
from custom_wheel_offset.sandbox.catalogue import build_catalogue
from custom_wheel_offset.sandbox.truth import truth_records

__all__ = ["edition_changes", "write_changes"]

Keyed = dict[tuple[Any, ...], dict[str, Any]]


def _keyed(what: str, records: list[dict[str, Any]]) -> Keyed:
    keys = identity_keys(what)
    return {tuple(r[k] for k in keys): r for r in records}


def _edition(size: str, seed: int, edition: int) -> tuple[Keyed, Keyed]:
    vehicles, fitments = truth_records(build_catalogue(size, seed, edition))
    return _keyed("vehicle", vehicles), _keyed("fitment", fitments)


def _step(what: str, old: Keyed, new: Keyed, seen: set[tuple[Any, ...]]) -> Iterator[dict]:
    for key, record in new.items():
        if key not in old:
            yield change_record(
                "returned" if key in seen else "added", what, identity_of(what, record), plain=True
            )
        else:
            fields = field_changes(content_fields(what, old[key]), content_fields(what, record))
            if fields:
                ident = identity_of(what, record)
                yield change_record("changed", what, ident, fields, plain=True)
    for key, record in old.items():
        if key not in new:
            yield change_record("gone", what, identity_of(what, record), plain=True)
    seen.update(new)


def edition_changes(
    size: str, seed: int, first: int, last: int, what: str | None = None
) -> list[dict[str, Any]]:
    """The changes of every step from edition ``first`` to ``last``, sorted as ``cwo diff``."""
    if first < 1 or last < first:
        raise ConfigError(f"--from and --to must satisfy 1 <= from <= to, got {first} and {last}")
    whats = ("vehicle", "fitment") if what is None else (what,)
    prev = _edition(size, seed, first)
    seen: dict[str, set[tuple[Any, ...]]] = {
        "vehicle": set(prev[0]),
        "fitment": set(prev[1]),
    }
    out: list[tuple[int, dict[str, Any]]] = []
    for edition in range(first + 1, last + 1):
        cur = _edition(size, seed, edition)
        for index, kind in enumerate(("vehicle", "fitment")):
            if kind in whats:
                out.extend((edition, c) for c in _step(kind, prev[index], cur[index], seen[kind]))
        prev = cur
    # The step stands in for the crawl: a record changed in two steps sorts as cwo's two rows.
    out.sort(key=lambda pair: (*change_sort_key(pair[1])[:2], pair[0]))
    return [c for _, c in out]


def write_changes(path: str | os.PathLike[str], changes: list[dict[str, Any]]) -> int:
    """Write the change lines (UTF-8, newline-terminated) atomically; returns how many."""
    out = Path(path)
    tmp = out.with_name(out.name + ".tmp")
    with tmp.open("w", encoding="utf-8", newline="") as handle:
        for change in changes:
            handle.write(change_line(change))
    os.replace(tmp, out)
    return len(changes)
