"""Saved sample bodies in tests/fixtures/sandbox/ stay identical to what the sandbox serves.

The samples (and ``expected.json``, what a correct parser reads from each,
computed from the catalogue) are for parser tests elsewhere in the suite.
They come from the tiny catalogue, seed 1, with 16 KB pages. To refresh them
after a deliberate change to the sandbox::

    REGENERATE_SANDBOX_FIXTURES=1 python -m pytest tests/sandbox/test_sandbox_fixtures.py
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import requests

from custom_wheel_offset.exporting.format import vehicle_record
from custom_wheel_offset.protocol.records import VehicleId
from custom_wheel_offset.sandbox import SandboxConfig, build_catalogue, start_sandbox
from custom_wheel_offset.sandbox.render import challenge_page
from custom_wheel_offset.sandbox.server import FORBIDDEN_BODY
from custom_wheel_offset.sandbox.truth import fitment_page, vehicle_spec

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "sandbox"
CONFIG = SandboxConfig(size="tiny", seed=1, page_kb=16)
LX = (2024, "Honda", "Civic", "LX", "FWD")
LX_SPACE = (2024, "Honda", "Civic", "LX ", "FWD")
EX = (2024, "Honda", "Civic", "EX", "FWD")
MUSTANG = (2024, "Ford", "Mustang", "GT Premium", "RWD")
C_CLASS = (2024, "Mercedes-Benz", "C-Class", "AMG C 43", "AWD")
# the live-site shapes of site-protocol.md section 5
CIVIC_BASE = (2024, "Honda", "Civic", "Base, 4-Door", "FWD")
GLADIATOR = (2024, "Jeep", "Gladiator", "O'Neil", "4WD")
DARK_HORSE = (2024, "Ford", "Mustang", "Dark Horse", "RWD")

#: file -> (vehicle, flat preference index (suspension, trimming, rubbing order))
PAGES: dict[str, tuple[tuple[int, str, str, str, str], int]] = {
    "fitment_square.html": (LX, 0),
    "fitment_text_bolt_pattern.html": (LX, 1),
    "fitment_blank_width.html": (LX, 2),
    "fitment_blank_offset_space.html": (LX, 3),
    "fitment_missing_diameter.html": (LX, 4),
    "fitment_no_data_with_bolt_pattern.html": (LX, 10),
    "fitment_no_data.html": (LX, 11),
    "fitment_staggered.html": (MUSTANG, 0),
    "fitment_staggered_rear_width_blank.html": (MUSTANG, 1),
    "fitment_staggered_car_full_size.html": (C_CLASS, 0),
    # section 5
    "fitment_blank_units_diameter.html": (CIVIC_BASE, 0),
    "fitment_blank_units_offset.html": (CIVIC_BASE, 1),
    "fitment_bp_span_text_both_units.html": (CIVIC_BASE, 2),
    "fitment_blank_units_width_bp_span_mm_first.html": (CIVIC_BASE, 3),
    "fitment_bp_data_inch_mm_space.html": (LX, 5),
    "fitment_bp_span_mm_first.html": (LX, 6),
    "fitment_bp_span_inch_mm.html": (LX, 7),
    "fitment_bp_text_mm_only.html": (LX, 8),
    "fitment_bp_span_inch_only.html": (LX, 9),
    "fitment_staggered_header_labels.html": (MUSTANG, 4),
    "fitment_staggered_header_and_nobr_rear_first.html": (MUSTANG, 5),
    "fitment_staggered_rear_first.html": (MUSTANG, 6),
    "fitment_staggered_header_rear_first_blank_units_offset.html": (MUSTANG, 7),
    "fitment_staggered_blank_units_width.html": (MUSTANG, 8),
}
VEHICLES = {
    "vehicle_numbers_as_strings.json": LX,
    "vehicle_missing_null_empty.json": LX_SPACE,
    "vehicle_square_with_blank_rear_keys.json": EX,
    "vehicle_staggered.json": MUSTANG,
    # section 5
    "vehicle_boltpatternMm_only_flags_strings.json": C_CLASS,
    "vehicle_both_bolt_keys_flags_int_extras_as_strings.json": CIVIC_BASE,
    "vehicle_boltpatternMm_only_extras.json": GLADIATOR,
    "vehicle_staggered_flags_bool.json": DARK_HORSE,
}
LISTINGS = {
    "years.json": "/",
    "makes_2024.json": "/2024",
    "model_info_bare_strings.json": "/2024/Renault/Clio%20%20RS",
    "model_info_trim_repeated.json": "/2024/Honda/Civic",
    "model_info_no_trim_key.json": "/2024/%C5%A0koda/Superb",
    "drives_repeated.json": "/offsetguide/2024/Ford/F-250%2F350%20Super%20Duty/trim/XL/drives",
}


def _q(params: dict[str, Any]) -> str:
    return urlencode(params, quote_via=quote, safe="")


def _current() -> tuple[dict[str, bytes], dict[str, Any]]:
    catalogue = build_catalogue(CONFIG.size, CONFIG.seed)
    bodies: dict[str, bytes] = {
        "challenge.html": challenge_page(),
        "forbidden.json": FORBIDDEN_BODY,
    }
    expected: dict[str, Any] = {}
    with start_sandbox(CONFIG) as sb, requests.Session() as s:
        for name, vid in VEHICLES.items():
            vm = catalogue.vehicle(*vid)
            assert vm is not None
            url = sb.api_base + "/" + "/".join(quote(str(p), safe="") for p in vid)
            bodies[name] = s.get(url).content
            expected[name] = vehicle_record(VehicleId(*vid), vehicle_spec(vm))
        for name, path in LISTINGS.items():
            bodies[name] = s.get(sb.api_base + path).content
        for name, (vid, flat) in PAGES.items():
            vm = catalogue.vehicle(*vid)
            assert vm is not None
            prefs = vm.options.preference_sets()[flat]
            opts = vm.options
            index = (
                opts.suspension.index(prefs.suspension),
                opts.trimming.index(prefs.modification),
                opts.rubbing.index(prefs.rubbing),
            )
            year, make, model, trim, drive = vid
            params = {
                "sort": "instock",
                "saleToggle": 0,
                "qdToggle": 0,
                "year": year,
                "make": make,
                "model": model,
                "trim": trim,
                "drive": drive,
                "DRChassisID": vm.chassis_id,
                "vehicle_type": vm.vehicle_type,
                **asdict(prefs),
            }
            bodies[name] = s.get(f"{sb.store_base}/store/wheels?{_q(params)}").content
            page = fitment_page(catalogue.fitment(vm, index))
            expected[name] = {
                "url_params": params,
                "status": page.status,
                "bolt_pattern_mm": page.bolt_pattern_mm,
                "bolt_pattern_in": page.bolt_pattern_in,
                "front": asdict(page.front),
                "rear": asdict(page.rear),
            }
    expected["challenge.html"] = {"challenge": True}
    expected["forbidden.json"] = {"forbidden": True, "status": 403}
    return bodies, expected


def test_saved_samples_match_the_sandbox() -> None:
    bodies, expected = _current()
    manifest = json.dumps(expected, ensure_ascii=False, indent=1, sort_keys=True) + "\n"
    if os.environ.get("REGENERATE_SANDBOX_FIXTURES"):
        FIXTURES.mkdir(parents=True, exist_ok=True)
        for name, body in bodies.items():
            (FIXTURES / name).write_bytes(body)
        (FIXTURES / "expected.json").write_text(manifest, encoding="utf-8")
    for name, body in bodies.items():
        assert (FIXTURES / name).read_bytes() == body, name
    assert (FIXTURES / "expected.json").read_text(encoding="utf-8") == manifest
    statuses = {v.get("status") for v in expected.values()}
    assert statuses >= {"ok", "no_data"}
