"""Per-interval time series of a run, bounded in size for any run length.

:class:`IntervalSeries` sums *counts* (requests, responses by class, retries,
challenges, items done, writer rows) and averages *gauges* (host rate,
in-flight requests, RSS, the share of time the store was paused) into
intervals of ``interval`` seconds. When ``max_points`` intervals are full it
merges each pair of neighbours and doubles the interval: a run of a few
seconds keeps 1-second resolution, a week-long run keeps at most
``max_points`` points, and merging never changes a count's total nor a
gauge's time-weighted mean (a gauge keeps its sum and number of samples).

:func:`series_channel` maps a counter name to its channel (pure), so the
series holds a few dozen channels however many counters a run has.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = [
    "DEFAULT_INTERVAL",
    "DEFAULT_MAX_POINTS",
    "IntervalSeries",
    "series_channel",
    "status_class",
]

# One sample a second fills one interval: a run of a few seconds still draws a
# line. 360 points keep 1 s for 6 minutes, 16 s for an hour, 34 minutes for a week.
DEFAULT_INTERVAL = 1.0
DEFAULT_MAX_POINTS = 360


def status_class(status: str) -> str:
    """``200`` -> ``2xx``; 429 stays apart (it cuts the rate); anything odd -> ``other``."""
    if status == "429":
        return "429"
    if len(status) == 3 and status.isdigit() and status[0] in "12345":
        return f"{status[0]}xx"
    return "other"


def series_channel(counter: str) -> str | None:
    """The series channel a counter adds to, or None when the series does not follow it."""
    head, _, rest = counter.partition("/")
    if head == "requests" and rest:
        return f"requests/{rest.split('/', 1)[0]}"
    if head == "responses" and rest:
        return f"responses/{status_class(rest)}"
    if head == "retries" and rest and not rest.startswith("reason"):
        return "retries"
    if head == "challenges":
        return "challenges"
    if head == "items" and rest.startswith("done/"):
        return f"items_done/{rest[5:].split('/', 1)[0]}"
    if counter == "writer/rows":
        return "writer_rows"
    return None


class _Bucket:
    __slots__ = ("counts", "covered", "gauge_n", "gauge_sum")

    def __init__(self) -> None:
        self.covered = 0.0  # seconds of the run whose counts this interval holds
        self.counts: dict[str, float] = {}
        self.gauge_sum: dict[str, float] = {}
        self.gauge_n: dict[str, int] = {}

    def merge(self, other: _Bucket) -> None:
        self.covered += other.covered
        for name, value in other.counts.items():
            self.counts[name] = self.counts.get(name, 0) + value
        for name, value in other.gauge_sum.items():
            self.gauge_sum[name] = self.gauge_sum.get(name, 0.0) + value
            self.gauge_n[name] = self.gauge_n.get(name, 0) + other.gauge_n[name]


class IntervalSeries:
    """Counts and gauges by interval since the first sample; not thread-safe (one sampler)."""

    def __init__(
        self, interval: float = DEFAULT_INTERVAL, max_points: int = DEFAULT_MAX_POINTS
    ) -> None:
        if interval <= 0:
            raise ValueError("interval must be positive")
        if max_points < 2 or max_points % 2:
            raise ValueError("max_points must be an even number of at least 2")
        self.interval = float(interval)
        self.max_points = max_points
        self._t0: float | None = None
        self._buckets: list[_Bucket] = []

    def add(
        self,
        t: float,
        counts: Mapping[str, float] | None = None,
        gauges: Mapping[str, float | None] | None = None,
        covered: float = 0.0,
    ) -> None:
        """Add ``counts`` (summed) and ``gauges`` (averaged; None = no reading) at time ``t``.

        ``covered``: the seconds since the previous sample, over which ``counts``
        happened (a rate is counts over covered seconds: the last sample of a
        run comes early, and an interval may hold two samples).
        """
        if self._t0 is None:
            self._t0 = t
        index = int(max(t - self._t0, 0.0) // self.interval)
        while index >= self.max_points:
            self._halve()
            index = int(max(t - self._t0, 0.0) // self.interval)
        while len(self._buckets) <= index:
            self._buckets.append(_Bucket())
        bucket = self._buckets[index]
        bucket.covered += covered
        for name, value in (counts or {}).items():
            if value:
                bucket.counts[name] = bucket.counts.get(name, 0) + value
        for name, reading in (gauges or {}).items():
            if reading is not None:
                bucket.gauge_sum[name] = bucket.gauge_sum.get(name, 0.0) + float(reading)
                bucket.gauge_n[name] = bucket.gauge_n.get(name, 0) + 1

    def _halve(self) -> None:
        # Each pair of neighbours becomes one interval twice as long.
        merged: list[_Bucket] = []
        for i in range(0, len(self._buckets), 2):
            bucket = self._buckets[i]
            if i + 1 < len(self._buckets):
                bucket.merge(self._buckets[i + 1])
            merged.append(bucket)
        self._buckets = merged
        self.interval *= 2

    def __len__(self) -> int:
        return len(self._buckets)

    def totals(self) -> dict[str, float]:
        """Every count summed over the whole series."""
        out: dict[str, float] = {}
        for bucket in self._buckets:
            for name, value in bucket.counts.items():
                out[name] = out.get(name, 0) + value
        return dict(sorted(out.items()))

    def to_dict(self) -> dict[str, Any]:
        """Columns: ``t`` (interval start, seconds since the first sample), counts, gauge means."""
        count_names = sorted({n for b in self._buckets for n in b.counts})
        gauge_names = sorted({n for b in self._buckets for n in b.gauge_sum})
        return {
            "interval_seconds": self.interval,
            "points": len(self._buckets),
            "max_points": self.max_points,
            "t": [round(i * self.interval, 3) for i in range(len(self._buckets))],
            "covered_seconds": [round(b.covered, 3) for b in self._buckets],
            "counts": {
                name: [_number(b.counts.get(name, 0)) for b in self._buckets]
                for name in count_names
            },
            "gauges": {
                name: [
                    round(b.gauge_sum[name] / b.gauge_n[name], 3) if b.gauge_n.get(name) else None
                    for b in self._buckets
                ]
                for name in gauge_names
            },
        }


def _number(value: float) -> float | int:
    return int(value) if float(value).is_integer() else round(value, 3)
