"""The mechanics under ``scripts/bench.py``: sandbox process, measured scrape, counts.

Nothing here imports cwo's heavy modules at import time; the harness itself
stays out of the measured process (the scraper is always a subprocess).

* :class:`SandboxProcess` runs ``cwo sandbox serve`` as a separate process and
  reads its three base URLs from the first stdout lines.
* :func:`run_scrape` runs ``cwo scrape`` as a subprocess, samples its CPU
  times, RSS and peak RSS (VmHWM; children included) and the sandbox
  counters every 0.5 s, and takes the exact CPU times from ``wait4``.
* :func:`protocol_minimum` computes the fewest requests a correct crawl of a
  catalogue can make, from the catalogue's listings and its ground truth.
* :func:`profile_summary` turns py-spy's collapsed stacks (or a cProfile
  file) into the top functions by inclusive and by self time.
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import shutil
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psutil

PY = sys.executable
CWO = [PY, "-m", "custom_wheel_offset"]
SAMPLE_SECONDS = 0.5


# ---------------------------------------------------------------- tiny HTTP helpers


def http_json(url: str, *, method: str = "GET", timeout: float = 10.0) -> Any:
    request = urllib.request.Request(url, method=method, data=b"" if method == "POST" else None)
    with urllib.request.urlopen(request, timeout=timeout) as response:
        body = response.read()
    return json.loads(body) if body.strip() else None


# ---------------------------------------------------------------- the sandbox


@dataclass
class SandboxProcess:
    """``cwo sandbox serve`` in its own process; a context manager that stops it."""

    size: str
    seed: int = 1
    latency_ms: float = 0.0
    jitter_ms: float = 0.0
    page_kb: int = 100
    max_rps: float = 0.0
    proc: subprocess.Popen[str] | None = None
    api_base: str = ""
    store_base: str = ""
    counters_url: str = ""
    pid: int = 0

    def command(self) -> list[str]:
        cmd = [
            *CWO,
            "sandbox",
            "serve",
            "--size",
            self.size,
            "--seed",
            str(self.seed),
            "--port",
            "0",
            "--latency-ms",
            f"{self.latency_ms:g}",
            "--jitter-ms",
            f"{self.jitter_ms:g}",
            "--page-kb",
            str(self.page_kb),
        ]
        if self.max_rps:
            cmd += ["--max-rps", f"{self.max_rps:g}"]
        return cmd

    def __enter__(self) -> SandboxProcess:
        self.proc = subprocess.Popen(
            self.command(), stdout=subprocess.PIPE, text=True, stderr=subprocess.DEVNULL
        )
        self.pid = self.proc.pid
        lines: queue.Queue[str] = queue.Queue()
        assert self.proc.stdout is not None
        stdout = self.proc.stdout

        def reader() -> None:
            for line in stdout:
                lines.put(line)
            lines.put("")

        threading.Thread(target=reader, daemon=True).start()
        found: dict[str, str] = {}
        deadline = time.monotonic() + 60
        while len(found) < 3:
            try:
                line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                self.stop()
                raise RuntimeError("the sandbox printed no base URLs within 60 s") from None
            if not line:
                code = self.proc.wait()
                raise RuntimeError(f"the sandbox exited early with code {code}")
            key, _, value = line.strip().partition("=")
            if key in ("api_base", "store_base", "counters"):
                found[key] = value
        self.api_base, self.store_base = found["api_base"], found["store_base"]
        self.counters_url = found["counters"]
        return self

    def reset(self) -> None:
        http_json(self.store_base + "/__sandbox__/reset", method="POST")

    def counters(self) -> dict[str, Any]:
        return http_json(self.counters_url)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# ---------------------------------------------------------------- a measured scrape


@dataclass
class Sample:
    t: float  # seconds since the scrape started
    cpu_s: float  # user + sys of the scraper and its children so far
    rss: int  # bytes, scraper and its children
    requests: dict[str, int] | None  # sandbox request counts by kind at that moment


@dataclass
class ScrapeMeasure:
    command: list[str]
    exit_code: int
    wall_s: float
    user_s: float
    sys_s: float
    maxrss_bytes: int  # peak RSS of the scraper (VmHWM), children included
    samples: list[Sample] = field(default_factory=list)
    stderr_tail: str = ""

    @property
    def cpu_s(self) -> float:
        return self.user_s + self.sys_s


def scrape_command(
    sandbox: SandboxProcess,
    db_url: str,
    *,
    workers: int,
    rate: float,
    skip_existing: bool = False,
    limit: int | None = None,
    extra: Sequence[str] = (),
) -> list[str]:
    cmd = [
        *CWO,
        "scrape",
        "--db",
        db_url,
        "--api-base",
        sandbox.api_base,
        "--store-base",
        sandbox.store_base,
        "--workers",
        str(workers),
        "--rate",
        f"{rate:g}",
        "--progress",
        "off",
        "-q",
    ]
    if skip_existing:
        cmd.append("--skip-existing")
    if limit is not None:
        cmd += ["--limit", str(limit)]
    return [*cmd, *extra]


def _high_water_mark(pid: int) -> int:
    """VmHWM of a live process in bytes (0 when unreadable).

    Not ``wait4``'s ``ru_maxrss``: that one starts from the *parent's* RSS at
    fork time (Linux keeps the old address space's peak across exec), so a
    large benchmark process would inflate the scraper's figure.
    """
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    return 0


def _tree_usage(proc: psutil.Process) -> tuple[float, int, int]:
    """(CPU seconds, RSS, summed VmHWM) of a process and its children."""
    cpu = 0.0
    rss = hwm = 0
    for p in [proc, *proc.children(recursive=True)]:
        try:
            t = p.cpu_times()
            cpu += t.user + t.system
            rss += p.memory_info().rss
            hwm += _high_water_mark(p.pid)
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
    return cpu, rss, hwm


def run_scrape(
    command: list[str],
    *,
    sandbox: SandboxProcess | None = None,
    timeout: float = 3600.0,
    sample_counters: bool = True,
    env: dict[str, str] | None = None,
) -> ScrapeMeasure:
    """Run ``command``; sample it every 0.5 s until it exits; exact totals from wait4."""
    stderr_path = Path(os.environ.get("TMPDIR", "/tmp")) / f"cwo-bench-{os.getpid()}.stderr"
    with stderr_path.open("w+") as err:
        started = time.monotonic()
        proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=err, env=env)
        ps = psutil.Process(proc.pid)
        samples: list[Sample] = []
        try:
            return_status = _sample_until_exit(
                proc, ps, sandbox, sample_counters, timeout, started, samples
            )
        except BaseException:
            # The harness is stopping: never leave a scraper behind.
            with contextlib.suppress(OSError, ChildProcessError):
                proc.kill()
                proc.wait(timeout=10)
            raise
        status, rusage, peak = return_status
        wall = time.monotonic() - started
        proc.returncode = os.waitstatus_to_exitcode(status)  # already reaped: tell Popen
        err.seek(0)
        tail = err.read()[-2000:]
    stderr_path.unlink(missing_ok=True)
    return ScrapeMeasure(
        command=command,
        exit_code=proc.returncode,
        wall_s=wall,
        user_s=rusage.ru_utime,
        sys_s=rusage.ru_stime,
        maxrss_bytes=peak,  # VmHWM, sampled every 0.5 s
        samples=samples,
        stderr_tail=tail.strip(),
    )


def _sample_until_exit(
    proc: subprocess.Popen[bytes],
    ps: psutil.Process,
    sandbox: SandboxProcess | None,
    sample_counters: bool,
    timeout: float,
    started: float,
    samples: list[Sample],
) -> tuple[int, Any, int]:
    """Sample every 0.5 s until the process exits; (wait status, rusage, peak RSS)."""
    peak = 0
    next_sample = started
    while True:
        pid, status, rusage = os.wait4(proc.pid, os.WNOHANG)
        if pid == proc.pid:
            return status, rusage, peak
        now = time.monotonic()
        if now - started > timeout:
            proc.kill()
            _, status, rusage = os.wait4(proc.pid, 0)
            return status, rusage, peak
        if now >= next_sample:
            try:
                cpu, rss, hwm = _tree_usage(ps)
            except psutil.NoSuchProcess:
                cpu, rss, hwm = 0.0, 0, 0
            peak = max(peak, rss, hwm)
            counts = None
            if sandbox is not None and sample_counters:
                try:
                    counts = sandbox.counters()["requests"]
                except OSError:
                    counts = None
            samples.append(Sample(round(now - started, 3), cpu, rss, counts))
            next_sample = now + SAMPLE_SECONDS
        time.sleep(0.02)


def read_report(db_url: str, workdir: Path) -> dict[str, Any]:
    """``cwo report --db URL --out FILE`` of the latest run, as a dictionary."""
    out = workdir / f"report-{time.monotonic_ns()}.json"
    subprocess.run(
        [*CWO, "report", "--db", db_url, "--out", str(out)],
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    return json.loads(out.read_text(encoding="utf-8"))


def stored_counts(db_path: Path) -> dict[str, int]:
    """Rows of vehicles and fitments in a SQLite database."""
    with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True) as conn:
        vehicles = conn.execute("SELECT count(*) FROM vehicles").fetchone()[0]
        fitments = conn.execute("SELECT count(*) FROM fitments").fetchone()[0]
    return {"vehicles": vehicles, "fitments": fitments}


# ---------------------------------------------------------------- derived figures


def steady_state(
    samples: list[Sample], kind: str = "fitment", lo: float = 0.1, hi: float = 0.9
) -> dict[str, float] | None:
    """Rate and CPU per request of ``kind`` between lo and hi of its final count.

    The crawl's start (walking the tree before the first fitment page is
    known) and its tail (the last pages in flight) are left out.
    """
    points = [s for s in samples if s.requests is not None]
    if len(points) < 4:
        return None
    final = points[-1].requests.get(kind, 0) if points[-1].requests else 0
    if final < 20:
        return None
    first = next((s for s in points if s.requests and s.requests.get(kind, 0) >= lo * final), None)
    last = next((s for s in points if s.requests and s.requests.get(kind, 0) >= hi * final), None)
    if first is None or last is None or last.t - first.t < 1.0:
        return None
    assert first.requests is not None and last.requests is not None
    done = last.requests[kind] - first.requests[kind]
    total_done = sum(last.requests.values()) - sum(first.requests.values())
    seconds = last.t - first.t
    return {
        "seconds": round(seconds, 2),
        f"{kind}_per_s": round(done / seconds, 1),
        "requests_per_s": round(total_done / seconds, 1),
        "cpu_ms_per_page": round(1000 * (last.cpu_s - first.cpu_s) / done, 3) if done else 0.0,
    }


def _slope_mb_per_min(points: list[tuple[float, int]]) -> float:
    """Least-squares slope of (seconds, RSS bytes) points, in MB per minute."""
    fit = statistics.linear_regression([t for t, _ in points], [r / 2**20 for _, r in points])
    return round(fit.slope * 60, 2)


def rss_trend(
    samples: list[Sample], warmup_fraction: float = 0.2, warmup_min_s: float = 30.0
) -> dict[str, Any]:
    """Peak RSS and the least-squares slope of RSS after warm-up (MB per minute).

    Warm-up is the first 20 % of the run, at least 30 s. ``judged_s`` says how
    many seconds the slope covers: under a minute it says little. The slope
    over the second half of the run is given too: a long crawl's allocator
    pools and SQLite's page caches fill for minutes (docs/performance.md, 6),
    and a leak shows in the second half as plainly as in the first.
    """
    points = [(s.t, s.rss) for s in samples if s.rss]
    if not points:
        return {"samples": 0}
    peak = max(r for _, r in points)
    cut = points[0][0] + max(warmup_min_s, warmup_fraction * (points[-1][0] - points[0][0]))
    after = [(t, r) for t, r in points if t >= cut]
    out: dict[str, Any] = {
        "samples": len(points),
        "peak_mb": round(peak / 2**20, 1),
        "start_mb": round(points[0][1] / 2**20, 1),
        "end_mb": round(points[-1][1] / 2**20, 1),
    }
    if len(after) >= 5:
        out["after_warmup_from_s"] = round(cut, 1)
        out["judged_s"] = round(after[-1][0] - cut, 1)
        out["slope_mb_per_min_after_warmup"] = _slope_mb_per_min(after)
        out["after_warmup_min_mb"] = round(min(r for _, r in after) / 2**20, 1)
        out["after_warmup_max_mb"] = round(max(r for _, r in after) / 2**20, 1)
    middle = (points[0][0] + points[-1][0]) / 2
    second = [(t, r) for t, r in points if t >= middle]
    if len(second) >= 5:
        out["second_half_from_s"] = round(middle - points[0][0], 1)
        out["slope_mb_per_min_second_half"] = _slope_mb_per_min(second)
        out["second_half_min_mb"] = round(min(r for _, r in second) / 2**20, 1)
        out["second_half_max_mb"] = round(max(r for _, r in second) / 2**20, 1)
    return out


# ---------------------------------------------------------------- the protocol minimum


def protocol_minimum(size: str, seed: int) -> dict[str, int]:
    """The fewest requests by kind a correct full crawl of (size, seed) can make.

    One request per listing node (the years list, each distinct year's makes,
    each distinct (year, make)'s models, each distinct model's info, each
    distinct trim's drives), one per vehicle, one per fitment page (one per
    vehicle and preference set of its type), four per vehicle type (select
    and the three option lists) and one robots.txt.
    """
    from custom_wheel_offset.sandbox.catalogue import build_catalogue, names_of
    from custom_wheel_offset.sandbox.config import SandboxConfig
    from custom_wheel_offset.sandbox.truth import truth_records

    catalogue = build_catalogue(size, seed)
    makes = models = model_info = drives = 0
    for year in catalogue.years():
        makes += 1
        year_makes = sorted(set(catalogue.makes_served(year) or ()))
        models += len(year_makes)
        for make in year_makes:
            year_models = sorted(set(catalogue.models_served(year, make) or ()))
            model_info += len(year_models)
            for model in year_models:
                info = catalogue.model_info_served(year, make, model) or {}
                drives += len(names_of(info.get("trim")))
    vehicles, fitments = truth_records(SandboxConfig(size=size, seed=seed))
    types = {v["vehicle_type"] for v in vehicles if v["vehicle_type"] is not None}
    return {
        "years": 1,
        "makes": makes,
        "models": models,
        "model_info": model_info,
        "drives": drives,
        "vehicle": len(vehicles),
        "select": len(types),
        "suspension": len(types),
        "trimming": len(types),
        "rubbing": len(types),
        "fitment": len(fitments),
        "robots": 1,
    }


# ---------------------------------------------------------------- profiles


def have_py_spy() -> bool:
    return shutil.which("py-spy") is not None


def py_spy_command(out: Path, command: list[str], rate: int = 200, gil: bool = True) -> list[str]:
    """py-spy samples the scraper's stacks into collapsed stacks (``--format raw``).

    With ``gil`` only the thread holding the GIL is sampled: the Python code that
    costs interpreter CPU, without threads waiting on sockets, locks or queues
    (which py-spy's idle heuristic does not always leave out). Work done with the
    GIL released (kernel time of send/recv/stat, SQLite's C code) is not seen:
    the cProfile variant below measures that per thread.
    """
    flags = ["--gil"] if gil else []
    return [
        "py-spy",
        "record",
        "--nonblocking",
        *flags,
        "--format",
        "raw",
        "--rate",
        str(rate),
        "--output",
        str(out),
        "--",
        *command,
    ]


# A cProfile of every thread (``python -m cProfile`` sees only the main thread):
# each thread runs under its own profiler, timed by its own CPU clock
# (time.thread_time: user + system time of that thread), and all are merged at
# exit. The profiler's own overhead inflates call-heavy code.
CPROFILE_RUNNER = r"""
import atexit, cProfile, pstats, sys, threading, time
out = sys.argv[1]
profiles = []
lock = threading.Lock()
original_run = threading.Thread.run
def run(self):
    p = cProfile.Profile(time.thread_time)
    with lock:
        profiles.append(p)
    p.enable()
    try:
        original_run(self)
    finally:
        p.disable()
threading.Thread.run = run
main = cProfile.Profile(time.thread_time)
profiles.append(main)
dumped = []
def dump():
    if dumped:
        return
    dumped.append(True)
    main.disable()
    stats = None
    for p in profiles:
        try:
            stats = pstats.Stats(p) if stats is None else stats.add(p)
        except TypeError:
            continue
    if stats is not None:
        stats.dump_stats(out)
atexit.register(dump)
sys.argv = ["cwo", *sys.argv[2:]]
from custom_wheel_offset.cli import main as cwo_main
main.enable()
try:
    cwo_main()
finally:
    dump()
"""


def cprofile_command(out: Path, cwo_args: list[str]) -> list[str]:
    return [PY, "-c", CPROFILE_RUNNER, str(out), *cwo_args]


# Where the time goes, by subsystem: (label, function name as the summaries show it).
SUBSYSTEMS: tuple[tuple[str, str], ...] = (
    ("worker: one item, everything (MultithreadedProcessor._work)", "_work (crawl/processor.py)"),
    ("requests: Session.request (prepare, send, read headers)", "request (requests/sessions.py)"),
    (
        "  requests: merge_environment_settings (proxy env lookups)",
        "merge_environment_settings (requests/sessions.py)",
    ),
    (
        "  requests: get_netrc_auth (~/.netrc stat per request)",
        "get_netrc_auth (requests/utils.py)",
    ),
    ("  requests: prepare_request", "prepare_request (requests/sessions.py)"),
    ("requests: Session.send (adapter, urllib3, response)", "send (requests/sessions.py)"),
    ("  cwo: _prepare_plain_get (already-encoded GET)", "_prepare_plain_get (net/network.py)"),
    ("  requests: get_cookie_header", "get_cookie_header (requests/cookies.py)"),
    ("  urllib3: _encode_invalid_chars (URL re-encoding)", "_encode_invalid_chars (util/url.py)"),
    ("  urllib3: HTTPConnectionPool.urlopen", "urlopen (urllib3/connectionpool.py)"),
    ("body read (responses.read_body)", "read_body (net/responses.py)"),
    ("challenge check of every body", "_is_challenge (net/network.py)"),
    ("fitment page parse (store.parse_fitment_page)", "parse_fitment_page (protocol/store.py)"),
    ("fitment URL building (urls.fitment_url)", "fitment_url (protocol/urls.py)"),
    ("rate limiter slot", "slot (net/ratelimit.py)"),
    ("metrics: PerformanceMonitor.record", "record (metrics/monitor.py)"),
    ("writer: BatchWriter.submit (queue put + notify)", "submit (storage/writer.py)"),
    ("writer: BatchWriter._commit (one transaction)", "_commit (storage/writer.py)"),
    ("dispatcher: Frontier.claim", "claim (storage/frontier.py)"),
    ("dispatcher: fitment names read by the claim", "fill_fitment_targets (storage/targets.py)"),
    ("dispatcher: futures.wait", "wait (futures/_base.py)"),
    ("start-up imports", "_find_and_load (<frozen importlib._bootstrap>)"),
)


def _strip_class(name: str) -> str:
    """``Class.method (file)`` -> ``method (file)``: py-spy names carry the class, cProfile not."""
    func, _, where = name.partition(" (")
    return f"{func.rsplit('.', 1)[-1]} ({where}"


def subsystem_shares(inclusive: dict[str, float], total: float) -> list[tuple[str, float]]:
    by_plain: dict[str, float] = {}
    for name, value in inclusive.items():
        plain = _strip_class(name)
        by_plain[plain] = max(by_plain.get(plain, 0.0), value)
    return [
        (label, round(100.0 * by_plain.get(func, 0.0) / total, 1) if total else 0.0)
        for label, func in SUBSYSTEMS
    ]


def _frame_name(frame: str) -> str:
    """``func (path/to/file.py:123)`` -> ``func (file.py)``: lines of one function merged."""
    name, _, where = frame.partition(" (")
    where = where.rstrip(")")
    path = where.rsplit(":", 1)[0]
    parts = Path(path).parts
    short = "/".join(parts[-2:]) if len(parts) >= 2 else path
    return f"{name} ({short})"


def summarise_collapsed(path: Path, top: int = 25) -> dict[str, Any]:
    """Top functions by inclusive and by self samples from py-spy's raw output."""
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    by_thread: Counter[str] = Counter()
    total = 0
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = stack.split(";")
        if frames and frames[0].startswith(("process ", "thread ")):
            by_thread[frames[0]] += count
            frames = frames[1:]
        names = [_frame_name(f) for f in frames]
        total += count
        for name in set(names):
            inclusive[name] += count
        if names:
            own[names[-1]] += count

    def pct(c: int) -> float:
        return round(100.0 * c / total, 1) if total else 0.0

    return {
        "samples": total,
        "subsystems_pct": subsystem_shares(dict(inclusive), total),
        "top_inclusive": [(n, pct(c)) for n, c in inclusive.most_common(top)],
        "top_self": [(n, pct(c)) for n, c in own.most_common(top)],
    }


def summarise_pstats(path: Path, top: int = 25) -> dict[str, Any]:
    """Top functions by cumulative and by own time from a cProfile file."""
    import pstats

    stats = pstats.Stats(str(path))
    raw = stats.stats  # type: ignore[attr-defined]
    total = sum(v[2] for v in raw.values()) or 1.0

    def name(key: tuple[str, int, str]) -> str:
        filename, _line, func = key
        parts = Path(filename).parts
        return f"{func} ({'/'.join(parts[-2:]) if len(parts) >= 2 else filename})"

    cumulative = sorted(raw.items(), key=lambda kv: kv[1][3], reverse=True)[:top]
    own = sorted(raw.items(), key=lambda kv: kv[1][2], reverse=True)[:top]
    inclusive: dict[str, float] = {}
    for key, value in raw.items():
        inclusive[name(key)] = max(inclusive.get(name(key), 0.0), value[3])
    return {
        "total_own_seconds": round(total, 3),
        "subsystems_pct": subsystem_shares(inclusive, total),
        "top_cumulative": [(name(k), round(v[3], 3)) for k, v in cumulative],
        "top_self": [(name(k), round(v[2], 3)) for k, v in own],
    }


# ---------------------------------------------------------------- start-up imports


def import_times(args: list[str], env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run ``cwo ARGS`` under ``-X importtime``: what it imports and how long that takes."""
    started = time.monotonic()
    proc = subprocess.run(
        [PY, "-X", "importtime", "-m", "custom_wheel_offset", *args],
        capture_output=True,
        text=True,
        env=env,
    )
    wall = time.monotonic() - started
    modules: dict[str, int] = {}
    for line in proc.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        self_us, cumulative_us, name = (part.strip() for part in line.split(":", 1)[1].split("|"))
        if not self_us.isdigit():
            continue  # the header line
        modules[name.strip()] = int(cumulative_us)
    top_level: dict[str, int] = {}
    for name, cumulative in modules.items():
        root = name.split(".")[0]
        top_level[root] = max(top_level.get(root, 0), cumulative)
    heavy = sorted(top_level.items(), key=lambda kv: kv[1], reverse=True)[:12]
    return {
        "args": args,
        "exit_code": proc.returncode,
        "wall_s": round(wall, 3),
        "modules": len(modules),
        "imports_sqlalchemy": "sqlalchemy" in modules,
        "imports_requests": "requests" in modules,
        "imports_rich_live": "rich.live" in modules,
        "imports_rich": "rich" in modules,
        "heaviest_top_level_ms": [(n, round(us / 1000, 1)) for n, us in heavy],
    }


def provenance(repo: Path) -> dict[str, Any]:
    """Which code was measured: the commit, and whether src/ differs from it."""

    def git(*args: str) -> str:
        try:
            return subprocess.run(
                ["git", "-C", str(repo), *args], capture_output=True, text=True, timeout=30
            ).stdout.strip()
        except (OSError, subprocess.TimeoutExpired):
            return ""

    changed = git("status", "--porcelain", "--", "src")
    return {
        "commit": git("rev-parse", "--short", "HEAD"),
        "src_changed_files": changed.splitlines() if changed else [],
    }
