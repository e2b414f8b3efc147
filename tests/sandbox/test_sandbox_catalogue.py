"""The catalogue: determinism, sizes, plausibility, and the truth's own invariants."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from custom_wheel_offset.exporting.format import fitment_sort_key, vehicle_sort_key
from custom_wheel_offset.sandbox import SandboxConfig, build_catalogue
from custom_wheel_offset.sandbox.catalogue import Catalogue
from custom_wheel_offset.sandbox.pool import BOLT_PATTERNS, OPTIONS
from custom_wheel_offset.sandbox.truth import truth_records, write_truth


def test_importing_the_package_is_cheap_and_inert() -> None:
    code = (
        "import sys, threading; import custom_wheel_offset.sandbox as s; "
        "print(sorted(m for m in sys.modules if m.startswith('custom_wheel_offset.sandbox.'))"
        ", threading.active_count(), 'requests' in sys.modules, 'http.server' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[] 1 False False"


def test_same_seed_same_truth_other_seed_other_truth() -> None:
    first = truth_records(Catalogue("tiny", 1))
    assert first == truth_records(Catalogue("tiny", 1))  # fresh instances, no shared cache
    other = truth_records(Catalogue("tiny", 2))
    assert other != first
    assert other[1] != first[1]
    small = Catalogue("small", 1)
    assert [v.vid for v in small.iter_vehicles()] == [
        v.vid for v in Catalogue("small", 1).iter_vehicles()
    ]
    assert [v.vid for v in small.iter_vehicles()] != [
        v.vid for v in Catalogue("small", 2).iter_vehicles()
    ]


def test_truth_is_sorted_and_the_writer_streams_the_same_lines(tmp_path: Path) -> None:
    vehicles, fitments = truth_records(SandboxConfig(size="small", seed=1))
    assert vehicles == sorted(vehicles, key=vehicle_sort_key)
    assert fitments == sorted(fitments, key=fitment_sort_key)
    written = write_truth(SandboxConfig(size="small", seed=1), tmp_path)
    assert written.vehicles == len(vehicles) and written.fitments == len(fitments)
    lines = (tmp_path / "fitments.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == len(fitments)
    assert not list(tmp_path.glob("*.tmp"))


@pytest.mark.parametrize(
    ("size", "low", "high", "max_pages"),
    [
        ("tiny", 15, 30, 600),
        ("small", 200, 320, 6000),
    ],
)
def test_small_sizes(size: str, low: int, high: int, max_pages: int) -> None:
    for seed in (1, 2, 3):
        stats = Catalogue(size, seed).stats()
        assert low <= stats.vehicles <= high
        assert stats.fitment_pages <= max_pages
        vehicles, fitments = truth_records(Catalogue(size, seed))
        assert len(vehicles) == stats.vehicles and len(fitments) == stats.fitment_pages


@pytest.mark.parametrize(
    ("size", "low", "high"),
    [
        ("medium", 2400, 3600),
        ("large", 25_000, 36_000),
    ],
)
def test_large_sizes_are_counted_without_rendering(size: str, low: int, high: int) -> None:
    catalogue = Catalogue(size, 1)
    stats = catalogue.stats()
    assert low <= stats.vehicles <= high
    assert set(stats.vehicles_by_type) == {"Car", "SUV", "Truck"}
    assert stats.fitment_pages > stats.vehicles * 10
    assert catalogue._vehicle.cache_info().currsize == 0  # no vehicle was built


def test_options_per_type() -> None:
    car, truck = OPTIONS["Car"], OPTIONS["Truck"]
    assert len(truck[0]) > len(car[0])
    assert [len(x) for x in car] == [3, 2, 2]
    assert [len(x) for x in truck] in ([4, 3, 3], [5, 3, 3])
    assert all(len(set(x)) == len(x) for opts in OPTIONS.values() for x in opts)


def test_vehicle_data_is_plausible() -> None:
    vehicles, fitments = truth_records(Catalogue("small", 1))
    tire = re.compile(r"^(LT)?\d{3}/\d{2}R\d{2}$")
    staggered = 0
    for v in vehicles:
        mm, inch = v["bolt_pattern_mm"], v["bolt_pattern_in"]
        if mm is not None and inch is not None:
            assert BOLT_PATTERNS[mm] == inch
        if v["front"]["stock_tire"] is not None:
            assert tire.match(v["front"]["stock_tire"])
        staggered += v["rear"] != v["front"]
    assert 0.06 < staggered / len(vehicles) < 0.3
    no_data = sum(f["status"] == "no_data" for f in fitments)
    assert 0.04 < no_data / len(fitments) < 0.11
    for f in fitments:
        if f["status"] == "no_data":
            assert f["bolt_pattern_mm"] is None and set(f["front"].values()) == {None}
            continue
        for axle in (f["front"], f["rear"]):
            for lo, hi in (
                ("diameter_min", "diameter_max"),
                ("width_min", "width_max"),
                ("offset_min", "offset_max"),
            ):
                if axle[lo] is not None:
                    assert axle[lo] <= axle[hi]


def test_more_lift_opens_the_range() -> None:
    catalogue = Catalogue("small", 1)
    truck = next(
        v
        for v in catalogue.iter_vehicles()
        if v.vehicle_type == "Truck" and v.rear is None and not v.page_force
    )
    stock = catalogue.fitment(truck, (0, 0, 0))
    lifted = catalogue.fitment(truck, (3, 2, 2))
    if (
        stock.blocks
        and lifted.blocks
        and stock.blocks[0].width.mode == "ok" == (lifted.blocks[0].width.mode)
    ):
        assert lifted.blocks[0].width.values[1] > stock.blocks[0].width.values[1]  # type: ignore[operator]
    assert catalogue.fitment(truck, (0, 0, 0)) == stock  # a pure function


def test_build_catalogue_is_cached() -> None:
    assert build_catalogue("tiny", 1) is build_catalogue("tiny", 1)
    assert build_catalogue("tiny", 1) is not build_catalogue("tiny", 2)
