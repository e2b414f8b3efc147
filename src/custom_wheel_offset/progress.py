"""Progress of a crawl, per stage: a rich display on a terminal, log lines under cron.

The crawl code never talks to the progress object per item: it only updates
its counters. A progress object polls ``snapshot()`` (a callable returning
``{stage: StageProgress}`` built from those aggregated counters) from its own
thread:

- ``rich``: one line per stage with a bar, done/discovered, rate and ETA,
  redrawn at most 10 times a second;
- ``plain``: one log line every ``interval`` seconds (30 by default) and a
  one-line summary at the end, free of control characters;
- ``off``: a null object with the same interface, so callers never branch;
- ``auto``: ``rich`` when the stream is a terminal, else ``plain``.

Rates and ETAs come from the change of ``done`` over a sliding window, not
from the whole run, so they follow the current speed. rich is imported only
when a rich display is made.
"""

from __future__ import annotations

import abc
import logging
import re
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, TextIO, TypeAlias

__all__ = [
    "MAX_REFRESH_HZ",
    "NullProgress",
    "PlainProgress",
    "Progress",
    "RateWindow",
    "RichProgress",
    "StageProgress",
    "format_eta",
    "make_progress",
]

logger = logging.getLogger(__name__)

MAX_REFRESH_HZ = 10.0
DEFAULT_PLAIN_INTERVAL = 30.0
DEFAULT_WINDOW_SECONDS = 30.0
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


@dataclass(frozen=True, slots=True)
class StageProgress:
    """Where one stage stands: ``done`` and ``failed`` items out of ``discovered`` so far."""

    stage: str
    done: int
    discovered: int
    failed: int = 0

    @property
    def remaining(self) -> int:
        return max(self.discovered - self.done - self.failed, 0)


Snapshot: TypeAlias = Callable[[], Mapping[str, StageProgress]]


class RateWindow:
    """Items per second from ``(time, done)`` points over the last ``seconds``."""

    def __init__(self, seconds: float = DEFAULT_WINDOW_SECONDS, max_points: int = 1024) -> None:
        self.seconds = seconds
        self._points: deque[tuple[float, int]] = deque(maxlen=max_points)

    def add(self, t: float, done: int) -> None:
        self._points.append((t, done))
        while len(self._points) > 2 and t - self._points[1][0] >= self.seconds:
            self._points.popleft()

    def rate(self) -> float | None:
        """None until two points some time apart exist."""
        if len(self._points) < 2:
            return None
        (t0, d0), (t1, d1) = self._points[0], self._points[-1]
        if t1 <= t0:
            return None
        return max(d1 - d0, 0) / (t1 - t0)


def format_eta(remaining: int, rate: float | None) -> str:
    """``h:mm:ss`` to finish ``remaining`` items at ``rate`` per second; ``?`` if unknown."""
    if remaining <= 0:
        return "0:00:00"
    if not rate:
        return "?"
    seconds = int(remaining / rate + 0.5)
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"


def _format_rate(rate: float | None) -> str:
    return "?/s" if rate is None else f"{rate:.1f}/s"


class Progress:
    """The interface every progress object has; this base class shows nothing."""

    mode = "off"

    def __init__(
        self, *, interval: float = 0.0, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.interval = interval
        self._clock = clock
        self._refreshes = 0
        self._started_at: float | None = None
        self._stopped_at: float | None = None

    def start(self) -> None:
        if self._started_at is None:
            self._started_at = self._clock()

    def stop(self) -> None:
        if self._started_at is not None and self._stopped_at is None:
            self._stopped_at = self._clock()

    def __enter__(self) -> Progress:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def stats(self) -> dict[str, Any]:
        """``mode``, how many times it rendered and at what rate, for the metrics JSON."""
        elapsed = 0.0
        if self._started_at is not None:
            end = self._stopped_at if self._stopped_at is not None else self._clock()
            elapsed = end - self._started_at
        return {
            "mode": self.mode,
            "refreshes": self._refreshes,
            "refresh_hz": round(self._refreshes / elapsed, 3) if elapsed > 0 else 0.0,
            "interval_seconds": self.interval,
        }


class NullProgress(Progress):
    """Progress turned off: same interface, silent."""

    mode = "off"


class _PollingProgress(Progress, abc.ABC):
    """Polls ``snapshot()`` every ``interval`` seconds on a daemon thread."""

    def __init__(
        self,
        snapshot: Snapshot,
        *,
        interval: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(interval=interval, clock=clock)
        self._snapshot = snapshot
        self._stop_event = threading.Event()
        self._thread: threading.Thread | None = None
        self._render_lock = threading.Lock()
        self._snapshot_failed = False
        window = max(DEFAULT_WINDOW_SECONDS, 2 * interval)
        self._total_window = RateWindow(window)
        self._stage_windows: dict[str, RateWindow] = {}
        self._first_total: int | None = None

    def _poll(self) -> tuple[float, list[StageProgress]] | None:
        """Take a snapshot and feed the rate windows; None if the snapshot failed."""
        try:
            stages = list(self._snapshot().values())
        except Exception:
            # The display must never stop the crawl; say so once, keep trying.
            if not self._snapshot_failed:
                self._snapshot_failed = True
                logger.warning("progress snapshot failed", exc_info=True)
            return None
        now = self._clock()
        total = sum(s.done for s in stages)
        if self._first_total is None:
            self._first_total = total
        self._total_window.add(now, total)
        for s in stages:
            window = self._stage_windows.get(s.stage)
            if window is None:
                window = self._stage_windows[s.stage] = RateWindow(self._total_window.seconds)
            window.add(now, s.done)
        return now, stages

    def _loop(self) -> None:
        while not self._stop_event.wait(self.interval):
            self._tick()

    @abc.abstractmethod
    def _tick(self) -> None:
        """One refresh from the latest snapshot (each display mode draws its own)."""

    @abc.abstractmethod
    def _final(self) -> None:
        """The last render when the display stops."""

    def _begin(self) -> None:
        """Before the thread starts (rich opens its display here)."""

    def start(self) -> None:
        if self._started_at is not None:
            return
        super().start()
        self._begin()
        self._thread = threading.Thread(target=self._loop, name=f"cwo-progress-{self.mode}")
        self._thread.daemon = True
        self._thread.start()

    def stop(self) -> None:
        if self._started_at is None or self._stopped_at is not None:
            return
        self._stop_event.set()
        if self._thread is not None:
            self._thread.join()
        super().stop()
        self._final()


class PlainProgress(_PollingProgress):
    """A log line (or a line on ``stream``) every ``interval`` seconds, no control characters."""

    mode = "plain"

    def __init__(
        self,
        snapshot: Snapshot,
        *,
        interval: float = DEFAULT_PLAIN_INTERVAL,
        stream: TextIO | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if interval <= 0:
            raise ValueError("interval must be positive")
        super().__init__(snapshot, interval=interval, clock=clock)
        self._stream = stream

    def _emit(self, line: str) -> None:
        line = _CONTROL.sub("?", line)
        if self._stream is None:
            logger.info("%s", line)
        else:
            stamp = time.strftime("%Y-%m-%d %H:%M:%S")
            self._stream.write(f"{stamp} {line}\n")
            self._stream.flush()
        self._refreshes += 1

    @staticmethod
    def _stages_text(stages: list[StageProgress]) -> str:
        parts = []
        for s in stages:
            part = f"{s.stage} {s.done}/{s.discovered}"
            if s.failed:
                part += f" ({s.failed} failed)"
            parts.append(part)
        return " ".join(parts) if parts else "(no stages)"

    def _begin(self) -> None:
        self._poll()  # a first point, so the first line already has a rate

    def _tick(self) -> None:
        polled = self._poll()
        if polled is None:
            return
        _, stages = polled
        rate = self._total_window.rate()
        remaining = sum(s.remaining for s in stages)
        rate_text = "?" if rate is None else f"{rate:.1f}"
        self._emit(
            f"progress {self._stages_text(stages)} | "
            f"{rate_text} items/s, ETA {format_eta(remaining, rate)}"
        )

    def _final(self) -> None:
        polled = self._poll()
        stages = polled[1] if polled else []
        elapsed = (self._stopped_at or 0.0) - (self._started_at or 0.0)
        total = sum(s.done for s in stages)
        done_here = total - (self._first_total or 0) if polled else 0
        average = done_here / elapsed if elapsed > 0 else 0.0
        failed = sum(s.failed for s in stages)
        self._emit(
            f"progress finished after {elapsed:.1f}s: {self._stages_text(stages)} | "
            f"{total} done, {failed} failed, {average:.1f} items/s on average"
        )


class RichProgress(_PollingProgress):
    """A rich display, one task per stage, redrawn at most ``MAX_REFRESH_HZ`` times a second."""

    mode = "rich"

    def __init__(
        self,
        snapshot: Snapshot,
        *,
        interval: float = 1.0 / MAX_REFRESH_HZ,
        console: Any = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(snapshot, interval=max(interval, 1.0 / MAX_REFRESH_HZ), clock=clock)
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, TextColumn
        from rich.progress import Progress as RichDisplay

        # Exposed so the CLI can log through the same console (RichHandler(console=...)).
        self.console = console if console is not None else Console(stderr=True)
        self._display = RichDisplay(
            TextColumn("{task.description:<12}", markup=False),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[failed]}", markup=False),
            TextColumn("{task.fields[rate]:>9}", markup=False),
            TextColumn("ETA {task.fields[eta]}", markup=False),
            console=self.console,
            auto_refresh=False,  # we refresh from our own throttled thread
        )
        self._tasks: dict[str, Any] = {}

    def _update(self) -> None:
        polled = self._poll()
        if polled is None:
            return
        _, stages = polled
        for s in stages:
            rate = self._stage_windows[s.stage].rate()
            failed = f"{s.failed} failed" if s.failed else ""
            rate_text = _format_rate(rate)
            eta = format_eta(s.remaining, rate)
            task_id = self._tasks.get(s.stage)
            if task_id is None:
                self._tasks[s.stage] = self._display.add_task(
                    s.stage,
                    total=s.discovered,
                    completed=s.done,
                    failed=failed,
                    rate=rate_text,
                    eta=eta,
                )
            else:
                self._display.update(
                    task_id,
                    total=s.discovered,
                    completed=s.done,
                    failed=failed,
                    rate=rate_text,
                    eta=eta,
                )

    def _begin(self) -> None:
        with self._render_lock:
            self._update()
            self._display.start()  # renders once
            self._refreshes += 1

    def _tick(self) -> None:
        with self._render_lock:
            self._update()
            self._display.refresh()
            self._refreshes += 1

    def _final(self) -> None:
        with self._render_lock:
            self._update()
            self._display.stop()  # renders the final state once and leaves it on screen
            self._refreshes += 1


def _is_terminal(stream: Any) -> bool:
    if stream is not None and hasattr(stream, "is_terminal"):  # a rich Console
        return bool(stream.is_terminal)
    target = stream if stream is not None else sys.stderr
    try:
        return bool(target.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed file
        return False


def make_progress(
    mode: str,
    snapshot: Snapshot,
    *,
    interval: float | None = None,
    stream: Any = None,
    clock: Callable[[], float] = time.monotonic,
) -> Progress:
    """A progress object for ``mode`` ``auto``, ``rich``, ``plain`` or ``off``.

    ``stream``: for rich, a file or a ``rich.console.Console`` (default: stderr);
    for plain, a file to write lines to (default: log them with :mod:`logging`).
    ``interval``: seconds between renders (rich: at least 0.1, default 0.1;
    plain: default 30).
    """
    if mode == "auto":
        mode = "rich" if _is_terminal(stream) else "plain"
    if mode == "off":
        return NullProgress(clock=clock)
    if mode == "plain":
        if stream is not None and hasattr(stream, "is_terminal") and hasattr(stream, "file"):
            stream = stream.file  # a rich Console: write plainly to its file
        return PlainProgress(
            snapshot,
            interval=DEFAULT_PLAIN_INTERVAL if interval is None else interval,
            stream=stream,
            clock=clock,
        )
    if mode == "rich":
        console = stream
        if stream is not None and not hasattr(stream, "is_terminal"):
            from rich.console import Console

            console = Console(file=stream)
        return RichProgress(
            snapshot,
            interval=1.0 / MAX_REFRESH_HZ if interval is None else interval,
            console=console,
            clock=clock,
        )
    raise ValueError(f"unknown progress mode {mode!r}; use auto, rich, plain or off")
