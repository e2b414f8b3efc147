"""Progress of a crawl, per stage: a rich display on a terminal, log lines under cron.

The crawl code never talks to the progress object per item: it only updates
its counters. A progress object polls ``snapshot()`` (a callable returning
``{stage: StageProgress}`` built from those aggregated counters) from its own
thread:

- ``rich``: an overall line (elapsed, requests/s, errors and retries in the
  last minute), one line per host (rate against ``--rate``, pauses with the
  time left) and one row per stage (waiting, or a bar with done/discovered,
  rate and ETA, or its final rate and duration), redrawn at most 10 times a
  second (see :mod:`custom_wheel_offset.progress_view`);
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
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import TYPE_CHECKING, Any, TextIO, TypeAlias

if TYPE_CHECKING:
    from custom_wheel_offset.metrics.counters import Counters
    from custom_wheel_offset.storage.frontier import Frontier

from custom_wheel_offset.progress_view import (
    DEFAULT_WINDOW_SECONDS,
    DisplayModel,
    HostState,
    Overview,
    OverviewSource,
    RateWindow,
    StageProgress,
    View,
    format_eta,
    host_texts,
    overall_text,
    rich_view,
    stage_texts,
)

__all__ = [
    "MAX_REFRESH_HZ",
    "HostState",
    "NullProgress",
    "Overview",
    "PlainProgress",
    "Progress",
    "RateWindow",
    "RichProgress",
    "StageProgress",
    "format_eta",
    "make_progress",
    "progress_snapshot_source",
]

logger = logging.getLogger(__name__)

MAX_REFRESH_HZ = 10.0
DEFAULT_PLAIN_INTERVAL = 30.0
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


Snapshot: TypeAlias = Callable[[], Mapping[str, StageProgress]]


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
    """Polls ``snapshot()`` (and ``overview()``) every ``interval`` seconds on a daemon thread."""

    def __init__(
        self,
        snapshot: Snapshot,
        *,
        interval: float,
        overview: OverviewSource | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(interval=interval, clock=clock)
        self._snapshot = snapshot
        self._overview = overview
        self._stop_event = threading.Event()
        self._thread: threading.Thread | None = None
        self._render_lock = threading.Lock()
        self._snapshot_failed = False
        window = max(DEFAULT_WINDOW_SECONDS, 2 * interval)
        self._model = DisplayModel(window)
        self._total_window = RateWindow(window)
        self._first_total: int | None = None
        self._last_view: View | None = None

    def _poll(self, *, final: bool = False) -> View | None:
        """Take a snapshot and feed the model; None if the snapshot failed."""
        try:
            stages = list(self._snapshot().values())
            overview: Overview | None = self._overview() if self._overview else None
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
        self._last_view = self._model.update(now, stages, overview, final=final)
        return self._last_view

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
        overview: OverviewSource | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if interval <= 0:
            raise ValueError("interval must be positive")
        super().__init__(snapshot, interval=interval, overview=overview, clock=clock)
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
    def _stages_text(view: View | None) -> str:
        parts = stage_texts(view) if view is not None else []
        return " ".join(parts) if parts else "(no stages)"

    def _begin(self) -> None:
        self._poll()  # a first point, so the first line already has a rate

    def _tick(self) -> None:
        view = self._poll()
        if view is None:
            return
        rate = self._total_window.rate()
        remaining = sum(v.discovered - v.done - v.failed for v in view.stages)
        rate_text = "?" if rate is None else f"{rate:.1f}"
        hosts = "".join(f" | {text}" for text in host_texts(view))
        self._emit(
            f"progress {self._stages_text(view)} | "
            f"{rate_text} items/s, ETA {format_eta(remaining, rate)} | {overall_text(view)}{hosts}"
        )

    def _final(self) -> None:
        view = self._poll(final=True)
        elapsed = (self._stopped_at or 0.0) - (self._started_at or 0.0)
        stages = view.stages if view is not None else ()
        total = sum(s.done for s in stages)
        done_here = total - (self._first_total or 0) if view is not None else 0
        average = done_here / elapsed if elapsed > 0 else 0.0
        failed = sum(s.failed for s in stages)
        self._emit(
            f"progress finished after {elapsed:.1f}s: {self._stages_text(view)} | "
            f"{total} done, {failed} failed, {average:.1f} items/s on average"
        )


class RichProgress(_PollingProgress):
    """A rich display: overall line, hosts, a row per stage; at most 10 redraws a second."""

    mode = "rich"

    def __init__(
        self,
        snapshot: Snapshot,
        *,
        interval: float = 1.0 / MAX_REFRESH_HZ,
        console: Any = None,
        overview: OverviewSource | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(
            snapshot, interval=max(interval, 1.0 / MAX_REFRESH_HZ), overview=overview, clock=clock
        )
        from rich.console import Console
        from rich.live import Live

        # Exposed so the CLI can log through the same console (see logsetup.logs_through).
        self.console = console if console is not None else Console(stderr=True)
        self._live = Live(
            console=self.console,
            auto_refresh=False,  # we refresh from our own throttled thread
            redirect_stdout=False,
            redirect_stderr=False,
        )

    def renderable(self) -> Any:
        """What the display shows now (the last poll's view)."""
        from rich.text import Text

        return Text("") if self._last_view is None else rich_view(self._last_view)

    def _draw(self, *, final: bool = False) -> None:
        with self._render_lock:
            self._poll(final=final)
            self._live.update(self.renderable(), refresh=True)
            self._refreshes += 1

    def _begin(self) -> None:
        self._live.start()
        self._draw()

    def _tick(self) -> None:
        self._draw()

    def _final(self) -> None:
        self._draw(final=True)
        self._live.stop()  # leaves the final state on screen
        if not self.console.is_terminal:
            # rich ends the line itself only on a terminal: the next line written
            # to the file would otherwise run on from the frame's last row.
            self.console.line()


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
    overview: OverviewSource | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> Progress:
    """A progress object for ``mode`` ``auto``, ``rich``, ``plain`` or ``off``.

    ``stream``: for rich, a file or a ``rich.console.Console`` (default: stderr);
    for plain, a file to write lines to (default: log them with :mod:`logging`).
    ``interval``: seconds between renders (rich: at least 0.1, default 0.1;
    plain: default 30). ``overview``: run-wide counts and per-host state for
    the overall line (requests/s, errors, retries, pauses), polled with the stages.
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
            overview=overview,
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
            overview=overview,
            clock=clock,
        )
    raise ValueError(f"unknown progress mode {mode!r}; use auto, rich, plain or off")


def progress_snapshot_source(
    frontier: Frontier, counters: Counters, kinds: tuple[str, ...]
) -> Callable[[], dict[str, StageProgress]]:
    """A cheap snapshot function: one database count at start, then counters only.

    ``kinds`` are the run's kinds; a stage with none of them is left out.
    """
    from custom_wheel_offset.storage.frontier import STAGE_KINDS

    baseline = frontier.stage_counts()
    stages = {
        stage: tuple(k for k in stage_kinds if k in kinds)
        for stage, stage_kinds in STAGE_KINDS.items()
    }

    def snapshot() -> dict[str, StageProgress]:
        out: dict[str, StageProgress] = {}
        for stage, stage_kinds in stages.items():
            if not stage_kinds:
                continue
            total = done = failed = 0
            for kind in stage_kinds:
                base = baseline.get(kind, {})
                # Gone items are no work of any run (storage.gone).
                present = sum(n for status, n in base.items() if status != "gone")
                total += present + counters.get(f"items/discovered/{kind}")
                done += base.get("done", 0) + counters.get(f"items/done/{kind}")
                failed += base.get("failed", 0) + counters.get(f"items/failed/{kind}")
            out[stage] = StageProgress(stage=stage, done=done, discovered=total, failed=failed)
        return out

    return snapshot
