"""Filter values (``--years``, ``--makes``, ``--models``) that matched nothing the site lists.

The site's names are exact (``Honda``, not ``honda``), and a filter that
matches nothing makes a run that crawls nothing and says nothing. After a
run that walked the tree, the names the listings named (this run's, kept by
the item handler, since names the filter leaves out never reach the frontier)
and those earlier runs stored in the frontier are compared with the filter,
and each value that matched none becomes a warning with the closest names:
the same letters in another case or spacing first, then similar spellings.
"""

from __future__ import annotations

import difflib
import re
from typing import Any

__all__ = ["close_matches", "unmatched_filters"]

_SEPARATORS = re.compile(r"[\s\-_.]+")


def _normal(name: str) -> str:
    return _SEPARATORS.sub("", name).casefold()


def close_matches(value: str, names: set[str], n: int = 3) -> list[str]:
    """Names that ``value`` probably meant: equal up to case and spacing, else similar."""
    same = sorted(name for name in names if _normal(name) == _normal(value))
    if same:
        return same[:n]
    by_normal = {_normal(name): name for name in names}
    found = difflib.get_close_matches(_normal(value), list(by_normal), n=n, cutoff=0.6)
    return [by_normal[key] for key in found]


def _suggest(option: str, value: str, names: set[str]) -> str:
    message = f"{option} {value!r} matched nothing the site lists"
    matches = close_matches(value, names)
    if matches:
        return f"{message}; did you mean {' or '.join(matches)}?"
    return message


def _distinct(db: Any, column: str, item_filter: Any) -> set[Any]:
    from sqlalchemy import select

    from custom_wheel_offset.storage.schema import frontier

    col = frontier.c[column]
    query = select(col).where(col.is_not(None)).distinct()
    if column != "year" and item_filter.years:
        query = query.where(frontier.c.year.between(*item_filter.years))
    if column == "model" and item_filter.makes:
        query = query.where(frontier.c.make.in_(item_filter.makes))
    with db.read() as conn:
        return {value for (value,) in conn.execute(query)}


def unmatched_filters(
    db: Any, item_filter: Any, listed: dict[str, set[Any]] | None = None
) -> list[str]:
    """One warning per filter value that matched nothing discovered; empty when all matched."""
    listed = listed or {}

    def known(column: str) -> set[Any]:
        return _distinct(db, column, item_filter) | set(listed.get(column, ()))

    warnings: list[str] = []
    if item_filter.years:
        years = known("year")
        lo, hi = item_filter.years
        if years and not any(lo <= year <= hi for year in years):
            warnings.append(
                f"--years {lo}-{hi} matched nothing the site lists "
                f"(it lists {min(years)}-{max(years)})"
            )
            return warnings  # nothing below a year outside the range was discovered
    for option, column, values in (
        ("--makes", "make", item_filter.makes),
        ("--models", "model", item_filter.models),
    ):
        if not values:
            continue
        names = {str(name) for name in known(column)}
        if not names:
            continue  # that level was not discovered (a makes filter matched nothing)
        warnings.extend(_suggest(option, value, names) for value in values if value not in names)
    return warnings
