"""The charts of the HTML report, drawn as SVG by matplotlib (imported on first use).

Each function takes a part of the metrics JSON (or of the catalogue's
coverage) and returns a :class:`Chart`: its SVG text and how many points or
bars it drew. Every line is drawn with a marker per point, each in an SVG
group ``<name>-line-<i>``; every bar is a group ``<name>-bar-<i>``; so a test
(or a reader) can count what was drawn. Only matplotlib's object-oriented
API is used (no pyplot, no global backend): the SVG canvas renders.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

__all__ = [
    "STAGE_OF_KIND",
    "Chart",
    "coverage_charts",
    "latency_chart",
    "time_charts",
]

#: Item kinds by crawl stage (storage.frontier.STAGE_KINDS), for throughput per stage.
STAGE_OF_KIND = {
    "years": "tree",
    "makes": "tree",
    "models": "tree",
    "model_info": "tree",
    "drives": "tree",
    "vehicle": "vehicles",
    "options": "preferences",
    "fitment": "fitments",
}
_STATUS_COLOURS = {"ok": "#2e7d32", "no_data": "#9e9e9e", "failed": "#c62828", "gone": "#6a1b9a"}
_WIDE = (8.0, 2.8)
# No RDF block (creator, date, format URLs): smaller, reproducible, and no URL in the page.
_NO_METADATA = {"Creator": None, "Date": None, "Format": None, "Type": None}
_ID = re.compile(r'(id="|href="#|url\(#)([A-Za-z_][\w.-]*)')


@dataclass(frozen=True, slots=True)
class Chart:
    """One chart: ``name`` (HTML id stem), title, SVG text (None: nothing to draw), count."""

    name: str
    title: str
    svg: str | None
    drawn: int = 0
    note: str = ""


class _Drawing:
    """One figure being drawn; counts the points and bars it tags."""

    def __init__(self, name: str, size: tuple[float, float] = _WIDE) -> None:
        from matplotlib.figure import Figure

        self.name = name
        self.figure = Figure(figsize=size, layout="constrained")
        self.axes = self.figure.add_subplot()
        self.axes.grid(True, linewidth=0.4, alpha=0.5)
        self.axes.set_axisbelow(True)
        self.axes.spines[["top", "right"]].set_visible(False)
        self.drawn = 0
        self._lines = 0
        self._bars = 0

    def line(self, xs: Sequence[float], ys: Sequence[float | None], label: str) -> None:
        points = [(x, y) for x, y in zip(xs, ys, strict=False) if y is not None]
        if not points:
            return
        (artist,) = self.axes.plot(
            [p[0] for p in points],
            [p[1] for p in points],
            marker="o",
            markersize=2.5,
            linewidth=1.2,
            label=label,
        )
        artist.set_gid(f"{self.name}-line-{self._lines}")
        self._lines += 1
        self.drawn += len(points)

    def bars(self, container: Any) -> None:
        for patch in container:
            patch.set_gid(f"{self.name}-bar-{self._bars}")
            self._bars += 1
            self.drawn += 1

    def svg(self) -> str:
        import matplotlib

        buffer = io.StringIO()
        with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": self.name}):
            self.figure.savefig(buffer, format="svg", metadata=_NO_METADATA)
        text = buffer.getvalue()
        text = text[text.index("<svg") :]  # no XML declaration or DOCTYPE inside HTML
        # Several SVGs share one document: give matplotlib's own ids this chart's prefix.
        return _ID.sub(
            lambda m: (
                m.group(0)
                if m.group(2).startswith(self.name + "-")
                else f"{m.group(1)}{self.name}-{m.group(2)}"
            ),
            text,
        )

    def chart(self, title: str, note: str = "") -> Chart:
        if self._lines > 1:
            self.axes.legend(fontsize=7, loc="upper left", frameon=False, ncols=4)
        return Chart(self.name, title, self.svg(), self.drawn, note)


def _time_axis(series: Mapping[str, Any]) -> tuple[list[float], str]:
    """Interval starts in the unit that suits the run's length, and that unit's name."""
    t = [float(v) for v in series.get("t") or []]
    span = (t[-1] if t else 0.0) + float(series.get("interval_seconds") or 1.0)
    for limit, divisor, unit in ((120, 1, "s"), (7200, 60, "min"), (172800, 3600, "h")):
        if span <= limit:
            return [v / divisor for v in t], unit
    return [v / 86400 for v in t], "days"


def _per_second(values: Sequence[float], series: Mapping[str, Any]) -> list[float | None]:
    """Counts over the seconds each interval covered (None where it covered none)."""
    interval = float(series.get("interval_seconds") or 1.0)
    covered = series.get("covered_seconds") or [interval] * len(values)
    return [round(v / c, 3) if c else None for v, c in zip(values, covered, strict=True)]


def _empty(name: str, title: str, why: str) -> Chart:
    return Chart(name, title, None, 0, why)


def time_charts(report: Mapping[str, Any]) -> list[Chart]:
    """Throughput per stage, responses by status, host rate, challenges and pauses, RSS."""
    series = report.get("series") or {}
    if not series.get("points"):
        why = "no time series in this report (a run of an older cwo, or no sample taken)"
        titles = {
            "throughput": "Throughput",
            "responses": "Responses by status",
            "host_rate": "Host rate",
            "challenges": "Retries, challenges and pauses",
            "rss": "Memory (RSS)",
        }
        return [_empty(name, title, why) for name, title in titles.items()]
    xs, unit = _time_axis(series)
    return [
        _throughput(series, xs, unit),
        _responses(series, xs, unit),
        _host_rate(series, xs, unit, (report.get("config") or {}).get("rate")),
        _challenges(series, xs, unit),
        _rss(series, xs, unit),
    ]


def _throughput(series: Mapping[str, Any], xs: list[float], unit: str) -> Chart:
    counts: Mapping[str, list[float]] = series["counts"]
    drawing = _Drawing("throughput")
    requests = [sum(col) for col in zip(*_prefixed(counts, "requests/"), strict=True)]
    if requests:
        drawing.line(xs, _per_second(requests, series), "requests (all)")
    for stage in ("tree", "vehicles", "preferences", "fitments"):
        kinds = [k for k, s in STAGE_OF_KIND.items() if s == stage]
        columns = [counts[f"items_done/{k}"] for k in kinds if f"items_done/{k}" in counts]
        if columns:
            done = [sum(col) for col in zip(*columns, strict=True)]
            drawing.line(xs, _per_second(done, series), f"{stage} items")
    drawing.axes.set_ylabel("per second")
    drawing.axes.set_xlabel(unit)
    return drawing.chart("Throughput: requests and items done per stage")


def _prefixed(counts: Mapping[str, list[float]], prefix: str) -> list[list[float]]:
    return [values for name, values in sorted(counts.items()) if name.startswith(prefix)]


def _responses(series: Mapping[str, Any], xs: list[float], unit: str) -> Chart:
    drawing = _Drawing("responses")
    for name, values in sorted(series["counts"].items()):
        if name.startswith("responses/"):
            drawing.line(xs, _per_second(values, series), name.removeprefix("responses/"))
    drawing.axes.set_ylabel("responses per second")
    drawing.axes.set_xlabel(unit)
    return drawing.chart("Responses by status class")


def _host_rate(series: Mapping[str, Any], xs: list[float], unit: str, rate: Any) -> Chart:
    drawing = _Drawing("host_rate")
    for name, values in sorted(series["gauges"].items()):
        if name.startswith("host_rate/"):
            drawing.line(xs, values, name.removeprefix("host_rate/"))
    configured = float(rate) if isinstance(rate, int | float) and rate > 0 else None
    note = ""
    if configured is not None:
        drawing.axes.axhline(
            configured, color="#c62828", linestyle="--", linewidth=1, label=f"--rate {configured:g}"
        )
        drawing.axes.legend(fontsize=7, loc="upper left", frameon=False, ncols=4)
    else:
        note = "--rate 0: no limit, so the limiter reports no rate"
    drawing.axes.set_ylabel("requests per second")
    drawing.axes.set_xlabel(unit)
    return drawing.chart("Host rate (the limiter's current rate) against --rate", note)


def _challenges(series: Mapping[str, Any], xs: list[float], unit: str) -> Chart:
    counts, gauges = series["counts"], series["gauges"]
    interval = float(series["interval_seconds"])
    zeros = [0] * len(xs)
    drawing = _Drawing("challenges")
    drawing.line(xs, counts.get("retries", zeros), "retries")
    drawing.line(xs, counts.get("challenges", zeros), "challenges")
    blocked = [None if b is None else round(b * interval, 3) for b in gauges.get("blocked", [])]
    if blocked:
        drawing.line(xs, blocked, "seconds paused by a challenge")
    drawing.axes.set_ylabel(f"per {interval:g} s interval")
    drawing.axes.set_xlabel(unit)
    return drawing.chart("Retries, challenges and pauses")


def _rss(series: Mapping[str, Any], xs: list[float], unit: str) -> Chart:
    drawing = _Drawing("rss")
    rss = series["gauges"].get("rss_bytes") or []
    drawing.line(xs, [None if v is None else round(v / 1048576, 2) for v in rss], "RSS")
    drawing.axes.set_ylabel("MiB")
    drawing.axes.set_xlabel(unit)
    return drawing.chart("Memory (resident set size)")


def latency_chart(operations: Mapping[str, Mapping[str, Any]]) -> Chart:
    """One histogram per endpoint kind (request operations), on doubling buckets."""
    kinds = {
        name: op["histogram"]
        for name, op in sorted(operations.items())
        if "/" not in name and name != "write_batch" and op.get("histogram")
    }
    if not kinds:
        return _empty("latency", "Latency per endpoint kind", "no request timings recorded")
    rows = math.ceil(len(kinds) / 3)
    drawing = _Drawing("latency", (8.0, 1.9 * rows))
    drawing.figure.delaxes(drawing.axes)
    axes = drawing.figure.subplots(rows, 3, squeeze=False).flatten()
    for ax, (name, histogram) in zip(axes, kinds.items(), strict=False):
        labels, counts = _trimmed(histogram)
        drawing.bars(ax.bar(range(len(counts)), counts, color="#1565c0"))
        ax.set_title(f"{name} ({sum(counts)})", fontsize=8)
        ax.set_xticks(range(len(labels)), labels, fontsize=6, rotation=60)
        ax.tick_params(axis="y", labelsize=6)
    for ax in axes[len(kinds) :]:
        ax.set_visible(False)
    return drawing.chart("Latency per endpoint kind (requests per duration bucket, ms)")


def _trimmed(histogram: Mapping[str, Any]) -> tuple[list[str], list[int]]:
    """The buckets from the first to the last non-empty one, labelled by upper bound in ms."""
    counts = [int(c) for c in histogram["counts"]]
    used = [i for i, c in enumerate(counts) if c]
    if not used:
        return [], []
    first, last = used[0], used[-1]
    labels = [f"≤{b * 1000:g}" if b is not None else "more" for b in histogram["le"]]
    return labels[first : last + 1], counts[first : last + 1]


def coverage_charts(coverage: Mapping[str, Any]) -> list[Chart]:
    """Vehicles per year and per make; fitment status (ok/no_data/failed/gone) per make."""
    return [_per_year(coverage), _per_make(coverage), _status_per_make(coverage)]


def _per_year(coverage: Mapping[str, Any]) -> Chart:
    per_year = coverage.get("vehicles_per_year") or {}
    if not per_year:
        return _empty("years", "Vehicles per year", "no vehicles stored")
    drawing = _Drawing("years", (8.0, 2.4))
    years = list(per_year)
    drawing.bars(drawing.axes.bar([str(y) for y in years], list(per_year.values())))
    drawing.axes.tick_params(axis="x", labelsize=7, rotation=60)
    drawing.axes.set_ylabel("vehicles")
    return drawing.chart("Vehicles per year")


def _per_make(coverage: Mapping[str, Any]) -> Chart:
    per_make = coverage.get("vehicles_per_make") or {}
    if not per_make:
        return _empty("makes", "Vehicles per make", "no vehicles stored")
    drawing = _Drawing("makes", (8.0, 0.6 + 0.22 * len(per_make)))
    names = list(per_make)[::-1]  # the first make on top
    drawing.bars(drawing.axes.barh(names, [per_make[n] for n in names], color="#1565c0"))
    drawing.axes.tick_params(axis="y", labelsize=7)
    drawing.axes.set_xlabel("vehicles")
    return drawing.chart("Vehicles per make")


def _status_per_make(coverage: Mapping[str, Any]) -> Chart:
    per_make: Mapping[str, Mapping[str, int]] = coverage.get("fitments_per_make") or {}
    if not per_make:
        return _empty("fitment_status", "Fitment status per make", "no fitments stored")
    drawing = _Drawing("fitment_status", (8.0, 0.9 + 0.22 * len(per_make)))
    names = list(per_make)[::-1]
    left = [0] * len(names)
    for status, colour in _STATUS_COLOURS.items():
        widths = [int(per_make[n].get(status, 0)) for n in names]
        drawing.bars(drawing.axes.barh(names, widths, left=left, color=colour, label=status))
        left = [a + b for a, b in zip(left, widths, strict=True)]
    drawing.axes.legend(fontsize=7, loc="lower right", frameon=False, ncols=4)
    drawing.axes.tick_params(axis="y", labelsize=7)
    drawing.axes.set_xlabel("fitment pages")
    return drawing.chart("Fitment status per make (ok / no_data / failed / gone)")
