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

The outcome becomes the exit code (see ``errors``). SIGINT/SIGTERM set a stop
flag (handled here only when called on the main thread); a second SIGINT
exits at once, which is safe because every batch is one transaction.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from custom_wheel_offset.errors import (
    EXIT_BLOCKED,
    EXIT_FAILED_ITEMS,
    EXIT_NO_MATCH,
    EXIT_OK,
    EXIT_SIGINT,
    EXIT_SIGTERM,
    BlockedError,
)
from custom_wheel_offset.settings import STAGES, Settings, replace

__all__ = ["RunResult", "run"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RunResult:
    run_id: int
    crawl_id: int
    outcome: str  # complete | failed_items | partial | interrupted | blocked
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


class _Signals:
    """First SIGINT/SIGTERM: stop claiming and finish cleanly. Second SIGINT: leave now."""

    def __init__(self, stop: threading.Event) -> None:
        self.stop = stop
        self.received: int | None = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> _Signals:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, _frame: object) -> None:
        if self.received is not None and signum == signal.SIGINT:
            # Every batch is one transaction: leaving mid-way loses only what
            # was in flight, which the next run redoes.
            os._exit(EXIT_SIGINT)
        self.received = signum
        log.warning(
            "%s received: finishing in-flight work, then stopping", signal.Signals(signum).name
        )
        self.stop.set()

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


def _kinds_for(stages: tuple[str, ...]) -> tuple[str, ...]:
    from custom_wheel_offset.storage.frontier import STAGE_KINDS

    return tuple(k for stage in STAGES if stage in stages for k in STAGE_KINDS[stage])


def run(settings: Settings, *, stop: threading.Event | None = None) -> RunResult:
    """Run one scrape to its end and return its outcome (the CLI maps it to an exit code)."""
    from custom_wheel_offset.crawl.preflight import check_reachable

    with _sandbox_if_asked(settings) as effective:
        check_reachable(effective)
        return _run(effective, stop or threading.Event())


def _run(settings: Settings, stop: threading.Event) -> RunResult:
    from custom_wheel_offset.allocator import limit_malloc_arenas
    from custom_wheel_offset.crawl.items import ItemHandler, root_item
    from custom_wheel_offset.crawl.processor import MultithreadedProcessor
    from custom_wheel_offset.crawl.resolver import FitmentResolver
    from custom_wheel_offset.logsetup import logs_through
    from custom_wheel_offset.metrics.tracker import MetricTracker
    from custom_wheel_offset.net.network import OptimizedNetworkManager
    from custom_wheel_offset.progress import make_progress
    from custom_wheel_offset.storage.database import OptimizedDatabaseManager
    from custom_wheel_offset.storage.frontier import Frontier, ItemFilter, start_run_row
    from custom_wheel_offset.storage.lock import acquire_run_lock
    from custom_wheel_offset.storage.runs import progress_snapshot_source
    from custom_wheel_offset.storage.workers import heartbeat, register_worker
    from custom_wheel_offset.storage.writer import BatchWriter

    # Before any thread of the run exists: arenas already created stay.
    allocator = limit_malloc_arenas()
    db = OptimizedDatabaseManager.from_settings(settings)
    lock = acquire_run_lock(db, wait=settings.wait, worker_name=settings.worker_name)
    tracker = MetricTracker()  # the run's one metrics component
    counters = tracker.counters
    tracker.note_allocator(allocator)
    network = None
    writer = None
    registered: str | None = None
    run_row: dict[str, Any] = {}  # the run's identity once its row exists
    started = time.time()
    finished = False
    try:
        db.ensure_schema()
        host, pid = socket.gethostname(), os.getpid()
        owner = f"{host}:{pid}:{uuid.uuid4().hex[:8]}"
        frontier = Frontier(db, owner, settings.lease_seconds)
        crawl = frontier.begin_run(
            skip_existing=settings.skip_existing,
            retry_failed=settings.retry_failed,
            root=root_item(),
            item_attempts=settings.item_attempts,
        )
        counters.incr("records/skipped/vehicle", crawl.skipped_vehicles)
        counters.incr("records/skipped/fitment", crawl.skipped_fitments)
        with db.begin() as conn:
            run_id = start_run_row(
                conn,
                crawl_id=crawl.crawl_id,
                host=host,
                pid=pid,
                settings_json=json.dumps(settings.public_dict(), ensure_ascii=False),
            )
        run_row.update(id=run_id, crawl_id=crawl.crawl_id, host=host, pid=pid)
        register_worker(db, owner=owner, host=host, pid=pid, run_id=run_id)
        registered = owner
        started = time.time()
        tracker.start_sampling()

        network = OptimizedNetworkManager(settings, counters, tracker=tracker)
        writer = BatchWriter(
            db,
            owner=owner,
            crawl_id=crawl.crawl_id,
            counters=counters,
            batch_size=settings.batch_size * (4 if settings.fast else 1),
            flush_interval=settings.flush_interval * (4 if settings.fast else 1),
            tracker=tracker,
        )
        writer.start()
        item_filter = ItemFilter(settings.years, settings.makes, settings.models)
        resolver = FitmentResolver(db, ttl=settings.cache_ttl)
        kinds = _kinds_for(settings.stages)
        handler = ItemHandler(settings, network, counters, item_filter)
        processor = MultithreadedProcessor(
            workers=settings.workers if settings.multithreading else 1,
            kinds=kinds,
            item_filter=item_filter,
            frontier=frontier,
            writer=writer,
            handler=handler,
            resolver=resolver,
            network=network,
            counters=counters,
            store_base=settings.store_base,
            max_blocked=settings.max_blocked,
            limit=settings.limit,
            stop=stop,
            tracker=tracker,
            heartbeat=lambda done, rate: heartbeat(db, owner=owner, items_done=done, rate=rate),
        )
        progress = make_progress(
            _progress_mode(settings),
            progress_snapshot_source(frontier, counters, kinds),
            overview=_overview_source(counters, network, settings.rate),
        )
        tracker.add_section("writer", writer.stats)
        tracker.add_section("pool", db.pool_stats)
        tracker.add_section("cache", resolver.stats)
        tracker.add_section("network", network.stats)
        tracker.add_section("progress", progress.stats)
        tracker.add_section("processor", processor.stats)
        tracker.add_gauges(_series_gauges(network))

        outcome, exit_code = "complete", EXIT_OK
        error: BaseException | None = None
        with (
            _Signals(stop) as signals,
            progress,
            logs_through(getattr(progress, "console", None)),
        ):
            # Each step runs whatever the others do: a failed writer must not keep
            # the leases of this run's unfinished items from going back.
            wind_down = _Steps()
            wind_down.add("stopping the writer", writer.stop)
            wind_down.add("giving back unfinished items", lambda: _give_back(frontier))
            try:
                summary = processor.run()
                if summary.stopped:
                    outcome = "interrupted"
                    exit_code = EXIT_SIGTERM if signals.received == signal.SIGTERM else EXIT_SIGINT
                elif summary.limit_reached:
                    outcome = "partial"
            except BlockedError as exc:
                outcome, exit_code, error = "blocked", EXIT_BLOCKED, exc
            except BaseException:
                wind_down.run()  # step failures are logged; the run's own error is the one raised
                raise
            wind_down.run(raise_first=True)

        failed = frontier.failed_in_run(crawl, settings.item_attempts)
        if outcome == "complete":
            if not frontier.finish_crawl_if_complete(crawl.crawl_id):
                # Items this run could not see as open when it stopped looking
                # (other processes' work); `cwo status` shows them.
                log.info("crawl %d still has open items after this run", crawl.crawl_id)
            if failed:
                outcome, exit_code = "failed_items", EXIT_FAILED_ITEMS
        unmatched = _unmatched(db, settings, item_filter, handler) if exit_code == EXIT_OK else []
        if unmatched:
            exit_code = EXIT_NO_MATCH
        tracker.stop_sampling()
        ended = time.time()
        report = tracker.write_report(
            db,
            run={
                "id": run_id,
                "crawl_id": crawl.crawl_id,
                "resumed": crawl.resumed,
                "started_at": started,
                "ended_at": ended,
                "outcome": outcome,
                "exit_code": exit_code,
                "host": host,
                "pid": pid,
                "duration_seconds": round(ended - started, 3),
                "failed_items": failed,
            },
            settings_public=settings.public_dict(),
        )
        log.info(
            "run %d %s in %.1f s: %d request(s), %d item(s) done, %d failed",
            run_id,
            outcome,
            ended - started,
            counters.sum_prefix("requests"),
            counters.sum_prefix("items/done"),
            failed,
        )
        message = None
        if unmatched:
            message = "; ".join(unmatched)
        elif error is not None:
            message = str(error)
        elif outcome == "interrupted":
            message = f"run {run_id} interrupted; the next `cwo scrape` resumes it"
        elif outcome == "failed_items":
            message = (
                f"{failed} item(s) failed; `cwo status` lists why; the next run retries those "
                f"that have failed in fewer than {settings.item_attempts} run(s)"
            )
        result = RunResult(run_id, crawl.crawl_id, outcome, exit_code, report, failed, message)
        finished = True
        return result
    finally:
        # A failing step is the run's error only when the run has none of its own.
        steps = _closing_steps(db, lock, tracker, counters, registered, started, writer, network)
        if not finished and run_row:
            # A run ended by an error still leaves its metrics (outcome "failed").
            failed_run = {**run_row, "started_at": started, "error": sys.exc_info()[1]}
            steps.add_before(
                "releasing the run lock",
                "storing the failed run's metrics",
                lambda: _store_failed_run(tracker, db, settings, failed_run),
            )
        steps.run(raise_first=finished)


def _unmatched(db: Any, settings: Settings, item_filter: Any, handler: Any) -> list[str]:
    """Warnings for filter values that matched nothing (only after a walk of the tree)."""
    if "tree" not in settings.stages or not (settings.years or settings.makes or settings.models):
        return []
    from custom_wheel_offset.crawl.filters import unmatched_filters

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


def _series_gauges(network: Any) -> Callable[[], dict[str, float | None]]:
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


def _store_failed_run(tracker: Any, db: Any, settings: Settings, run: dict[str, Any]) -> None:
    """The metrics JSON of a run that an error ended, stored with outcome ``failed``."""
    from custom_wheel_offset.errors import EXIT_INTERNAL, CwoError

    error = run.pop("error")
    ended = time.time()
    exit_code = error.exit_code if isinstance(error, CwoError) else EXIT_INTERNAL
    tracker.write_report(
        db,
        run={
            **run,
            "ended_at": ended,
            "outcome": "failed",
            "exit_code": exit_code,
            "duration_seconds": round(ended - run["started_at"], 3),
            "error": f"{type(error).__name__}: {error}",
        },
        settings_public=settings.public_dict(),
    )


def _closing_steps(
    db: Any,
    lock: Any,
    tracker: Any,
    counters: Any,
    registered: str | None,
    started: float,
    writer: Any,
    network: Any,
) -> _Steps:
    """The end of every run, in order: sampler, worker row, writer, network, lock, engine."""
    from custom_wheel_offset.storage.workers import stop_worker

    steps = _Steps()
    steps.add("stopping the metrics sampler", tracker.stop_sampling)
    if registered is not None:
        done = counters.sum_prefix("items/done")
        rate = done / max(time.time() - started, 1e-9)
        steps.add(
            "recording the worker's end",
            lambda: stop_worker(db, owner=registered, items_done=done, rate=rate),
        )
    if writer is not None and writer.running:  # not yet stopped by the run's wind-down
        steps.add("stopping the writer", lambda: writer.stop(timeout=10))
    if network is not None:
        steps.add("closing the network", network.close)
    steps.add("releasing the run lock", lock.release)
    steps.add("disposing of the database engine", db.dispose)
    return steps
