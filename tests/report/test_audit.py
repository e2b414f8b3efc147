"""`cwo audit`: every seeded anomaly found, the sandbox's clean truth passes, exit codes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from click.testing import CliRunner

from custom_wheel_offset.audit import RULES, AuditResult, audit_database, fails
from custom_wheel_offset.cli import cli
from custom_wheel_offset.errors import EXIT_AUDIT_FINDINGS

from .conftest import Crawl

AXLE = {
    "stock_diameter": 18.0,
    "stock_width": 8.0,
    "stock_offset": 40.0,
    "stock_tire": "235/45R18",
    "diameter_min": 17.0,
    "diameter_max": 20.0,
    "width_min": 7.0,
    "width_max": 9.0,
}
RANGES = {
    "diameter_min": 17.0,
    "diameter_max": 20.0,
    "width_min": 7.0,
    "width_max": 9.5,
    "offset_min": 20.0,
    "offset_max": 45.0,
}


def _axles(values: dict[str, Any], front: dict[str, Any], rear: dict[str, Any]) -> dict[str, Any]:
    out = {f"front_{k}": v for k, v in {**values, **front}.items()}
    out.update({f"rear_{k}": v for k, v in {**values, **rear}.items()})
    return out


class Seeder:
    """Rows written into a real SQLite file made by the project's own migrations."""

    def __init__(self, url: str) -> None:
        from custom_wheel_offset.storage.database import OptimizedDatabaseManager

        self.db = OptimizedDatabaseManager(url)
        self.db.ensure_schema()
        self.prefsets: dict[tuple[str, str], int] = {}

    def vehicle(
        self, make: str, model: str = "M", trim: str = "T", *, front=None, rear=None, **cols: Any
    ) -> int:
        from custom_wheel_offset.storage.schema import vehicles

        row = {
            "year": 2024,
            "make": make,
            "model": model,
            "trim": trim,
            "drive": "FWD",
            "vehicle_type": "Car",
            "bolt_pattern_mm": "5x114.3",
            "bolt_pattern_in": "5x4.5",
            "hub_bore_mm": 64.1,
            "raw_json": "{}",
            "fetched_at": 1.0,
            **_axles(AXLE, front or {}, rear or {}),
            **cols,
        }
        with self.db.begin() as conn:
            return int(conn.execute(vehicles.insert().values(**row)).inserted_primary_key[0])

    def fitment(self, vehicle_id: int, *, front=None, rear=None, suspension="Stock", **cols):
        from custom_wheel_offset.storage.schema import fitments, preference_sets

        with self.db.begin() as conn:
            key = ("Car", suspension)
            if key not in self.prefsets:
                self.prefsets[key] = int(
                    conn.execute(
                        preference_sets.insert().values(
                            vehicle_type="Car",
                            suspension=suspension,
                            modification="None",
                            rubbing="No",
                        )
                    ).inserted_primary_key[0]
                )
            row = {
                "vehicle_id": vehicle_id,
                "prefset_id": self.prefsets[key],
                "status": "ok",
                "bolt_pattern_mm": "5x114.3",
                "bolt_pattern_in": "5x4.5",
                "raw_block": "<div></div>",
                "fetched_at": 1.0,
                **_axles(RANGES, front or {}, rear or {}),
                **cols,
            }
            conn.execute(fitments.insert().values(**row))


def seed_one_of_each(url: str) -> set[tuple[str, str, str]]:
    """One anomaly of every kind (clean rows around them); returns (rule, make, detail)."""
    s = Seeder(url)
    for i in range(4):  # clean vehicles, each its own make, ranges of their own
        ranges = {"offset_max": 45.0 + i}
        s.fitment(s.vehicle(f"Clean{i}"), front=ranges, rear=ranges)
    s.fitment(s.vehicle("Inverted", front={"width_min": 9.5, "width_max": 7.5}, rear={}))
    for name, vehicle_cols, fitment_front in (
        ("BigWheel", {}, {"diameter_max": 36.0}),
        ("Narrow", {}, {"width_min": 3.0}),
        ("DeepOffset", {}, {"offset_max": 170.0}),
        ("Hub", {"hub_bore_mm": 40.0}, {}),
        ("Circle", {"bolt_pattern_mm": "5x320", "bolt_pattern_in": None}, {}),
    ):
        v = s.vehicle(name, **vehicle_cols)
        s.fitment(v, front=fitment_front, rear=fitment_front, suspension=f"Susp-{name}")
    s.fitment(s.vehicle("Mismatch", bolt_pattern_in="5x4.75"))
    s.fitment(s.vehicle("Square"), rear={"offset_min": 30.0})  # square car, staggered ranges
    staggered = s.vehicle("Stagger", rear={"stock_width": 9.5})
    s.fitment(staggered, rear={"width_max": 10.5})
    s.fitment(staggered, suspension="Lifted")  # identical front and rear beside a staggered one
    s.fitment(s.vehicle("Dup", model="Accord", trim="LX"), suspension="Dup1")
    s.fitment(s.vehicle("Dup", model="ACCORD", trim="LX  "), suspension="Dup2")
    s.vehicle("Orphan")
    for model in ("A", "B", "C"):
        s.fitment(s.vehicle("Constant", model=model), suspension="Leveled")
    s.db.dispose()
    return {
        ("min_above_max", "Inverted", "front_width_min"),
        ("out_of_bounds", "BigWheel", "front_diameter_max"),
        ("out_of_bounds", "BigWheel", "rear_diameter_max"),
        ("out_of_bounds", "Narrow", "front_width_min"),
        ("out_of_bounds", "Narrow", "rear_width_min"),
        ("out_of_bounds", "DeepOffset", "front_offset_max"),
        ("out_of_bounds", "DeepOffset", "rear_offset_max"),
        ("out_of_bounds", "Hub", "hub_bore"),
        ("out_of_bounds", "Circle", "pcd"),
        ("bolt_pattern_mismatch", "Mismatch", "bolt_pattern_mm"),
        ("stagger_mismatch", "Square", "square vehicle"),
        ("stagger_mismatch", "Stagger", "staggered vehicle"),
        ("duplicate_identity", "Dup", "2 vehicles"),
        ("no_fitment", "Orphan", "no fitment"),
        ("constant_ranges", "Constant", "all 3 vehicles"),
    }


def _audit(url: str) -> AuditResult:
    from custom_wheel_offset.settings import Settings
    from custom_wheel_offset.storage.access import open_for_reading

    db = open_for_reading(Settings(db=url))
    try:
        return audit_database(db)
    finally:
        db.dispose()


def _key(finding: Any, expected: set[tuple[str, str, str]]) -> tuple[str, str, str]:
    """The expected entry this finding stands for, else one that fails the comparison."""
    for rule, make, detail in expected:
        if (rule, make) == (finding.rule, finding.record["make"]) and detail in finding.message:
            return (rule, make, detail)
    return (finding.rule, finding.record["make"], finding.message)


def test_every_seeded_anomaly_is_found_and_nothing_else(seeded_url: str) -> None:
    expected = seed_one_of_each(seeded_url)
    result = _audit(seeded_url)
    found = {_key(f, expected) for f in result.findings}
    assert found == expected
    assert len(result.findings) == len(expected)
    assert set(result.by_rule()) == set(RULES) and all(result.by_rule().values())
    for finding in result.findings:
        assert finding.severity == RULES[finding.rule][0]
        if finding.rule != "constant_ranges":
            assert set(finding.record) >= {"table", "year", "make", "model", "trim", "drive"}
    constant = next(f for f in result.findings if f.rule == "constant_ranges")
    assert constant.record["suspension"] == "Leveled"
    assert result.vehicles == 19 and result.fitments == 19


def test_the_sandbox_truth_has_no_error_and_only_its_deliberate_twin_trims(
    small_crawl: Crawl,
) -> None:
    result = _audit(small_crawl.db_url)
    assert result.vehicles > 200 and result.fitments > 4000
    assert result.counts() == {"warning": 1, "error": 0}
    # docs/sandbox.md: `LX` and `LX ` are two vehicles the site serves apart; the
    # rule exists to show exactly such pairs, so the truth shows this one.
    (twin,) = result.findings
    assert twin.rule == "duplicate_identity"
    assert '"LX"' in twin.message and '"LX "' in twin.message


@pytest.fixture
def seeded(seeded_url: str) -> Iterator[str]:
    seed_one_of_each(seeded_url)
    yield seeded_url


def test_cli_fail_on_error_exits_3_when_errors_are_found(seeded: str) -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["audit", "--db", seeded, "--fail-on", "error"])
    assert result.exit_code == EXIT_AUDIT_FINDINGS == 3, result.output
    assert "min_above_max: 1" in result.stdout
    assert "out_of_bounds: 8" in result.stdout
    result = runner.invoke(cli, ["audit", "--db", seeded])
    assert result.exit_code == 0
    env = {"CWO_DB": seeded, "CWO_FAIL_ON": "warning"}
    result = runner.invoke(cli, ["audit", "--json"], env=env)
    assert result.exit_code == 3
    document = json.loads(result.stdout)
    assert document["findings"] == {"warning": 5, "error": 10}
    assert len(document["items"]) == 15


def test_cli_fail_on_error_exits_0_on_the_sandbox_truth(small_crawl: Crawl) -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["audit", "--db", small_crawl.db_url, "--fail-on", "error"])
    assert result.exit_code == 0, result.output
    assert "0 error(s), 1 warning(s)" in result.stdout
    result = runner.invoke(cli, ["audit", "--db", small_crawl.db_url, "--fail-on", "warning"])
    assert result.exit_code == 3


def test_a_missing_database_is_a_usage_error(tmp_path: Any) -> None:
    result = CliRunner().invoke(cli, ["audit", "--db", f"sqlite:///{tmp_path / 'no.db'}"])
    assert result.exit_code == 2
    assert "hint:" in result.stderr


def test_fails_compares_severities() -> None:
    from custom_wheel_offset.audit.rules import Finding

    warning = AuditResult((Finding("no_fitment", "warning", {}, "m"),), 1, 0)
    assert not fails(warning, None)
    assert not fails(warning, "error")
    assert fails(warning, "warning")
    with pytest.raises(ValueError):
        fails(warning, "fatal")
