"""A crawl's threads on one CPU core, so that the GIL changes hands without waking another core.

Only one thread of a Python process runs Python at a time. A crawl's
workers give the GIL up at every socket call, lxml parse and SQLite row,
and on a machine of several cores the next holder is usually a thread
sleeping on another core: the kernel wakes that core, the thread runs there
with cold caches, and the first thread goes to sleep in turn. Measured on
the `cpu` bench setting (docs/performance.md, session 6): a crawl of
20,000 items took 35.4 s of CPU and 34.7 s on all cores, 25.7 s of CPU and
24.8 s on one, with a tenth of the context switches. A crawl is one core's
work for Python anyway; the site's latency, not the CPU, bounds it.

``--cpus all`` leaves the threads to the scheduler. Several cwo processes on
one machine (a PostgreSQL crawl) get different cores by their process ids.
Where the OS has no CPU affinity (macOS, Windows) nothing happens.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["CPU_CHOICES", "cpu_state", "one_cpu"]

log = logging.getLogger(__name__)

CPU_CHOICES = ("one", "all")
# What one_cpu did in this process, for the run's metrics (read by the crawl).
_applied: dict[str, Any] | None = None


def cpu_state() -> dict[str, Any]:
    """``{"cpus": "one"|"all", "cpu": n|None, "allowed": n}`` as set for the current run."""
    return dict(_applied) if _applied is not None else {"cpus": "all", "cpu": None, "allowed": None}


def _pick(allowed: set[int], pid: int) -> int:
    """The core of process ``pid`` among ``allowed``: by process id, so that several
    processes of one machine spread over its cores."""
    cores = sorted(allowed)
    return cores[pid % len(cores)]


@contextmanager
def one_cpu(choice: str) -> Iterator[dict[str, Any]]:
    """Within the block, the calling thread and every thread it starts run on one core.

    Call it before the crawl starts its threads: a thread takes its
    affinity from the thread that starts it. The calling thread gets its
    own affinity back at the end. Yields what was done (:func:`cpu_state`).
    """
    global _applied
    restore = _keep_on_one_cpu() if choice == "one" else None
    try:
        yield cpu_state()
    finally:
        _applied = None
        if restore is not None:
            os.sched_setaffinity(0, restore)


def _keep_on_one_cpu() -> set[int] | None:
    """Pin the calling thread to one allowed core; the cores it had, or None if unchanged."""
    global _applied
    if not hasattr(os, "sched_getaffinity") or not hasattr(os, "sched_setaffinity"):
        return None
    before: set[int] = os.sched_getaffinity(0)
    if len(before) < 2:
        _applied = {"cpus": "one", "cpu": min(before, default=None), "allowed": len(before)}
        return None
    core = _pick(before, os.getpid())
    try:
        os.sched_setaffinity(0, {core})
    except OSError as exc:  # a container may forbid it: the crawl runs all the same
        log.info("could not keep the crawl on one CPU core (%s): using all of them", exc)
        return None
    _applied = {"cpus": "one", "cpu": core, "allowed": len(before)}
    return before
