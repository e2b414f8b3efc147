"""The HTML report of a real sandbox crawl, opened in headless Chromium through Playwright.

Debian's ``chromium`` package (``/usr/bin/chromium``; `.ci/run` installs it
when missing) is driven by the ``playwright`` package without its browser
download. Checks: no console error and no request leaving the file, and each
chart's SVG holds as many points or bars as the run's data says. A screenshot
is saved as a test artifact.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from .conftest import Crawl

CHROMIUM = Path("/usr/bin/chromium")
STAGES = {"years", "makes", "models", "model_info", "drives", "vehicle", "options", "fitment"}


def _expected(report: dict[str, Any], db_file: str) -> dict[str, int]:
    """Points and bars each chart should draw, from the report and the database themselves."""
    series = report["series"]
    counts, gauges = series["counts"], series["gauges"]
    rated = sum(1 for c in series["covered_seconds"] if c)
    stages = {  # item kinds by stage, as the page groups them
        "tree": ("years", "makes", "models", "model_info", "drives"),
        "vehicles": ("vehicle",),
        "preferences": ("options",),
        "fitments": ("fitment",),
    }
    stage_lines = sum(
        1 for kinds in stages.values() if any(f"items_done/{k}" in counts for k in kinds)
    )
    latency = 0
    for name, op in report["operations"].items():
        if "/" in name or name == "write_batch":
            continue
        used = [i for i, n in enumerate(op["histogram"]["counts"]) if n]
        latency += used[-1] - used[0] + 1
    with sqlite3.connect(db_file) as conn:
        years = conn.execute("select count(distinct year) from vehicles").fetchone()[0]
        makes = conn.execute("select count(distinct make) from vehicles").fetchone()[0]
    return {
        "throughput": rated * (1 + stage_lines),
        "responses": rated * sum(1 for n in counts if n.startswith("responses/")),
        "host_rate": sum(
            sum(1 for v in values if v is not None)
            for n, values in gauges.items()
            if n.startswith("host_rate/")
        ),
        "challenges": 2 * series["points"] + sum(1 for v in gauges["blocked"] if v is not None),
        "rss": sum(1 for v in gauges["rss_bytes"] if v is not None),
        "latency": latency,
        "years": years,
        "makes": makes,
        "fitment_status": 4 * makes,
    }


def test_the_report_in_a_real_browser(small_crawl: Crawl, small_page: Path, tmp_path: Path) -> None:
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is absent: apt-get install chromium (.ci/run does)")
    from playwright.sync_api import sync_playwright

    target = small_page
    report = small_crawl.result.report
    expected = _expected(report, small_crawl.db_url.removeprefix("sqlite:///"))
    assert expected["host_rate"] > 0 and expected["throughput"] > 0

    with sync_playwright() as driver:
        browser = driver.chromium.launch(executable_path=str(CHROMIUM))
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 900})
            errors: list[str] = []
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            requests: list[str] = []
            page.on("request", lambda r: requests.append(r.url))
            page.goto(target.as_uri(), wait_until="load")
            drawn = {name: _count(page, name) for name in expected}
            shown = page.evaluate("() => document.querySelectorAll('figure.chart svg').length")
            page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
        finally:
            browser.close()
    assert errors == []
    assert requests == [target.as_uri()]
    assert drawn == expected
    assert shown == len(expected)
    assert (tmp_path / "report.png").stat().st_size > 50_000
    print(json.dumps({"screenshot": str(tmp_path / "report.png"), "drawn": drawn}))


def _count(page: Any, name: str) -> int:
    """Markers of the chart's lines plus its bars, as the browser's DOM holds them."""
    script = (
        "(n) => document.querySelectorAll(`#chart-${n} g[id^='${n}-line-'] use`).length"
        " + document.querySelectorAll(`#chart-${n} g[id^='${n}-bar-']`).length"
    )
    return int(page.evaluate(script, name))
