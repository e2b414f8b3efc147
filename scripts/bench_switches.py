"""Context switches and CPU of one crawl, for the code in a given source tree.

The ``cpu`` scenario of ``bench.py`` reports CPU per page; this one says how
many times the scraper process gave up a core on the way (``os.wait4``
rusage), which is where thread hand-offs show. Run it for two commits to see
which change multiplied them (docs/performance.md, session 4)::

    git archive COMMIT src | tar -x -C /tmp/at-COMMIT
    python scripts/bench_switches.py /tmp/at-COMMIT/src
    python scripts/bench_switches.py src
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile

from _bench_common import SandboxProcess


def crawl_rusage(src: str, size: str, limit: int, workers: int) -> dict[str, float]:
    """Crawl the sandbox with the scraper of ``src``; its CPU seconds and context switches."""
    env = {**os.environ, "PYTHONPATH": os.path.abspath(src)}
    with SandboxProcess(size, 1, page_kb=100) as sandbox, tempfile.TemporaryDirectory() as tmp:
        command = [
            sys.executable, "-m", "custom_wheel_offset", "scrape",
            "--db", f"sqlite:///{tmp}/bench.db",
            "--api-base", sandbox.api_base, "--store-base", sandbox.store_base,
            "--workers", str(workers), "--rate", "0", "--progress", "off", "-q",
            "--limit", str(limit),
        ]  # fmt: skip
        process = subprocess.Popen(
            command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        _, status, usage = os.wait4(process.pid, 0)
    return {
        "exit_code": os.waitstatus_to_exitcode(status),
        "user_s": round(usage.ru_utime, 1),
        "sys_s": round(usage.ru_stime, 1),
        "voluntary_switches": usage.ru_nvcsw,
        "involuntary_switches": usage.ru_nivcsw,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("src", help="the source tree whose scraper to run (e.g. src)")
    parser.add_argument("--size", default="medium")
    parser.add_argument("--limit", type=int, default=30000)
    parser.add_argument("--workers", type=int, default=10)
    args = parser.parse_args()
    result = crawl_rusage(args.src, args.size, args.limit, args.workers)
    print(args.src, " ".join(f"{k}={v}" for k, v in result.items()))
    return 0 if result["exit_code"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
