"""Issue 5, targets 4 and 5 as counts: no wasted request, and a rerun that skips what it has.

A full crawl of the tiny sandbox (in-process, no faults) must send exactly
the protocol's minimum of requests per kind: one per listing node (the years
list, each year's makes, each (year, make)'s models, each model's info, each
trim's drives), one per vehicle, one per fitment page, four per vehicle type
(select and the three option lists) and one robots.txt. The minimum is
computed from the catalogue's listings and its ground truth, never from what
the crawler did. A ``--skip-existing`` rerun over the complete database then
re-walks the listings and the options only: no vehicle and no fitment request,
and no new row anywhere.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import pytest

from custom_wheel_offset.crawl import workflow_v3
from custom_wheel_offset.sandbox import SandboxConfig, start_sandbox
from custom_wheel_offset.sandbox.catalogue import Catalogue, names_of
from custom_wheel_offset.sandbox.truth import truth_records
from custom_wheel_offset.settings import resolve_settings

pytestmark = pytest.mark.slow

CONFIG = SandboxConfig(size="tiny", seed=1)
TABLES = ("vehicles", "fitments", "preference_sets", "preference_options", "frontier")


def listing_minimum(catalogue: Catalogue) -> dict[str, int]:
    """One request per distinct listing node reachable from the years list."""
    makes = models = model_info = drives = 0
    for year in catalogue.years():
        makes += 1
        year_makes = set(catalogue.makes_served(year) or ())
        models += len(year_makes)
        for make in year_makes:
            make_models = set(catalogue.models_served(year, make) or ())
            model_info += len(make_models)
            for model in make_models:
                info = catalogue.model_info_served(year, make, model) or {}
                drives += len(names_of(info.get("trim")))
    return {
        "years": 1,
        "makes": makes,
        "models": models,
        "model_info": model_info,
        "drives": drives,
    }


def protocol_minimum(catalogue: Catalogue) -> dict[str, int]:
    vehicles, fitments = truth_records(CONFIG)
    types = {v["vehicle_type"] for v in vehicles if v["vehicle_type"] is not None}
    per_type = {kind: len(types) for kind in ("select", "suspension", "trimming", "rubbing")}
    return {
        **listing_minimum(catalogue),
        "vehicle": len(vehicles),
        **per_type,
        "fitment": len(fitments),
        "robots": 1,
    }


def row_counts(db_path: Path) -> dict[str, int]:
    with sqlite3.connect(db_path) as conn:
        return {t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in TABLES}


def sent(counters: dict[str, Any]) -> dict[str, int]:
    return {kind: n for kind, n in counters["requests"].items() if n}


def crawl(sb: Any, db_url: str, **extra: Any) -> workflow_v3.RunResult:
    settings = resolve_settings(
        {
            "db": db_url,
            "api_base": sb.api_base,
            "store_base": sb.store_base,
            "workers": 4,
            "rate": 0,  # the sandbox has no politeness limit; the default 2/s is for the site
            "progress": "off",
            "quiet": True,
            **extra,
        }
    )
    return workflow_v3.run(settings)


@pytest.fixture(scope="module")
def waste_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    db_path = tmp_path_factory.mktemp("waste") / "waste.db"
    db_url = f"sqlite:///{db_path}"
    with start_sandbox(CONFIG) as sb:
        minimum = protocol_minimum(sb.catalogue)
        sb.reset_counters()
        full = crawl(sb, db_url)
        full_counters = sb.counters()
        rows_full = row_counts(db_path)
        sb.reset_counters()
        rerun = crawl(sb, db_url, skip_existing=True)
        rerun_counters = sb.counters()
        rows_rerun = row_counts(db_path)
    return {
        "minimum": minimum,
        "full": full,
        "full_counters": full_counters,
        "rows_full": rows_full,
        "rerun": rerun,
        "rerun_counters": rerun_counters,
        "rows_rerun": rows_rerun,
    }


def test_full_crawl_completes_and_stores_the_truth(waste_runs: dict[str, Any]) -> None:
    full = waste_runs["full"]
    assert (full.outcome, full.exit_code, full.failed_items) == ("complete", 0, 0), full.message
    minimum = waste_runs["minimum"]
    rows = waste_runs["rows_full"]
    assert (rows["vehicles"], rows["fitments"]) == (minimum["vehicle"], minimum["fitment"])


def test_full_crawl_sends_exactly_the_protocol_minimum(waste_runs: dict[str, Any]) -> None:
    counters = waste_runs["full_counters"]
    assert sent(counters) == waste_runs["minimum"]
    assert counters["total_requests"] == sum(waste_runs["minimum"].values())


def test_full_crawl_meets_no_fault_and_repeats_no_answer(waste_runs: dict[str, Any]) -> None:
    counters = waste_runs["full_counters"]
    assert {k: v for k, v in counters["faults"].items() if v} == {}
    assert set(counters["statuses"]) == {"200"}
    assert {k: v for k, v in counters["duplicate_ok"].items() if v} == {}


def test_requests_per_stored_record_equal_the_minimum(waste_runs: dict[str, Any]) -> None:
    rows = waste_runs["rows_full"]
    minimum = waste_runs["minimum"]
    stored = rows["vehicles"] + rows["fitments"]
    assert (
        waste_runs["full_counters"]["total_requests"] * (minimum["vehicle"] + minimum["fitment"])
        == sum(minimum.values()) * stored
    )


def test_skip_existing_rerun_fetches_no_vehicle_and_no_fitment(
    waste_runs: dict[str, Any],
) -> None:
    rerun = waste_runs["rerun"]
    assert (rerun.outcome, rerun.exit_code) == ("complete", 0), rerun.message
    counters = waste_runs["rerun_counters"]
    assert counters["requests"]["vehicle"] == 0
    assert counters["requests"]["fitment"] == 0


def test_skip_existing_rerun_adds_no_rows(waste_runs: dict[str, Any]) -> None:
    assert waste_runs["rows_rerun"] == waste_runs["rows_full"]


def test_skip_existing_rerun_walks_listings_and_options_once(
    waste_runs: dict[str, Any],
) -> None:
    """What the rerun does send is the listings and options, each exactly once."""
    minimum = waste_runs["minimum"]
    expected = {k: v for k, v in minimum.items() if k not in ("vehicle", "fitment")}
    assert sent(waste_runs["rerun_counters"]) == expected
