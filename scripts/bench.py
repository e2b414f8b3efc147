"""Benchmark cwo against the targets of issue 5, from one command.

Every crawl scenario starts the sandbox as a separate process
(``cwo sandbox serve --port 0 ...``), zeroes its counters, runs
``cwo scrape`` into a fresh SQLite database as a subprocess (sampling its CPU
times and RSS every 0.5 s, exact totals from ``wait4``), then reads the
sandbox's counters and the run's metrics (``cwo report``). The storage
scenario drives the library directly; the start-up scenario reads
``python -X importtime``.

Usage::

    python scripts/bench.py                      # every scenario, full sizes (~30 min)
    python scripts/bench.py --quick              # every scenario, short (a few minutes)
    python scripts/bench.py --scenario cpu --scenario waste --out results.json
    python scripts/bench.py --list

Scenarios (targets from issue 5; docs/performance.md has the figures)::

    latency50_w10   latency 50 ms, 10 workers: >= 95% of the ideal 200 pages/s
    latency100_w64  latency 100 ms, 64 workers: >= 80% of the ideal 640 pages/s
    cpu             latency 0, 100 KB pages: <= 1.5 ms scraper CPU per page (+ a profile)
    rate20          --rate 20, unlimited sandbox: >= 19 req/s, never > 21 in any 1 s
    waste           requests per kind == the protocol minimum, no faults
    incremental     --skip-existing rerun: no vehicle/fitment requests, <= 5% of the wall time
    memory          large catalogue, 64 workers: peak RSS <= 150 MB, no upward trend
    storage         writer >= 20,000 fitment rows/s; claim among 1,000,000 done rows <= 1 s
    startup         --help, status, report: no requests, no rich.live; --help no SQLAlchemy

Prints one block per scenario and, at the end, the whole result as JSON
(also written to ``--out``, default ``bench-results/results.json``). The exit code
is 0 when every target of the scenarios run was met, 1 otherwise.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from _bench_common import (
    CWO,
    PY,
    SandboxProcess,
    ScrapeMeasure,
    cprofile_command,
    have_py_spy,
    import_times,
    protocol_minimum,
    provenance,
    py_spy_command,
    read_report,
    rss_trend,
    run_scrape,
    scrape_command,
    steady_state,
    stored_counts,
    summarise_collapsed,
    summarise_pstats,
)

MB = 2**20
#: Where the cpu scenario's profile goes: beside the --out file (set by main).
PROFILE_DIR = Path("bench-results")


@dataclass(frozen=True)
class Crawl:
    """One crawl's setting: the sandbox's and the scraper's."""

    size: str
    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    page_kb: int = 100
    workers: int = 10
    rate: float = 0.0  # 0 = unlimited (the scraper's own default is 2)
    limit: int | None = None
    max_rps: float = 0.0
    seed: int = 1

    def ideal_pages_per_s(self) -> float | None:
        """Workers / latency, or the rate limit when that is lower (None: CPU-bound)."""
        ideals = []
        if self.latency_ms > 0:
            ideals.append(self.workers * 1000.0 / self.latency_ms)
        if self.rate > 0:
            ideals.append(self.rate)
        return min(ideals) if ideals else None

    def reproduce(self, scenario: str, quick: bool) -> str:
        return f"python scripts/bench.py --scenario {scenario}{' --quick' if quick else ''}"


def target(
    name: str, measured: Any, limit: Any, met: bool | None, unit: str = ""
) -> dict[str, Any]:
    return {"target": name, "measured": measured, "limit": limit, "unit": unit, "met": met}


# ---------------------------------------------------------------- one measured crawl


def measure_crawl(
    crawl: Crawl,
    workdir: Path,
    *,
    skip_existing: bool = False,
    db_path: Path | None = None,
    sandbox: SandboxProcess | None = None,
    timeout: float = 3600.0,
    extra: Sequence[str] = (),
) -> dict[str, Any]:
    """Run one scrape against a (new or given) sandbox; every figure of that run."""
    own_sandbox = sandbox is None
    if sandbox is None:
        sandbox = SandboxProcess(
            crawl.size, crawl.seed, crawl.latency_ms, crawl.jitter_ms, crawl.page_kb, crawl.max_rps
        ).__enter__()
    try:
        db_path = db_path or workdir / f"bench-{time.monotonic_ns()}.db"
        db_url = f"sqlite:///{db_path}"
        sandbox.reset()
        command = scrape_command(
            sandbox,
            db_url,
            workers=crawl.workers,
            rate=crawl.rate,
            skip_existing=skip_existing,
            limit=crawl.limit,
            extra=extra,
        )
        measure = run_scrape(command, sandbox=sandbox, timeout=timeout)
        counters = sandbox.counters()
    finally:
        if own_sandbox:
            sandbox.stop()
    report: dict[str, Any] = {}
    try:
        report = read_report(db_url, workdir)
    except (subprocess.CalledProcessError, json.JSONDecodeError, OSError) as exc:
        report = {"error": repr(exc)}
    figures = crawl_figures(crawl, measure, counters, report, db_path)
    figures["sandbox_command"] = " ".join(sandbox.command())
    figures["scrape_command"] = " ".join(_shown(measure.command))
    return figures


def _shown(command: list[str]) -> list[str]:
    return [
        "cwo" if part == PY else part
        for part in command
        if part not in ("-m", "custom_wheel_offset")
    ]


def crawl_figures(
    crawl: Crawl, m: ScrapeMeasure, counters: dict[str, Any], report: dict[str, Any], db_path: Path
) -> dict[str, Any]:
    total_requests = counters["total_requests"]
    pages = counters["requests"].get("fitment", 0)
    run = report.get("run", {})
    run_s = run.get("duration_seconds") or m.wall_s
    stored = stored_counts(db_path) if db_path.exists() else {"vehicles": 0, "fitments": 0}
    records = stored["vehicles"] + stored["fitments"]
    out: dict[str, Any] = {
        "setting": _setting(crawl),
        "exit_code": m.exit_code,
        "outcome": run.get("outcome"),
        "wall_s": round(m.wall_s, 2),
        "run_s": round(run_s, 2),
        "fitment_pages": pages,
        "requests_total": total_requests,
        "requests_by_kind": {k: v for k, v in counters["requests"].items() if v},
        **_rates(crawl, m, pages, total_requests, run_s),
        "steady_state": steady_state(m.samples),
        **_cpu(m, pages, total_requests),
        "peak_rss_mb": round(m.maxrss_bytes / MB, 1),
        "rss_samples": rss_trend(m.samples),
        "report_memory": _report_memory(report.get("memory", {})),
        "writer": _writer(report, run_s),
        "stored": stored,
        "requests_per_record": round(total_requests / records, 4) if records else None,
        "sandbox": _sandbox_figures(counters),
        "operations_ms": _operations_ms(report),
        "cache": report.get("cache"),
        "pool": {k: v for k, v in (report.get("pool") or {}).items() if k != "status"},
        "progress": report.get("progress"),
        "retries": (report.get("retries") or {}).get("total"),
    }
    if m.exit_code != 0:
        out["stderr_tail"] = m.stderr_tail[-800:]
    return out


def _setting(crawl: Crawl) -> dict[str, Any]:
    return {
        "size": crawl.size,
        "latency_ms": crawl.latency_ms,
        "jitter_ms": crawl.jitter_ms,
        "page_kb": crawl.page_kb,
        "workers": crawl.workers,
        "rate": crawl.rate,
        "limit": crawl.limit,
        "seed": crawl.seed,
    }


def _rates(
    crawl: Crawl, m: ScrapeMeasure, pages: int, total_requests: int, run_s: float
) -> dict[str, Any]:
    ideal = crawl.ideal_pages_per_s()
    pages_per_s = pages / run_s if run_s else 0.0
    requests_per_s = total_requests / run_s if run_s else 0.0
    return {
        "pages_per_s": round(pages_per_s, 1),
        "pages_per_s_wall": round(pages / m.wall_s, 1) if m.wall_s else 0.0,
        "requests_per_s": round(requests_per_s, 1),
        "ideal_pages_per_s": ideal,
        "efficiency": round(pages_per_s / ideal, 3) if ideal else None,
        "request_efficiency": round(requests_per_s / ideal, 3) if ideal else None,
    }


def _cpu(m: ScrapeMeasure, pages: int, total_requests: int) -> dict[str, Any]:
    return {
        "cpu_s": round(m.cpu_s, 2),
        "cpu_user_s": round(m.user_s, 2),
        "cpu_sys_s": round(m.sys_s, 2),
        "cpu_ms_per_page": round(1000 * m.cpu_s / pages, 3) if pages else None,
        "cpu_ms_per_request": round(1000 * m.cpu_s / total_requests, 3) if total_requests else None,
        "cpu_utilisation": round(m.cpu_s / m.wall_s, 2) if m.wall_s else None,
    }


def _report_memory(memory: dict[str, Any]) -> dict[str, Any]:
    slope = memory.get("slope_bytes_per_min")
    return {
        "peak_rss_mb": round((memory.get("peak_rss_bytes") or 0) / MB, 1),
        "trend": memory.get("trend"),
        "slope_mb_per_min": round(slope / MB, 2) if slope is not None else None,
        "samples": len(memory.get("samples") or []),
    }


def _writer(report: dict[str, Any], run_s: float) -> dict[str, Any]:
    writer = report.get("writer", {})
    write_op = report.get("operations", {}).get("write_batch", {})
    busy = write_op.get("total", 0.0)
    return {
        "rows": writer.get("rows"),
        "batches": writer.get("batches"),
        "rows_per_transaction": writer.get("rows_per_transaction"),
        "transactions_saved_pct": writer.get("transactions_saved_pct"),
        "busy_s": round(busy, 3),
        "rows_per_busy_s": (
            round(writer["rows"] / write_op["total"])
            if writer.get("rows") and write_op.get("total")
            else None
        ),
        "rows_per_run_s": round(writer["rows"] / run_s) if writer.get("rows") else None,
        "busy_share_of_run": round(busy / run_s, 3) if run_s else None,
    }


def _sandbox_figures(counters: dict[str, Any]) -> dict[str, Any]:
    return {
        "peak_requests_1s": counters.get("peak_requests_1s"),
        "peak_requests_1s_by_host": counters.get("peak_requests_1s_by_host"),
        "peak_in_flight": counters.get("peak_in_flight"),
        "statuses": counters.get("statuses"),
        "faults": {k: v for k, v in counters.get("faults", {}).items() if v},
        "duplicate_ok": sum(counters.get("duplicate_ok", {}).values()),
    }


def _operations_ms(report: dict[str, Any]) -> dict[str, Any]:
    return {
        op: {
            "count": v.get("count"),
            "mean": round(1000 * (v.get("mean") or 0), 2),
            "p95": round(1000 * (v.get("p95") or 0), 2),
        }
        for op, v in (report.get("operations") or {}).items()
        if op in ("fitment", "item/fitment", "vehicle", "write_batch")
    }


def with_minimum(figures: dict[str, Any], crawl: Crawl) -> dict[str, Any]:
    """Add the protocol minimum of a full crawl and how far the run is from it."""
    minimum = protocol_minimum(crawl.size, crawl.seed)
    total = sum(minimum.values())
    records = minimum["vehicle"] + minimum["fitment"]
    figures["protocol_minimum"] = {
        "by_kind": minimum,
        "total": total,
        "requests_per_record": round(total / records, 4),
        "extra_by_kind": {
            k: figures["requests_by_kind"].get(k, 0) - v
            for k, v in minimum.items()
            if figures["requests_by_kind"].get(k, 0) != v
        },
    }
    return figures


# ---------------------------------------------------------------- crawl scenarios


_STAGE_KEYS = (
    "exit_code",
    "run_s",
    "fitment_pages",
    "requests_total",
    "pages_per_s",
    "efficiency",
    "cpu_ms_per_page",
    "operations_ms",
    "scrape_command",
)


def scenario_latency(
    name: str, crawl: Crawl, share: float, workdir: Path, quick: bool, stage_limit: int
) -> dict[str, Any]:
    """Two measurements of one setting.

    The whole crawl into a fresh database: every page a worker fetches (the
    listings, vehicles and options of the tree walk too, 10 % of a crawl's
    requests) takes one latency, so pages of every kind per second are set
    against workers / latency; fitment pages alone can reach at most their
    share of the requests. Then the fitment stage alone (``--stages
    fitments`` over a database whose tree, vehicles and preferences a first,
    unmeasured run stored): fitment pages per second against the same ideal.
    """
    f = measure_crawl(crawl, workdir)
    ideal = crawl.ideal_pages_per_s()
    assert ideal is not None
    steady = f["steady_state"] or {}
    fitment_share = f["fitment_pages"] / f["requests_total"] if f["requests_total"] else 0.0
    tree, stage = _fitment_stage_alone(crawl, workdir, stage_limit)
    f["fitment_stage"] = {
        "tree_run": {k: tree[k] for k in ("exit_code", "run_s", "requests_total")},
        **{k: stage[k] for k in _STAGE_KEYS},
    }
    floor = share * ideal
    f["targets"] = [
        target(
            f"whole crawl: pages of every kind/s >= {share:.0%} of ideal {ideal:g}",
            f["requests_per_s"],
            round(floor, 1),
            f["requests_per_s"] >= floor and f["exit_code"] == 0,
            "pages/s",
        ),
        target(
            f"fitment stage: fitment pages/s >= {share:.0%} of ideal {ideal:g}",
            stage["pages_per_s"],
            round(floor, 1),
            stage["pages_per_s"] >= floor and stage["exit_code"] == 0 and tree["exit_code"] == 0,
            "pages/s",
        ),
    ]
    f["notes"] = (
        f"whole crawl: {f['pages_per_s']} fitment pages/s, {fitment_share:.1%} of its "
        f"requests being fitment pages (so at most {fitment_share:.1%} of the ideal); steady "
        f"state (10-90% of the pages) {steady.get('fitment_per_s')} fitment pages/s; scraper "
        f"CPU {f['cpu_utilisation']} cores over the run"
    )
    f["reproduce"] = crawl.reproduce(name, quick)
    return f


def _fitment_stage_alone(
    crawl: Crawl, workdir: Path, stage_limit: int
) -> tuple[dict[str, Any], dict[str, Any]]:
    """An unmeasured tree run into a fresh database, then the measured fitment stage."""
    with SandboxProcess(
        crawl.size, crawl.seed, crawl.latency_ms, crawl.jitter_ms, crawl.page_kb, crawl.max_rps
    ) as sandbox:
        db_path = workdir / f"stage-{time.monotonic_ns()}.db"
        tree = measure_crawl(
            replace(crawl, limit=None),
            workdir,
            db_path=db_path,
            sandbox=sandbox,
            extra=["--stages", "tree,vehicles,preferences"],
        )
        stage = measure_crawl(
            replace(crawl, limit=stage_limit),
            workdir,
            db_path=db_path,
            sandbox=sandbox,
            extra=["--stages", "fitments"],
        )
    return tree, stage


def scenario_cpu(
    crawl: Crawl, profile_crawl: Crawl, workdir: Path, quick: bool, profiler: str
) -> dict[str, Any]:
    f = measure_crawl(crawl, workdir)
    steady = f["steady_state"] or {}
    per_page = f["cpu_ms_per_page"]
    f["targets"] = [
        target(
            "scraper CPU per 100 KB fitment page <= 1.5 ms (whole run)",
            per_page,
            1.5,
            per_page is not None and per_page <= 1.5 and f["exit_code"] == 0,
            "ms",
        ),
    ]
    f["notes"] = (
        f"steady-state CPU per page {steady.get('cpu_ms_per_page')} ms; "
        f"{f['cpu_ms_per_request']} ms per request of any kind"
    )
    f["breakdown_one_thread"] = cpu_breakdown(profile_crawl, 300 if quick else 1000)
    b = f["breakdown_one_thread"]
    if per_page is not None:
        b["rest_of_the_scraper_ms (whole-run figure minus fetch and parse)"] = round(
            per_page - b["network_get_ms"] - b["parse_fitment_page_ms"], 3
        )
    f["profile"] = profile_scrape(profile_crawl, workdir, profiler)
    f["reproduce"] = crawl.reproduce("cpu", quick)
    return f


def cpu_breakdown(crawl: Crawl, n: int) -> dict[str, Any]:
    """CPU per fitment page of each step alone, in one thread (time.thread_time).

    Against a sandbox in its own process: cwo's OptimizedNetworkManager.get,
    the page parser on the same bodies, and a bare requests.Session for
    comparison (with and without ``trust_env``, which makes requests look up
    proxy variables and ~/.netrc on every call).
    """
    from custom_wheel_offset.metrics.counters import Counters
    from custom_wheel_offset.net.network import OptimizedNetworkManager
    from custom_wheel_offset.protocol import store
    from custom_wheel_offset.settings import resolve_settings

    with SandboxProcess(crawl.size, crawl.seed, page_kb=crawl.page_kb) as sandbox:
        targets = _fitment_urls(crawl, sandbox.store_base, n)
        settings = resolve_settings(
            {
                "api_base": sandbox.api_base,
                "store_base": sandbox.store_base,
                "rate": 0,
                "workers": 1,
            },
            env={},
        )
        network = OptimizedNetworkManager(settings, Counters())
        bodies: list[bytes] = []
        fetch_ms = _per_page(lambda u: bodies.append(network.get(u, kind="fitment")), targets)
        network.close()
        started = time.thread_time()
        for body in bodies:
            store.parse_fitment_page(body)
        parse_ms = round(1000 * (time.thread_time() - started) / len(bodies), 3)
        baselines = _client_baselines(targets, sandbox.store_base)
    return {
        "pages": len(targets),
        "mean_body_kb": round(sum(map(len, bodies)) / len(bodies) / 1024, 1),
        "network_get_ms": fetch_ms,
        "parse_fitment_page_ms": parse_ms,
        **baselines,
    }


def _fitment_urls(crawl: Crawl, store_base: str, n: int) -> list[str]:
    """The first ``n`` fitment URLs of the crawl's catalogue, served at ``store_base``."""
    from custom_wheel_offset.protocol import urls
    from custom_wheel_offset.sandbox.catalogue import build_catalogue

    targets: list[str] = []
    for vm in build_catalogue(crawl.size, crawl.seed).iter_vehicles():
        for prefs in vm.options.preference_sets():
            targets.append(
                urls.fitment_url(store_base, vm.vid, vm.vehicle_type, vm.chassis_id, prefs)
            )
        if len(targets) >= n:
            break
    return targets[:n]


def _per_page(fn: Callable[[str], Any], targets: list[str]) -> float:
    """Thread CPU milliseconds per call of ``fn``, after one warm-up (connection, robots.txt)."""
    fn(targets[0])
    started = time.thread_time()
    for url in targets:
        fn(url)
    return round(1000 * (time.thread_time() - started) / len(targets), 3)


def _client_baselines(targets: list[str], store_base: str) -> dict[str, float]:
    """The same GETs by bare clients: requests (with and without trust_env), urllib3,
    http.client."""
    import http.client
    from urllib.parse import urlsplit

    import requests
    import urllib3

    plain = requests.Session()
    requests_ms = _per_page(lambda u: plain.get(u, timeout=30).content, targets)
    plain.close()
    bare = requests.Session()
    bare.trust_env = False
    requests_no_env_ms = _per_page(lambda u: bare.get(u, timeout=30).content, targets)
    bare.close()
    pool = urllib3.PoolManager(maxsize=1)
    urllib3_ms = _per_page(lambda u: pool.request("GET", u, timeout=30.0).data, targets)
    pool.clear()
    split = urlsplit(store_base)
    connection = http.client.HTTPConnection(split.hostname, split.port, timeout=30)

    def raw_get(url: str) -> bytes:
        parts = urlsplit(url)
        connection.request(
            "GET", f"{parts.path}?{parts.query}", headers={"Accept-Encoding": "identity"}
        )
        return connection.getresponse().read()

    http_client_ms = _per_page(raw_get, targets)
    connection.close()
    return {
        "plain_requests_get_ms": requests_ms,
        "requests_trust_env_false_ms": requests_no_env_ms,
        "urllib3_poolmanager_ms": urllib3_ms,
        "http_client_ms": http_client_ms,
    }


def profile_scrape(crawl: Crawl, workdir: Path, profiler: str) -> dict[str, Any]:
    """The scraper's CPU profile over a crawl (py-spy's sampled stacks, or cProfile)."""
    if profiler == "none":
        return {"profiler": "none"}
    if profiler == "auto":
        profiler = "py-spy" if have_py_spy() else "cprofile"
    with SandboxProcess(
        crawl.size, crawl.seed, crawl.latency_ms, crawl.jitter_ms, crawl.page_kb, crawl.max_rps
    ) as sandbox:
        sandbox.reset()
        db_url = f"sqlite:///{workdir / f'profile-{time.monotonic_ns()}.db'}"
        command = scrape_command(
            sandbox, db_url, workers=crawl.workers, rate=crawl.rate, limit=crawl.limit
        )
        out_dir = PROFILE_DIR
        out_dir.mkdir(parents=True, exist_ok=True)
        if profiler == "py-spy":
            raw = out_dir / "cpu-pyspy.txt"
            m = run_scrape(py_spy_command(raw, command), sandbox=sandbox, sample_counters=False)
            summary = summarise_collapsed(raw) if raw.exists() else {"error": m.stderr_tail}
        else:
            raw = out_dir / "cpu.pstats"
            m = run_scrape(
                cprofile_command(raw, command[3:]), sandbox=sandbox, sample_counters=False
            )
            summary = summarise_pstats(raw) if raw.exists() else {"error": m.stderr_tail}
    return {
        "profiler": profiler,
        "file": str(raw),
        "exit_code": m.exit_code,
        "setting": {
            "size": crawl.size,
            "workers": crawl.workers,
            "latency_ms": crawl.latency_ms,
            "limit": crawl.limit,
        },
        **summary,
    }


def scenario_rate(crawl: Crawl, workdir: Path, quick: bool) -> dict[str, Any]:
    f = measure_crawl(crawl, workdir)
    peaks = f["sandbox"]["peak_requests_1s_by_host"] or {}
    peak_host = max(peaks.values()) if peaks else None
    steady = f["steady_state"] or {}
    f["targets"] = [
        target(
            "requests/s over the run >= 19",
            f["requests_per_s"],
            19.0,
            f["requests_per_s"] >= 19.0 and f["exit_code"] == 0,
            "req/s",
        ),
        target(
            "peak requests in any 1 s window, per host <= 21",
            peak_host,
            21,
            peak_host is not None and peak_host <= 21,
            "requests",
        ),
        target(
            "peak requests in any 1 s window, all hosts <= 21",
            f["sandbox"]["peak_requests_1s"],
            21,
            (f["sandbox"]["peak_requests_1s"] or 0) <= 21,
            "requests",
        ),
    ]
    f["notes"] = (
        f"steady state {steady.get('requests_per_s')} req/s; the sandbox serves "
        "both hosts on one port, so the scraper's per-host limit covers both"
    )
    f["reproduce"] = crawl.reproduce("rate20", quick)
    return f


def scenario_waste(crawl: Crawl, workdir: Path, quick: bool) -> dict[str, Any]:
    f = with_minimum(measure_crawl(crawl, workdir), crawl)
    minimum = f["protocol_minimum"]
    f["targets"] = [
        target(
            "requests per stored record == protocol minimum",
            f["requests_per_record"],
            minimum["requests_per_record"],
            f["requests_per_record"] == minimum["requests_per_record"]
            and not minimum["extra_by_kind"],
            "req/record",
        ),
        target(
            "no faults, no duplicate successful answers",
            {"faults": f["sandbox"]["faults"], "duplicate_ok": f["sandbox"]["duplicate_ok"]},
            "none",
            not f["sandbox"]["faults"] and f["sandbox"]["duplicate_ok"] == 0,
        ),
        target(
            "stored records == truth",
            f["stored"],
            {"vehicles": minimum["by_kind"]["vehicle"], "fitments": minimum["by_kind"]["fitment"]},
            f["stored"]
            == {
                "vehicles": minimum["by_kind"]["vehicle"],
                "fitments": minimum["by_kind"]["fitment"],
            },
        ),
    ]
    f["reproduce"] = crawl.reproduce("waste", quick)
    return f


_INCREMENTAL_FULL_KEYS = (
    "exit_code",
    "wall_s",
    "run_s",
    "requests_total",
    "fitment_pages",
    "stored",
    "cpu_s",
)
_INCREMENTAL_RERUN_KEYS = (
    "exit_code",
    "outcome",
    "wall_s",
    "run_s",
    "requests_total",
    "requests_by_kind",
    "cpu_s",
)


def scenario_incremental(crawl: Crawl, workdir: Path, quick: bool) -> dict[str, Any]:
    db_path = workdir / "incremental.db"
    with SandboxProcess(
        crawl.size, crawl.seed, crawl.latency_ms, crawl.jitter_ms, crawl.page_kb
    ) as sandbox:
        full = with_minimum(measure_crawl(crawl, workdir, db_path=db_path, sandbox=sandbox), crawl)
        before = stored_counts(db_path)
        rerun = measure_crawl(crawl, workdir, db_path=db_path, sandbox=sandbox, skip_existing=True)
        after = stored_counts(db_path)
    by_kind = rerun["requests_by_kind"]
    ratio = rerun["wall_s"] / full["wall_s"] if full["wall_s"] else None
    run_ratio = rerun["run_s"] / full["run_s"] if full["run_s"] else None
    listing_min = sum(
        v for k, v in full["protocol_minimum"]["by_kind"].items() if k not in ("vehicle", "fitment")
    )
    out = {
        "setting": full["setting"],
        "full": {k: full[k] for k in _INCREMENTAL_FULL_KEYS},
        "rerun": {k: rerun[k] for k in _INCREMENTAL_RERUN_KEYS},
        "rows_before": before,
        "rows_after": after,
        "rerun_wall_ratio": round(ratio, 4) if ratio is not None else None,
        "rerun_run_ratio": round(run_ratio, 4) if run_ratio is not None else None,
        "rerun_request_ratio": round(rerun["requests_total"] / full["requests_total"], 4),
        "listing_and_options_minimum": listing_min,
        "scrape_command": rerun["scrape_command"],
        "sandbox_command": rerun["sandbox_command"],
    }
    out["targets"] = [
        target(
            "rerun makes no vehicle and no fitment request",
            {"vehicle": by_kind.get("vehicle", 0), "fitment": by_kind.get("fitment", 0)},
            0,
            by_kind.get("vehicle", 0) == 0 and by_kind.get("fitment", 0) == 0,
        ),
        target("rerun adds no rows", after, before, after == before),
        target(
            "rerun wall time <= 5% of the full crawl's",
            out["rerun_wall_ratio"],
            0.05,
            ratio is not None and ratio <= 0.05 and rerun["exit_code"] == 0,
            "ratio",
        ),
    ]
    out["notes"] = (
        f"the rerun re-walks the listings and the options: "
        f"{rerun['requests_total']} requests (minimum for that: {listing_min}) "
        f"= {out['rerun_request_ratio']:.1%} of the full crawl's requests"
    )
    out["reproduce"] = crawl.reproduce("incremental", quick)
    return out


def scenario_memory(crawl: Crawl, workdir: Path, quick: bool) -> dict[str, Any]:
    f = measure_crawl(crawl, workdir)
    own = f["rss_samples"]
    second = own.get("slope_mb_per_min_second_half")
    rep = f["report_memory"]
    f["targets"] = [
        target(
            "peak RSS <= 150 MB",
            f["peak_rss_mb"],
            150.0,
            f["peak_rss_mb"] <= 150.0 and f["exit_code"] == 0,
            "MB",
        ),
        target(
            "no upward RSS trend after warm-up (report's verdict)",
            rep.get("trend"),
            "stable",
            rep.get("trend") == "stable",
        ),
        target(
            "RSS slope over the second half of the crawl (own 0.5 s samples) < 1 MB/min",
            second,
            1.0,
            None if own.get("judged_s", 0) < 60 else second is not None and second < 1.0,
            "MB/min",
        ),
    ]
    if own.get("judged_s", 0) < 60:
        f["notes"] = (
            "the run is too short after warm-up to judge a trend "
            f"({own.get('judged_s', 0)} s); the full mode runs for minutes"
        )
    f["reproduce"] = crawl.reproduce("memory", quick)
    return f


# ---------------------------------------------------------------- storage (library)


def scenario_storage(
    workdir: Path, quick: bool, fitment_rows: int, done_rows: int
) -> dict[str, Any]:
    writer_default = bench_writer(workdir / "writer.db", fitment_rows, fast=False)
    writer_fast = bench_writer(workdir / "writer-fast.db", fitment_rows, fast=True)
    claim = bench_claim(workdir / "claim.db", done_rows)
    out = {
        "writer": writer_default,
        "writer_fast": writer_fast,
        "claim": claim,
    }
    out["targets"] = [
        target(
            "writer >= 20,000 fitment rows/s into SQLite (default: synchronous=FULL, batch 500)",
            writer_default["fitment_rows_per_s"],
            20000,
            writer_default["fitment_rows_per_s"] >= 20000,
            "rows/s",
        ),
        target(
            f"Frontier.claim among {done_rows:,} done rows <= 1 s",
            claim["claim_s"],
            1.0,
            claim["claim_s"] <= 1.0 and claim["claimed"] == claim["pending"],
            "s",
        ),
    ]
    out["reproduce"] = f"python scripts/bench.py --scenario storage{' --quick' if quick else ''}"
    return out


def _seed_vehicles(db: Any, n_vehicles: int) -> tuple[list[int], list[int]]:
    from sqlalchemy import insert, select

    from custom_wheel_offset.storage.schema import preference_sets, vehicles

    now = time.time()
    with db.begin() as conn:
        conn.execute(
            insert(vehicles),
            [
                {
                    "year": 2000 + i % 25,
                    "make": f"Make {i % 40}",
                    "model": f"Model {i}",
                    "trim": "Base",
                    "drive": "AWD",
                    "vehicle_type": "Car",
                    "raw_json": "{}",
                    "fetched_at": now,
                }
                for i in range(n_vehicles)
            ],
        )
        conn.execute(
            insert(preference_sets),
            [
                {
                    "vehicle_type": "Car",
                    "suspension": s,
                    "modification": t,
                    "rubbing": r,
                    "current": True,
                }
                for s in ("Stock", "Leveling Kit", "Lifted 2in", "Lowered 1in")
                for t in ("No Modification", "Minor Plastic Trimming", "Major Cutting")
                for r in ("No Rubbing", "Slight Rubbing")
            ],
        )
        vids = list(conn.execute(select(vehicles.c.id)).scalars())
        pids = list(conn.execute(select(preference_sets.c.id)).scalars())
    return vids, pids


def bench_writer(path: Path, n: int, *, fast: bool) -> dict[str, Any]:
    """Push ``n`` fitment outcomes through BatchWriter into a fresh SQLite file."""
    from custom_wheel_offset.metrics.counters import Counters
    from custom_wheel_offset.storage.database import OptimizedDatabaseManager
    from custom_wheel_offset.storage.writer import BatchWriter

    path.unlink(missing_ok=True)
    db = OptimizedDatabaseManager(f"sqlite:///{path}", synchronous_full=not fast)
    db.ensure_schema()
    owner = "bench:1:writer"
    per_vehicle = 24
    vids, pids = _seed_vehicles(db, -(-n // per_vehicle))
    pairs = [(v, p) for v in vids for p in pids][:n]
    outcomes = _fitment_outcomes(_leased_fitment_items(db, owner, pairs), pairs)
    batch_size = 500 * (4 if fast else 1)
    writer = BatchWriter(
        db,
        owner=owner,
        crawl_id=1,
        counters=Counters(),
        batch_size=batch_size,
        flush_interval=0.5 * (4 if fast else 1),
    )
    writer.start()
    started = time.perf_counter()
    quarter_rates = _submit_by_quarter(writer, outcomes)
    seconds = time.perf_counter() - started
    writer.stop()
    with db.read() as conn:
        stored = conn.exec_driver_sql("SELECT count(*) FROM fitments").scalar_one()
    db.dispose()
    return {
        "synchronous": "NORMAL (--fast)" if fast else "FULL (default)",
        "batch_size": batch_size,
        "fitment_outcomes": n,
        "fitments_stored": stored,
        "seconds": round(seconds, 3),
        "fitment_rows_per_s": round(stored / seconds),
        "fitment_rows_per_s_by_quarter": quarter_rates,
        "writer_rows_per_s": round(writer.rows / seconds),
        **{
            k: v
            for k, v in writer.stats().items()
            if k in ("batches", "rows", "rows_per_transaction")
        },
    }


def _leased_fitment_items(db: Any, owner: str, pairs: list[tuple[int, int]]) -> list[int]:
    """Fitment items of ``pairs`` leased by ``owner``, inserted 20,000 a statement; their ids."""
    from sqlalchemy import insert, select

    from custom_wheel_offset.storage.schema import frontier

    now = time.time()
    with db.begin() as conn:
        for start in range(0, len(pairs), 20000):
            conn.execute(
                insert(frontier),
                [
                    {
                        "key": f"fitment/{v}/{p}",
                        "kind": "fitment",
                        "status": "leased",
                        "vehicle_id": v,
                        "prefset_id": p,
                        "lease_owner": owner,
                        "lease_expires": now + 3600,
                        "attempts": 0,
                        "not_before": 0.0,
                        "updated_at": now,
                    }
                    for v, p in pairs[start : start + 20000]
                ],
            )
        return list(conn.execute(select(frontier.c.id).order_by(frontier.c.id)).scalars())


def _fitment_outcomes(ids: list[int], pairs: list[tuple[int, int]]) -> list[Any]:
    """One done outcome per item: nine in ten an ordinary page, one in ten "no data"."""
    from custom_wheel_offset.protocol.records import AxleRanges, FitmentPage
    from custom_wheel_offset.work import FitmentResult, Outcome

    front = AxleRanges(17.0, 22.0, 7.5, 10.0, 15.0, 45.0)
    rear = AxleRanges(18.0, 22.0, 8.5, 11.0, 20.0, 50.0)
    block = '<div class="fitment-range" data-axle="front">' + "x" * 280 + "</div>"
    pages = [FitmentPage("ok", "5x114.3", "5x4.5", front, rear, block), FitmentPage.no_data()]
    return [
        Outcome(
            item_id, "fitment", "done", result=FitmentResult(v, p, pages[0] if i % 10 else pages[1])
        )
        for i, (item_id, (v, p)) in enumerate(zip(ids, pairs, strict=True))
    ]


def _submit_by_quarter(writer: Any, outcomes: list[Any]) -> list[int]:
    """Rows per second of each quarter, drained in turn: does the rate hold as the table grows?"""
    rates = []
    quarter = -(-len(outcomes) // 4)
    for start in range(0, len(outcomes), quarter):
        started = time.perf_counter()
        part = outcomes[start : start + quarter]
        for outcome in part:
            writer.submit(outcome)
        writer.drain()
        rates.append(round(len(part) / (time.perf_counter() - started)))
    return rates


def bench_claim(path: Path, n_done: int, n_pending: int = 5) -> dict[str, Any]:
    """Time Frontier.claim (and the idle check) among ``n_done`` done rows."""
    from custom_wheel_offset.storage.database import OptimizedDatabaseManager
    from custom_wheel_offset.storage.frontier import KIND_PRIORITY, Frontier, ItemFilter

    seed_s = _seed_claim_rows(path, n_done, n_pending)
    db = OptimizedDatabaseManager(f"sqlite:///{path}")
    frontier = Frontier(db, "bench:1:claim", 300.0)
    kinds = tuple(KIND_PRIORITY)
    frontier.open_counts(kinds, ItemFilter())  # engine and pool created outside the timing
    claimed, claim_s = _timed(lambda: frontier.claim(kinds, 20, ItemFilter()))

    def release_and_count() -> tuple[int, int, Any]:
        frontier.release_owned()
        return frontier.open_counts(kinds, ItemFilter())

    (ready, waiting, _), open_counts_s = _timed(release_and_count)
    second, second_claim_s = _timed(lambda: frontier.claim(kinds, 20, ItemFilter()))
    _, stage_counts_s = _timed(frontier.stage_counts)
    db.dispose()
    return {
        "done_rows": n_done,
        "pending": n_pending,
        "claimed": len(claimed),
        "claimed_again": len(second),
        "seed_s": round(seed_s, 2),
        "claim_s": round(claim_s, 4),
        "second_claim_s": round(second_claim_s, 4),
        "release_and_open_counts_s": round(open_counts_s, 4),
        "open_counts_ready": ready,
        "open_counts_waiting": waiting,
        "stage_counts_s (status/progress, full scan)": round(stage_counts_s, 3),
        "db_mb": round(path.stat().st_size / MB, 1),
    }


def _timed(fn: Callable[[], Any]) -> tuple[Any, float]:
    started = time.perf_counter()
    result = fn()
    return result, time.perf_counter() - started


def _seed_claim_rows(path: Path, n_done: int, n_pending: int) -> float:
    """A fresh database with ``n_done`` done and ``n_pending`` pending fitment rows; seconds."""
    import sqlite3

    from custom_wheel_offset.storage.database import OptimizedDatabaseManager

    path.unlink(missing_ok=True)
    db = OptimizedDatabaseManager(f"sqlite:///{path}")
    db.ensure_schema()
    db.dispose()
    now = time.time()
    started = time.perf_counter()
    conn = sqlite3.connect(path)
    sql = (
        "INSERT INTO frontier (key, kind, status, vehicle_id, prefset_id, attempts, "
        "not_before, updated_at, crawl_id) VALUES (?, ?, ?, ?, ?, 0, 0.0, ?, 1)"
    )
    conn.executemany(
        sql,
        (
            (f"fitment/{i // 24}/{i % 24}", "fitment", "done", i // 24, i % 24, now)
            for i in range(n_done)
        ),
    )
    conn.executemany(
        sql, ((f"fitment/p/{i}", "fitment", "pending", 10**9 + i, 1, now) for i in range(n_pending))
    )
    conn.commit()
    conn.execute("ANALYZE")
    conn.close()
    return time.perf_counter() - started


# ---------------------------------------------------------------- start-up


def scenario_startup(workdir: Path, quick: bool) -> dict[str, Any]:
    db_url = f"sqlite:///{workdir / 'startup.db'}"
    runs = {
        "--help": ["--help"],
        "scrape --help": ["scrape", "--help"],
        "status": ["status", "--db", db_url],
        "report": ["report", "--db", db_url],
    }
    out: dict[str, Any] = {}
    for label, args in runs.items():
        info = import_times(args)
        walls = []
        for _ in range(3):
            started = time.monotonic()
            subprocess.run([*CWO, *args], capture_output=True)
            walls.append(time.monotonic() - started)
        info["wall_s_median_of_3"] = round(statistics.median(walls), 3)
        out[label] = info
    help_info, status_info, report_info = out["--help"], out["status"], out["report"]
    out["targets"] = [
        target(
            "cwo --help imports no requests, rich.live or SQLAlchemy",
            {
                k: help_info[k]
                for k in ("imports_requests", "imports_rich_live", "imports_sqlalchemy")
            },
            "all false",
            not (
                help_info["imports_requests"]
                or help_info["imports_rich_live"]
                or help_info["imports_sqlalchemy"]
            ),
        ),
        target(
            "cwo status imports no requests, rich.live",
            {k: status_info[k] for k in ("imports_requests", "imports_rich_live")},
            "all false",
            not (status_info["imports_requests"] or status_info["imports_rich_live"]),
        ),
        target(
            "cwo report imports no requests, rich.live",
            {k: report_info[k] for k in ("imports_requests", "imports_rich_live")},
            "all false",
            not (report_info["imports_requests"] or report_info["imports_rich_live"]),
        ),
    ]
    out["reproduce"] = (
        "python -X importtime -m custom_wheel_offset --help 2> imports.txt; "
        "python scripts/bench.py --scenario startup"
    )
    return out


# ---------------------------------------------------------------- driver


def scenarios(quick: bool, profiler: str) -> dict[str, Callable[[Path], dict[str, Any]]]:
    q = quick
    mid = "small" if q else "medium"
    return {
        "latency50_w10": lambda w: scenario_latency(
            "latency50_w10",
            Crawl(mid, latency_ms=50, workers=10, limit=None if q else 30000),
            0.95,
            w,
            q,
            stage_limit=3000 if q else 15000,
        ),
        "latency100_w64": lambda w: scenario_latency(
            "latency100_w64",
            Crawl(mid, latency_ms=100, workers=64),
            0.80,
            w,
            q,
            stage_limit=4000 if q else 40000,
        ),
        "cpu": lambda w: scenario_cpu(
            Crawl(mid, workers=10, limit=None if q else 30000),
            Crawl("small", workers=10),
            w,
            q,
            profiler,
        ),
        "rate20": lambda w: scenario_rate(
            Crawl("small", workers=10, rate=20, limit=400 if q else 1500), w, q
        ),
        "waste": lambda w: scenario_waste(Crawl("small" if q else "medium", workers=10), w, q),
        "incremental": lambda w: scenario_incremental(Crawl(mid, workers=10), w, q),
        "memory": lambda w: scenario_memory(
            Crawl("large", latency_ms=20, workers=64, limit=8000 if q else 450000), w, q
        ),
        "storage": lambda w: scenario_storage(w, q, 50_000 if q else 200_000, 1_000_000),
        "startup": lambda w: scenario_startup(w, q),
    }


def _fmt(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_fmt(v)}" for k, v in value.items()) + "}"
    return str(value)


_HEADLINE_KEYS = (
    "wall_s",
    "run_s",
    "fitment_pages",
    "requests_total",
    "pages_per_s",
    "ideal_pages_per_s",
    "efficiency",
    "requests_per_s",
    "cpu_ms_per_page",
    "cpu_utilisation",
    "peak_rss_mb",
    "requests_per_record",
    "exit_code",
)


def print_scenario(name: str, result: dict[str, Any]) -> None:
    code = result.get("code") or {}
    dirty = (
        f", {len(code['src_changed_files'])} file(s) in src/ differ"
        if code.get("src_changed_files")
        else ""
    )
    print(
        f"\n== {name} ({result.get('elapsed_s')} s, load average before "
        f"{result.get('loadavg_before')}, code {code.get('commit')}{dirty}) ==",
        flush=True,
    )
    if "error" in result:
        print(f"  ERROR: {result['error']}")
        return
    shown = {k: result[k] for k in _HEADLINE_KEYS if k in result}
    if shown:
        print("  " + ", ".join(f"{k}={v}" for k, v in shown.items()))
    _print_sections(name, result)
    _print_scenario_specific(name, result)
    _print_profile(result)
    if result.get("notes"):
        print(f"  notes: {result['notes']}")
    if result.get("stderr_tail"):
        print(f"  stderr: {result['stderr_tail'][-400:]}")
    for t in result.get("targets", []):
        verdict = {True: "MET", False: "NOT MET", None: "n/a"}[t["met"]]
        print(
            f"  [{verdict}] {t['target']}: measured {_fmt(t['measured'])} "
            f"(limit {_fmt(t['limit'])}{' ' + t['unit'] if t['unit'] else ''})"
        )
    if result.get("reproduce"):
        print(f"  reproduce: {result['reproduce']}")


def _print_sections(name: str, result: dict[str, Any]) -> None:
    if result.get("operations_ms"):
        print(f"  operations (ms): {_fmt(result['operations_ms'])}")
    if result.get("steady_state"):
        print(f"  steady state: {_fmt(result['steady_state'])}")
    if name != "storage" and isinstance(result.get("writer"), dict):
        print(f"  writer: {_fmt(result['writer'])}")
    if result.get("fitment_stage"):
        print(f"  fitment stage: {_fmt(result['fitment_stage'])}")


def _print_scenario_specific(name: str, result: dict[str, Any]) -> None:
    for key in ("rss_samples", "report_memory"):
        if key in result and name == "memory":
            print(f"  {key}: {_fmt(result[key])}")
    if name == "storage":
        for key in ("writer", "writer_fast", "claim"):
            print(f"  {key}: {_fmt(result[key])}")
    if name == "incremental":
        for key in ("full", "rerun", "rerun_wall_ratio", "rerun_run_ratio", "rerun_request_ratio"):
            print(f"  {key}: {_fmt(result.get(key))}")
    if name == "startup":
        for label in ("--help", "scrape --help", "status", "report"):
            info = result[label]
            print(
                f"  {label}: exit {info['exit_code']}, {info['modules']} modules, "
                f"{info['wall_s_median_of_3']} s; sqlalchemy={info['imports_sqlalchemy']} "
                f"requests={info['imports_requests']} rich.live={info['imports_rich_live']}; "
                f"heaviest {info['heaviest_top_level_ms'][:5]}"
            )
    if "protocol_minimum" in result:
        pm = result["protocol_minimum"]
        print(
            f"  protocol minimum: {pm['total']} requests, {pm['requests_per_record']} per "
            f"record; extra by kind: {pm['extra_by_kind'] or 'none'}"
        )


def _print_profile(result: dict[str, Any]) -> None:
    if result.get("breakdown_one_thread"):
        print(
            f"  CPU per page, each step alone in one thread: {_fmt(result['breakdown_one_thread'])}"
        )
    if result.get("profile", {}).get("profiler", "none") != "none":
        prof = result["profile"]
        print(
            f"  profile ({prof['profiler']}, {prof['file']}): % of the scraper's samples "
            "in (inclusive):"
        )
        for label, share in prof.get("subsystems_pct") or []:
            print(f"    {share:>5}%  {label}")
        print("  top self:")
        for row in (prof.get("top_self") or [])[:12]:
            print(f"    {row[1]:>7}  {row[0]}")


def _compact(result: dict[str, Any]) -> dict[str, Any]:
    """The scenario's JSON without the long lists (those stay in the --out file)."""
    out = dict(result)
    if "profile" in out:
        prof = dict(out["profile"])
        for key in ("top_inclusive", "top_self", "top_cumulative"):
            if key in prof:
                prof[key] = prof[key][:8]
        out["profile"] = prof
    return out


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short version (a few minutes)")
    parser.add_argument(
        "--scenario",
        action="append",
        default=[],
        metavar="NAME",
        help="run only this scenario (repeatable)",
    )
    parser.add_argument(
        "--out",
        default="bench-results/results.json",
        help="JSON results file (default bench-results/results.json; the "
        "cpu scenario's profile is written beside it)",
    )
    parser.add_argument(
        "--profiler",
        choices=("auto", "py-spy", "cprofile", "none"),
        default="auto",
        help="profiler of the cpu scenario: py-spy --gil (auto: when "
        "installed, `pip install py-spy`), else a cProfile of every "
        "thread's CPU time",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary databases")
    parser.add_argument("--list", action="store_true", help="list the scenarios and exit")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    # A plain SIGTERM must still stop the sandbox and the scraper (context managers run).
    signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(128 + signum))
    global PROFILE_DIR
    PROFILE_DIR = Path(args.out).resolve().parent
    PROFILE_DIR.mkdir(parents=True, exist_ok=True)
    table = scenarios(args.quick, args.profiler)
    if args.list:
        print("\n".join(table))
        return 0
    chosen = args.scenario or list(table)
    unknown = [n for n in chosen if n not in table]
    if unknown:
        parser.error(f"unknown scenario(s) {', '.join(unknown)}; choose from {', '.join(table)}")
    results: dict[str, Any] = {
        "machine": {
            "python": platform.python_version(),
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
        },
        "mode": "quick" if args.quick else "full",
        "code": provenance(Path(__file__).resolve().parent.parent),
        "started_at": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "scenarios": {},
    }
    all_met = True
    tmp: Any = (
        contextlib.nullcontext(tempfile.mkdtemp(prefix="cwo-bench-"))
        if args.keep
        else tempfile.TemporaryDirectory(prefix="cwo-bench-")
    )
    with tmp as workdir_name:
        for name in chosen:
            result = _run_scenario(name, table[name], Path(workdir_name) / name)
            results["scenarios"][name] = result
            print_scenario(name, result)
            print(json.dumps({name: _compact(result)}, default=str), flush=True)
            # A scenario that raised fails the run like an unmet target.
            met = "error" not in result and all(t["met"] is not False for t in result["targets"])
            all_met = all_met and met
            _write(args.out, results)
    summary = {
        name: [t["met"] for t in r.get("targets", [])] for name, r in results["scenarios"].items()
    }
    results["all_targets_met"] = all_met
    _write(args.out, results)
    if args.keep:
        print(f"databases kept in {workdir_name}")
    print(f"\nresults written to {args.out}; targets met per scenario: {summary}")
    return 0 if all_met else 1


def _run_scenario(name: str, scenario: Callable[[Path], Any], workdir: Path) -> dict[str, Any]:
    """One scenario's result, with its time, the load around it and the code it ran."""
    workdir.mkdir()
    started = time.monotonic()
    load_before = [round(x, 2) for x in os.getloadavg()]
    try:
        result: dict[str, Any] = scenario(workdir)
    except Exception as exc:  # noqa: BLE001 - one broken scenario must not hide the others
        result = {"error": f"{type(exc).__name__}: {exc}", "targets": []}
    result["elapsed_s"] = round(time.monotonic() - started, 1)
    # Other processes on this 2-core machine skew timings: say how busy it was,
    # and which code ran (others may be changing src/ meanwhile).
    result["code"] = provenance(Path(__file__).resolve().parent.parent)
    result["loadavg_before"] = load_before
    result["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
    return result


def _write(out: str, results: dict[str, Any]) -> None:
    Path(out).write_text(json.dumps(results, indent=2, default=str) + "\n", encoding="utf-8")


if __name__ == "__main__":
    raise SystemExit(main())
