"""`MultithreadedProcessor`: claim pending items in batches, fan them out to threads.

The dispatcher (the calling thread) keeps up to twice ``--workers`` items (at
least 64) in flight: it claims a batch from the frontier when the pool runs low, submits
each item to a ``ThreadPoolExecutor``, and hands nothing to the database itself:
workers pass their outcomes straight to the single writer. The dispatcher also
renews leases, reaps leases of dead processes, holds store work back while the
store challenges us, and decides when the crawl is over (nothing claimable,
nothing in flight, nothing left in the writer's queue). It stops claiming
while the writer is behind (a full batch waits): the writer's queue is
bounded (``BatchWriter.max_backlog``), so a slow database slows the crawl
instead of filling memory.

Workers wake the dispatcher only when it has something to do: when the pool
has run low (time to claim) or an item raised. ``concurrent.futures.wait``
woke it for every finished item, after registering a waiter on every
in-flight future each time.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import TYPE_CHECKING

from custom_wheel_offset.errors import BlockedError
from custom_wheel_offset.net.redirects import host_key
from custom_wheel_offset.storage.frontier import STORE_KINDS

if TYPE_CHECKING:
    from custom_wheel_offset.crawl.items import ItemHandler
    from custom_wheel_offset.metrics.counters import Counters
    from custom_wheel_offset.metrics.tracker import MetricTracker
    from custom_wheel_offset.net.network import OptimizedNetworkManager
    from custom_wheel_offset.storage.frontier import Frontier, ItemFilter, WorkItem
    from custom_wheel_offset.storage.writer import BatchWriter

__all__ = ["MultithreadedProcessor", "ProcessorSummary"]

log = logging.getLogger(__name__)

IDLE_POLL_SECONDS = 0.5
REAP_EVERY_SECONDS = 10.0
HEARTBEAT_EVERY_SECONDS = 5.0
MIN_IN_FLIGHT = 64
# The longest the dispatcher sleeps between looks at stop, leases and the store's state.
WAKE_SECONDS = 0.05


@dataclass(frozen=True, slots=True)
class ProcessorSummary:
    claimed: int
    completed: int
    stopped: bool
    limit_reached: bool


class MultithreadedProcessor:
    def __init__(
        self,
        *,
        workers: int,
        kinds: tuple[str, ...],
        item_filter: ItemFilter,
        frontier: Frontier,
        writer: BatchWriter,
        handler: ItemHandler,
        network: OptimizedNetworkManager,
        counters: Counters,
        store_base: str,
        max_blocked: float,
        limit: int | None = None,
        stop: threading.Event | None = None,
        grace_seconds: float = 5.0,
        tracker: MetricTracker | None = None,
        heartbeat: Callable[[int, float], None] | None = None,
    ) -> None:
        self.workers = workers
        self.kinds = kinds
        self.filter = item_filter
        self.frontier = frontier
        self.writer = writer
        self.handler = handler
        self.network = network
        self.counters = counters
        self.store_host = host_key(store_base)
        self.max_blocked = max_blocked
        self.limit = limit
        self.stop = stop or threading.Event()
        self.grace_seconds = grace_seconds
        self._tracker = tracker if tracker is not None else _own_tracker(counters)
        self._heartbeat = heartbeat
        # Items in flight by id, and their futures; workers remove their own item.
        self._lock = threading.Lock()
        self._inflight: dict[int, WorkItem] = {}
        self._futures: set[Future[str]] = set()
        self._wake = threading.Event()
        self._low_water = 0
        self._claimed = 0
        self._completed = 0
        self._last_renew = self._last_reap = self._last_beat = time.monotonic()
        self._beat_completed = 0
        self._held_back = 0  # claims skipped while the writer was behind

    # -- one item on a worker thread ------------------------------------------------------------

    def _work(self, item: WorkItem) -> str:
        ok = False
        try:
            with self._tracker.track(f"item/{item.kind}") as timing:
                outcome = self.handler.handle(item)
                timing.ok = outcome.status == "done"
            self.writer.submit(outcome)
            ok = True
            return outcome.status
        finally:
            with self._lock:
                # Gone already when a run's shutdown gave up on this item.
                self._inflight.pop(item.id, None)
                self._completed += 1
                left = len(self._inflight)
            if not ok or left <= self._low_water:
                self._wake.set()

    # -- the dispatcher ---------------------------------------------------------------------------

    def run(self) -> ProcessorSummary:
        # Enough claimed to keep every worker busy between two claims; a claim
        # is a transaction, so fewer and larger ones leave more time to work: a
        # claim costs 1.4 to 4 ms of CPU whatever its size (docs/performance.md,
        # session 6), so with few workers it is the 64 that counts. Not too many
        # either: claimed items wait in the pool's queue, where a deeper kind
        # discovered meanwhile (store work, say) cannot overtake them.
        target = max(self.workers * 2, MIN_IN_FLIGHT)
        # Claim in batches: when half the pool's queue has drained, not per item.
        self._low_water = target // 2
        executor = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="cwo-worker")
        limit_reached = False
        try:
            while not self.stop.is_set():
                # Cleared before the state is read: a worker finishing from here
                # on sets it again, so the wait below cannot miss that worker.
                self._wake.clear()
                self.writer.raise_if_failed()
                self._raise_if_an_item_raised()
                self._check_blocked()
                self._housekeeping()
                with self._lock:
                    in_flight = len(self._inflight)
                room = target - in_flight
                if self.limit is not None:
                    room = min(room, self.limit - self._claimed)
                    limit_reached = room <= 0 and self._claimed >= self.limit
                batch: list[WorkItem] = []
                if room > 0 and in_flight <= self._low_water:
                    if self.writer.behind:
                        # Claiming more would only grow the writer's queue: let it catch up.
                        self._held_back += 1
                        self.counters.incr("writer/claims_held_back")
                    else:
                        batch = self.frontier.claim(self._claimable_kinds(), room, self.filter)
                    if batch:
                        self._start(executor, batch)
                if not batch and not in_flight:
                    if limit_reached:
                        break
                    if self._idle_and_finished():
                        break
                    continue
                self._wake.wait(WAKE_SECONDS)
        except BaseException:
            self._shutdown(executor, wake=True)
            raise
        self._shutdown(executor, wake=self.stop.is_set())
        return ProcessorSummary(self._claimed, self._completed, self.stop.is_set(), limit_reached)

    def _start(self, executor: ThreadPoolExecutor, batch: list[WorkItem]) -> None:
        self._claimed += len(batch)
        self.counters.incr("items/claimed", len(batch))
        with self._lock:  # in the table before a worker can finish (and remove) it
            for item in batch:
                self._inflight[item.id] = item
        for item in batch:
            self._futures.add(executor.submit(self._work, item))

    def _raise_if_an_item_raised(self) -> None:
        """Forget finished futures. The handler turns anything an item raises into its
        outcome, so what arrives here is the run's: the writer failed, or a bug here."""
        finished = [f for f in self._futures if f.done()]
        self._futures.difference_update(finished)
        for future in finished:
            future.result()

    def _housekeeping(self) -> None:
        """Leases renewed, dead leases reaped, heartbeat sent: also while idle, when
        a process waits out the leases of one that died."""
        now = time.monotonic()
        if now - self._last_renew > self.frontier.lease_seconds / 3:
            with self._lock:
                ids = list(self._inflight)
            self.frontier.renew(ids)
            self._last_renew = now
        if now - self._last_reap > REAP_EVERY_SECONDS:
            self.frontier.reap_expired()
            self._last_reap = now
        if self._heartbeat is not None and now - self._last_beat > HEARTBEAT_EVERY_SECONDS:
            # The current rate: items completed since the last heartbeat.
            rate = (self._completed - self._beat_completed) / (now - self._last_beat)
            self._heartbeat(self._completed, rate)
            self._last_beat, self._beat_completed = now, self._completed

    def _idle_and_finished(self) -> bool:
        """Nothing claimable and nothing in flight: finished, or wait for delayed work."""
        self.writer.drain()  # children may still sit in the writer's queue
        ready, waiting, next_at = self.frontier.open_counts(self.kinds, self.filter)
        if ready:
            if self._claimable_kinds() != self.kinds:
                # Only store work is left and the store is paused after a challenge.
                self.stop.wait(IDLE_POLL_SECONDS)
            return False
        if waiting:
            delay = IDLE_POLL_SECONDS
            if next_at is not None:
                delay = max(0.05, min(delay, next_at - time.time()))
            self.stop.wait(delay)
            return False
        if "fitment" in self.kinds:
            # Several processes may each miss a vehicle x preference pair when a
            # vehicle and its type's options commit at the same moment; a
            # set-based sweep whenever the crawl looks finished adds what is missing.
            if self.frontier.sweep_fitments():
                return False
            # Another process may have been sweeping too: this sweep then waited
            # for that one's rows and added nothing, yet the work exists. Look again.
            ready, waiting, _ = self.frontier.open_counts(self.kinds, self.filter)
            if ready or waiting:
                return False
        return True

    def _claimable_kinds(self) -> tuple[str, ...]:
        if self.network.is_paused(self.store_host):
            return tuple(k for k in self.kinds if k not in STORE_KINDS)
        return self.kinds

    def _check_blocked(self) -> None:
        """Give the run up when any host (store or fitment API) has refused us too long."""
        block = self.network.longest_block()
        if block is None or block[1] <= self.max_blocked:
            return
        host, blocked_for, reason = block
        raise BlockedError(
            f"{host} has answered only {reason} for {blocked_for / 60:.1f} minutes "
            f"(limit --max-blocked {self.max_blocked:.0f} s)",
            hint="the site is refusing this machine; wait, lower --rate or --workers, "
            "or pass your own browser's cookies with --cookies FILE, then run "
            "the same command again: it resumes where it stopped",
        )

    def _shutdown(self, executor: ThreadPoolExecutor, *, wake: bool) -> None:
        """Stop claiming; let in-flight requests finish within the grace period."""
        executor.shutdown(wait=False, cancel_futures=True)
        if wake:
            # Wake workers sleeping out a backoff or a Retry-After: they give their items back.
            self.network.stop()
        pending = [f for f in self._futures if not f.done()]
        if pending:
            _, not_done = wait(pending, timeout=self.grace_seconds)
            if not_done:
                log.info("%d request(s) still in flight after the grace period", len(not_done))
        self._futures.clear()
        with self._lock:
            self._inflight.clear()

    def stats(self) -> dict[str, int]:
        return {
            "claimed": self._claimed,
            "completed": self._completed,
            "workers": self.workers,
            "claims_held_back": self._held_back,
        }


def _own_tracker(counters: Counters) -> MetricTracker:
    """A tracker of its own for a processor built without the run's (a unit test)."""
    from custom_wheel_offset.metrics.tracker import MetricTracker

    return MetricTracker(counters)
