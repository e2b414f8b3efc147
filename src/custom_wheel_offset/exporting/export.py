"""`cwo export`: stream vehicles or fitments from the database in the documented format.

Rows are read in identity order straight from the database (never all in
memory) and written through ``exporting.format``, so an export is
byte-identical to ``cwo sandbox truth`` for the same data and to any other
export of the same data. Strings compare by code point: SQLite's default
BINARY collation does that for UTF-8, PostgreSQL needs ``COLLATE "C"``.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Generator, Iterator
from contextlib import closing
from typing import TYPE_CHECKING, Any, TextIO

from sqlalchemy import and_, or_, select, true

from custom_wheel_offset.errors import ConfigError
from custom_wheel_offset.exporting.format import (
    FITMENT_CSV_COLUMNS,
    TYPED_KEYS,
    VEHICLE_CSV_COLUMNS,
    csv_row,
    fitment_record,
    jsonl_line,
    vehicle_record,
)
from custom_wheel_offset.protocol.records import (
    AxleRanges,
    AxleSpec,
    FitmentPage,
    PreferenceSet,
    VehicleId,
    VehicleSpec,
)
from custom_wheel_offset.storage.schema import (
    AXLE_RANGE_FIELDS,
    AXLE_SPEC_FIELDS,
    fitments,
    preference_sets,
    vehicles,
)

if TYPE_CHECKING:
    from custom_wheel_offset.storage.database import OptimizedDatabaseManager

__all__ = [
    "diff",
    "export",
    "iter_fitment_records",
    "iter_vehicle_records",
    "vehicle_record_of_row",
]

WHATS = ("vehicles", "fitments")
FORMATS = ("jsonl", "csv")
FETCH_CHUNK = 2000


def _ordered(db: OptimizedDatabaseManager, column: Any) -> Any:
    return column if db.is_sqlite else column.collate("C")


def _vehicle_id(row: Any) -> VehicleId:
    return VehicleId(row.year, row.make, row.model, row.trim, row.drive)


def vehicle_record_of_row(m: Any) -> dict[str, Any]:
    """The export record of one ``vehicles`` row (a mapping of its columns)."""
    spec = VehicleSpec(
        vehicle_type=m["vehicle_type"],
        chassis_id=m["chassis_id"],
        bolt_pattern_mm=m["bolt_pattern_mm"],
        bolt_pattern_in=m["bolt_pattern_in"],
        hub_bore_mm=m["hub_bore_mm"],
        lug_type=m["lug_type"],
        lug_size=m["lug_size"],
        front=AxleSpec(**{k: m[f"front_{k}"] for k in AXLE_SPEC_FIELDS}),
        rear=AxleSpec(**{k: m[f"rear_{k}"] for k in AXLE_SPEC_FIELDS}),
    )
    typed = {k: m[k] for k in TYPED_KEYS}
    if typed["spec_notes"] is not None:
        typed["spec_notes"] = json.loads(typed["spec_notes"])
    identity = VehicleId(m["year"], m["make"], m["model"], m["trim"], m["drive"])
    return vehicle_record(identity, spec, typed)


def iter_vehicle_records(
    db: OptimizedDatabaseManager, *, include_gone: bool = False
) -> Generator[dict[str, Any], None, None]:
    """Vehicles in identity order; gone ones only with ``include_gone`` (with ``gone_crawl``)."""
    v = vehicles.c
    query = select(vehicles).order_by(
        v.year, *(_ordered(db, c) for c in (v.make, v.model, v.trim, v.drive))
    )
    if not include_gone:
        query = query.where(v.gone_crawl.is_(None))
    with db.read() as conn:
        result = conn.execution_options(yield_per=FETCH_CHUNK).execute(query)
        for row in result:
            m = row._mapping
            record = vehicle_record_of_row(m)
            if include_gone:
                record["gone_crawl"] = m["gone_crawl"]
            yield record


def iter_fitment_records(
    db: OptimizedDatabaseManager, *, include_gone: bool = False
) -> Generator[dict[str, Any], None, None]:
    """Fitments in identity order; gone ones only with ``include_gone`` (with ``gone_crawl``)."""
    v, p, f = vehicles.c, preference_sets.c, fitments.c
    query = (
        select(
            v.year,
            v.make,
            v.model,
            v.trim,
            v.drive,
            p.suspension,
            p.modification,
            p.rubbing,
            fitments,
        )
        .select_from(
            fitments.join(vehicles, f.vehicle_id == v.id).join(
                preference_sets,
                and_(
                    f.prefset_id == p.id,
                    # A set the options no longer offer: its fitments went with it
                    # (gone_crawl set), shown with --include-gone only.
                    or_(p.current == true(), f.gone_crawl.is_not(None))
                    if include_gone
                    else p.current == true(),
                ),
            )
        )
        .order_by(
            v.year,
            *(_ordered(db, c) for c in (v.make, v.model, v.trim, v.drive)),
            *(_ordered(db, c) for c in (p.suspension, p.modification, p.rubbing)),
        )
    )
    if not include_gone:
        query = query.where(f.gone_crawl.is_(None), v.gone_crawl.is_(None))
    with db.read() as conn:
        result = conn.execution_options(yield_per=FETCH_CHUNK).execute(query)
        for row in result:
            m = row._mapping
            page = FitmentPage(
                status=m["status"],
                bolt_pattern_mm=m["bolt_pattern_mm"],
                bolt_pattern_in=m["bolt_pattern_in"],
                front=AxleRanges(**{k: m[f"front_{k}"] for k in AXLE_RANGE_FIELDS}),
                rear=AxleRanges(**{k: m[f"rear_{k}"] for k in AXLE_RANGE_FIELDS}),
            )
            prefs = PreferenceSet(m["suspension"], m["modification"], m["rubbing"])
            record = fitment_record(_vehicle_id(row), prefs, page)
            if include_gone:
                # The fitment's own mark, else its vehicle's (both are set together).
                record["gone_crawl"] = m["gone_crawl"]
            yield record


def export(
    db: OptimizedDatabaseManager,
    *,
    what: str,
    fmt: str,
    out: TextIO,
    csv_raw: bool = False,
    include_gone: bool = False,
) -> int:
    """Write every record of ``what`` to ``out``; returns how many were written.

    Records the site no longer has (marked gone, docs/resilience.md) are left
    out unless ``include_gone``, which adds a ``gone_crawl`` field to every
    record (null for present ones).

    CSV text cells that a spreadsheet would run as a formula get a ``'`` in
    front unless ``csv_raw`` (see :func:`~custom_wheel_offset.exporting.format.csv_cell`).
    """
    if what not in WHATS:
        raise ConfigError(f"--what must be one of {', '.join(WHATS)}, got {what!r}")
    if fmt not in FORMATS:
        raise ConfigError(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    iterate = iter_vehicle_records if what == "vehicles" else iter_fitment_records
    # Closed on the way out whatever happens (a reader that went away, as with
    # `cwo export | head`), so its read transaction ends while the database is open.
    with closing(iterate(db, include_gone=include_gone)) as records:
        return _write(
            records, what=what, fmt=fmt, out=out, csv_raw=csv_raw, include_gone=include_gone
        )


def _write(
    records: Iterator[dict[str, Any]],
    *,
    what: str,
    fmt: str,
    out: TextIO,
    csv_raw: bool,
    include_gone: bool,
) -> int:
    count = 0
    if fmt == "jsonl":
        for record in records:
            out.write(jsonl_line(record))
            count += 1
    else:
        columns = VEHICLE_CSV_COLUMNS if what == "vehicles" else FITMENT_CSV_COLUMNS
        if include_gone:
            columns = (*columns, "gone_crawl")
        # RFC 4180: CRLF line ends. With them csv quotes a name holding a lone
        # carriage return too (with "\n" it would not, and the row would split).
        writer = csv.DictWriter(out, fieldnames=list(columns), lineterminator="\r\n")
        writer.writeheader()
        for record in records:
            writer.writerow(csv_row(record, raw=csv_raw))
            count += 1
    return count


def diff(
    db: OptimizedDatabaseManager,
    *,
    out: TextIO,
    since: str | None = None,
    until: str | None = None,
    what: str | None = None,
    fmt: str = "jsonl",
    plain: bool = False,
) -> int:
    """`cwo diff`: write the recorded changes in a range (docs/history.md); how many.

    ``since``/``until`` are crawl ids or ISO 8601 dates/times (``--since 3``:
    the changes of the crawls after crawl 3; ``--until 5``: up to and including
    crawl 5). ``plain`` leaves out ``crawl`` and ``at``, the form
    ``cwo sandbox changes`` writes. Sorted by kind and identity: byte-stable.
    """
    from custom_wheel_offset.exporting.changes import (
        DIFF_CSV_COLUMNS,
        change_csv_row,
        change_line,
    )
    from custom_wheel_offset.storage.history import diff_records, parse_bound

    if what not in (None, *WHATS):
        raise ConfigError(f"--what must be one of {', '.join(WHATS)}, got {what!r}")
    if fmt not in FORMATS:
        raise ConfigError(f"--format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    lower, upper = parse_bound(since, "--since"), parse_bound(until, "--until")
    kind = None if what is None else what.removesuffix("s")
    with db.read() as conn:
        records = diff_records(conn, since=lower, until=upper, what=kind, plain=plain)
    if fmt == "jsonl":
        for record in records:
            out.write(change_line(record))
        return len(records)
    columns = [c for c in DIFF_CSV_COLUMNS if not (plain and c in ("crawl", "at"))]
    writer = csv.DictWriter(out, fieldnames=columns, lineterminator="\r\n", extrasaction="ignore")
    writer.writeheader()
    for record in records:
        writer.writerow(change_csv_row(record))
    return len(records)
