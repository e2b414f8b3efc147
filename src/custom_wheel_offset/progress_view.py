"""What the progress display shows, computed from snapshots: no I/O, no rich at import.

:class:`DisplayModel` turns a sequence of polled ``(time, stages, overview)``
into a :class:`View`: elapsed time, requests per second, errors and retries
in the last minute, per-host rate and pause state, and per stage one of

- ``waiting``: nothing discovered yet (a bar at 0/0 would look finished);
- ``running``: a bar, the current rate over a sliding window and an ETA;
- ``done``: every discovered item ended and every earlier stage is done; its
  rate and duration are frozen when it finished, so the rate does not keep
  shrinking as the window slides past its last item;
- ``stopped`` / ``none`` in the final view: unfinished, or nothing to do.

:func:`stage_texts`, :func:`overall_text` and :func:`host_texts` give the same
words to the plain lines and the rich display; :func:`rich_view` builds the
rich renderable (rich imported there).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

__all__ = [
    "DisplayModel",
    "HostState",
    "Overview",
    "RateWindow",
    "StageProgress",
    "View",
    "format_duration",
    "format_eta",
    "host_texts",
    "overall_text",
    "rich_view",
    "stage_texts",
]

DEFAULT_WINDOW_SECONDS = 30.0
#: Requests per second follow the last few seconds: pauses show within one window.
REQUEST_WINDOW_SECONDS = 10.0
#: "errors and retries in the last minute".
RECENT_SECONDS = 60.0


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


@dataclass(frozen=True, slots=True)
class HostState:
    """One host as the network layer sees it (cumulative requests, limiter and pauses)."""

    host: str
    requests: int = 0
    limit: float | None = None  # the limiter's current rate; None = unlimited
    configured: float | None = None  # --rate; None = unlimited
    paused_for: float = 0.0  # seconds left of a 429 pause
    challenge_for: float = 0.0  # seconds left of a bot-challenge pause


@dataclass(frozen=True, slots=True)
class Overview:
    """Run-wide cumulative counts and per-host state, polled beside the stages."""

    requests: int = 0
    errors: int = 0
    retries: int = 0
    hosts: tuple[HostState, ...] = ()


OverviewSource: TypeAlias = Callable[[], Overview]


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
    return format_duration(remaining / rate)


def format_duration(seconds: float) -> str:
    """``h:mm:ss``, rounded to the second."""
    total = int(max(seconds, 0.0) + 0.5)
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"


@dataclass(frozen=True, slots=True)
class StageView:
    stage: str
    state: str  # waiting | running | done | stopped | none
    done: int
    discovered: int
    failed: int
    rate: float | None  # running: current; done/stopped: this run's average
    duration: float | None  # done: how long the stage took in this run
    eta: str


@dataclass(frozen=True, slots=True)
class HostView:
    host: str
    rate: float | None  # requests per second actually sent lately
    limit: float | None
    configured: float | None
    paused_for: float
    challenge_for: float


@dataclass(frozen=True, slots=True)
class View:
    elapsed: float
    request_rate: float | None
    errors_recent: int
    retries_recent: int
    hosts: tuple[HostView, ...]
    stages: tuple[StageView, ...]
    final: bool = False
    has_overview: bool = False  # without one, only the elapsed time is known


@dataclass(slots=True)
class _StageTrack:
    started_at: float  # first poll at which the stage had anything discovered
    done_at_start: int
    window: RateWindow
    finished: tuple[float, float | None] | None = None  # (duration, rate) when done


class DisplayModel:
    """Feeds on polls and keeps what a view needs: windows, stage starts and finishes."""

    def __init__(self, window_seconds: float = DEFAULT_WINDOW_SECONDS) -> None:
        self.window_seconds = window_seconds
        self.started_at: float | None = None
        self._tracks: dict[str, _StageTrack] = {}
        self._requests = RateWindow(REQUEST_WINDOW_SECONDS)
        self._host_windows: dict[str, RateWindow] = {}
        self._recent: deque[tuple[float, int, int]] = deque()

    def update(
        self,
        now: float,
        stages: Sequence[StageProgress],
        overview: Overview | None = None,
        *,
        final: bool = False,
    ) -> View:
        if self.started_at is None:
            self.started_at = now
        stage_views = self._stages(now, stages, final)
        hosts: tuple[HostView, ...] = ()
        errors = retries = 0
        if overview is not None:
            self._requests.add(now, overview.requests)
            errors, retries = self._recent_counts(now, overview)
            hosts = tuple(self._host(now, h) for h in overview.hosts)
        return View(
            elapsed=now - self.started_at,
            request_rate=self._requests.rate(),
            errors_recent=errors,
            retries_recent=retries,
            hosts=hosts,
            stages=stage_views,
            final=final,
            has_overview=overview is not None,
        )

    def _recent_counts(self, now: float, overview: Overview) -> tuple[int, int]:
        self._recent.append((now, overview.errors, overview.retries))
        # Keep one point at or before the minute's start: the base of the difference.
        while len(self._recent) > 1 and now - self._recent[1][0] >= RECENT_SECONDS:
            self._recent.popleft()
        _, errors0, retries0 = self._recent[0]
        return overview.errors - errors0, overview.retries - retries0

    def _host(self, now: float, h: HostState) -> HostView:
        window = self._host_windows.get(h.host)
        if window is None:
            window = self._host_windows[h.host] = RateWindow(REQUEST_WINDOW_SECONDS)
        window.add(now, h.requests)
        return HostView(h.host, window.rate(), h.limit, h.configured, h.paused_for, h.challenge_for)

    def _stages(
        self, now: float, stages: Sequence[StageProgress], final: bool
    ) -> tuple[StageView, ...]:
        views = []
        earlier_done = True  # stages come in crawl order: tree before vehicles ...
        for s in stages:
            view = self._stage(now, s, earlier_done, final)
            earlier_done = view.state in ("done", "none")
            views.append(view)
        return tuple(views)

    def _stage(self, now: float, s: StageProgress, earlier_done: bool, final: bool) -> StageView:
        track = self._tracks.get(s.stage)
        if s.discovered == 0 and track is None:
            state = "none" if final and earlier_done else "waiting"
            return StageView(s.stage, state, 0, 0, s.failed, None, None, "?")
        if track is None:
            window = RateWindow(self.window_seconds)
            track = self._tracks[s.stage] = _StageTrack(now, s.done, window)
        track.window.add(now, s.done)
        if earlier_done and s.remaining == 0:
            if track.finished is None:
                duration = now - track.started_at
                done_here = s.done - track.done_at_start
                rate = done_here / duration if duration > 0 and done_here > 0 else None
                track.finished = (duration, rate)
            duration, rate = track.finished
            return StageView(s.stage, "done", s.done, s.discovered, s.failed, rate, duration, "")
        track.finished = None  # more was discovered after all: running again
        if final:
            duration = now - track.started_at
            done_here = s.done - track.done_at_start
            rate = done_here / duration if duration > 0 else None
            return StageView(s.stage, "stopped", s.done, s.discovered, s.failed, rate, None, "")
        rate = track.window.rate()
        eta = format_eta(s.remaining, rate)
        return StageView(s.stage, "running", s.done, s.discovered, s.failed, rate, None, eta)


# -- words shared by the plain lines and the rich display --------------------------------------


def _rate(rate: float | None) -> str:
    if rate is None:
        return "?/s"
    # A slow stage (3 items in 3 minutes) must not read as 0.0/s.
    return f"{rate:.2f}/s" if 0 < rate < 0.95 else f"{rate:.1f}/s"


def stage_status(v: StageView) -> str:
    """The words after a stage's counts: rate and ETA, or how it ended."""
    failed = f"{v.failed} failed, " if v.failed else ""
    if v.state == "running":
        if v.done + v.failed >= v.discovered:
            # All its items so far are done, but an earlier stage may still add some.
            return f"{failed}{_rate(v.rate)}, caught up"
        return f"{failed}{_rate(v.rate)}, ETA {v.eta}"
    if v.state == "done":
        if v.rate is None:
            # Done before this run, or so fast that it was never seen running
            # (a tiny sandbox's vehicles between two looks): no rate to give.
            return f"{failed}done"
        return f"{failed}done at {_rate(v.rate)} in {format_duration(v.duration or 0.0)}"
    if v.state == "stopped":
        return f"{failed}stopped at {_rate(v.rate)}"
    return "nothing to do" if v.state == "none" else "waiting"


def stage_texts(view: View) -> list[str]:
    """``tree 120/1000 (3.4/s, ETA 0:04:12)``, ``vehicles waiting``, ... for plain lines."""
    out = []
    for v in view.stages:
        if v.state in ("waiting", "none"):
            out.append(f"{v.stage} {stage_status(v)}")
        else:
            out.append(f"{v.stage} {v.done}/{v.discovered} ({stage_status(v)})")
    return out


def overall_text(view: View) -> str:
    """``elapsed 0:01:23, 12.3 req/s, last minute: 2 errors, 5 retries``."""
    if not view.has_overview:
        return f"elapsed {format_duration(view.elapsed)}"
    return (
        f"elapsed {format_duration(view.elapsed)}, {_rate(view.request_rate)[:-2]} req/s, "
        f"last minute: {view.errors_recent} errors, {view.retries_recent} retries"
    )


def _short_host(host: str) -> str:
    return host.split("://", 1)[-1]


def host_texts(view: View) -> list[str]:
    """Per host: requests sent per second against the limit, and any pause with its time left."""
    out = []
    for h in view.hosts:
        if h.configured is None:
            against = "no limit" if h.limit is None else f"cut to {h.limit:.1f}/s (no limit set)"
        elif h.limit is not None and h.limit < h.configured - 1e-9:
            against = f"--rate {h.configured:g}, cut to {h.limit:.1f}/s after 429"
        else:
            against = f"--rate {h.configured:g}"
        text = f"{_short_host(h.host)} {_rate(h.rate)[:-2]} req/s ({against})"
        if h.paused_for > 0:
            text += f", paused {format_duration(h.paused_for)} more (429)"
        if h.challenge_for > 0:
            text += f", blocked {format_duration(h.challenge_for)} more (bot challenge)"
        out.append(text)
    return out


def rich_view(view: View) -> Any:
    """The rich renderable: the overall line, one line per host, one row per stage."""
    from rich.console import Group
    from rich.progress_bar import ProgressBar
    from rich.table import Table
    from rich.text import Text

    lines: list[Any] = [Text(overall_text(view), style="bold")]
    for text in host_texts(view):
        paused = ", paused " in text or ", blocked " in text
        lines.append(Text("  " + text, style="yellow" if paused else "dim"))
    table = Table.grid(padding=(0, 1), expand=True)
    table.add_column("stage", no_wrap=True, min_width=11)
    table.add_column("bar", ratio=1, min_width=6)
    table.add_column("count", justify="right", no_wrap=True)
    table.add_column("status", no_wrap=False)
    for v in view.stages:
        if v.state in ("waiting", "none"):
            table.add_row(v.stage, Text(stage_status(v), style="dim"), "", "")
            continue
        bar = ProgressBar(total=max(v.discovered, 1), completed=v.done + v.failed)
        style = "green" if v.state == "done" else ""
        table.add_row(v.stage, bar, f"{v.done}/{v.discovered}", Text(stage_status(v), style=style))
    lines.append(table)
    return Group(*lines)
