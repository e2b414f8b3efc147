"""The sandbox's own ceiling: bare http.client clients fetching fitment pages.

What any client could get from ``cwo sandbox serve --latency-ms L`` with W
concurrent kept-alive connections, so that cwo's latency-bound efficiency
(docs/performance.md, target 1) can be split into the sandbox's share and
cwo's. The sandbox runs in its own process; the clients are threads that
only send, read and count (no parsing, no storing).

    python scripts/bench_ceiling.py --latency-ms 50 --workers 10 --seconds 30
"""

from __future__ import annotations

import argparse
import http.client
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

from custom_wheel_offset.protocol import urls
from custom_wheel_offset.protocol.records import PreferenceSet, VehicleId

IDENTITY = ("year", "make", "model", "trim", "drive")


def fitment_targets(store_base: str, size: str, limit: int) -> list[str]:
    """Request targets (path and query) of the catalogue's fitment pages, from its truth."""
    out = Path(tempfile.mkdtemp(prefix="cwo-ceiling-"))
    subprocess.run(
        [sys.executable, "-m", "custom_wheel_offset", "sandbox", "truth", "--size", size,
         "--out", str(out)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    vehicles = {}
    for line in (out / "vehicles.jsonl").read_text(encoding="utf-8").splitlines():
        v = json.loads(line)
        vehicles[tuple(v[k] for k in IDENTITY)] = v
    targets = []
    for line in (out / "fitments.jsonl").read_text(encoding="utf-8").splitlines():
        f = json.loads(line)
        v = vehicles[tuple(f[k] for k in IDENTITY)]
        url = urls.fitment_url(
            store_base,
            VehicleId(*(v[k] for k in IDENTITY)),
            v["vehicle_type"],
            v.get("chassis_id"),
            PreferenceSet(f["suspension"], f["modification"], f["rubbing"]),
        )
        parts = urlsplit(url)
        targets.append(f"{parts.path}?{parts.query}")
        if len(targets) >= limit:
            break
    return targets


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--workers", type=int, default=10)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--size", default="medium")
    parser.add_argument("--page-kb", type=int, default=100)
    args = parser.parse_args()

    server = subprocess.Popen(
        [sys.executable, "-m", "custom_wheel_offset", "sandbox", "serve", "--size", args.size,
         "--port", "0", "--page-kb", str(args.page_kb), "--latency-ms", str(args.latency_ms)],
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert server.stdout is not None
        conf = dict(server.stdout.readline().strip().split("=", 1) for _ in range(3))
        targets = fitment_targets(conf["store_base"], args.size, 20_000)
        store = urlsplit(conf["store_base"])
        durations: list[float] = []
        lock = threading.Lock()
        stop_at = time.monotonic() + args.seconds

        def client(first: int) -> None:
            conn = http.client.HTTPConnection(store.hostname or "127.0.0.1", store.port)
            n = first
            while time.monotonic() < stop_at:
                started = time.perf_counter()
                conn.request("GET", targets[n % len(targets)], headers={"Accept-Encoding": "gzip"})
                conn.getresponse().read()
                with lock:
                    durations.append(time.perf_counter() - started)
                n += args.workers

        threads = [threading.Thread(target=client, args=(i,)) for i in range(args.workers)]
        began = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - began
    finally:
        server.terminate()
        server.wait(10)
    durations.sort()
    rate = len(durations) / elapsed
    ideal = args.workers * 1000.0 / args.latency_ms
    result = {
        "latency_ms": args.latency_ms,
        "workers": args.workers,
        "pages_per_s": round(rate, 1),
        "ideal_pages_per_s": ideal,
        "efficiency": round(rate / ideal, 3),
        "request_ms_median": round(1000 * durations[len(durations) // 2], 2),
        "request_ms_mean": round(1000 * sum(durations) / len(durations), 2),
    }
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
