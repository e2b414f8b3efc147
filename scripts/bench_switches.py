"""Context switches and CPU per fitment page of whole crawls, for the code in given source trees.

The ``cpu`` scenario of ``bench.py`` reports CPU per page for the installed
code; this one runs the scraper of each source tree given, round after round
(interleaved, so that the machine's changing speed falls on all of them
alike), and says how many times the scraper process gave up a core on the
way (``os.wait4`` rusage), which is where thread hand-offs show. The crawl
is the ``cpu`` scenario's (medium sandbox, 100 KB pages, ``--limit 30000``,
10 workers, no rate limit). To compare two commits (docs/performance.md,
sessions 4 and 7)::

    git archive COMMIT src | tar -x -C /tmp/at-COMMIT
    python scripts/bench_switches.py /tmp/at-COMMIT/src src --rounds 3
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile

from _bench_common import SandboxProcess


def _steal_ticks() -> int:
    """Clock ticks the hypervisor took from this machine so far (``/proc/stat``)."""
    with open("/proc/stat", encoding="ascii") as fh:
        return int(fh.readline().split()[8])


def crawl_rusage(src: str, size: str, limit: int, workers: int) -> dict[str, float]:
    """Crawl the sandbox with the scraper of ``src``; its CPU, pages and context switches."""
    env = {**os.environ, "PYTHONPATH": os.path.abspath(src)}
    with SandboxProcess(size, 1, page_kb=100) as sandbox, tempfile.TemporaryDirectory() as tmp:
        command = [
            sys.executable, "-m", "custom_wheel_offset", "scrape",
            "--db", f"sqlite:///{tmp}/bench.db",
            "--api-base", sandbox.api_base, "--store-base", sandbox.store_base,
            "--workers", str(workers), "--rate", "0", "--progress", "off", "-q",
            "--limit", str(limit),
        ]  # fmt: skip
        steal = _steal_ticks()
        process = subprocess.Popen(
            command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        _, status, usage = os.wait4(process.pid, 0)
        steal = _steal_ticks() - steal
        pages = sandbox.counters()["requests"]["fitment"]
    cpu = usage.ru_utime + usage.ru_stime
    return {
        "exit_code": os.waitstatus_to_exitcode(status),
        "user_s": round(usage.ru_utime, 1),
        "sys_s": round(usage.ru_stime, 1),
        "fitment_pages": pages,
        "cpu_ms_per_page": round(1000 * cpu / pages, 3) if pages else float("nan"),
        "voluntary_switches": usage.ru_nvcsw,
        "involuntary_switches": usage.ru_nivcsw,
        "machine_steal_s": round(steal / os.sysconf("SC_CLK_TCK"), 1),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("src", nargs="+", help="source trees whose scraper to run (e.g. src)")
    parser.add_argument("--rounds", type=int, default=1, help="crawls of each tree (default 1)")
    parser.add_argument("--size", default="medium")
    parser.add_argument("--limit", type=int, default=30000)
    parser.add_argument("--workers", type=int, default=10)
    args = parser.parse_args()
    per_page: dict[str, list[float]] = {src: [] for src in args.src}
    failed = False
    for round_no in range(1, args.rounds + 1):
        for src in args.src:
            result = crawl_rusage(src, args.size, args.limit, args.workers)
            failed = failed or result["exit_code"] != 0
            per_page[src].append(result["cpu_ms_per_page"])
            print(f"round {round_no}", src, " ".join(f"{k}={v}" for k, v in result.items()))
    if args.rounds > 1 or len(args.src) > 1:
        for src, figures in per_page.items():
            print(f"{src}: cpu_ms_per_page median {statistics.median(figures):.3f}, all {figures}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
