"""`workflow_v3.run(settings)`: the one function that assembles and runs a scrape.

Nothing else constructs the engine, the network manager, the frontier, the
processor, the writer, the metrics or the progress display. In order:

1. (``--sandbox``) start the built-in sandbox and point both bases at it;
2. open the database, take the run lock, bring the schema up to date;
3. resume the unfinished crawl or start a new one; record the run;
4. run the processor until the crawl is done, the limit is reached, a signal
   arrives or the store stays blocked past ``--max-blocked``;
5. flush the writer, give back unfinished leases, close the crawl if nothing
   is open, and store the run's metrics JSON;
6. whatever happened, clean up: each step (writer, leases, network, lock,
   engine) runs even when one before it fails, and the first failure is the
   run's error unless the run already had one.

Failed items that this run did not re-open (they failed in ``--item-attempts``
runs already) still show in `cwo status`, but do not make the run exit 3: a
run whose own items all succeeded exits 0.

The outcome becomes the exit code (see ``errors``). ``run`` changes nothing in
the process beyond its own threads: it installs no signal handler and leaves
the allocator alone. A caller stops it by setting ``stop``; the CLI
(``cli/scrape_cmd.py``) turns SIGINT/SIGTERM into that and sets glibc's malloc
arenas before the run's threads start.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from custom_wheel_offset.errors import (
    EXIT_BLOCKED,
    EXIT_FAILED_ITEMS,
    EXIT_INTERNAL,
    EXIT_NO_MATCH,
    EXIT_OK,
    EXIT_SIGINT,
    BlockedError,
    ConfigError,
    CwoError,
)
from custom_wheel_offset.settings import STAGES, Settings, replace

if TYPE_CHECKING:
    from custom_wheel_offset.crawl.items import ItemHandler
    from custom_wheel_offset.crawl.processor import MultithreadedProcessor
    from custom_wheel_offset.metrics.counters import Counters
    from custom_wheel_offset.metrics.tracker import MetricTracker
    from custom_wheel_offset.net.network import OptimizedNetworkManager
    from custom_wheel_offset.progress import Progress
    from custom_wheel_offset.storage.database import OptimizedDatabaseManager
    from custom_wheel_offset.storage.frontier import CrawlState, Frontier, ItemFilter
    from custom_wheel_offset.storage.lock import RunLock
    from custom_wheel_offset.storage.writer import BatchWriter

__all__ = ["RunResult", "StopRequest", "run"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RunResult:
    run_id: int
    crawl_id: int
    outcome: str  # complete | failed_items | partial | interrupted | blocked (stored: failed)
    exit_code: int
    report: dict[str, Any]
    failed_items: int
    message: str | None = None  # what the user needs to know when the run did not complete


@contextmanager
def _sandbox_if_asked(settings: Settings) -> Iterator[Settings]:
    if not settings.sandbox:
        yield settings
        return
    from custom_wheel_offset.sandbox import SandboxConfig, start_sandbox

    with start_sandbox(SandboxConfig(size=settings.sandbox_size, seed=settings.sandbox_seed)) as sb:
        log.info("sandbox serving at %s (size %s)", sb.store_base, settings.sandbox_size)
        yield replace(settings, api_base=sb.api_base, store_base=sb.store_base)


class StopRequest(threading.Event):
    """A stop event that also carries the exit code of the run it interrupts.

    ``set()`` stops with 130 (as SIGINT); ``request(143)`` with another code.
    The CLI's signal handlers (``cli/scrape_cmd.py``) call ``request``; a library
    caller can pass a plain :class:`threading.Event` instead.
    """

    def __init__(self) -> None:
        super().__init__()
        self.exit_code = EXIT_SIGINT

    def request(self, exit_code: int) -> None:
        self.exit_code = exit_code
        self.set()


def _kinds_for(stages: tuple[str, ...]) -> tuple[str, ...]:
    from custom_wheel_offset.storage.frontier import STAGE_KINDS

    return tuple(k for stage in STAGES if stage in stages for k in STAGE_KINDS[stage])


def run(settings: Settings, *, stop: threading.Event | None = None) -> RunResult:
    """Run one scrape to its end and return its outcome (the CLI maps it to an exit code).

    Setting ``stop`` (from any thread) makes the run finish its in-flight items
    and end as ``interrupted``, with exit code 130, or ``stop.exit_code`` when
    ``stop`` is a :class:`StopRequest`.
    """
    from custom_wheel_offset.crawl.preflight import check_reachable

    with _sandbox_if_asked(settings) as effective:
        check_reachable(effective)
        return _run(effective, stop or threading.Event())


@dataclass(slots=True)
class _Parts:
    """What a run has built so far: the closing steps take down whatever exists."""

    settings: Settings
    stop: threading.Event
    db: OptimizedDatabaseManager
    lock: RunLock
    counters: Counters
    tracker: MetricTracker  # the run's one metrics component
    started: float
    registered: str | None = None
    began: _Started | None = None
    network: OptimizedNetworkManager | None = None
    writer: BatchWriter | None = None


@dataclass(frozen=True, slots=True)
class _Started:
    """The run's identity once its rows exist."""

    owner: str
    host: str
    pid: int
    frontier: Frontier
    crawl: CrawlState
    run_id: int


def _run(settings: Settings, stop: threading.Event) -> RunResult:
    from custom_wheel_offset.allocator import allocator_state
    from custom_wheel_offset.cpus import cpu_state
    from custom_wheel_offset.metrics.tracker import MetricTracker
    from custom_wheel_offset.storage.database import OptimizedDatabaseManager
    from custom_wheel_offset.storage.lock import acquire_run_lock

    db = OptimizedDatabaseManager.from_settings(settings)
    lock = acquire_run_lock(db, wait=settings.wait, worker_name=settings.worker_name)
    tracker = MetricTracker()
    # Only reported: setting the allocator and the CPU affinity is the CLI's (cli/scrape_cmd.py).
    tracker.note_allocator({**allocator_state(), "cpu_affinity": cpu_state()})
    parts = _Parts(settings, stop, db, lock, tracker.counters, tracker, started=time.time())
    finished = False
    try:
        result = _crawl(parts)
        finished = True
        return result
    finally:
        steps = _closing_steps(parts)
        began = parts.began
        if not finished and began is not None:
            # A run ended by an error still leaves its metrics (outcome "failed").
            error = sys.exc_info()[1]
            steps.add_before(
                "releasing the run lock",
                "storing the failed run's metrics",
                lambda: _store_failed_run(parts, began, error),
            )
        # A failing step is the run's error only when the run has none of its own.
        steps.run(raise_first=finished)


def _crawl(parts: _Parts) -> RunResult:
    began = parts.began = _start(parts)
    processor, handler, progress = _assemble(parts, began)
    outcome, exit_code, error = _process(parts, began.frontier, processor, progress)
    return _conclude(parts, began, handler, outcome, exit_code, error)


def _start(parts: _Parts) -> _Started:
    """Schema, crawl, run row and worker row: the run exists from here on."""
    from custom_wheel_offset.crawl.items import root_item
    from custom_wheel_offset.storage.frontier import Frontier, start_run_row
    from custom_wheel_offset.storage.workers import register_worker

    settings, db = parts.settings, parts.db
    db.ensure_schema()
    host, pid = socket.gethostname(), os.getpid()
    owner = f"{host}:{pid}:{uuid.uuid4().hex[:8]}"
    frontier = Frontier(db, owner, settings.lease_seconds, cache_ttl=settings.cache_ttl)
    crawl = frontier.begin_run(
        skip_existing=settings.skip_existing,
        retry_failed=settings.retry_failed,
        root=root_item(),
        item_attempts=settings.item_attempts,
        refresh=_refresh(settings),
    )
    parts.counters.incr("records/skipped/vehicle", crawl.skipped_vehicles)
    parts.counters.incr("records/skipped/fitment", crawl.skipped_fitments)
    with db.begin() as conn:
        run_id = start_run_row(
            conn,
            crawl_id=crawl.crawl_id,
            host=host,
            pid=pid,
            settings_json=json.dumps(settings.public_dict(), ensure_ascii=False),
        )
    register_worker(db, owner=owner, host=host, pid=pid, run_id=run_id)
    parts.registered = owner
    parts.started = time.time()
    parts.tracker.start_sampling()
    return _Started(owner, host, pid, frontier, crawl, run_id)


def _assemble(
    parts: _Parts, began: _Started
) -> tuple[MultithreadedProcessor, ItemHandler, Progress]:
    """Network, writer, handler, processor and progress display: (processor, handler, progress)."""
    from custom_wheel_offset.crawl.items import ItemHandler
    from custom_wheel_offset.net.network import OptimizedNetworkManager
    from custom_wheel_offset.progress import make_progress, progress_snapshot_source
    from custom_wheel_offset.storage.frontier import ItemFilter
    from custom_wheel_offset.storage.writer import BatchWriter

    settings, tracker, counters = parts.settings, parts.tracker, parts.counters
    network = parts.network = OptimizedNetworkManager(settings, counters, tracker=tracker)
    writer = parts.writer = BatchWriter(
        parts.db,
        owner=began.owner,
        crawl_id=began.crawl.crawl_id,
        counters=counters,
        batch_size=settings.batch_size * (4 if settings.fast else 1),
        flush_interval=settings.flush_interval * (4 if settings.fast else 1),
        tracker=tracker,
    )
    writer.start()
    item_filter = ItemFilter(settings.years, settings.makes, settings.models)
    kinds = _kinds_for(settings.stages)
    handler = ItemHandler(settings, network, counters, item_filter)
    processor = _processor(parts, began, handler, writer, item_filter, kinds)
    progress = make_progress(
        _progress_mode(settings),
        progress_snapshot_source(began.frontier, counters, kinds),
        overview=_overview_source(counters, network, settings.rate),
    )
    tracker.add_section("writer", writer.stats)
    tracker.add_section("pool", parts.db.pool_stats)
    tracker.add_section("network", network.stats)
    tracker.add_section("progress", progress.stats)
    tracker.add_section("processor", processor.stats)
    tracker.add_section("cache", began.frontier.preference_sets.stats)
    tracker.add_gauges(_series_gauges(network))
    return processor, handler, progress


def _processor(
    parts: _Parts,
    began: _Started,
    handler: ItemHandler,
    writer: BatchWriter,
    item_filter: ItemFilter,
    kinds: tuple[str, ...],
) -> MultithreadedProcessor:
    from custom_wheel_offset.crawl.processor import MultithreadedProcessor
    from custom_wheel_offset.storage.workers import heartbeat

    settings, db, owner = parts.settings, parts.db, began.owner
    return MultithreadedProcessor(
        workers=settings.workers if settings.multithreading else 1,
        kinds=kinds,
        item_filter=item_filter,
        frontier=began.frontier,
        writer=writer,
        handler=handler,
        network=handler.network,
        counters=parts.counters,
        store_base=settings.store_base,
        max_blocked=settings.max_blocked,
        limit=settings.limit,
        stop=parts.stop,
        tracker=parts.tracker,
        heartbeat=lambda done, rate: heartbeat(db, owner=owner, items_done=done, rate=rate),
    )


def _process(
    parts: _Parts, frontier: Frontier, processor: MultithreadedProcessor, progress: Progress
) -> tuple[str, int, BaseException | None]:
    """Run the processor, then wind down: (outcome, exit code, the blocking error if any)."""
    from custom_wheel_offset.logsetup import logs_through

    outcome, exit_code = "complete", EXIT_OK
    error: BaseException | None = None
    with progress, logs_through(getattr(progress, "console", None)):
        # Each step runs whatever the others do: a failed writer must not keep
        # the leases of this run's unfinished items from going back.
        wind_down = _Steps()
        wind_down.add("stopping the writer", processor.writer.stop)
        wind_down.add("giving back unfinished items", lambda: _give_back(frontier))
        try:
            summary = processor.run()
            if summary.stopped:
                outcome, exit_code = "interrupted", _stop_code(parts.stop)
            elif summary.limit_reached:
                outcome = "partial"
        except BlockedError as exc:
            outcome, exit_code, error = "blocked", EXIT_BLOCKED, exc
        except BaseException:
            wind_down.run()  # step failures are logged; the run's own error is the one raised
            raise
        wind_down.run(raise_first=True)
    return outcome, exit_code, error


def _stop_code(stop: threading.Event) -> int:
    return stop.exit_code if isinstance(stop, StopRequest) else EXIT_SIGINT


def _conclude(
    parts: _Parts,
    began: _Started,
    handler: ItemHandler,
    outcome: str,
    exit_code: int,
    error: BaseException | None,
) -> RunResult:
    """Close the crawl if it is complete, store the run's report, say what happened."""
    settings, frontier, crawl = parts.settings, began.frontier, began.crawl
    failed = frontier.failed_in_run(crawl, settings.item_attempts)
    if outcome == "complete":
        if not frontier.finish_crawl_if_complete(crawl.crawl_id):
            # Items this run could not see as open when it stopped looking
            # (other processes' work); `cwo status` shows them.
            log.info("crawl %d still has open items after this run", crawl.crawl_id)
        if failed:
            outcome, exit_code = "failed_items", EXIT_FAILED_ITEMS
    unmatched = _unmatched(parts.db, settings, handler) if exit_code == EXIT_OK else []
    if unmatched:
        exit_code = EXIT_NO_MATCH
    report = _store_report(parts, began, outcome, exit_code, failed)
    if unmatched:
        message: str | None = "; ".join(unmatched)
    elif error is not None:
        message = str(error)
    else:
        message = _message(began.run_id, outcome, failed, settings.item_attempts)
    return RunResult(began.run_id, crawl.crawl_id, outcome, exit_code, report, failed, message)


def _store_report(
    parts: _Parts, began: _Started, outcome: str, exit_code: int, failed: int
) -> dict[str, Any]:
    parts.tracker.stop_sampling()
    started, ended, counters = parts.started, time.time(), parts.counters
    report = _write_report(parts, began, outcome, exit_code, {"failed_items": failed})
    log.info(
        "run %d %s in %.1f s: %d request(s), %d item(s) done, %d failed",
        began.run_id,
        outcome,
        ended - started,
        counters.sum_prefix("requests"),
        counters.sum_prefix("items/done"),
        failed,
    )
    return report


def _write_report(
    parts: _Parts, began: _Started, outcome: str, exit_code: int, extra: dict[str, Any]
) -> dict[str, Any]:
    """The run's metrics JSON, written by its tracker with the run's row (`cwo report`)."""
    from custom_wheel_offset.storage.runs import finish_run_row

    ended = time.time()
    run = {
        "id": began.run_id,
        "crawl_id": began.crawl.crawl_id,
        "resumed": began.crawl.resumed,
        "started_at": parts.started,
        "ended_at": ended,
        "outcome": outcome,
        "exit_code": exit_code,
        "host": began.host,
        "pid": began.pid,
        "duration_seconds": round(ended - parts.started, 3),
        **extra,
    }
    return parts.tracker.write_report(
        lambda report: finish_run_row(
            parts.db, began.run_id, outcome=outcome, exit_code=exit_code, report=report
        ),
        run=run,
        settings_public=parts.settings.public_dict(),
    )


def _store_failed_run(parts: _Parts, began: _Started, error: BaseException | None) -> None:
    """The metrics of a run that an error ended, stored with outcome ``failed``."""
    exit_code = error.exit_code if isinstance(error, CwoError) else EXIT_INTERNAL
    _write_report(parts, began, "failed", exit_code, {})


def _message(run_id: int, outcome: str, failed: int, item_attempts: int) -> str | None:
    if outcome == "interrupted":
        return f"run {run_id} interrupted; the next `cwo scrape` resumes it"
    if outcome == "failed_items":
        return (
            f"{failed} item(s) failed; `cwo status` lists why; the next run retries those "
            f"that have failed in fewer than {item_attempts} run(s)"
        )
    return None


def _unmatched(db: OptimizedDatabaseManager, settings: Settings, handler: ItemHandler) -> list[str]:
    """Warnings for filter values that matched nothing (only after a walk of the tree)."""
    if "tree" not in settings.stages or not (settings.years or settings.makes or settings.models):
        return []
    from custom_wheel_offset.crawl.filters import unmatched_filters
    from custom_wheel_offset.storage.frontier import ItemFilter

    item_filter = ItemFilter(settings.years, settings.makes, settings.models)
    warnings = unmatched_filters(db, item_filter, handler.listed)
    for warning in warnings:
        log.warning("%s", warning)
    return warnings


def _progress_mode(settings: Settings) -> str:
    if settings.quiet:
        return "off"
    if settings.progress == "auto" and settings.log_format == "json":
        # Every line JSON: progress as log records, not a live display.
        return "plain"
    return settings.progress


def _overview_source(counters: Any, network: Any, rate: float) -> Callable[[], Any]:
    """Run-wide counts and per-host limiter and pause state for the progress display."""
    from custom_wheel_offset.progress import HostState, Overview

    configured = rate if rate > 0 else None

    def overview() -> Overview:
        limits = network.limiter.stats()
        challenges = network.gate.stats()
        now = time.monotonic()  # the limiter's clock
        hosts = []
        for host in sorted(set(limits) | set(challenges)):
            limit = limits.get(host, {})
            until = network.limiter.paused_until(host) if host in limits else None
            hosts.append(
                HostState(
                    host=host,
                    requests=limit.get("requests", 0),
                    limit=limit.get("rate"),
                    configured=limit.get("ceiling", configured),
                    paused_for=max(0.0, until - now) if until else 0.0,
                    challenge_for=challenges.get(host, {}).get("paused_for", 0.0),
                )
            )
        return Overview(
            requests=counters.sum_prefix("requests"),
            errors=counters.sum_prefix("errors"),
            retries=counters.sum_prefix("retries"),
            hosts=tuple(hosts),
        )

    return overview


def _series_gauges(network: OptimizedNetworkManager) -> Callable[[], dict[str, float | None]]:
    """Per-host limiter rate, requests in flight, and whether a host is paused by a challenge."""

    def gauges() -> dict[str, float | None]:
        out: dict[str, float | None] = {}
        in_flight = 0
        for host, limit in network.limiter.stats().items():
            out[f"host_rate/{host}"] = limit.get("rate")  # None: unlimited
            in_flight += int(limit.get("in_flight") or 0)
        out["in_flight"] = float(in_flight)
        paused = any(c.get("paused_for", 0) > 0 for c in network.gate.stats().values())
        out["blocked"] = 1.0 if paused else 0.0
        return out

    return gauges


def _give_back(frontier: Any) -> None:
    released = frontier.release_owned()
    if released:
        log.info("gave back %d unfinished item(s); the next run does them", released)


class _Steps:
    """Clean-up steps that each run whatever the others do (a failure is logged, not fatal)."""

    def __init__(self) -> None:
        self._steps: list[tuple[str, Callable[[], object]]] = []

    def add(self, what: str, step: Callable[[], object]) -> None:
        self._steps.append((what, step))

    def add_before(self, before: str, what: str, step: Callable[[], object]) -> None:
        """Insert a step before the step named ``before`` (at the end when there is none)."""
        names = [name for name, _ in self._steps]
        at = names.index(before) if before in names else len(names)
        self._steps.insert(at, (what, step))

    def run(self, *, raise_first: bool = False) -> None:
        """Run every step; with ``raise_first``, then raise the first step's error, if any."""
        first: Exception | None = None
        for what, step in self._steps:
            try:
                step()
            except Exception as exc:  # the next steps still run; the first error is kept
                log.error("%s failed: %s", what, exc)
                log.debug("%s failed", what, exc_info=True)
                first = first or exc
        if raise_first and first is not None:
            raise first


def _closing_steps(parts: _Parts) -> _Steps:
    """The end of every run, in order: sampler, worker row, writer, network, lock, engine."""
    from custom_wheel_offset.storage.workers import stop_worker

    db, writer, network, registered = parts.db, parts.writer, parts.network, parts.registered
    steps = _Steps()
    steps.add("stopping the metrics sampler", parts.tracker.stop_sampling)
    if registered is not None:
        done = parts.counters.sum_prefix("items/done")
        rate = done / max(time.time() - parts.started, 1e-9)
        steps.add(
            "recording the worker's end",
            lambda: stop_worker(db, owner=registered, items_done=done, rate=rate),
        )
    if writer is not None and writer.running:  # not yet stopped by the run's wind-down
        steps.add("stopping the writer", lambda: writer.stop(timeout=10))
    if network is not None:
        steps.add("closing the network", network.close)
    steps.add("releasing the run lock", parts.lock.release)
    steps.add("disposing of the database engine", db.dispose)
    return steps


def _refresh(settings: Settings) -> Any:
    """The rolling refresh the settings ask for (``--refresh-older-than``), if any."""
    from custom_wheel_offset.storage.frontier import Refresh

    if settings.refresh_older_than is None:
        if settings.refresh_budget is not None:
            # `cwo status` reads the budget alone (the projected cycle); a scrape cannot.
            raise ConfigError(
                "refresh_budget needs refresh_older_than: which pages would it refresh?",
                hint="add --refresh-older-than 30d (or 0s for the oldest whatever their age)",
            )
        return None
    return Refresh(settings.refresh_older_than, settings.refresh_budget)
