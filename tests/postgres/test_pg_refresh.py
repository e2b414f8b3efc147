"""Issue 14 item 4 on PostgreSQL: two `cwo scrape --refresh-older-than` processes started
together share one refresh budget and fetch no page twice."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from custom_wheel_offset.sandbox import SandboxConfig, start_sandbox

from .helpers import cwo, duplicates, start_scrape

pytestmark = [pytest.mark.postgres]

BUDGET = 150


def test_two_processes_share_one_refresh_budget(postgres_url: str, tmp_path: Path) -> None:
    with start_sandbox(SandboxConfig(size="tiny")) as sb:
        first = start_scrape(sb, postgres_url, "first", tmp_path)
        assert first.wait() == 0, first.output()[-3000:]
        sb.reset_counters()
        refresh = ("--refresh-older-than", "0s", "--refresh-budget", str(BUDGET))
        scrapes = [
            start_scrape(sb, postgres_url, name, tmp_path, *refresh, workers=4)
            for name in ("r1", "r2")
        ]
        for scrape in scrapes:
            code = scrape.wait()
            assert code == 0, f"{scrape.name} exited {code}:\n{scrape.output()[-3000:]}"
        counters = sb.counters()
    requests = counters["requests"]
    assert requests["vehicle"] + requests["fitment"] == BUDGET
    assert duplicates(counters, ("vehicle", "fitment")) == {}
    # One refresh crawl, opened by whichever process started first; the other resumed it.
    status = cwo("status", "--json", "--db", postgres_url)
    assert status.returncode == 0, status.stderr
    crawl = json.loads(status.stdout)["freshness"]["last_complete_crawl"]
    assert (crawl["id"], crawl["mode"]) == (2, "refresh")
