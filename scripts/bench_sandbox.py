"""Measure how many fitment pages per second the sandbox serves on loopback.

The server runs in its own process (``cwo sandbox serve``, launched through
the click group so it works before the main CLI is assembled); the load
generator runs here with several threads, one ``requests.Session`` each
(keep-alive), fetching valid fitment pages (every one checked: status 200,
complete Content-Length, ends with ``</html>``) round-robin for a fixed time
after a short warm-up. One Python process cannot generate enough load by
itself (requests costs about 1.3 ms of client CPU per call), so requests
are prepared once and sent with ``Session.send``, and the threads are spread
over ``--processes`` client processes (default 2).

Usage::

    python scripts/bench_sandbox.py               # small, 100 KB pages, 2 x 4 threads, 10 s
    python scripts/bench_sandbox.py --processes 1 --threads 8 --duration 20
    python scripts/bench_sandbox.py --cwo                 # launch the `cwo` executable instead

Prints one line of results and a JSON object (``--json`` for JSON only).
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import statistics
import subprocess
import sys
import threading
import time
from itertools import islice
from multiprocessing.queues import Queue
from urllib.parse import quote, urlencode

import psutil
import requests

from custom_wheel_offset.sandbox.catalogue import build_catalogue

SERVE_VIA_GROUP = (
    "from custom_wheel_offset.cli.sandbox_cmd import sandbox; sandbox(prog_name='cwo sandbox')"
)


def fitment_urls(store_base: str, size: str, seed: int, limit: int) -> list[str]:
    """Valid fitment URLs of the catalogue (the benchmark may read it: it is not a scraper)."""
    catalogue = build_catalogue(size, seed)
    urls: list[str] = []
    for vm in islice(catalogue.iter_vehicles(), limit):
        v = vm.vid
        for prefs in vm.options.preference_sets():
            params = {
                "sort": "instock",
                "saleToggle": "0",
                "qdToggle": "0",
                "year": v.year,
                "make": v.make,
                "model": v.model,
                "trim": v.trim,
                "drive": v.drive,
                "DRChassisID": vm.chassis_id,
                "vehicle_type": vm.vehicle_type,
                "suspension": prefs.suspension,
                "modification": prefs.modification,
                "rubbing": prefs.rubbing,
            }
            urls.append(f"{store_base}/store/wheels?" + urlencode(params, quote_via=quote, safe=""))
    return urls


def start_server(args: argparse.Namespace) -> tuple[subprocess.Popen[str], dict[str, str]]:
    command = (
        ["cwo", "sandbox", "serve"]
        if args.cwo
        else [sys.executable, "-c", SERVE_VIA_GROUP, "serve"]
    )
    command += ["--size", args.size, "--seed", str(args.seed), "--page-kb", str(args.page_kb)]
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    bases: dict[str, str] = {}
    while len(bases) < 3:
        line = proc.stdout.readline()
        if not line:
            raise SystemExit(f"server exited early with code {proc.wait()}")
        key, _, value = line.strip().partition("=")
        bases[key] = value
    return proc, bases


def client_process(
    urls: list[str],
    threads: int,
    offset: int,
    start_at: float,
    warmup: float,
    duration: float,
    results: Queue,
) -> None:
    """One load-generating process: ``threads`` threads, one Session each."""
    stop_warmup = start_at + warmup
    deadline = stop_warmup + duration
    lock = threading.Lock()
    totals = {"pages": 0, "bytes": 0, "errors": 0}
    # Prepared once: the benchmark measures the server, not requests' per-call set-up.
    with requests.Session() as preparer:
        prepared = [preparer.prepare_request(requests.Request("GET", u)) for u in urls]
    latencies: list[float] = []

    def worker(k: int) -> None:
        session = requests.Session()
        i = offset + k * 97
        pages = nbytes = errors = 0
        lat: list[float] = []
        while True:
            t0 = time.monotonic()
            if t0 >= deadline:
                break
            r = session.send(prepared[i % len(prepared)], timeout=30, stream=True)
            body = r.raw.read(decode_content=True)
            r.close()
            t1 = time.monotonic()
            i += 1
            complete = (
                r.status_code == 200
                and body.endswith(b"</html>")
                and len(body) == int(r.headers.get("Content-Length", -1))
            )
            if t0 < stop_warmup:
                continue
            if complete:
                pages += 1
                nbytes += len(body)
                lat.append(t1 - t0)
            else:
                errors += 1
        session.close()
        with lock:
            totals["pages"] += pages
            totals["bytes"] += nbytes
            totals["errors"] += errors
            latencies.extend(lat)

    workers = [threading.Thread(target=worker, args=(k,)) for k in range(threads)]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    results.put((totals, latencies))


def run(args: argparse.Namespace) -> dict[str, object]:
    proc, bases = start_server(args)
    try:
        urls = fitment_urls(bases["store_base"], args.size, args.seed, limit=40)
        ctx = multiprocessing.get_context("spawn")
        results: Queue = ctx.Queue()
        start_at = time.monotonic() + 2.0  # let every client process start first
        clients = [
            ctx.Process(
                target=client_process,
                args=(urls, args.threads, p * 1009, start_at, args.warmup, args.duration, results),
            )
            for p in range(args.processes)
        ]
        for c in clients:
            c.start()
        server = psutil.Process(proc.pid)
        time.sleep(max(0.0, start_at + args.warmup - time.monotonic()))
        cpu_start = sum(server.cpu_times()[:2])
        time.sleep(max(0.0, start_at + args.warmup + args.duration - time.monotonic()))
        server_cpu = sum(server.cpu_times()[:2]) - cpu_start
        pages = nbytes = errors = 0
        latencies: list[float] = []
        for _ in clients:
            totals, lat = results.get(timeout=args.warmup + args.duration + 120)
            pages += totals["pages"]
            nbytes += totals["bytes"]
            errors += totals["errors"]
            latencies.extend(lat)
        for c in clients:
            c.join()
        counters = requests.get(bases["counters"], timeout=10).json()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    latencies.sort()
    return {
        "size": args.size,
        "page_kb": args.page_kb,
        "client_processes": args.processes,
        "threads_per_process": args.threads,
        "duration_s": args.duration,
        "pages": pages,
        "errors": errors,
        "pages_per_s": round(pages / args.duration, 1),
        "mb_per_s": round(nbytes / args.duration / 1e6, 1),
        "latency_ms_p50": round(1000 * statistics.median(latencies), 2) if latencies else None,
        "latency_ms_p95": (
            round(1000 * latencies[int(0.95 * (len(latencies) - 1))], 2) if latencies else None
        ),
        "server_fitment_served_ok": counters["served_ok"]["fitment"],
        # the server's own CPU per page, and the rate one core would sustain at that cost
        "server_cpu_ms_per_page": round(1000 * server_cpu / pages, 3) if pages else None,
        "server_pages_per_cpu_second": round(pages / server_cpu) if server_cpu else None,
        "server_peak_in_flight": counters["peak_in_flight"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", default="small", help="catalogue size (default small)")
    parser.add_argument("--seed", type=int, default=1, help="catalogue seed (default 1)")
    parser.add_argument("--page-kb", type=int, default=100, help="page size in KB (default 100)")
    parser.add_argument(
        "--processes",
        type=int,
        default=2,
        help="client processes (default 2; one Python process cannot "
        "generate enough load on its own)",
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=4,
        help="client threads per process, one Session each (default 4)",
    )
    parser.add_argument(
        "--duration", type=float, default=10.0, help="measured seconds (default 10)"
    )
    parser.add_argument("--warmup", type=float, default=1.0, help="warm-up seconds (default 1)")
    parser.add_argument(
        "--cwo", action="store_true", help="launch the `cwo` executable instead of the click group"
    )
    parser.add_argument("--json", action="store_true", help="print only the JSON result")
    args = parser.parse_args(argv)
    result = run(args)
    if not args.json:
        print(
            f"{result['pages_per_s']} fitment pages/s ({result['mb_per_s']} MB/s, "
            f"{args.page_kb} KB pages, {args.processes} x {args.threads} client threads, "
            f"{result['errors']} errors, p50 {result['latency_ms_p50']} ms; server CPU "
            f"{result['server_cpu_ms_per_page']} ms/page)"
        )
    print(json.dumps(result))
    return 0 if result["errors"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
