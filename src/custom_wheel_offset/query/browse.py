"""The views' rows for browsing tools: Parquet files, a clean SQLite copy, Datasette metadata.

* :func:`export_parquet`: one view (``vehicle_specs`` for ``--what vehicles``,
  ``fitment_ranges`` for ``--what fitments``) as a Parquet file, written in
  row groups so memory stays flat (needs the ``parquet`` extra: pyarrow).
* :func:`export_sqlite`: a new SQLite file holding only the two views' rows,
  as tables of the same names and columns, with the indexes the canned
  queries use -- something to hand over or publish without the crawl's
  frontier, runs and raw pages.
* :func:`datasette_metadata`: the metadata shipped in this package
  (``datasette-metadata.json``: title, source, licence note, column
  descriptions, canned queries for lookup and fits), bound to a database name.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

from custom_wheel_offset.errors import ConfigError
from custom_wheel_offset.query.views import FITMENT_RANGE_COLUMNS, VEHICLE_SPEC_COLUMNS

if TYPE_CHECKING:
    from custom_wheel_offset.storage.database import OptimizedDatabaseManager

__all__ = [
    "VIEW_OF",
    "database_name",
    "datasette_metadata",
    "export_parquet",
    "export_sqlite",
    "iter_view_rows",
    "write_datasette_metadata",
]

VIEW_OF = {"vehicles": "vehicle_specs", "fitments": "fitment_ranges"}
COLUMNS = {"vehicle_specs": VEHICLE_SPEC_COLUMNS, "fitment_ranges": FITMENT_RANGE_COLUMNS}
CHUNK = 50_000
_INTEGER = {"vehicle_id", "year", "lug_count"}
_TEXT = {
    "make",
    "model",
    "trim",
    "drive",
    "vehicle_type",
    "chassis_id",
    "bolt_pattern_mm",
    "bolt_pattern_in",
    "lug_type",
    "lug_size",
    "spec_notes",
    "front_stock_tire",
    "rear_stock_tire",
    "suspension",
    "modification",
    "rubbing",
    "status",
}
# The canned queries and a browser filter by these (one index each in the copy).
_COPY_INDEXES = {
    "vehicle_specs": (("year", "make", "model"), ("lug_count", "pcd_mm")),
    "fitment_ranges": (("year", "make", "model"), ("lug_count", "pcd_mm"), ("vehicle_id",)),
}
_METADATA = "datasette-metadata.json"
DATABASE_PLACEHOLDER = "$DATABASE"


def column_kind(name: str) -> str:
    """``INTEGER``, ``TEXT`` or ``REAL``: the SQL type of a view column."""
    return "INTEGER" if name in _INTEGER else "TEXT" if name in _TEXT else "REAL"


def iter_view_rows(db: OptimizedDatabaseManager, view: str) -> Iterator[Sequence[Any]]:
    """Every row of ``view`` (its documented columns, in order), in id order, streamed."""
    from sqlalchemy import text

    columns = COLUMNS[view]
    order = "vehicle_id"
    if view == "fitment_ranges":
        order += ", suspension, modification, rubbing"
    sql = text(f"SELECT {', '.join(columns)} FROM {view} ORDER BY {order}")
    with db.read() as conn:
        yield from conn.execution_options(yield_per=CHUNK).execute(sql)


def _chunks(rows: Iterator[Sequence[Any]]) -> Iterator[list[Sequence[Any]]]:
    chunk: list[Sequence[Any]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def export_parquet(db: OptimizedDatabaseManager, what: str, out: Path) -> int:
    """Write the view of ``what`` to the Parquet file ``out``; returns the rows written."""
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError as exc:
        raise ConfigError(
            "--format parquet needs pyarrow",
            hint="install cwo's parquet extra: pip install 'cwo[parquet]'",
        ) from exc
    view = VIEW_OF[what]
    columns = COLUMNS[view]
    kinds = {"INTEGER": pa.int64(), "TEXT": pa.string(), "REAL": pa.float64()}
    schema = pa.schema([(c, kinds[column_kind(c)]) for c in columns])
    count = 0
    with pq.ParquetWriter(str(out), schema) as writer:
        for chunk in _chunks(iter_view_rows(db, view)):
            arrays = [
                pa.array([r[i] for r in chunk], type=schema.field(i).type)
                for i in range(len(columns))
            ]
            writer.write_table(pa.Table.from_arrays(arrays, schema=schema))
            count += len(chunk)
    return count


def export_sqlite(db: OptimizedDatabaseManager, out: Path) -> dict[str, int]:
    """A new SQLite file ``out`` holding only the views' rows; returns rows per table."""
    import sqlite3

    if out.exists():
        raise ConfigError(
            f"--out {out} exists", hint="give a new file name, or remove the old copy first"
        )
    counts: dict[str, int] = {}
    copy = sqlite3.connect(out)
    try:
        for view, columns in COLUMNS.items():
            spec = ", ".join(f'"{c}" {column_kind(c)}' for c in columns)
            copy.execute(f'CREATE TABLE "{view}" ({spec})')
            insert = f'INSERT INTO "{view}" VALUES ({", ".join("?" * len(columns))})'
            counts[view] = 0
            for chunk in _chunks(iter_view_rows(db, view)):
                copy.executemany(insert, [tuple(r) for r in chunk])
                counts[view] += len(chunk)
            for index in _COPY_INDEXES[view]:
                name = f"ix_{view}_{'_'.join(index)}"
                copy.execute(f'CREATE INDEX "{name}" ON "{view}" ({", ".join(index)})')
        copy.commit()
    finally:
        copy.close()
    return counts


def database_name(url: str) -> str:
    """The name Datasette gives the database of ``url``: a SQLite file's stem."""
    from sqlalchemy.engine import make_url

    database = make_url(url).database or "cwo"
    return Path(database).stem


def datasette_metadata(database: str) -> dict[str, Any]:
    """The shipped metadata, its per-database part under ``database`` (a file's stem)."""
    text = resources.files("custom_wheel_offset.query").joinpath(_METADATA).read_text("utf-8")
    metadata = json.loads(text)
    metadata["databases"] = {database: metadata["databases"][DATABASE_PLACEHOLDER]}
    return metadata


def write_datasette_metadata(out: Path, database: str) -> None:
    out.write_text(
        json.dumps(datasette_metadata(database), indent=2, ensure_ascii=False) + "\n", "utf-8"
    )
