"""What the sandbox saw: requests by kind, statuses, faults, peaks and duplicate answers.

The snapshot is the JSON of ``GET /__sandbox__/counters``; its keys are
documented in ``docs/sandbox.md``. Everything is guarded by one lock; the
duplicate detector keeps one hash per distinct successfully answered URL
(about 90 bytes each), which stays well under 100 MB even for a full crawl
of the large catalogue.
"""

from __future__ import annotations

import collections
import threading
import time
from collections.abc import Callable
from typing import Any

__all__ = ["FAULT_KINDS", "HOSTS", "KINDS", "SandboxCounters"]

KINDS: tuple[str, ...] = (
    "years",
    "makes",
    "models",
    "model_info",
    "drives",
    "vehicle",
    "select",
    "suspension",
    "trimming",
    "rubbing",
    "fitment",
    "robots",
    "not_found",
)
FAULT_KINDS: tuple[str, ...] = (
    "latency",
    "error_5xx",
    "rate_429",
    "held",
    "reset",
    "truncated",
    "challenge",
    "challenge_window",
    "server_rate_limit",
    "forbidden",
    "forbidden_window",
)
HOSTS: tuple[str, ...] = ("api", "store")


class _Window:
    """Request starts in a sliding one-second window, and the largest count seen."""

    __slots__ = ("peak", "times")

    def __init__(self) -> None:
        self.times: collections.deque[float] = collections.deque()
        self.peak = 0

    def add(self, now: float) -> None:
        times = self.times
        times.append(now)
        limit = now - 1.0
        while times[0] <= limit:
            times.popleft()
        if len(times) > self.peak:
            self.peak = len(times)


class SandboxCounters:
    """Thread-safe counters of one running sandbox."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._written = threading.Condition(self._lock)
        self._in_flight = 0
        self._ticket = 0
        self._writing: set[int] = set()
        self.reset()

    def reset(self) -> None:
        """Zero everything, peaks and the duplicate detector included."""
        with self._lock:
            self._requests = dict.fromkeys(KINDS, 0)
            self._statuses: dict[str, int] = {}
            self._faults = dict.fromkeys(FAULT_KINDS, 0)
            self._served_ok = dict.fromkeys(KINDS, 0)
            self._duplicate_ok = dict.fromkeys(KINDS, 0)
            self._seen: dict[str, set[int]] = {k: set() for k in KINDS}
            self._seen_twice: dict[str, set[int]] = {k: set() for k in KINDS}
            self._window = _Window()
            self._host_windows = {h: _Window() for h in HOSTS}
            # in_flight is a live gauge: requests being answered now keep it up
            self._peak_in_flight = self._in_flight
            self._total = 0

    def started(self, kind: str, host: str) -> None:
        """A request of ``kind`` on ``host`` ("api" or "store") has arrived."""
        now = self._clock()
        with self._lock:
            self._total += 1
            self._requests[kind] += 1
            self._window.add(now)
            self._host_windows[host].add(now)
            self._in_flight += 1
            if self._in_flight > self._peak_in_flight:
                self._peak_in_flight = self._in_flight

    def writing(self) -> int:
        """An answer is about to be written; the ticket goes back to :meth:`finished`.

        A snapshot waits for answers whose writing began before it was asked
        for, so a client that has read its answer and then asks for the
        counters always sees that answer counted.
        """
        with self._lock:
            self._ticket += 1
            self._writing.add(self._ticket)
            return self._ticket

    def finished(self, ticket: int | None = None) -> None:
        """The request is over (its answer written and counted, or none sent)."""
        with self._lock:
            self._in_flight = max(0, self._in_flight - 1)
            if ticket is not None:
                self._writing.discard(ticket)
                self._written.notify_all()

    def status(self, code: int) -> None:
        key = str(code)
        with self._lock:
            self._statuses[key] = self._statuses.get(key, 0) + 1

    def fault(self, kind: str) -> None:
        with self._lock:
            self._faults[kind] += 1

    def served_ok(self, kind: str, url: str) -> None:
        """A real, complete, non-fault 200 answer to ``url`` was sent."""
        key = hash(url)
        with self._lock:
            self._served_ok[kind] += 1
            seen = self._seen[kind]
            if key not in seen:
                seen.add(key)
            elif key not in self._seen_twice[kind]:
                self._seen_twice[kind].add(key)
                self._duplicate_ok[kind] += 1

    def snapshot(self, settle: float = 2.0) -> dict[str, Any]:
        """The counters as JSON-ready dictionaries (see docs/sandbox.md).

        Waits (at most ``settle`` seconds) for answers already being written
        to be counted.
        """
        deadline = time.monotonic() + settle
        with self._lock:
            horizon = self._ticket
            while any(t <= horizon for t in self._writing):
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._written.wait(remaining)
            now = self._clock()
            for window in (self._window, *self._host_windows.values()):
                while window.times and window.times[0] <= now - 1.0:
                    window.times.popleft()
            return {
                "requests": dict(self._requests),
                "statuses": dict(sorted(self._statuses.items())),
                "faults": dict(self._faults),
                "peak_requests_1s": self._window.peak,
                "peak_requests_1s_by_host": {h: w.peak for h, w in self._host_windows.items()},
                "peak_in_flight": self._peak_in_flight,
                "in_flight": self._in_flight,
                "served_ok": dict(self._served_ok),
                "duplicate_ok": dict(self._duplicate_ok),
                "total_requests": self._total,
            }
