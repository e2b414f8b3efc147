"""Issue 14, first done-when line: crawl sandbox editions 1 and 2, and say exactly what changed.

Small edition 1, then edition 2 in full: `cwo diff --plain --since <first crawl>`
is byte-identical to `cwo sandbox changes --from 1 --to 2`; the exports equal
edition 2's truth (gone records left out); a third crawl of edition 2 writes no
history and `cwo diff --since <second crawl>` is empty.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from pathlib import Path

from .conftest import export_matches_truth, invoke, scrape_args, sqlite_file


def _history_rows(db_url: str) -> int:
    with sqlite3.connect(sqlite_file(db_url)) as conn:
        return int(conn.execute("SELECT count(*) FROM history").fetchone()[0])


def _crawl(sandbox, db_url: str, edition: int) -> str:
    with sandbox("small", edition=edition) as sb:
        result = invoke(*scrape_args(sb, db_url, "--workers", "8"))
    assert result.exit_code == 0, result.output
    return result.output


def test_diff_after_a_new_edition_equals_the_sandbox_changes_exactly(
    sandbox, truth_dir, tmp_db: str, tmp_path: Path
) -> None:
    _crawl(sandbox, tmp_db, 1)
    first_rows = _history_rows(tmp_db)
    assert first_rows > 0  # every record of the first crawl was added

    second = _crawl(sandbox, tmp_db, 2)
    expected, got = tmp_path / "expected.jsonl", tmp_path / "got.jsonl"
    made = invoke(
        "sandbox", "changes", "--size", "small", "--from", "1", "--to", "2", "--out", str(expected)
    )
    assert made.exit_code == 0, made.output
    result = invoke("diff", "--plain", "--since", "1", "--db", tmp_db, "--out", str(got))
    assert result.exit_code == 0, result.output
    assert got.read_bytes() == expected.read_bytes()
    lines = [json.loads(line) for line in got.read_text(encoding="utf-8").splitlines()]
    kinds = Counter((c["change"], c["what"]) for c in lines)
    assert {"added", "changed", "gone"} <= {c for c, _ in kinds}
    # The run's summary counts what the history holds, not "updated".
    changed = kinds["changed", "vehicle"] + kinds["changed", "fitment"]
    assert f"changed {changed}," in second
    assert "updated" not in second
    export_matches_truth(tmp_db, truth_dir("small", edition=2), tmp_path)

    # With crawl and time: every line names crawl 2 and an ISO time.
    full = invoke("diff", "--since", "1", "--db", tmp_db)
    assert full.exit_code == 0
    stamped = [json.loads(line) for line in full.stdout.splitlines()]
    assert len(stamped) == len(lines)
    assert {c["crawl"] for c in stamped} == {2}
    assert all(c["at"].endswith("Z") and "T" in c["at"] for c in stamped)

    rows = _history_rows(tmp_db)
    _crawl(sandbox, tmp_db, 2)
    assert _history_rows(tmp_db) == rows
    quiet = invoke("diff", "--since", "2", "--db", tmp_db)
    assert quiet.exit_code == 0 and quiet.stdout == ""
    export_matches_truth(tmp_db, truth_dir("small", edition=2), tmp_path)
