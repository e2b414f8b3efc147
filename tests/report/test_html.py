"""`cwo report --html`: one offline page for finished, failed, interrupted, short and long runs."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from custom_wheel_offset.cli import cli
from custom_wheel_offset.metrics.html import render_html
from custom_wheel_offset.metrics.tracker import MetricTracker

from .conftest import Crawl

MIB = 1024 * 1024
# The only URLs an inline SVG carries are its XML namespaces: names, never fetched.
NAMESPACES = {"http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"}


def _offline(page: str) -> None:
    assert not re.search(r"<script|<link|<img|<iframe|@import|src=", page, re.IGNORECASE)
    urls = set(re.findall(r"https?://[^\s\"'<>)]+", page))
    assert urls <= NAMESPACES, urls - NAMESPACES


def _drawn(page: str) -> dict[str, int]:
    return {m[0]: int(m[1]) for m in re.findall(r'id="chart-(\w+)" data-drawn="(\d+)"', page)}


def simulated_report(
    seconds: float, outcome: str, step: float = 1.0, failed: dict[str, int] | None = None
) -> dict[str, Any]:
    """A run of ``seconds`` through a real tracker on a fake clock (one sample per ``step``)."""
    now = [0.0]
    tracker = MetricTracker(clock=lambda: now[0], rss_source=lambda: 80 * MIB)
    tracker.add_gauges(lambda: {"host_rate/h": 2.0, "in_flight": 3.0, "blocked": 0.0})
    for code, n in (failed or {}).items():
        tracker.counters.incr(f"items/failed/{code}", n)
    with tracker.track("fitment"):
        pass
    while now[0] <= seconds:
        tracker.counters.incr("requests/fitment", 2)
        tracker.counters.incr("responses/200", 2)
        tracker.counters.incr("items/done/fitment", 2)
        tracker.sample()
        now[0] += step
    run = {"id": 9, "outcome": outcome, "exit_code": 0, "duration_seconds": seconds}
    return tracker.report(run=run, settings_public={"rate": 2.0})


@pytest.mark.parametrize(
    ("seconds", "step", "outcome", "unit"),
    [
        (3, 1.0, "complete", ">s<"),
        (5400, 10.0, "interrupted", ">min<"),
        (4 * 86400, 600.0, "failed_items", ">days<"),
    ],
)
def test_runs_short_and_long_in_every_outcome(
    seconds: float, step: float, outcome: str, unit: str
) -> None:
    report = simulated_report(seconds, outcome, step, failed={"http_404": 3})
    page = render_html(report)
    _offline(page)
    points = report["series"]["points"]
    assert points <= report["series"]["max_points"]
    drawn = _drawn(page)
    # throughput: requests and the fitments stage, at each interval that covered some time
    covered = sum(1 for c in report["series"]["covered_seconds"] if c)
    assert covered in (points - 1, points)
    assert drawn["throughput"] == 2 * covered
    assert drawn["host_rate"] == drawn["rss"] == points
    assert drawn["latency"] == 1
    assert unit in page
    assert f"<strong>{outcome}</strong>" in page
    assert "failed: http_404" in page
    assert "The audit was not run" in page


def test_a_report_without_series_still_renders() -> None:
    report = {"run": {"id": 1, "outcome": "complete"}, "operations": {}, "counters": {}}
    page = render_html(report, coverage={}, audit=None)
    _offline(page)
    assert set(_drawn(page).values()) == {0}
    assert "no time series in this report" in page


def test_cli_writes_the_page_of_a_real_crawl(small_page: Path) -> None:
    page = small_page.read_text(encoding="utf-8")
    _offline(page)
    drawn = _drawn(page)
    assert all(drawn[name] > 0 for name in ("throughput", "responses", "rss", "latency"))
    assert drawn["makes"] == len(re.findall(r'id="makes-bar-\d+"', page)) > 10
    assert 'id="audit-findings"' in page and "duplicate_identity" in page


def test_html_needs_matplotlib_or_says_how_to_get_it(
    small_crawl: Crawl, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda n, *a: None if n == "matplotlib" else real(n, *a)
    )
    result = CliRunner().invoke(
        cli, ["report", "--db", small_crawl.db_url, "--html", str(tmp_path / "x.html")]
    )
    assert result.exit_code == 2
    assert "custom-wheel-offset[report]" in result.stderr


def test_a_run_ended_by_an_error_keeps_its_metrics_and_gets_a_page(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from custom_wheel_offset.crawl import workflow_v3
    from custom_wheel_offset.errors import DatabaseError
    from custom_wheel_offset.settings import Settings
    from custom_wheel_offset.storage.writer import BatchWriter

    class FailingWriter(BatchWriter):
        """A writer whose database fails at the third transaction (as test_item_failures)."""

        def _commit(self, batch: Any) -> None:
            if self.batches >= 2:
                raise DatabaseError("database write failed: disk I/O error")
            super()._commit(batch)

    monkeypatch.setattr("custom_wheel_offset.storage.writer.BatchWriter", FailingWriter)
    url = f"sqlite:///{tmp_path / 'failed.db'}"
    settings = Settings(
        db=url, sandbox=True, batch_size=5, flush_interval=0.01, quiet=True, progress="off"
    )
    with pytest.raises(DatabaseError):
        workflow_v3.run(settings)
    target = tmp_path / "failed.html"
    result = CliRunner().invoke(
        cli, ["report", "--db", url, "--html", str(target), "--out", str(tmp_path / "r.json")]
    )
    assert result.exit_code == 0, result.output
    assert "run 1: failed (exit code 1)" in result.stdout
    page = target.read_text(encoding="utf-8")
    assert "<strong>failed</strong>" in page
    assert _drawn(page)["latency"] > 0
