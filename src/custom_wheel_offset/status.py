"""`cwo status`: per stage, items done, pending, leased, failed and gone; why; freshness;
the last runs."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from custom_wheel_offset.redact import sanitize

if TYPE_CHECKING:
    from custom_wheel_offset.storage.database import OptimizedDatabaseManager

__all__ = ["crawl_status", "freshness_lines", "status_lines"]


def crawl_status(
    db: OptimizedDatabaseManager,
    *,
    reasons: int = 20,
    item_attempts: int | None = None,
    window: float = 30 * 86400.0,
    budget: int | None = None,
) -> dict[str, Any]:
    """Stages, failures grouped by code (totals by ``COUNT``), freshness, workers and runs.

    ``failed_past_limit`` counts failed items that failed in ``item_attempts``
    runs: a new run no longer re-opens them (``--retry-failed`` does).
    ``freshness`` (storage.freshness): record ages, those older than ``window``
    seconds, the last complete crawl and the refresh cycle at ``budget``.
    """
    import time

    from custom_wheel_offset.storage.frontier import STAGE_KINDS, Frontier
    from custom_wheel_offset.storage.runs import latest_runs
    from custom_wheel_offset.storage.workers import list_workers

    db.ensure_schema()
    frontier = Frontier(db, owner="status", lease_seconds=0)
    counts = frontier.stage_counts()
    stages: dict[str, dict[str, int]] = {}
    for stage, kinds in STAGE_KINDS.items():
        totals = {"done": 0, "pending": 0, "leased": 0, "failed": 0, "gone": 0}
        for kind in kinds:
            for state, n in counts.get(kind, {}).items():
                totals[state] = totals.get(state, 0) + n
        totals["total"] = sum(totals.values())
        stages[stage] = totals
    failures = frontier.failure_summary(item_attempts=item_attempts, groups=reasons)
    status: dict[str, Any] = {
        "stages": stages,
        # Items the site no longer has, per stage and the crawl in which they went.
        "gone": [
            {"stage": stage, "crawl": crawl, "count": n}
            for stage, by_crawl in frontier.gone_counts().items()
            for crawl, n in sorted(by_crawl.items())
        ],
        "failed_total": failures.total,
        "failed_past_limit": failures.past_limit,
        "item_attempts": item_attempts,
        "failures": [
            {"code": g.code, "count": g.count, "example": g.example} for g in failures.groups
        ],
        "freshness": _freshness(db, time.time(), window, budget),
        "runs": latest_runs(db),
        "workers": list_workers(db),
    }
    # Reasons quote servers and rows may predate masking: text and --json
    # both show URLs masked and control characters escaped.
    result: dict[str, Any] = sanitize(status)
    return result


def _freshness(
    db: OptimizedDatabaseManager, now: float, window: float, budget: int | None
) -> dict[str, Any]:
    from custom_wheel_offset.storage.freshness import freshness

    with db.read() as conn:
        return freshness(conn, now=now, window=window, budget=budget)


def _span(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f}{unit}"
    return f"{seconds:.0f}s"


def freshness_lines(f: dict[str, Any]) -> list[str]:
    """The freshness block of `cwo status` (see storage.freshness)."""
    import datetime as dt

    lines = [
        f"freshness of {f['records']} records: age median {_span(f['age_median_seconds'])}, "
        f"90th percentile {_span(f['age_p90_seconds'])}, "
        f"oldest {_span(f['age_oldest_seconds'])}; "
        f"{f['past_window']} older than {_span(f['window_seconds'])}"
    ]
    crawl = f["last_complete_crawl"]
    if crawl:
        ended = dt.datetime.fromtimestamp(crawl["finished_at"], dt.UTC)
        lines.append(
            f"  last complete crawl: {crawl['id']} ({crawl['mode']}), "
            f"finished {ended.strftime('%Y-%m-%dT%H:%M:%SZ')}"
        )
    c = f["refresh_cycle"]
    if c["fetch_seconds"] is not None:
        text = (
            f"  full refresh: {c['record_pages']} pages take {_span(c['fetch_seconds'])} "
            f"at the observed {c['observed_requests_per_second']} requests/s"
        )
        if c["runs"]:
            text += (
                f"; {c['runs']} run(s) of --refresh-budget {c['budget']}, "
                f"{_span(c['seconds_per_run'])} of fetching each"
            )
        lines.append(text)
    return lines


def status_lines(status: dict[str, Any]) -> list[str]:
    import datetime as dt

    def when(ts: float | None) -> str:
        return dt.datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M:%S") if ts else "-"

    lines = [
        f"{'stage':<12} {'done':>9} {'pending':>9} {'leased':>8} {'failed':>8} "
        f"{'gone':>8} {'total':>9}"
    ]
    for stage, t in status["stages"].items():
        lines.append(
            f"{stage:<12} {t['done']:>9} {t['pending']:>9} {t['leased']:>8} "
            f"{t['failed']:>8} {t.get('gone', 0):>8} {t['total']:>9}"
        )
    if status.get("gone"):
        lines.append("")
        lines.append("gone (the site no longer has them; not failures):")
        for g in status["gone"]:
            lines.append(f"  {g['count']:>8}  {g['stage']:<12} in crawl {g['crawl']}")
    if status["failures"]:
        lines.append("")
        lines.append(f"failed items by reason ({status['failed_total']} in all):")
        width = max(len(f["code"]) for f in status["failures"])
        for f in status["failures"]:
            lines.append(f"  {f['count']:>8}  {f['code']:<{width}}  e.g. {f['example']}")
        shown = sum(f["count"] for f in status["failures"])
        if shown < status["failed_total"]:
            lines.append(f"  {status['failed_total'] - shown:>8}  (other codes)")
        if status["failed_past_limit"]:
            lines.append(
                f"  {status['failed_past_limit']} of them failed in {status['item_attempts']} "
                "run(s) and are no longer retried (--item-attempts); --retry-failed takes them"
            )
    if status.get("freshness") and status["freshness"]["records"]:
        lines.append("")
        lines.extend(freshness_lines(status["freshness"]))
    if status["workers"]:
        lines.append("")
        lines.append("workers:")
        for w in status["workers"]:
            lines.append(
                f"  {w['state']:<6} {w['host']} pid {w['pid']} since {when(w['started_at'])}, "
                f"{w['items_done']} items, {w['rate']:.1f}/s, last seen {when(w['heartbeat_at'])}"
            )
    if status["runs"]:
        lines.append("")
        lines.append("last runs:")
        for r in status["runs"]:
            lines.append(
                f"  run {r['id']:>4}  {r['outcome']:<13} started {when(r['started_at'])}  "
                f"ended {when(r['ended_at'])}  {r['host']} pid {r['pid']}"
            )
    return lines
