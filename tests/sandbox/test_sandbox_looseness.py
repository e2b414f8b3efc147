"""Every looseness the scraper must cope with is present in the tiny sandbox's served bodies."""

from __future__ import annotations

import re
from typing import Any

import pytest

NUMERIC_KEYS = (
    "hub",
    "stockWheelDiameter",
    "stockWheelWidth",
    "stockOffset",
    "wheelDiameterMin",
    "wheelDiameterMax",
    "wheelWidthMin",
    "wheelWidthMax",
)


def _bodies(crawl: Any, kind: str) -> list[tuple[str, Any]]:
    bodies: list[tuple[str, Any]] = crawl.bodies[kind]
    assert bodies, kind
    return bodies


def test_years_mix_numbers_and_strings_and_repeat(tiny_crawl: Any) -> None:
    ((_, years),) = _bodies(tiny_crawl, "years")
    assert any(isinstance(y, int) for y in years)
    assert any(isinstance(y, str) for y in years)
    as_ints = [int(y) for y in years]
    assert len(as_ints) > len(set(as_ints))


@pytest.mark.parametrize("kind", ["makes", "models", "drives"])
def test_a_name_is_repeated_in_a_list(tiny_crawl: Any, kind: str) -> None:
    assert any(len(names) > len(set(names)) for _, names in _bodies(tiny_crawl, kind))


def test_a_trim_is_repeated_in_model_info(tiny_crawl: Any) -> None:
    trims = [info.get("trim") for _, info in _bodies(tiny_crawl, "model_info")]
    assert any(isinstance(t, list) and len(t) > len(set(t)) for t in trims)


def test_an_empty_drives_list_and_an_empty_year(tiny_crawl: Any) -> None:
    assert any(names == [] for _, names in _bodies(tiny_crawl, "drives"))
    assert any(names == [] for _, names in _bodies(tiny_crawl, "makes"))


def test_model_info_bare_strings_missing_and_null(tiny_crawl: Any) -> None:
    infos = [info for _, info in _bodies(tiny_crawl, "model_info")]
    assert any(isinstance(i.get("trim"), str) and i["trim"] for i in infos)  # "trim": "Base"
    assert any(isinstance(i.get("vehicleType"), str) for i in infos)
    assert any(isinstance(i.get("drive"), str) for i in infos)
    # a model without trims, in each of the three forms: key missing, [] and ""
    assert any("trim" not in i for i in infos)
    assert any(i.get("trim") == [] for i in infos)
    assert any(i.get("trim") == "" for i in infos)
    # some other key missing or null
    assert any("drive" not in i for i in infos)
    assert any("drive" in i and i["drive"] is None for i in infos)
    assert any("vehicleType" in i and i["vehicleType"] is None for i in infos)


def test_vehicle_json_looseness(tiny_crawl: Any) -> None:
    vehicles = [obj for _, obj in _bodies(tiny_crawl, "vehicle")]
    values = [(k, v) for obj in vehicles for k, v in obj.items()]
    numeric = [(k, v) for k, v in values if k in NUMERIC_KEYS]
    assert any(
        isinstance(v, str) and v and "." not in v and not v.startswith("+") for _, v in numeric
    )  # "17"
    assert any(isinstance(v, str) and "." in v for _, v in numeric)  # "7.5", "64.1"
    assert any(k == "hub" and isinstance(v, str) and v for k, v in values)
    assert any(k == "stockOffset" and isinstance(v, str) and v.startswith("+") for k, v in values)
    assert any(isinstance(v, int | float) and not isinstance(v, bool) for _, v in numeric)
    assert any(v is None for _, v in values)
    assert any(v == "" for _, v in values)
    known = {
        "vehicleType",
        "drchassisid",
        "boltpattern",
        "boltpatternInches",
        "hub",
        "lugType",
        "lugSize",
        "stockTireSize",
        "stockTireSizeRear",
        *NUMERIC_KEYS,
        *(k + "Rear" for k in NUMERIC_KEYS if k != "hub"),
    }
    assert any(k not in known for k, _ in values)  # unknown extra keys
    assert any("lugType" not in obj for obj in vehicles)  # a key missing
    chassis = [obj["drchassisid"] for obj in vehicles]
    assert any(isinstance(c, int) for c in chassis)
    assert any(isinstance(c, str) for c in chassis)
    for obj in vehicles:  # always served, never blank
        assert isinstance(obj["vehicleType"], str) and obj["vehicleType"]
        assert obj["drchassisid"] not in (None, "")
    # a square car with *Rear keys present but null or ""; a staggered car with real ones
    assert any(
        any(k.endswith("Rear") for k in obj)
        and all(obj[k] in (None, "") for k in obj if k.endswith("Rear"))
        for obj in vehicles
    )
    assert any(
        any(k.endswith("Rear") and obj[k] not in (None, "") for k in obj) for obj in vehicles
    )
    assert {obj["vehicleType"] for obj in vehicles} >= {"Car", "SUV", "Truck"}


def test_names_hold_awkward_characters(tiny_crawl: Any) -> None:
    names: list[str] = []
    for kind in ("makes", "models", "drives"):
        for _, items in _bodies(tiny_crawl, kind):
            names += [n for n in items if isinstance(n, str)]
    for _, info in _bodies(tiny_crawl, "model_info"):
        trim = info.get("trim")
        if trim == "":
            continue  # a model without trims, not a name
        names += [trim] if isinstance(trim, str) else list(trim or [])
    joined = "\n".join(names)
    for ch in "/&+%#?'\",éšë":
        assert ch in joined, ch
    assert any(n != n.rstrip() for n in names)  # trailing space
    assert any("  " in n.strip() for n in names)  # double inner space
    assert "" not in names
    assert "LX" in names and "LX " in names  # whitespace is significant
    urls = [url for url, _ in _bodies(tiny_crawl, "models")]
    assert any("%2F" in u or "%C3" in u for u in urls)


def test_option_strings_are_realistic(tiny_crawl: Any) -> None:
    options = tiny_crawl.options
    assert set(options) >= {"Car", "SUV", "Truck"}
    car = [len(x) for x in options["Car"]]
    truck = [len(x) for x in options["Truck"]]
    assert truck[0] > car[0]
    assert 'Lifted 2-4"' in options["Truck"][0]
    assert "No Modification" in options["Car"][1]
    assert "No rubbing or scrubbing" in options["Car"][2]


def test_fitment_page_varieties(tiny_crawl: Any, page_parser: Any) -> None:
    pages = [html for _, html in _bodies(tiny_crawl, "fitment")]
    blocks = [page_parser.fit_blocks(p) for p in pages]
    assert any(len(b) == 1 and b[0][0] for b in blocks)  # square: one full-size block
    staggered = [b for b in blocks if len(b) == 2]
    assert staggered
    side = re.compile(r'<nobr>(.*?)</nobr>|<span class="store-conf-header">(.*?)</span>')
    orders = set()
    for pair in staggered:
        labels = [side.search(inner) for _, inner in pair]
        words = tuple((m.group(1) or m.group(2)).split()[0] for m in labels if m is not None)
        assert sorted(words) == ["Front", "Rear"], words
        orders.add(words)
        assert not any(full for full, _ in pair)
    assert orders == {("Front", "Rear"), ("Rear", "Front")}  # section 5: blocks in either order
    inners = [inner for b in blocks for _, inner in b]
    assert any("<b></b>" in i for i in inners)
    assert any("<b> </b>" in i for i in inners)
    assert any(i.count("store-conf-range") < 3 for i in inners)  # a missing range span
    clean = [page_parser.strip_inert(p) for p in pages]
    assert any('<div class="store-bp" data-bp="' in c for c in clean)
    assert any('<div class="store-bp">Bolt Pattern:' in c for c in clean)
    no_data = [c for c, b in zip(clean, blocks, strict=True) if not b]
    assert no_data
    real_bp = re.compile(r'<div class="store-bp"[ >]')
    assert any(real_bp.search(c) for c in no_data)
    assert any(not real_bp.search(c) for c in no_data)
    for page in pages:
        assert page.endswith("</html>")
        assert page.count("</html>") == 1
        assert 90_000 < len(page.encode()) < 115_000  # page_kb=100


def test_real_block_markup_is_exact(tiny_crawl: Any, page_parser: Any) -> None:
    pages = [html for _, html in _bodies(tiny_crawl, "fitment")]
    block = re.compile(
        r'<div class="store-ymm-fitrange full-size">\n  <nobr>Front &amp; Rear</nobr>\n'
        r'  <span class="store-conf-range">Diameter: <b>\d+(\.\d+)?" to \d+(\.\d+)?"</b></span>\n'
        r'  <span class="store-conf-range">Width: <b>\d+(\.\d+)?" to \d+(\.\d+)?"</b></span>\n'
        r'  <span class="store-conf-range">Offset: <b>([+-]\d+|0)mm to ([+-]\d+|0)mm</b></span>\n'
        r"</div>\n"
    )
    assert any(block.search(page_parser.strip_inert(p)) for p in pages)
    for p in pages:
        for _, inner in page_parser.fit_blocks(p):
            assert "<div" not in inner


def test_decoys_surround_the_real_block(tiny_crawl: Any) -> None:
    page = next(
        html
        for _, html in _bodies(tiny_crawl, "fitment")
        if '<div class="store-ymm-fitrange full-size">\n  <nobr>' in html
    )
    real = page.index('<section id="ymm-fitment"')
    fake = re.compile(r'<!--[^>]*?\n<div class="store-ymm-fitrange[^>]*>.*?-->', re.S)
    comments = [m.start() for m in fake.finditer(page)]
    assert min(comments) < real < max(comments)
    scripts = re.findall(r"<script>(.*?)</script>", page, re.S)
    assert any("store-ymm-fitrange" in s and 'Diameter: <b>15" to 24"</b>' in s for s in scripts)
    assert page.index("<script>\nwindow.dataLayer") > real
    for lookalike in ('class="store-ymm-fitrange-help"', 'class="old-store-ymm-fitrange"'):
        assert lookalike in page
    assert page.index('class="store-ymm-fitrange-help"') < real
    assert page.index('class="old-store-ymm-fitrange"') > real
    texts = [m.start() for m in re.finditer(r'Diameter: \d+" to \d+"', page)]
    assert min(texts) < real < max(texts)
    assert '<div class="store-bp-info" data-bp="4x4,4x101.6">' in page
    product_bp = [m.start() for m in re.finditer(r'<a class="product-link"[^>]* data-bp="', page)]
    assert min(product_bp) < real < max(product_bp)
