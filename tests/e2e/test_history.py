"""Issue 14 end to end: what changed between sandbox editions, and the rolling refresh.

One module-scoped crawl sequence of the small sandbox serves both done-when
lines: edition 1, then edition 2 in full, then edition 2 again.

- `cwo diff --plain --since <first crawl>` is byte-identical to
  `cwo sandbox changes --from 1 --to 2`; the exports equal edition 2's truth
  (gone records left out); the third crawl writes no history and
  `cwo diff --since <second crawl>` is empty.
- On that database, `--refresh-older-than 0s --refresh-budget 500` fetches
  exactly 500 vehicle or fitment pages (sandbox counters): the 500 items
  confirmed longest ago. Cycling through a whole catalogue is shown on the
  tiny sandbox (357 record pages, budget 100), where it takes four runs
  instead of ten.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from custom_wheel_offset.sandbox import SandboxConfig, start_sandbox

from .conftest import export_matches_truth, invoke, invoke_env, scrape_args, sqlite_file


@dataclass(frozen=True)
class Crawled:
    db: str
    outputs: tuple[str, ...]  # the scrape output of each crawl
    history_rows: tuple[int, ...]  # history rows after each crawl


def _count(db_url: str, sql: str) -> int:
    with sqlite3.connect(sqlite_file(db_url)) as conn:
        return int(conn.execute(sql).fetchone()[0])


def _crawl(db_url: str, size: str, edition: int, *extra: str) -> tuple[str, dict[str, int]]:
    """One `cwo scrape` of a fresh sandbox; (its output, the sandbox's requests by kind)."""
    with start_sandbox(SandboxConfig(size=size, edition=edition)) as sb:
        result = invoke(*scrape_args(sb, db_url, "--workers", "8", *extra))
        requests = dict(sb.counters()["requests"])
    assert result.exit_code == 0, result.output
    return result.output, requests


@pytest.fixture(scope="module")
def editions(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Crawled]:
    """Small edition 1, edition 2, edition 2 again, into one SQLite file (crawled once)."""
    home = tmp_path_factory.mktemp("editions")
    # As tests/conftest.py's _isolated_cwd, for the whole module: no config/cwo.toml,
    # no CWO_* variable of the developer's.
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(home)
        for key in list(os.environ):
            if key.startswith("CWO_") and not key.startswith("CWO_TEST_"):
                mp.delenv(key)
        db = f"sqlite:///{home / 'editions.db'}"
        outputs, rows = [], []
        for edition in (1, 2, 2):
            outputs.append(_crawl(db, "small", edition)[0])
            rows.append(_count(db, "SELECT count(*) FROM history"))
        yield Crawled(db, tuple(outputs), tuple(rows))


def test_diff_after_a_new_edition_equals_the_sandbox_changes_exactly(
    editions: Crawled, truth_dir, tmp_path: Path
) -> None:
    db = editions.db
    assert editions.history_rows[0] > 0  # every record of the first crawl was added
    expected, got = tmp_path / "expected.jsonl", tmp_path / "got.jsonl"
    made = invoke(
        "sandbox", "changes", "--size", "small", "--from", "1", "--to", "2", "--out", str(expected)
    )
    assert made.exit_code == 0, made.output
    result = invoke(
        "diff", "--plain", "--since", "1", "--until", "2", "--db", db, "--out", str(got)
    )
    assert result.exit_code == 0, result.output
    assert got.read_bytes() == expected.read_bytes()
    lines = [json.loads(line) for line in got.read_text(encoding="utf-8").splitlines()]
    kinds = Counter((c["change"], c["what"]) for c in lines)
    assert {"added", "changed", "gone"} <= {c for c, _ in kinds}
    # The second run's summary counts what the history holds, not "updated".
    changed = kinds["changed", "vehicle"] + kinds["changed", "fitment"]
    assert f"changed {changed}," in editions.outputs[1]
    assert "updated" not in editions.outputs[1]

    # With crawl and time: every line names crawl 2 and an ISO 8601 UTC time.
    full = invoke("diff", "--since", "1", "--db", db)
    assert full.exit_code == 0
    stamped = [json.loads(line) for line in full.stdout.splitlines()]
    assert len(stamped) == len(lines)
    assert {c["crawl"] for c in stamped} == {2}
    assert all(c["at"].endswith("Z") and "T" in c["at"] for c in stamped)

    # The third crawl of the same edition changed nothing.
    assert editions.history_rows[2] == editions.history_rows[1]
    quiet = invoke("diff", "--since", "2", "--db", db)
    assert quiet.exit_code == 0 and quiet.stdout == ""
    export_matches_truth(db, truth_dir("small", edition=2), tmp_path)


def test_status_shows_the_freshness_of_the_records(editions: Crawled) -> None:
    present = _count(
        editions.db,
        "SELECT (SELECT count(*) FROM vehicles WHERE gone_crawl IS NULL)"
        " + (SELECT count(*) FROM fitments WHERE gone_crawl IS NULL)",
    )
    env = {"CWO_REFRESH_BUDGET": "500"}
    result = invoke_env(env, "status", "--json", "--db", editions.db)
    assert result.exit_code == 0, result.output
    fresh = json.loads(result.stdout)["freshness"]
    assert fresh["records"] == present
    assert 0 <= fresh["age_median_seconds"] <= fresh["age_p90_seconds"]
    assert fresh["age_p90_seconds"] <= fresh["age_oldest_seconds"]
    assert fresh["past_window"] == 0
    assert fresh["last_complete_crawl"]["id"] == _count(
        editions.db, "SELECT max(id) FROM crawls WHERE finished_at IS NOT NULL"
    )
    cycle = fresh["refresh_cycle"]
    assert cycle["record_pages"] == present
    assert cycle["runs"] == -(-present // 500)
    assert cycle["observed_requests_per_second"] > 0
    # Every record is older than one second: all are past a 1s window.
    text = invoke_env(env, "status", "--freshness-window", "0.001s", "--db", editions.db)
    assert text.exit_code == 0, text.output
    assert f"{present} older than" in text.stdout
    assert "full refresh:" in text.stdout and "run(s) of --refresh-budget 500" in text.stdout


def _oldest_items(db_url: str, n: int) -> list[str]:
    with sqlite3.connect(sqlite_file(db_url)) as conn:
        rows = conn.execute(
            "SELECT key FROM frontier WHERE kind IN ('vehicle', 'fitment') AND status = 'done'"
            " ORDER BY updated_at, id LIMIT ?",
            (n,),
        ).fetchall()
    return [key for (key,) in rows]


def _fetched_in(db_url: str, crawl: int) -> set[str]:
    with sqlite3.connect(sqlite_file(db_url)) as conn:
        rows = conn.execute(
            "SELECT key FROM frontier WHERE kind IN ('vehicle', 'fitment') AND crawl_id = ?",
            (crawl,),
        ).fetchall()
    return {key for (key,) in rows}


def test_a_refresh_budget_of_500_fetches_exactly_the_500_oldest_pages(editions: Crawled) -> None:
    db = editions.db
    oldest = _oldest_items(db, 500)
    assert len(oldest) == 500
    output, requests = _crawl(
        db, "small", 2, "--refresh-older-than", "0s", "--refresh-budget", "500"
    )
    assert requests.get("vehicle", 0) + requests.get("fitment", 0) == 500
    crawl = _count(db, "SELECT max(id) FROM crawls")
    assert _fetched_in(db, crawl) == set(oldest)
    assert "unchanged" in output
    # A page confirmed just now is not old: nothing is fetched again.
    _, again = _crawl(db, "small", 2, "--refresh-older-than", "1h", "--refresh-budget", "500")
    assert again.get("vehicle", 0) + again.get("fitment", 0) == 0


def test_repeated_refreshes_cycle_through_every_record_before_any_twice(
    tmp_db: str,
) -> None:
    _crawl(tmp_db, "tiny", 1)
    total = _count(tmp_db, "SELECT count(*) FROM frontier WHERE kind IN ('vehicle', 'fitment')")
    budget = 100
    seen: set[str] = set()
    for _ in range(-(-total // budget)):
        _, requests = _crawl(
            tmp_db, "tiny", 1, "--refresh-older-than", "0s", "--refresh-budget", str(budget)
        )
        fetched = _fetched_in(tmp_db, _count(tmp_db, "SELECT max(id) FROM crawls"))
        assert len(fetched) == requests.get("vehicle", 0) + requests.get("fitment", 0)
        assert len(fetched) == budget
        assert len(fetched - seen) == min(budget, total - len(seen))
        if fetched & seen:  # again only once every record was fetched once
            assert len(seen | fetched) == total
        seen |= fetched
    assert len(seen) == total
    # The next cycle starts again with the records refreshed first.
    first = _oldest_items(tmp_db, budget)
    _crawl(tmp_db, "tiny", 1, "--refresh-older-than", "0s", "--refresh-budget", str(budget))
    assert _fetched_in(tmp_db, _count(tmp_db, "SELECT max(id) FROM crawls")) == set(first)
