"""Measure how a crawl speeds up with several `cwo scrape` processes sharing one PostgreSQL crawl.

A latency-bound set-up, like a real site far away: the sandbox answers every
request after ``--latency-ms`` (default 100 ms), so one process with N workers
can do at most N / 0.1 s requests per second whatever the CPU. The benchmark

1. starts ``cwo sandbox serve --size SIZE --latency-ms L --port 0`` as a
   subprocess and reads the ``api_base=``, ``store_base=`` and ``counters=``
   lines it prints;
2. crawls the whole catalogue with ONE process (``--workers N``), into a fresh
   schema of the PostgreSQL database;
3. crawls it again with ``--processes K`` processes started together
   (``--workers N --worker-name wK`` each), into another fresh schema;
4. checks every run exited 0, stored every vehicle and fitment of the truth,
   and fetched no vehicle or fitment page twice (sandbox counters);
5. prints the wall times and the speed-up and writes them as JSON.

Usage::

    python scripts/bench_scaling.py                       # small, 100 ms, 8 workers, 1 vs 3
    python scripts/bench_scaling.py --processes 4 --workers 4 --out /tmp/scaling.json
    python scripts/bench_scaling.py --db postgresql+psycopg://crawler@dbhost/bench

The database URL defaults to ``$CWO_TEST_POSTGRES_URL``; its user must be
allowed to create schemas. The schemas are dropped at the end (``--keep`` keeps
them).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import psycopg
import requests
from sqlalchemy import create_engine, func, select
from sqlalchemy.engine import make_url

from custom_wheel_offset.sandbox import SandboxConfig
from custom_wheel_offset.sandbox.truth import truth_records
from custom_wheel_offset.storage.schema import fitments, vehicles

DEFAULT_DB = "postgresql+psycopg://postgres@127.0.0.1:5432/test"
CWO = [sys.executable, "-m", "custom_wheel_offset"]
RECORD_KINDS = ("vehicle", "fitment")


def start_sandbox(args: argparse.Namespace) -> tuple[subprocess.Popen[str], dict[str, str]]:
    """Start `cwo sandbox serve` and return it with the base URLs it prints."""
    command = [
        *CWO, "sandbox", "serve", "--size", args.size, "--seed", str(args.seed),
        "--latency-ms", str(args.latency_ms), "--page-kb", str(args.page_kb), "--port", "0",
    ]  # fmt: skip
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, env=child_env())
    assert proc.stdout is not None
    bases: dict[str, str] = {}
    while len(bases) < 3:
        line = proc.stdout.readline()
        if not line:
            raise SystemExit(f"the sandbox exited early with code {proc.wait()}")
        key, sep, value = line.strip().partition("=")
        if sep and key in ("api_base", "store_base", "counters"):
            bases[key] = value
    return proc, bases


def child_env() -> dict[str, str]:
    """This environment without proxies (everything talks to 127.0.0.1)."""
    env = {k: v for k, v in os.environ.items() if not k.lower().endswith("_proxy")}
    env["NO_PROXY"] = "127.0.0.1,localhost"
    return env


class Schemas:
    """Fresh schemas of one PostgreSQL database, each reachable through its own URL."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.admin = make_url(base_url).set(drivername="postgresql")
        self.created: list[str] = []

    def new(self, label: str) -> str:
        schema = f"cwo_bench_{label}_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(
            self.admin.render_as_string(hide_password=False), autocommit=True
        ) as c:
            c.execute(f'CREATE SCHEMA "{schema}"')
        self.created.append(schema)
        url = make_url(self.base_url).update_query_dict({"options": f"-csearch_path={schema}"})
        return url.render_as_string(hide_password=False)

    def drop_all(self) -> None:
        with psycopg.connect(
            self.admin.render_as_string(hide_password=False), autocommit=True
        ) as c:
            for schema in self.created:
                c.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def crawl(
    processes: int, db_url: str, bases: dict[str, str], args: argparse.Namespace, log_dir: Path
) -> dict[str, Any]:
    """Run ``processes`` scrapes together to their end; return wall time and what they did."""
    requests.post(bases["store_base"] + "/__sandbox__/reset", timeout=10).raise_for_status()
    # Create the schema first, so that the timing is the crawl's (the processes
    # would also create it themselves, one of them while the others wait).
    subprocess.run([*CWO, "db", "upgrade", "--db", db_url], check=True, capture_output=True)
    procs = []
    started = time.perf_counter()
    for k in range(1, processes + 1):
        log = (log_dir / f"p{processes}-w{k}.log").open("wb")
        command = [
            *CWO, "scrape", "--workers", str(args.workers), "--worker-name", f"w{k}",
            "--db", db_url, "--api-base", bases["api_base"], "--store-base", bases["store_base"],
            "--rate", "0", "--progress", "off",
        ]  # fmt: skip
        procs.append(
            (subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=child_env()), log)
        )
    codes = []
    for proc, log in procs:
        codes.append(proc.wait())
        log.close()
    wall = time.perf_counter() - started
    counters = requests.get(bases["counters"], timeout=10).json()
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            stored = {
                "vehicles": conn.execute(select(func.count()).select_from(vehicles)).scalar_one(),
                "fitments": conn.execute(select(func.count()).select_from(fitments)).scalar_one(),
            }
    finally:
        engine.dispose()
    return {
        "processes": processes,
        "workers_per_process": args.workers,
        "wall_seconds": round(wall, 2),
        "exit_codes": codes,
        "requests": counters["total_requests"],
        "requests_per_second": round(counters["total_requests"] / wall, 1),
        "duplicates": {k: counters["duplicate_ok"][k] for k in RECORD_KINDS},
        "stored": stored,
    }


def problems(run: dict[str, Any], expected: dict[str, int]) -> list[str]:
    """What is wrong with one measured run (empty when it is a valid measurement)."""
    out = []
    if any(run["exit_codes"]):
        out.append(f"exit codes {run['exit_codes']}")
    if run["stored"] != expected:
        out.append(f"stored {run['stored']} != truth {expected}")
    if any(run["duplicates"].values()):
        out.append(f"pages fetched twice: {run['duplicates']}")
    return out


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--db",
        default=os.environ.get("CWO_TEST_POSTGRES_URL", DEFAULT_DB),
        help="PostgreSQL URL (default $CWO_TEST_POSTGRES_URL or the local test db)",
    )
    parser.add_argument("--size", default="small", help="sandbox catalogue size (default small)")
    parser.add_argument("--seed", type=int, default=1, help="sandbox seed (default 1)")
    parser.add_argument(
        "--latency-ms", type=float, default=100.0, help="sandbox latency per request (default 100)"
    )
    parser.add_argument("--page-kb", type=int, default=100, help="fitment page size (default 100)")
    parser.add_argument("--workers", type=int, default=8, help="workers per process (default 8)")
    parser.add_argument(
        "--processes", type=int, default=3, help="processes of the parallel run (default 3)"
    )
    parser.add_argument("--out", default="bench_scaling.json", help="JSON results file")
    parser.add_argument("--keep", action="store_true", help="keep the benchmark's schemas")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    config = SandboxConfig(size=args.size, seed=args.seed)
    truth_vehicles, truth_fitments = truth_records(config)
    expected = {"vehicles": len(truth_vehicles), "fitments": len(truth_fitments)}
    sandbox, bases = start_sandbox(args)
    schemas = Schemas(args.db)
    try:
        with tempfile.TemporaryDirectory(prefix="cwo-bench-") as tmp:
            one, many, failures = _both_runs(args, schemas, bases, expected, Path(tmp))
    finally:
        sandbox.terminate()
        sandbox.wait(timeout=10)
        if not args.keep:
            schemas.drop_all()

    speedup = one["wall_seconds"] / many["wall_seconds"]
    result = {
        "benchmark": "bench_scaling",
        "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "sandbox": {
            "size": args.size,
            "seed": args.seed,
            "latency_ms": args.latency_ms,
            "page_kb": args.page_kb,
        },
        "truth": expected,
        "runs": [one, many],
        "speedup": round(speedup, 2),
        "ok": not failures,
    }
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(f"speed-up with {args.processes} processes: {speedup:.2f}x (results in {args.out})")
    return 0 if not failures else 1


def _both_runs(
    args: argparse.Namespace,
    schemas: Schemas,
    bases: dict[str, str],
    expected: dict[str, int],
    tmp: Path,
) -> tuple[dict[str, Any], dict[str, Any], list[str]]:
    """One process, then ``--processes`` of them: both runs and what went wrong in either."""
    one = crawl(1, schemas.new("p1"), bases, args, tmp)
    print(f"1 process x {args.workers} workers: {one['wall_seconds']:.1f} s", flush=True)
    many = crawl(args.processes, schemas.new(f"p{args.processes}"), bases, args, tmp)
    print(
        f"{args.processes} processes x {args.workers} workers: {many['wall_seconds']:.1f} s",
        flush=True,
    )
    failures = [
        f"{run['processes']} process(es): {p}"
        for run in (one, many)
        for p in problems(run, expected)
    ]
    if failures:
        for line in failures:
            print("FAILED:", line)
        for log in sorted(tmp.glob("*.log")):
            print(f"--- {log.name}\n{log.read_text(errors='replace')[-2000:]}")
    return one, many, failures


if __name__ == "__main__":
    raise SystemExit(main())
