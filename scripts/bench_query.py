"""Time `cwo lookup` and `cwo fits` over a sandbox catalogue written straight into SQLite.

Usage::

    python scripts/bench_query.py --size large --copies 2 [--db FILE] [--rebuild] [--json FILE]

The database is built without HTTP: every vehicle and fitment of the
sandbox catalogue (``--size``, seed 1) is computed by the sandbox's truth model
and written in bulk in the rows the writer stores (the same ``flatten`` of the
export records), through the real schema (migrations, indexes). An existing
file of the right size is reused unless ``--rebuild``.

Then the library functions are timed in this process, warm (one untimed
call first): ``lookup`` for ``--lookups`` random (year, make, model) of the
catalogue, and ``fits`` for a fixed set of wheels (common bolt patterns with
and without sizes). Printed: median, 95th percentile and maximum per kind,
each ``fits`` query with its row count, the query plans, and a JSON summary
(``--json FILE``).
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

BATCH = 20_000
# The stored raw texts' average sizes in a crawled small sandbox (raw_block 348
# characters, raw_json 527): rows as long as a crawl's, so table reads cost as much.
RAW_BLOCK = "<div class='fit'>" + "x" * 331
RAW_JSON = '{"pad": "' + "x" * 516 + '"}'
STOCK = ("Stock Suspension", "No Modification", "No rubbing or scrubbing")

# (bolt pattern, centre bore, diameter, width, offset): typical aftermarket wheels.
WHEELS: tuple[tuple[str, float | None, float | None, float | None, float | None], ...] = (
    ("5x114.3", 73.1, 18.0, 8.0, 35.0),
    ("5x4.5", None, 18.0, 8.5, 35.0),
    ("6x139.7", 106.1, 17.0, 8.5, 0.0),
    ("6x5.5", 78.1, 20.0, 9.0, 18.0),
    ("5x112", 66.6, 19.0, 8.5, 40.0),
    ("5x120", 72.6, 19.0, 9.0, 30.0),
    ("4x100", 60.1, 16.0, 7.0, 40.0),
    ("8x165.1", 125.0, 18.0, 9.0, 0.0),
    ("5x114.3", 73.1, None, None, None),
    ("6x139.7", None, None, None, None),
)


def _vehicle_rows(catalogue: Any, copies: int) -> Iterator[tuple[dict[str, Any], Any]]:
    """Each vehicle's row, ``copies`` times: copy k has its years moved on by 100 x k."""
    from dataclasses import replace

    from custom_wheel_offset.exporting.format import flatten, vehicle_record
    from custom_wheel_offset.sandbox.truth import vehicle_spec

    for copy, vm in ((k, vm) for k in range(copies) for vm in catalogue.iter_vehicles()):
        spec = vehicle_spec(vm)
        row = flatten(vehicle_record(replace(vm.vid, year=vm.vid.year + 100 * copy), spec))
        row.update(raw_json=RAW_JSON, fetched_at=0.0, crawl_id=1, gone_crawl=None)
        yield row, vm


def _fitment_rows(
    catalogue: Any, vm: Any, vtype: str | None, vehicle_id: int, prefset_ids: dict[Any, int]
) -> list[dict[str, Any]]:
    from custom_wheel_offset.exporting.format import AXLE_RANGE_KEYS
    from custom_wheel_offset.sandbox.truth import fitment_page

    opts = vm.options
    rows = []
    for prefs in opts.preference_sets():
        index = (
            opts.suspension.index(prefs.suspension),
            opts.trimming.index(prefs.modification),
            opts.rubbing.index(prefs.rubbing),
        )
        page = fitment_page(catalogue.fitment(vm, index))
        key = (vtype, prefs.suspension, prefs.modification, prefs.rubbing)
        row = {
            "vehicle_id": vehicle_id,
            "prefset_id": prefset_ids.setdefault(key, len(prefset_ids) + 1),
            "status": page.status,
            "bolt_pattern_mm": page.bolt_pattern_mm,
            "bolt_pattern_in": page.bolt_pattern_in,
            "raw_block": RAW_BLOCK,
            "fetched_at": 0.0,
            "crawl_id": 1,
        }
        for axle in ("front", "rear"):
            for k in AXLE_RANGE_KEYS:
                row[f"{axle}_{k}"] = getattr(getattr(page, axle), k)
        rows.append(row)
    return rows


def _options_rows(options: dict[str, Any]) -> list[dict[str, Any]]:
    kinds = {"suspension": "suspension", "trimming": "trimming", "rubbing": "rubbing"}
    return [
        {
            "vehicle_type": vtype,
            **{k: json.dumps(list(getattr(o, attr))) for k, attr in kinds.items()},
            "fetched_at": 0.0,
        }
        for vtype, o in options.items()
    ]


def build(path: Path, size: str, copies: int = 1) -> dict[str, Any]:
    """Write the whole catalogue into a fresh SQLite file; returns counts and seconds."""
    from custom_wheel_offset.sandbox.catalogue import build_catalogue
    from custom_wheel_offset.storage.database import OptimizedDatabaseManager
    from custom_wheel_offset.storage.schema import (
        fitments,
        preference_options,
        preference_sets,
        vehicles,
    )

    started = time.perf_counter()
    path.unlink(missing_ok=True)
    db = OptimizedDatabaseManager(f"sqlite:///{path}")
    db.ensure_schema()
    catalogue = build_catalogue(size, 1)
    prefset_ids: dict[Any, int] = {}
    n_sets = n_vehicles = n_fitments = 0
    v_batch: list[dict[str, Any]] = []
    f_batch: list[dict[str, Any]] = []

    def flush(conn: Any) -> None:
        nonlocal n_sets, n_fitments, v_batch, f_batch
        # Parents first: cwo's SQLite connections enforce foreign keys.
        new_sets = [(k, i) for k, i in prefset_ids.items() if i > n_sets]
        if new_sets:
            names = ("vehicle_type", "suspension", "modification", "rubbing")
            conn.execute(
                preference_sets.insert(),
                [{"id": i, **dict(zip(names, k, strict=True))} for k, i in new_sets],
            )
            n_sets = len(prefset_ids)
        for table, batch in ((vehicles, v_batch), (fitments, f_batch)):
            if batch:
                conn.execute(table.insert(), batch)
        n_fitments += len(f_batch)
        v_batch, f_batch = [], []

    options: dict[str, Any] = {}
    with db.begin() as conn:
        for row, vm in _vehicle_rows(catalogue, copies):
            options.setdefault(row["vehicle_type"], vm.options)
            n_vehicles += 1
            v_batch.append({**row, "id": n_vehicles})
            f_batch += _fitment_rows(catalogue, vm, row["vehicle_type"], n_vehicles, prefset_ids)
            if len(f_batch) >= BATCH:
                flush(conn)
        flush(conn)
        conn.execute(preference_options.insert(), _options_rows(options))
    db.dispose()
    seconds = time.perf_counter() - started
    return {"vehicles": n_vehicles, "fitments": n_fitments, "build_seconds": round(seconds, 1)}


def _stats(times: list[float]) -> dict[str, float]:
    ordered = sorted(times)
    p95 = ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))]
    return {
        "n": len(ordered),
        "median_ms": round(statistics.median(ordered) * 1000, 2),
        "p95_ms": round(p95 * 1000, 2),
        "max_ms": round(ordered[-1] * 1000, 2),
    }


def _timed(fn: Any, *args: Any) -> tuple[float, Any]:
    """Wall seconds of ``fn(*args)`` and its result; CPU seconds go to ``CPU``."""
    start, cpu = time.perf_counter(), time.process_time()
    result = fn(*args)
    CPU.append(time.process_time() - cpu)
    return time.perf_counter() - start, result


# CPU seconds of every timed call, in order: on a shared machine the wall time
# includes waiting for a core, the CPU time does not.
CPU: list[float] = []


def time_lookups(db: Any, n: int, seed: int) -> dict[str, Any]:
    from sqlalchemy import select

    from custom_wheel_offset.query.lookup import LookupQuery, lookup
    from custom_wheel_offset.storage.schema import vehicles

    with db.read() as conn:
        names = conn.execute(
            select(vehicles.c.year, vehicles.c.make, vehicles.c.model).distinct()
        ).all()
    picks = random.Random(seed).sample(names, min(n, len(names)))
    lookup(db, LookupQuery(*picks[0]))  # warm: connection, statement cache
    times = []
    CPU.clear()
    for year, make, model in picks:
        seconds, result = _timed(lookup, db, LookupQuery(year, make, model))
        assert result.vehicles, (year, make, model)
        times.append(seconds)
    return {**_stats(times), "cpu": _stats(CPU)}


def time_fits(db: Any) -> dict[str, Any]:
    """Each wheel of ``WHEELS`` over every preference set, then over the stock set only."""
    from custom_wheel_offset.query.fits import FitsQuery, fits, make_wheel
    from custom_wheel_offset.query.options import PreferenceFilter

    out: dict[str, Any] = {}
    for label, prefs in (("all_sets", PreferenceFilter()), ("stock_set", PreferenceFilter(*STOCK))):
        queries = [
            FitsQuery(make_wheel(bp, center_bore=cb, diameter=d, width=w, offset=o), prefs)
            for bp, cb, d, w, o in WHEELS
        ]
        fits(db, queries[0])  # warm
        CPU.clear()
        each = []
        for (bp, cb, d, w, o), q in zip(WHEELS, queries, strict=True):
            seconds, rows = _timed(fits, db, q)
            wheel = f"{bp} cb={cb} {d}x{w} ET{o}"
            each.append({"wheel": wheel, "rows": len(rows), "ms": round(seconds * 1000, 1)})
        for e, cpu in zip(each, CPU, strict=True):
            e["cpu_ms"] = round(cpu * 1000, 1)
        wall = _stats([e["ms"] / 1000 for e in each])
        out[label] = {**wall, "cpu": _stats(list(CPU)), "queries": each}
    return out


def plans(db: Any) -> dict[str, list[str]]:
    """SQLite's plan of each query kind, to show which indexes answer it."""
    out = {}
    with db.read() as conn:
        for name, sql in (
            (
                "lookup vehicles",
                "SELECT * FROM vehicles WHERE year=2020 AND make='Ford' AND model='F-150'",
            ),
            ("lookup ranges", "SELECT * FROM fitments WHERE vehicle_id IN (1,2,3)"),
            (
                "fits",
                "SELECT * FROM vehicles v JOIN fitments f ON f.vehicle_id = v.id "
                "WHERE v.lug_count = 5 AND v.pcd_mm > 113.7 AND v.pcd_mm < 114.9 "
                "AND f.status = 'ok' AND f.front_diameter_min <= 18",
            ),
        ):
            rows = conn.exec_driver_sql(f"EXPLAIN QUERY PLAN {sql}").all()
            out[name] = [str(r[-1]) for r in rows]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="large", choices=["tiny", "small", "medium", "large"])
    parser.add_argument(
        "--db", type=Path, default=None, help="SQLite file (default /tmp/cwo-query-SIZE.db)"
    )
    parser.add_argument("--rebuild", action="store_true")
    parser.add_argument(
        "--copies",
        type=int,
        default=1,
        help="Write the catalogue this many times (years moved on by 100 each): "
        "large x2 holds 1.19 million fitments.",
    )
    parser.add_argument("--lookups", type=int, default=200)
    parser.add_argument("--json", type=Path, default=None, help="Also write the summary here.")
    args = parser.parse_args()
    path = args.db or Path(f"/tmp/cwo-query-{args.size}-x{args.copies}.db")
    summary: dict[str, Any] = {"size": args.size, "copies": args.copies, "db": str(path)}
    if args.rebuild or not path.exists():
        summary["build"] = build(path, args.size, args.copies)
        print(f"built {path}: {summary['build']}")
    from custom_wheel_offset.storage.database import OptimizedDatabaseManager

    db = OptimizedDatabaseManager(f"sqlite:///{path}", readonly=True)
    try:
        summary["lookup"] = time_lookups(db, args.lookups, seed=1)
        summary["fits"] = time_fits(db)
        summary["plans"] = plans(db)
    finally:
        db.dispose()
    text = json.dumps(summary, indent=2, ensure_ascii=False)
    print(text)
    if args.json:
        args.json.write_text(text + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
