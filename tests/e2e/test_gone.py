"""Issue 11 item 4 end to end: vehicles the site withdraws are marked gone, not failed.

Crawl the tiny sandbox; restart it with ``--remove-vehicles 3`` (the same
catalogue less three vehicles chosen by the seed); crawl again, in full and
with ``--skip-existing``: exit 0, those three vehicles and their fitments are
gone with the second crawl's id, nothing failed, and the export equals the
truth of the reduced catalogue. A third crawl changes nothing.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from custom_wheel_offset.sandbox.catalogue import build_catalogue
from custom_wheel_offset.sandbox.removal import removed_vehicles

from .conftest import export_matches_truth, invoke, scrape_args, sqlite_file, status_json

REMOVED = 3


def _identity(v: Any) -> tuple[Any, ...]:
    return (v.year, v.make, v.model, v.trim, v.drive)


def _state(db_url: str) -> dict[str, Any]:
    """Every item's status and gone mark, and the gone marks of vehicles and fitments."""
    with sqlite3.connect(sqlite_file(db_url)) as conn:
        return {
            "items": conn.execute(
                "SELECT key, status, gone_crawl FROM frontier ORDER BY key"
            ).fetchall(),
            "vehicles": conn.execute(
                "SELECT year, make, model, trim, drive, gone_crawl FROM vehicles"
                " ORDER BY year, make, model, trim, drive"
            ).fetchall(),
            "fitments": conn.execute(
                "SELECT vehicle_id, prefset_id, gone_crawl FROM fitments"
                " ORDER BY vehicle_id, prefset_id"
            ).fetchall(),
            "crawls": conn.execute("SELECT max(id) FROM crawls").fetchone()[0],
        }


def _fitments_per_vehicle(truth: Path) -> dict[tuple[Any, ...], int]:
    counts: dict[tuple[Any, ...], int] = {}
    for line in (truth / "fitments.jsonl").read_text(encoding="utf-8").splitlines():
        r = json.loads(line)
        key = (r["year"], r["make"], r["model"], r["trim"], r["drive"])
        counts[key] = counts.get(key, 0) + 1
    return counts


@pytest.mark.parametrize("mode", ["full", "skip-existing"])
def test_withdrawn_vehicles_are_marked_gone_and_the_crawl_exits_0(
    sandbox, truth_dir, tmp_db: str, tmp_path: Path, mode: str
) -> None:
    extra = ["--workers", "4"] + (["--skip-existing"] if mode == "skip-existing" else [])
    with sandbox("tiny") as sb:
        first = invoke(*scrape_args(sb, tmp_db, "--workers", "4"))
        assert first.exit_code == 0, first.output
    export_matches_truth(tmp_db, truth_dir("tiny"), tmp_path)

    gone_ids = removed_vehicles(build_catalogue("tiny", 1), REMOVED)
    with sandbox("tiny", remove_vehicles=REMOVED) as sb:
        second = invoke(*scrape_args(sb, tmp_db, *extra))
    assert second.exit_code == 0, second.output
    assert "gone: " in second.output
    state = _state(tmp_db)
    crawl = state["crawls"]
    assert crawl == 2
    gone_vehicles = {tuple(v[:5]) for v in state["vehicles"] if v[5] is not None}
    assert gone_vehicles == {_identity(v) for v in gone_ids}
    assert {v[5] for v in state["vehicles"] if v[5] is not None} == {crawl}
    # Every fitment of those vehicles, and no other, went with them.
    per_vehicle = _fitments_per_vehicle(truth_dir("tiny"))
    expected_gone_fitments = sum(per_vehicle.get(_identity(v), 0) for v in gone_ids)
    assert expected_gone_fitments > 0
    gone_fitments = [f for f in state["fitments"] if f[2] is not None]
    assert len(gone_fitments) == expected_gone_fitments
    assert {f[2] for f in gone_fitments} == {crawl}
    statuses = {status for _, status, _ in state["items"]}
    assert "failed" not in statuses and "pending" not in statuses
    gone_items = [(k, c) for k, s, c in state["items"] if s == "gone"]
    assert {c for _, c in gone_items} == {crawl}
    assert sum(k.startswith("vehicle/") for k, _ in gone_items) == REMOVED
    assert sum(k.startswith("fitment/") for k, _ in gone_items) == expected_gone_fitments

    status = status_json(tmp_db)
    assert status["failed_total"] == 0
    assert status["stages"]["vehicles"]["gone"] == REMOVED
    assert status["stages"]["fitments"]["gone"] == expected_gone_fitments
    assert {(g["stage"], g["crawl"]) for g in status["gone"]} == {
        ("vehicles", crawl),
        ("fitments", crawl),
    }
    reduced = truth_dir("tiny", 1, REMOVED)
    export_matches_truth(tmp_db, reduced, tmp_path)
    every = tmp_path / "every.jsonl"
    result = invoke(
        "export", "--what", "vehicles", "--include-gone", "--db", tmp_db, "--out", str(every)
    )
    assert result.exit_code == 0, result.output
    marks = [json.loads(line)["gone_crawl"] for line in every.read_text().splitlines()]
    assert marks.count(crawl) == REMOVED and marks.count(None) == len(marks) - REMOVED

    # A third crawl of the same reduced catalogue changes nothing.
    with sandbox("tiny", remove_vehicles=REMOVED) as sb:
        third = invoke(*scrape_args(sb, tmp_db, *extra))
    assert third.exit_code == 0, third.output
    after = _state(tmp_db)
    assert after["crawls"] == 3
    assert {k: v for k, v in after.items() if k != "crawls"} == {
        k: v for k, v in state.items() if k != "crawls"
    }
    export_matches_truth(tmp_db, reduced, tmp_path)


def test_reduced_truth_is_the_full_truth_less_the_removed_vehicles(truth_dir) -> None:
    full, reduced = truth_dir("tiny"), truth_dir("tiny", 1, REMOVED)
    gone = {_identity(v) for v in removed_vehicles(build_catalogue("tiny", 1), REMOVED)}
    assert len(gone) == REMOVED
    for what in ("vehicles", "fitments"):
        lines = (full / f"{what}.jsonl").read_text(encoding="utf-8").splitlines()
        kept = [
            line
            for line in lines
            if tuple(json.loads(line)[k] for k in ("year", "make", "model", "trim", "drive"))
            not in gone
        ]
        assert len(kept) < len(lines)
        assert (reduced / f"{what}.jsonl").read_text(encoding="utf-8").splitlines() == kept


def test_a_404_on_a_once_working_vehicle_url_marks_it_gone_not_failed(sandbox, tmp_db: str) -> None:
    """Handler and writer over real HTTP: the same 404 is 'gone' for a URL that worked
    in an earlier crawl and a failure (``http_404``) for one that never did."""
    from custom_wheel_offset.crawl.items import ItemHandler, vehicle_item
    from custom_wheel_offset.metrics.counters import Counters
    from custom_wheel_offset.net.network import OptimizedNetworkManager
    from custom_wheel_offset.protocol.records import VehicleId
    from custom_wheel_offset.settings import Settings
    from custom_wheel_offset.storage.database import OptimizedDatabaseManager
    from custom_wheel_offset.storage.frontier import Frontier, ItemFilter
    from custom_wheel_offset.storage.schema import frontier as frontier_rows
    from custom_wheel_offset.storage.writer import BatchWriter

    withdrawn = sorted(removed_vehicles(build_catalogue("tiny", 1), REMOVED), key=_identity)[0]
    never = VehicleId(withdrawn.year, withdrawn.make, withdrawn.model, withdrawn.trim, "NoSuch")
    db = OptimizedDatabaseManager(tmp_db)
    db.ensure_schema()
    frontier = Frontier(db, owner="me", lease_seconds=60)
    counters = Counters()

    def crawl(remove: int) -> tuple[int, dict[str, str]]:
        state = frontier.begin_run(
            skip_existing=False, retry_failed=False, root=vehicle_item(withdrawn, [])
        )
        with sandbox("tiny", remove_vehicles=remove) as sb:
            settings = Settings(api_base=sb.api_base, store_base=sb.store_base, rate=0.0)
            network = OptimizedNetworkManager(settings, counters)
            handler = ItemHandler(settings, network, counters, ItemFilter())
            writer = BatchWriter(db, owner="me", crawl_id=state.crawl_id, counters=counters)
            writer.start()
            try:
                for item in frontier.claim(["vehicle"], 10, ItemFilter()):
                    outcome = handler.handle(item)
                    outcome.children = []  # only the vehicle items are of interest here
                    writer.submit(outcome)
            finally:
                writer.stop()
                network.close()
        with sqlite3.connect(sqlite_file(tmp_db)) as conn:
            rows = conn.execute("SELECT key, status, gone_crawl FROM frontier").fetchall()
        return state.crawl_id, {key: f"{status}:{gone}" for key, status, gone in rows}

    first, items = crawl(remove=0)
    assert items == {vehicle_item(withdrawn, []).key: "done:None"}
    assert frontier.finish_crawl_if_complete(first)
    with db.begin() as conn:  # a vehicle the site never had, as a listing would add it
        conn.execute(db.insert_ignore(frontier_rows), [vehicle_item(never, []).row(0.0)])
    second, items = crawl(remove=REMOVED)
    assert items == {
        vehicle_item(withdrawn, []).key: f"gone:{second}",
        vehicle_item(never, []).key: "failed:None",
    }
    assert frontier.failure_summary().groups[0].code == "http_404"
    assert counters.get("items/gone/vehicle") == 1 and counters.get("items/failed/vehicle") == 1
    db.dispose()
