"""Property-based tests: every parser returns its record or raises ParseError, nothing else."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import partial
from typing import Any

import protocol_pages as pages
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from custom_wheel_offset.errors import ParseError, TruncatedBodyError
from custom_wheel_offset.protocol.api import (
    load_json,
    parse_model_info,
    parse_names,
    parse_vehicle,
    parse_years,
)
from custom_wheel_offset.protocol.records import FitmentPage, ModelInfo, VehicleSpec
from custom_wheel_offset.protocol.store import (
    is_challenge,
    parse_fitment_block,
    parse_fitment_page,
    parse_options,
)

# The 100 KB fixture makes some examples slow on a loaded machine; the
# outcome, not the time, is under test.
SLOW = settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])

# Lone surrogates are valid JSON ("\ud800") but not text: parsers must refuse them cleanly.
surrogates = st.text(st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF), max_size=2)
leaves = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats()
    | st.text(max_size=12)
    | st.sampled_from(["", " ", "2024", "+35", "-12", "7.5", " 64.1 ", "17in", "abc", "NaN"])
    | surrogates
)
json_values = st.recursive(
    leaves,
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=8), children, max_size=5)
    ),
    max_leaves=20,
)


def encode(value: Any, ascii_only: bool) -> bytes:
    text = json.dumps(value, ensure_ascii=ascii_only)
    # A surrogate written raw (ensure_ascii=False) becomes bytes that are not UTF-8.
    return text.encode("utf-8", "surrogatepass")


def outcome(parse: Callable[[bytes], Any], body: bytes) -> Any:
    """The parser's record, or None when it raised ParseError; anything else propagates."""
    try:
        return parse(body)
    except ParseError:
        return None


def check_json_parsers(body: bytes) -> None:
    years = outcome(parse_years, body)
    assert years is None or (isinstance(years, list) and all(type(y) is int for y in years))
    for what in ("makes", "models", "drives"):
        names = outcome(partial(parse_names, what=what), body)
        assert names is None or (
            isinstance(names, list) and all(isinstance(n, str) and n for n in names)
        )
        if names is not None:
            assert len(set(names)) == len(names)
    info = outcome(parse_model_info, body)
    assert info is None or isinstance(info, ModelInfo)
    spec = outcome(parse_vehicle, body)
    assert spec is None or isinstance(spec, VehicleSpec)
    for which in ("suspension", "trimming", "rubbing"):
        options = outcome(partial(parse_options, which=which), body)
        assert options is None or (
            isinstance(options, tuple) and all(isinstance(o, str) and o for o in options)
        )


@given(st.binary(max_size=300))
def test_json_parsers_on_arbitrary_bytes(body: bytes) -> None:
    check_json_parsers(body)


@given(json_values, st.booleans())
def test_json_parsers_on_arbitrary_json(value: Any, ascii_only: bool) -> None:
    check_json_parsers(encode(value, ascii_only))


VEHICLE_KEYS = [
    "vehicleType",
    "drchassisid",
    "boltpattern",
    "boltpatternInches",
    "hub",
    "lugType",
    "lugSize",
    "stockWheelDiameter",
    "stockWheelWidth",
    "stockOffset",
    "stockTireSize",
    "wheelDiameterMin",
    "wheelDiameterMax",
    "wheelWidthMin",
    "wheelWidthMax",
    *(
        f"{stem}Rear"
        for stem in (
            "stockWheelDiameter",
            "stockWheelWidth",
            "stockOffset",
            "stockTireSize",
            "wheelDiameterMin",
            "wheelDiameterMax",
            "wheelWidthMin",
            "wheelWidthMax",
        )
    ),
]
plausible = st.sampled_from(["8", "17", "+35", "-12", "9.5", " 20 ", "64.1", 18, 7.5, -40, 0])


@given(st.dictionaries(st.sampled_from(VEHICLE_KEYS), json_values | plausible, max_size=12))
def test_vehicle_objects(obj: dict[str, Any]) -> None:
    spec = outcome(parse_vehicle, json.dumps(obj).encode())
    if spec is None:
        return
    assert spec.raw == json.loads(json.dumps(obj))

    def has_value(key: str) -> bool:
        value = obj.get(key)
        if value is None or value == "":
            return False
        # A blank number is "no value"; a blank tire size is text kept as served.
        return key == "stockTireSizeRear" or not (isinstance(value, str) and not value.strip())

    staggered = any(has_value(k) for k in VEHICLE_KEYS if k.endswith("Rear"))
    assert (spec.rear is spec.front) == (not staggered)


@given(json_values, st.booleans(), st.data())
def test_every_cut_of_valid_json_is_truncated_or_parses(
    value: Any, ascii_only: bool, data: st.DataObject
) -> None:
    text = json.dumps(value, ensure_ascii=ascii_only)
    try:
        body = text.encode("utf-8")
    except UnicodeEncodeError:  # a raw lone surrogate: not a body a server can send
        body = json.dumps(value).encode()
    # Cut anywhere, even inside a multi-byte character.
    prefix = body[: data.draw(st.integers(0, max(len(body) - 1, 0)))]
    try:
        load_json(prefix, "x")
    except TruncatedBodyError:
        return
    except ParseError as exc:  # pragma: no cover - a failure to report
        pytest.fail(f"{prefix!r} is a cut of valid JSON but got {exc.reason!r}")


@given(json_values, st.sampled_from(["x", "}", "]", ":", ",1]"]))
def test_valid_json_with_trailing_junk_is_not_truncated(value: Any, junk: str) -> None:
    body = (json.dumps(value) + junk).encode()
    with pytest.raises(ParseError) as info:
        load_json(body, "x")
    assert not isinstance(info.value, TruncatedBodyError)


# --------------------------------------------------------------------------- fitment pages


def check_page(body: bytes) -> None:
    assert isinstance(is_challenge(body), bool)
    page = outcome(parse_fitment_page, body)
    if page is None:
        return
    assert isinstance(page, FitmentPage)
    assert page.status in ("ok", "no_data")
    if page.status == "no_data":
        assert page == FitmentPage.no_data() and page.raw_block == ""
        return
    # A saved block re-parses to the same record, and saves the same text.
    again = parse_fitment_block(page.raw_block)
    assert again == page
    assert again.raw_block == page.raw_block


@SLOW
@given(st.binary(max_size=2000))
def test_fitment_page_on_arbitrary_bytes(body: bytes) -> None:
    check_page(body)
    check_page(body + b"</html>")


values = st.sampled_from(
    ['17" to 20"', "-12mm to +35mm", "7 to 9.5", "", " ", "abc", '20" to 17"', "5mm", '8" to 41"']
) | st.text(alphabet='0123456789.+-" tomin&;#', max_size=16)
spans = st.builds(
    lambda label, value: f'<span class="store-conf-range">{label} <b>{value}</b></span>',
    st.sampled_from(["Diameter:", "Width:", "Offset:", "Load:", "width :", ""]),
    values,
)
blocks = st.builds(
    lambda classes, label, inner: (
        f'<div class="{classes}"><nobr>{label}</nobr>{"".join(inner)}</div>'
    ),
    st.sampled_from(
        ["store-ymm-fitrange", "store-ymm-fitrange full-size", "store-ymm-fitrange-help"]
    ),
    st.sampled_from(["Front", "Rear", "Front &amp; Rear", "Both", ""]),
    st.lists(spans, max_size=4),
)
fragments = st.lists(
    st.sampled_from(
        [
            pages.SQUARE_BLOCK,
            pages.STAGGERED_BLOCKS,
            pages.BOLT_DATA,
            pages.BOLT_TEXT,
            *pages.DECOYS_BEFORE.split("\n<"),
            "<!--",
            "-->",
            "<!-->",
            "<script>",
            "</script>",
            "<style>",
            '<div class="store-ymm-fitrange full-size">',
            "</div>",
            '<span class="store-bp" data-bp="',
            '<span class="store-bp">',
            "</span>",
            "<b>",
            "</b>",
            "<title>Human Verification</title>",
            "</html>",
            "é★",
        ]
    )
    | blocks
    | spans
    | st.text(alphabet="<>\"'/=!- abdivspn&;#xstore-ymfitrage", max_size=30),
    max_size=12,
)


@SLOW
@given(fragments, st.integers(0, 4000), st.booleans())
def test_fitment_page_on_page_like_markup(parts: list[str], cut: int, close: bool) -> None:
    body = ("<html><body>" + "\n".join(parts) + ("</body></html>" if close else "")).encode()
    check_page(body)
    check_page(body[:cut])


@SLOW
@given(st.data(), st.binary(min_size=1, max_size=3))
def test_padded_fixture_cut_or_corrupted(data: st.DataObject, junk: bytes) -> None:
    body = (pages.FIXTURES / "fitment_decoys_100k.html").read_bytes()
    assert body.endswith(b"</html>\n")
    cut = data.draw(st.integers(0, len(body)))
    # Any cut before the final "</html>" is a truncated page.
    with pytest.raises(TruncatedBodyError):
        parse_fitment_page(body[: min(cut, len(body) - 9)])
    corrupted = body[:cut] + junk + body[cut:]
    check_page(corrupted)


@given(
    diameters=st.tuples(st.integers(8, 40), st.integers(8, 40)).map(sorted),
    widths=st.tuples(st.integers(6, 40), st.integers(6, 40)).map(sorted),
    offsets=st.tuples(st.integers(-150, 200), st.integers(-150, 200)).map(sorted),
)
def test_generated_square_values_come_back(
    diameters: list[int], widths: list[int], offsets: list[int]
) -> None:
    w_min, w_max = (w / 2 for w in widths)  # 3.0 .. 20.0 in half inches
    block = (
        '<div class="store-ymm-fitrange full-size"><nobr>Front &amp; Rear</nobr>'
        f'<span class="store-conf-range">Diameter: <b>{diameters[0]}" to {diameters[1]}"</b></span>'
        f'<span class="store-conf-range">Width: <b>{w_min:g}&quot; to {w_max:g}&#34;</b></span>'
        '<span class="store-conf-range">Offset: '
        f"<b>{offsets[0]:+d}mm to {offsets[1]:+d}mm</b></span>"
        "</div>"
    )
    got = parse_fitment_page(pages.page(block).encode())
    assert (got.front.diameter_min, got.front.diameter_max) == tuple(map(float, diameters))
    assert (got.front.width_min, got.front.width_max) == (w_min, w_max)
    assert (got.front.offset_min, got.front.offset_max) == tuple(map(float, offsets))
    assert got.rear == got.front


def test_names_from_arbitrary_text_survive() -> None:
    # One fixed awkward list, to make the property below concrete.
    names = ["LX", "LX ", " LX", "F-250/350", "Citroën", "86", "#1?", 'a"b']
    assert parse_names(json.dumps([*names, 86]).encode(), "models") == names


@given(st.lists(st.text(min_size=1, max_size=12), max_size=8))
def test_names_round_trip_exactly(names: list[str]) -> None:
    assume(all(names))
    got = parse_names(json.dumps(names).encode(), "models")
    assert got == list(dict.fromkeys(names))


@given(st.lists(st.tuples(st.text(min_size=1), st.text() | st.integers()), max_size=14))
def test_query_strings_are_urlencode_with_nothing_safe(params: list[tuple[str, Any]]) -> None:
    """The cached encoder builds exactly what the standard library would."""
    from urllib.parse import quote, urlencode

    from custom_wheel_offset.protocol.urls import _query

    expected = urlencode([(k, str(v)) for k, v in params], quote_via=quote, safe="")
    assert _query(params) == expected
    assert _query(params) == expected  # the second time from the cache
