"""The run's metrics JSON (``cwo report``): build it, check it, summarise it, write it.

:func:`build_report` turns a run's row, its masked settings and a
:meth:`MetricTracker.snapshot` into the documented document (format in
docs/metrics.md, ``schema_version`` 1). The request, retry and record totals
are derived from the hierarchical counters:

- ``requests/<kind>`` and ``responses/<status>`` -> ``requests``
- ``retries/<kind>`` and ``retry_reason/<reason>`` -> ``retries``
- ``records/<outcome>/<kind>`` -> ``records``, outcomes added, changed,
  unchanged, returned, gone (docs/history.md), skipped and failed
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from custom_wheel_offset.redact import sanitize

__all__ = [
    "REPORT_KEYS",
    "RUN_KEYS",
    "SCHEMA_VERSION",
    "build_report",
    "gone_line",
    "summary_lines",
    "validate_report",
]

SCHEMA_VERSION = 1

# Sections copied from the run's snapshot as they are (the rest are built here).
_SECTIONS: tuple[str, ...] = (
    "writer",
    "cache",
    "pool",
    "network",
    "progress",
    "memory",
    "series",
)
REPORT_KEYS: tuple[str, ...] = (
    "schema_version",
    "run",
    "config",
    "operations",
    "threads",
    "counters",
    "requests",
    "retries",
    "records",
    *_SECTIONS,
)
RUN_KEYS: tuple[str, ...] = (
    "id",
    "started_at",
    "ended_at",
    "outcome",
    "exit_code",
    "host",
    "pid",
    "duration_seconds",
)
# A fetched record is added, changed or unchanged (once), and also returned when it
# had been gone; gone counts records a listing or a 404 marked (docs/history.md).
RECORD_OUTCOMES: tuple[str, ...] = (
    "added",
    "changed",
    "unchanged",
    "returned",
    "gone",
    "skipped",
    "failed",
)


# -- building -------------------------------------------------------------------------


def _epoch(value: Any) -> float | None:
    """Seconds since the epoch from a float, a datetime or an ISO 8601 string."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, str):
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return parsed.timestamp()
    return None


def _iso(value: Any) -> str | None:
    """ISO 8601 UTC (``...Z``) for an epoch number or datetime; other strings unchanged."""
    if value is None:
        return None
    if isinstance(value, str):
        return value
    seconds = _epoch(value)
    if seconds is None:
        return str(value)
    stamp = datetime.fromtimestamp(seconds, tz=UTC).isoformat(timespec="milliseconds")
    return stamp.replace("+00:00", "Z")


def _run_section(run: Mapping[str, Any]) -> dict[str, Any]:
    duration = run.get("duration_seconds")
    if duration is None:
        start, end = _epoch(run.get("started_at")), _epoch(run.get("ended_at"))
        if start is not None and end is not None:
            duration = max(end - start, 0.0)
    return {
        "id": run.get("id"),
        "started_at": _iso(run.get("started_at")),
        "ended_at": _iso(run.get("ended_at")),
        "outcome": run.get("outcome"),
        "exit_code": run.get("exit_code"),
        "host": run.get("host"),
        "pid": run.get("pid"),
        "duration_seconds": None if duration is None else round(float(duration), 3),
    }


def _by_first_segment(flat: Mapping[str, int], prefix: str) -> dict[str, int]:
    """``{segment: total}`` for counters named ``<prefix>/<segment>[/...]``."""
    head = prefix + "/"
    out: dict[str, int] = {}
    for name, value in flat.items():
        if name.startswith(head):
            segment = name[len(head) :].split("/", 1)[0]
            out[segment] = out.get(segment, 0) + int(value)
    return dict(sorted(out.items()))


def _requests_section(flat: Mapping[str, int]) -> dict[str, Any]:
    by_kind = _by_first_segment(flat, "requests")
    by_status = _by_first_segment(flat, "responses")
    total = sum(by_kind.values()) if by_kind else sum(by_status.values())
    return {"by_kind": by_kind, "by_status": by_status, "total": total}


def _retries_section(flat: Mapping[str, int]) -> dict[str, Any]:
    by_kind = _by_first_segment(flat, "retries")
    by_reason = _by_first_segment(flat, "retry_reason")
    return {
        "by_kind": by_kind,
        "by_reason": dict(sorted(by_reason.items())),
        "total": sum(by_kind.values()) if by_kind else sum(by_reason.values()),
    }


def _records_section(flat: Mapping[str, int]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    by_kind: dict[str, dict[str, int]] = {}
    for outcome in RECORD_OUTCOMES:
        prefix = f"records/{outcome}"
        out[outcome] = sum(
            int(v) for k, v in flat.items() if k == prefix or k.startswith(prefix + "/")
        )
        by_kind[outcome] = _by_first_segment(flat, prefix)
    out["by_kind"] = by_kind
    return out


def build_report(
    *, run: Mapping[str, Any], settings_public: Mapping[str, Any], snapshot: Mapping[str, Any]
) -> dict[str, Any]:
    """The documented metrics JSON of one run (see docs/metrics.md); missing sections are ``{}``.

    ``run`` holds the run's row (``id``, ``started_at``, ``ended_at`` as epoch
    seconds, datetimes or ISO strings, ``outcome``, ``exit_code``, ``host``,
    ``pid``, optionally ``duration_seconds``); ``settings_public`` the settings
    with secrets already masked; ``snapshot`` a monitor snapshot.
    """
    flat: Mapping[str, int] = snapshot.get("counters_flat") or {}
    report: dict[str, Any] = {
        "schema_version": SCHEMA_VERSION,
        "run": _run_section(run),
        "config": dict(settings_public),
        "operations": dict(snapshot.get("operations") or {}),
        "threads": dict(snapshot.get("threads") or {}),
        "counters": dict(snapshot.get("counters") or {}),
        "requests": _requests_section(flat),
        "retries": _retries_section(flat),
        "records": _records_section(flat),
    }
    for name in _SECTIONS:
        report[name] = dict(snapshot.get(name) or {})
    # Host names, reasons and settings end up in the report: none may carry a
    # URL secret or a control character from the network.
    safe: dict[str, Any] = sanitize({key: report[key] for key in REPORT_KEYS})
    return safe


def validate_report(report: Mapping[str, Any]) -> list[str]:
    """Missing keys (``run.id`` for a nested one); an empty list means the shape is right."""
    missing = [key for key in REPORT_KEYS if key not in report]
    run = report.get("run")
    if isinstance(run, Mapping):
        missing += [f"run.{key}" for key in RUN_KEYS if key not in run]
    records = report.get("records")
    if isinstance(records, Mapping):
        missing += [f"records.{key}" for key in RECORD_OUTCOMES if key not in records]
    requests = report.get("requests")
    if isinstance(requests, Mapping):
        missing += [f"requests.{k}" for k in ("by_kind", "by_status", "total") if k not in requests]
    return missing


# -- summarising ----------------------------------------------------------------------


def _duration_text(seconds: float | None) -> str:
    if seconds is None:
        return "unknown"
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m{secs:02d}s"
    if minutes:
        return f"{minutes}m{secs:02d}s"
    return f"{seconds:.1f}s"


def _mib(value: Any) -> str:
    return "unknown" if value is None else f"{value / 1048576:.1f} MiB"


def summary_lines(report: Mapping[str, Any]) -> list[str]:
    """A few lines for the terminal: outcome, duration, requests, records, failures, memory."""
    run = report.get("run") or {}
    duration = run.get("duration_seconds")
    requests = report.get("requests") or {}
    retries = report.get("retries") or {}
    records = report.get("records") or {}
    memory = report.get("memory") or {}
    lines = [
        f"run {run.get('id', '?')}: {run.get('outcome') or 'unknown'}"
        f" (exit code {run.get('exit_code')}) in {_duration_text(duration)}",
    ]
    total = int(requests.get("total") or 0)
    kinds = ", ".join(f"{k} {v}" for k, v in (requests.get("by_kind") or {}).items())
    statuses = ", ".join(f"{k}: {v}" for k, v in (requests.get("by_status") or {}).items())
    line = f"requests: {total}"
    if kinds:
        line += f" ({kinds})"
    if statuses:
        line += f"; statuses {statuses}"
    line += f"; retries {int(retries.get('total') or 0)}"
    lines.append(line)
    lines.append(
        "records: "
        + ", ".join(f"{outcome} {int(records.get(outcome) or 0)}" for outcome in RECORD_OUTCOMES)
    )
    operations = report.get("operations") or {}
    op_errors = sum(int(op.get("errors") or 0) for op in operations.values())
    lines.append(
        f"failures: {int(records.get('failed') or 0)} record(s) failed,"
        f" {op_errors} operation error(s)"
    )
    gone = gone_line(report)
    if gone:
        lines.append(gone)
    if duration:
        done = sum(int(records.get(k) or 0) for k in ("added", "changed", "unchanged"))
        lines.append(
            f"throughput: {total / duration:.2f} requests/s, {done / duration:.2f} records/s"
        )
    else:
        lines.append("throughput: unknown (no duration)")
    slope = memory.get("slope_bytes_per_min")
    trend = memory.get("trend") or "insufficient_data"
    mem_line = f"memory: peak RSS {_mib(memory.get('peak_rss_bytes'))}, trend {trend}"
    if slope is not None:
        mem_line += f" ({slope / 1048576:+.2f} MiB/min)"
    lines.append(mem_line)
    return lines


def gone_line(report: Mapping[str, Any]) -> str | None:
    """Items the run found gone (counters ``items/gone/<kind>``); None when there are none."""
    items = (report.get("counters") or {}).get("items") or {}
    by_kind = items.get("gone") if isinstance(items, Mapping) else None
    if not isinstance(by_kind, Mapping):
        return None
    counts = {k: int(n) for k, n in by_kind.items() if k != "_total" and isinstance(n, int) and n}
    if not counts:
        return None
    kinds = ", ".join(f"{kind} {n}" for kind, n in sorted(counts.items()))
    return f"gone: {sum(counts.values())} item(s) the site no longer has ({kinds}); not failures"


# -- writing --------------------------------------------------------------------------
