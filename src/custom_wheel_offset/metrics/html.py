"""`cwo report --html FILE`: one self-contained HTML page of a run and the data.

:func:`render_html` is given the run's metrics JSON, the catalogue's coverage
and the audit's result, and returns the page: a summary, charts over time
(from the report's ``series``), a latency histogram per endpoint kind, the
data coverage and the audit's findings. Charts are inline SVG drawn by
matplotlib (:mod:`.charts`); there is no script, stylesheet, font or image
from anywhere else, so the file reads the same offline. From Python::

    render_html(load_run_report(db, None), coverage=coverage(db), audit=audit_database(db))

(``storage.runs``, ``storage.coverage``, ``audit``); `cwo report --html` does that.
"""

from __future__ import annotations

from collections.abc import Mapping
from html import escape
from typing import TYPE_CHECKING, Any

from custom_wheel_offset.metrics.report import summary_lines

if TYPE_CHECKING:
    from custom_wheel_offset.audit import AuditResult
    from custom_wheel_offset.metrics.charts import Chart

__all__ = ["render_html"]

#: Findings listed in the page; the rest are counted (``cwo audit --json`` lists all).
MAX_FINDINGS = 100

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0 auto;
max-width:60rem;padding:1rem 1.5rem;color:#212121}
h1{font-size:1.5rem;margin:.5rem 0}h2{font-size:1.15rem;margin:1.6rem 0 .4rem;
border-bottom:1px solid #ddd}table{border-collapse:collapse;margin:.4rem 0}
td,th{padding:.15rem .6rem;border-bottom:1px solid #eee;text-align:left;vertical-align:top}
th{font-weight:600}td.n{text-align:right;font-variant-numeric:tabular-nums}
figure{margin:.8rem 0}figcaption{font-weight:600;margin-bottom:.2rem}
figure svg{width:100%;height:auto}.note{color:#616161;font-style:italic}
.outcome-complete{color:#2e7d32}.outcome-failed_items,.outcome-blocked{color:#c62828}
.outcome-interrupted,.outcome-partial{color:#ef6c00}pre{white-space:pre-wrap}
"""


def render_html(
    report: Mapping[str, Any],
    *,
    coverage: Mapping[str, Any] | None = None,
    audit: AuditResult | None = None,
) -> str:
    """The whole page as text (UTF-8 when written)."""
    from custom_wheel_offset.metrics.charts import coverage_charts, latency_chart, time_charts

    run = report.get("run") or {}
    title = f"cwo run {run.get('id', '?')}: {run.get('outcome') or 'unknown'}"
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{escape(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
        _summary(report),
        "<h2>Over time</h2>",
        *(_figure(chart) for chart in time_charts(report)),
        "<h2>Latency</h2>",
        _figure(latency_chart(report.get("operations") or {})),
        "<h2>Data coverage</h2>",
        *(_figure(chart) for chart in coverage_charts(coverage or {})),
        "<h2>Data audit</h2>",
        _audit_section(audit),
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"


def _figure(chart: Chart) -> str:
    body = chart.svg if chart.svg is not None else ""
    note = f'<p class="note">{escape(chart.note)}</p>' if chart.note else ""
    return (
        f'<figure class="chart" id="chart-{chart.name}" data-drawn="{chart.drawn}">'
        f"<figcaption>{escape(chart.title)}</figcaption>{note}{body}</figure>"
    )


def _rows(pairs: list[tuple[str, Any]]) -> str:
    cells = "".join(
        f'<tr><th>{escape(str(k))}</th><td class="n">{escape(str(v))}</td></tr>' for k, v in pairs
    )
    return f"<table>{cells}</table>"


def _summary(report: Mapping[str, Any]) -> str:
    run = report.get("run") or {}
    records = report.get("records") or {}
    requests = report.get("requests") or {}
    items = (report.get("counters") or {}).get("items") or {}
    outcome = str(run.get("outcome") or "unknown")
    pairs: list[tuple[str, Any]] = [
        ("outcome", f"{outcome} (exit code {run.get('exit_code')})"),
        ("started / ended (UTC)", f"{run.get('started_at')} / {run.get('ended_at')}"),
        ("duration", _duration(run.get("duration_seconds"))),
        ("host, pid", f"{run.get('host')}, {run.get('pid')}"),
        ("requests", requests.get("total", 0)),
        ("fitment pages done", _leaf(items, "done", "fitment")),
        ("records added", records.get("added", 0)),
        # "updated": the name in reports of cwo before the record history.
        ("records changed", records.get("changed", records.get("updated", 0))),
        ("records unchanged", records.get("unchanged", 0)),
        ("records returned", records.get("returned", 0)),
        ("records gone", records.get("gone", _total(items.get("gone")))),
        ("records skipped (--skip-existing)", records.get("skipped", 0)),
    ]
    failed = items.get("failed")
    if not isinstance(failed, Mapping):
        failed = {}
    failures = [(f"failed: {code}", n) for code, n in sorted(failed.items()) if code != "_total"]
    lines = "\n".join(escape(line) for line in summary_lines(report))
    return (
        f'<h2>Summary</h2><p class="outcome-{escape(outcome)}"><strong>{escape(outcome)}'
        f"</strong></p>{_rows(pairs)}"
        + (_rows(failures) if failures else "<p>No item failed in this run.</p>")
        + f"<pre>{lines}</pre>"
    )


def _leaf(tree: Mapping[str, Any], *path: str) -> int:
    node: Any = tree
    for part in path:
        node = node.get(part) if isinstance(node, Mapping) else None
    if isinstance(node, Mapping):
        node = node.get("_total")
    return int(node or 0)


def _total(node: Any) -> int:
    if isinstance(node, Mapping):
        return sum(_total(v) for k, v in node.items() if k != "_total")
    return int(node or 0)


def _duration(seconds: Any) -> str:
    if not isinstance(seconds, int | float):
        return "unknown"
    days, rest = divmod(int(seconds), 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h {minutes} min"
    if hours:
        return f"{hours} h {minutes} min {secs} s"
    return f"{minutes} min {secs} s" if minutes else f"{seconds:.1f} s"


def _audit_section(audit: AuditResult | None) -> str:
    if audit is None:
        return '<p class="note">The audit was not run for this page.</p>'
    counts = audit.counts()
    head = (
        f"<p>{audit.vehicles} vehicles and {audit.fitments} fitments checked: "
        f"<strong>{counts['error']} error(s)</strong>, {counts['warning']} warning(s) "
        "(rules and bounds: docs/audit.md).</p>"
    )
    by_rule = _rows(list(audit.by_rule().items()))
    shown = audit.findings[:MAX_FINDINGS]
    rows = "".join(
        f"<tr><td>{escape(f.severity)}</td><td>{escape(f.rule)}</td>"
        f"<td>{escape(_identity(f.record))}</td><td>{escape(f.message)}</td></tr>"
        for f in shown
    )
    table = (
        '<table id="audit-findings"><tr><th>severity</th><th>rule</th><th>record</th>'
        f"<th>finding</th></tr>{rows}</table>"
        if shown
        else "<p>No finding.</p>"
    )
    more = len(audit.findings) - len(shown)
    tail = f'<p class="note">... and {more} more: cwo audit --json</p>' if more > 0 else ""
    return head + by_rule + table + tail


def _identity(record: Mapping[str, Any]) -> str:
    import json

    return json.dumps([v for k, v in record.items() if k != "table"], ensure_ascii=False)
