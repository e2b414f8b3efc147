"""The live-site shapes of site-protocol.md section 5 are served, at every size, in fixed shares.

Shapes are recognised in what the sandbox renders (the fitment section of a
page, the vehicle object), never in the catalogue's own flags, so a shape
that the renderer stopped drawing makes these tests fail.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest

from custom_wheel_offset.sandbox import SIZES, SandboxConfig, build_catalogue
from custom_wheel_offset.sandbox.catalogue import (
    FLAG_KEYS,
    LIVE_EXTRA_KEYS,
    REAR_KEYS,
    Catalogue,
    VehicleModel,
)
from custom_wheel_offset.sandbox.render import fitment_section, vehicle_json
from custom_wheel_offset.sandbox.truth import truth_records

_PAT = r"\d+x\d+(?:\.\d+)?"
_LABEL = re.compile(r'<nobr>(Front|Rear)[^<]*</nobr>|<span class="store-conf-header">(\w+) Sizes:')
_BLOCK = re.compile(r'<div class="store-ymm-fitrange">\n(.*?)</div>', re.S)
_DATA_BP = re.compile(rf'class="(bolt_patterns )?store-bp" data-bp="({_PAT})(,|, )({_PAT})"')
_SPAN_TEXT = re.compile(r'<span class="bolt_patterns store-bp"><b>([^<]*)</b></span>')
_DIV_TEXT = re.compile(r'<div class="store-bp">Bolt Pattern: ([^<]*)</div>')

#: every shape the section adds to fitment pages (recognised by :func:`page_shapes`)
PAGE_SHAPES = frozenset(
    {
        "blank_units_inches",  # <b>" to "</b>
        "blank_units_mm",  # <b>mm to mm</b>
        "label_header_only",
        "label_header_and_nobr",
        "rear_block_first",
        "bp_span_mm_first_space",  # <span class="bolt_patterns store-bp" data-bp="MM, IN"><b>MM</b>
        "bp_data_in_mm",  # data-bp="IN,MM"
        "bp_data_in_mm_space",  # data-bp="IN, MM"
        "bp_text_both_units",
        "bp_text_mm_only",
        "bp_text_in_only",
    }
)
#: every shape the section adds to vehicle objects (recognised by :func:`vehicle_shapes`)
VEHICLE_SHAPES = frozenset(
    {"boltpatternMm_only", "boltpattern_and_boltpatternMm"}
    | {f"flag_{form}_{value}" for form in ("bool", "str", "int") for value in (True, False)}
    | set(LIVE_EXTRA_KEYS)
    | {f"{key}_as_string" for key in ("multiChassis", "drmodelid", "tireWidthMin")}
    | {"tireLoadIndex_as_string", "wheelDiameterMinList_strings", "tireWidthMaxList_strings"}
)


def _is_mm(pattern: str) -> bool:
    return float(pattern.split("x")[1]) >= 98


def page_shapes(section: str) -> set[str]:
    """The section-5 shapes one rendered fitment section shows."""
    shapes: set[str] = set()
    if '<b>" to "</b>' in section:
        shapes.add("blank_units_inches")
    if "<b>mm to mm</b>" in section:
        shapes.add("blank_units_mm")
    blocks = _BLOCK.findall(section)
    if len(blocks) == 2:
        has_header = ["store-conf-header" in b for b in blocks]
        has_nobr = ["<nobr>" in b for b in blocks]
        if all(has_header):
            shapes.add("label_header_and_nobr" if all(has_nobr) else "label_header_only")
        first = _LABEL.search(blocks[0])
        assert first is not None, blocks[0]
        if (first.group(1) or first.group(2)) == "Rear":
            shapes.add("rear_block_first")
    data = _DATA_BP.search(section)
    if data is not None:
        span, first, sep, _second = data.groups()
        if span and _is_mm(first) and sep == ", ":
            shapes.add("bp_span_mm_first_space")
        elif not _is_mm(first):
            shapes.add("bp_data_in_mm_space" if sep == ", " else "bp_data_in_mm")
    text = _SPAN_TEXT.search(section) or _DIV_TEXT.search(section)
    if text is not None and data is None:
        units = {_is_mm(p) for p in re.findall(_PAT, text.group(1))}
        shapes.add(
            "bp_text_both_units"
            if units == {True, False}
            else "bp_text_mm_only"
            if units == {True}
            else "bp_text_in_only"
        )
    return shapes


def _rear_has_value(obj: dict[str, Any]) -> bool:
    return any(obj.get(key) not in (None, "") for _, key in REAR_KEYS)


def vehicle_shapes(obj: dict[str, Any]) -> set[str]:
    """The section-5 shapes one served vehicle object shows (and its flags are consistent)."""
    shapes: set[str] = set()
    if "boltpatternMm" in obj:
        both = "boltpattern" in obj
        shapes.add("boltpattern_and_boltpatternMm" if both else "boltpatternMm_only")
        if both:
            assert obj["boltpattern"] == obj["boltpatternMm"]
    for key in FLAG_KEYS:
        if key in obj:
            value = obj[key]
            truth = value in (True, "true", 1)
            assert value in (True, False, "true", "false", 1, 0), value
            assert truth == _rear_has_value(obj), obj  # the flags agree with the *Rear keys
            shapes.add(f"flag_{type(value).__name__}_{truth}")
    for key in LIVE_EXTRA_KEYS:
        if key not in obj:
            continue
        shapes.add(key)
        value = obj[key]
        if isinstance(value, list):
            if any(isinstance(v, str) for v in value) and key != "engine":
                shapes.add(f"{key}_strings")
        elif isinstance(value, str) and key not in ("vehicleType2", "bodyType", "tireSpeedIndex"):
            shapes.add(f"{key}_as_string")
    return shapes


def _pages(catalogue: Catalogue, vm: VehicleModel) -> Iterator[str]:
    opts = vm.options
    for s in range(len(opts.suspension)):
        for t in range(len(opts.trimming)):
            for r in range(len(opts.rubbing)):
                fm = catalogue.fitment(vm, (s, t, r))
                if fm.blocks:
                    yield fitment_section("x", fm)


def _walk(catalogue: Catalogue, stop_when_complete: bool) -> tuple[Counter[str], int, int]:
    """(shape -> occurrences, vehicles, pages with data) over the catalogue in export order."""
    seen: Counter[str] = Counter()
    vehicles = pages = 0
    for vm in catalogue.iter_vehicles():
        vehicles += 1
        seen.update(vehicle_shapes(vehicle_json(vm)))
        for section in _pages(catalogue, vm):
            pages += 1
            seen.update(page_shapes(section))
        if stop_when_complete and seen.keys() >= PAGE_SHAPES | VEHICLE_SHAPES:
            break
    return seen, vehicles, pages


@pytest.mark.parametrize("size", SIZES)
def test_every_shape_occurs_at_every_size(size: str) -> None:
    # tiny and small are walked whole; the larger ones until every shape has turned up
    seen, _, _ = _walk(build_catalogue(size, 1), stop_when_complete=size not in ("tiny", "small"))
    assert PAGE_SHAPES - seen.keys() == set()
    assert VEHICLE_SHAPES - seen.keys() == set()


@pytest.mark.parametrize("seed", [2, 3])
def test_tiny_has_every_shape_whatever_the_seed(seed: int) -> None:
    seen, _, _ = _walk(Catalogue("tiny", seed), stop_when_complete=False)
    assert (PAGE_SHAPES | VEHICLE_SHAPES) - seen.keys() == set()


def test_shares_in_the_small_catalogue() -> None:
    """The documented shares (docs/sandbox.md), give or take sampling noise."""
    seen, vehicles, pages = _walk(build_catalogue("small", 1), stop_when_complete=False)
    assert vehicles > 200 and pages > 4000
    for shape in ("bp_span_mm_first_space", "bp_data_in_mm_space", "bp_text_mm_only"):
        assert 0.02 < seen[shape] / pages < 0.09, (shape, seen[shape], pages)
    assert 0.005 < (seen["blank_units_inches"] + seen["blank_units_mm"]) / pages < 0.05
    for shape in ("boltpatternMm_only", "boltpattern_and_boltpatternMm"):
        assert 0.08 < seen[shape] / vehicles < 0.25, (shape, seen[shape], vehicles)
    for key in LIVE_EXTRA_KEYS:
        assert 0.2 < seen[key] / vehicles < 0.5, (key, seen[key], vehicles)


def test_truth_leaves_a_unit_the_page_does_not_show_null() -> None:
    _, fitments = truth_records(SandboxConfig(size="tiny", seed=1))
    ok = [f for f in fitments if f["status"] == "ok"]
    units = Counter((f["bolt_pattern_mm"] is None, f["bolt_pattern_in"] is None) for f in ok)
    assert units[(False, True)] > 0  # "5x114.3mm" only: inches null
    assert units[(True, False)] > 0  # '5x4.5"' only: millimetres null
    assert units[(False, False)] > units[(False, True)] + units[(True, False)]
    lx = [f for f in ok if (f["make"], f["model"], f["trim"]) == ("Honda", "Civic", "LX")]
    lx_units = Counter((f["bolt_pattern_mm"], f["bolt_pattern_in"]) for f in lx)
    assert lx_units[("5x114.3", None)] == 1 and lx_units[(None, "5x4.5")] == 1  # pages 8 and 9


def test_vehicle_truth_reads_boltpatternMm_like_boltpattern() -> None:
    """The truth is computed from the model: the key the pattern is served under is no matter."""
    from custom_wheel_offset.sandbox.truth import vehicle_spec

    catalogue = build_catalogue("tiny", 1)
    served = {}
    for vm in catalogue.iter_vehicles():
        obj = vehicle_json(vm)
        mm = obj.get("boltpattern", obj.get("boltpatternMm"))
        assert vehicle_spec(vm).bolt_pattern_mm == (None if mm in (None, "") else mm)
        served[vm.bolt_key] = obj
    assert {"mm", "both", "boltpattern"} <= served.keys()
    assert "boltpattern" not in served["mm"] and "boltpatternMm" in served["mm"]


# -- over HTTP: the served bodies ----------------------------------------------------------------


def _section(html: str) -> str:
    start = html.index('<section id="ymm-fitment"')
    return html[start : html.index("</section>", start)]


def test_served_bodies_show_every_shape(tiny_crawl: Any) -> None:
    """The tiny crawl (conftest) kept every body the sandbox served: all shapes are there."""
    seen: set[str] = set()
    for _, html in tiny_crawl.bodies["fitment"]:
        seen |= page_shapes(_section(html))
    for _, obj in tiny_crawl.bodies["vehicle"]:
        seen |= vehicle_shapes(obj)
    assert (PAGE_SHAPES | VEHICLE_SHAPES) - seen == set()
    pages = [html for _, html in tiny_crawl.bodies["fitment"]]
    exact = '<span class="bolt_patterns store-bp" data-bp="5x114.3, 5x4.5"><b>5x114.3</b></span>'
    assert any(exact in html for html in pages)  # the other client's own example, verbatim
    assert any('<span class="store-conf-header">Rear Sizes:</span>' in html for html in pages)
