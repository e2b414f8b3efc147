"""Store parsers: preference options, challenge detection, fitment pages (with decoys)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import protocol_pages as pages
import pytest

from custom_wheel_offset.errors import ParseError, TruncatedBodyError
from custom_wheel_offset.protocol.records import AxleRanges, FitmentPage
from custom_wheel_offset.protocol.store import (
    CHALLENGE_REASON,
    is_challenge,
    parse_fitment_block,
    parse_fitment_page,
    parse_options,
)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "protocol"

SQUARE_RANGES = AxleRanges(17.0, 20.0, 7.0, 9.5, -12.0, 35.0)
SQUARE = FitmentPage("ok", "5x114.3", "5x4.5", SQUARE_RANGES, SQUARE_RANGES)
STAGGERED = FitmentPage(
    "ok",
    "5x112",
    "5x4.41",
    AxleRanges(19.0, 21.0, 8.5, 9.5, 20.0, 45.0),
    AxleRanges(19.0, 21.0, 10.0, 11.5, 25.0, 52.0),
)


def fixture(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


def page(*parts: str, pad: int = 0) -> bytes:
    return pages.page(*parts, pad=pad).encode()


def square_block(*spans: str, classes: str = "store-ymm-fitrange full-size") -> str:
    inner = "\n  ".join(spans)
    return f'<div class="{classes}">\n  <nobr>Front &amp; Rear</nobr>\n  {inner}\n</div>'


def span(label: str, value: str | None) -> str:
    bold = "" if value is None else f"<b>{value}</b>"
    return f'<span class="store-conf-range">{label} {bold}</span>'


def axle_block(label: str, diameter: str = '17" to 20"') -> str:
    return (
        f'<div class="store-ymm-fitrange"><nobr>{label}</nobr>{span("Diameter:", diameter)}</div>'
    )


def as_written(fragment: str) -> str:
    """``fragment`` as the HTML parser writes it back: double-quoted attributes, ``"`` as text.

    ``raw_block`` holds the parser's serialisation of the block(s), which
    differs from the served bytes only in such spelling.
    """
    return fragment.replace("&quot;", '"').replace("&#34;", '"').replace("'", '"')


def assert_parse_error(body: bytes, match: str) -> ParseError:
    with pytest.raises(ParseError, match=match) as info:
        parse_fitment_page(body)
    assert not isinstance(info.value, TruncatedBodyError)
    return info.value


# --------------------------------------------------------------------------- options


def test_options_fixtures() -> None:
    assert parse_options(fixture("suspension_truck.json"), "suspension") == (
        "Stock Suspension",
        "Leveling Kit",
        'Lifted 2-4"',
        'Lifted 4-6"',
    )
    assert parse_options(fixture("trimming.json"), "trimming") == (
        "No Modification",
        "Minor Plastic Trimming",
        "Major Plastic Trimming",
        "Cut & Weld",
    )
    assert parse_options(fixture("rubbing_bare.json"), "rubbing") == ("No rubbing or scrubbing",)


def test_options_empty_list_and_exact_strings() -> None:
    assert parse_options(b"[]", "rubbing") == ()
    assert parse_options(json.dumps([" Stock ", "Stock"]).encode(), "suspension") == (
        " Stock ",
        "Stock",
    )


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ({"a": "Stock"}, "suspension options: expected a JSON list of strings, got an object"),
        (5, "expected a JSON list of strings, got 5"),
        (None, "got None"),
        (["Stock", 2], "item 1 is 2, not an option string"),
        (["Stock", None], "item 1 is None"),
        (["Stock", ["Lifted"]], "item 1 is \\['Lifted'\\]"),
        (["Stock", ""], "item 1 is an empty string"),
    ],
)
def test_options_reject(value: Any, reason: str) -> None:
    with pytest.raises(ParseError, match=reason):
        parse_options(json.dumps(value).encode(), "suspension")


def test_options_truncated_and_unknown_kind() -> None:
    with pytest.raises(TruncatedBodyError):
        parse_options(b'["Stock Suspension", "Lev', "suspension")
    with pytest.raises(ValueError, match="unknown option kind"):
        parse_options(b"[]", "modification")


# --------------------------------------------------------------------------- challenge


@pytest.mark.parametrize(
    "head",
    [
        "<title>Human Verification</title>",
        "<title>  human verification\n</title>",
        '<TITLE lang="en">HUMAN   VERIFICATION</TITLE >',
        "<Title\n>Human\tVerification</Title>",
    ],
)
def test_challenge_titles(head: str) -> None:
    body = f"<!DOCTYPE html><html><head>{head}</head><body>x</body></html>".encode()
    assert is_challenge(body)
    assert_parse_error(body, CHALLENGE_REASON)


@pytest.mark.parametrize(
    "head",
    [
        "<title>Human Verification Required</title>",
        "<title>Wheels</title><p>Human Verification</p>",
        "<titles>Human Verification</titles>",
        "<title>Verification</title>",
    ],
)
def test_not_challenge_titles(head: str) -> None:
    body = f"<html><head>{head}</head><body>x</body></html>".encode()
    assert not is_challenge(body)


def test_challenge_is_decided_by_the_first_real_title() -> None:
    decoy_first = (
        b"<html><head><!-- <title>Human Verification</title> -->"
        b"<script>t = '<title>Human Verification</title>';</script>"
        b"<title>Wheels | Custom Offsets</title></head><body></body></html>"
    )
    assert not is_challenge(decoy_first)
    assert parse_fitment_page(decoy_first) == FitmentPage.no_data()
    real_first = (
        b"<html><head><title>Human Verification</title></head>"
        b"<body><svg><title>Wheels</title></svg></body></html>"
    )
    assert is_challenge(real_first)
    assert_parse_error(real_first, CHALLENGE_REASON)


def test_challenge_fixture_and_data_pages() -> None:
    challenge = fixture("fitment_challenge.html")
    assert is_challenge(challenge)
    error = assert_parse_error(challenge, CHALLENGE_REASON)
    assert error.reason == "challenge page, not data"
    # A challenge cut short is still a challenge, not a truncated data page.
    assert_parse_error(challenge[:120], CHALLENGE_REASON)
    for name in ("fitment_square.html", "fitment_decoys_100k.html", "fitment_no_data.html"):
        assert not is_challenge(fixture(name))


# --------------------------------------------------------------------------- fixture pages


def test_square_fixture() -> None:
    got = parse_fitment_page(fixture("fitment_square.html"))
    assert got == SQUARE
    assert got.front is got.rear
    assert got.raw_block == pages.SQUARE_BLOCK + "\n" + as_written(pages.BOLT_DATA)


def test_staggered_fixture_with_text_bolt_pattern_and_entities() -> None:
    got = parse_fitment_page(fixture("fitment_staggered.html"))
    assert got == STAGGERED
    assert got.raw_block == as_written(pages.STAGGERED_BLOCKS + "\n" + pages.BOLT_TEXT)


def test_padded_page_with_every_decoy() -> None:
    body = fixture("fitment_decoys_100k.html")
    assert 95_000 <= len(body) <= 110_000
    # The fixture really carries each decoy, before and after the real block.
    text = body.decode()
    real = text.index(pages.SQUARE_BLOCK)
    for decoy in (
        pages.DECOY_COMMENT,
        pages.DECOY_SCRIPT,
        pages.DECOY_STYLE,
        pages.DECOY_LOOKALIKE,
        pages.DECOY_TEXT,
        pages.DECOY_BOLT,
    ):
        assert text.index(decoy) < real < text.rindex(decoy)
    got = parse_fitment_page(body)
    assert got == SQUARE
    assert got.raw_block == pages.SQUARE_BLOCK + "\n" + as_written(pages.BOLT_DATA)


def test_no_data_fixture() -> None:
    got = parse_fitment_page(fixture("fitment_no_data.html"))
    assert got == FitmentPage.no_data()
    assert got.status == "no_data"
    assert got.bolt_pattern_mm is None and got.bolt_pattern_in is None
    assert got.raw_block == ""


def test_truncated_fixture() -> None:
    with pytest.raises(TruncatedBodyError, match="no closing </html>"):
        parse_fitment_page(fixture("fitment_truncated.html"))


# --------------------------------------------------------------------------- decoys one by one

DECOYS = {
    "comment": pages.DECOY_COMMENT,
    "script": pages.DECOY_SCRIPT,
    "style": pages.DECOY_STYLE,
    "lookalike": pages.DECOY_LOOKALIKE,
    "text": pages.DECOY_TEXT,
    "bolt": pages.DECOY_BOLT,
}


@pytest.mark.parametrize("name", list(DECOYS))
def test_each_decoy_alone_is_no_data(name: str) -> None:
    assert parse_fitment_page(page(DECOYS[name])) == FitmentPage.no_data()


@pytest.mark.parametrize("name", list(DECOYS))
def test_each_decoy_around_the_real_block(name: str) -> None:
    decoy = DECOYS[name]
    got = parse_fitment_page(page(decoy, pages.SQUARE_BLOCK, pages.BOLT_DATA, decoy))
    assert got == SQUARE


def test_decoy_bolt_elements_do_not_give_a_bolt_pattern() -> None:
    got = parse_fitment_page(page(pages.DECOY_BOLT, pages.SQUARE_BLOCK, pages.DECOY_BOLT))
    assert got.status == "ok"
    assert got.bolt_pattern_mm is None and got.bolt_pattern_in is None
    assert got.raw_block == pages.SQUARE_BLOCK


@pytest.mark.parametrize("empty", ["<!-->", "<!--->"])
def test_abruptly_closed_comments(empty: str) -> None:
    # "<!-->" and "<!--->" are complete (empty) comments in HTML: the block after counts.
    body = page(empty, pages.SQUARE_BLOCK, pages.BOLT_DATA, "<!-- x -->")
    assert parse_fitment_page(body) == SQUARE


def test_comment_and_script_inside_the_real_block() -> None:
    block = square_block(
        span("Diameter:", '17" to 20"'),
        '<!-- <span class="store-conf-range">Diameter: <b>3" to 4"</b></span> -->',
        "<script>var w = '<span class=\"store-conf-range\">Width: <b>1 to 2</b></span>';</script>",
        span("Width:", '7" to 9.5"'),
    )
    got = parse_fitment_page(page(block))
    assert got.front == AxleRanges(17.0, 20.0, 7.0, 9.5)
    assert got.raw_block == block  # script and comment text are written back as they were
    assert parse_fitment_block(got.raw_block) == got


def test_unclosed_comment_hides_the_rest() -> None:
    # In a browser an unclosed comment runs to the end: so does the real </html>.
    with pytest.raises(TruncatedBodyError):
        parse_fitment_page(page("<!-- never closed", pages.SQUARE_BLOCK))


def test_closing_html_inside_a_script_does_not_count() -> None:
    body = page(pages.SQUARE_BLOCK, "<script>var s = '</html>';</script>")
    cut = body[: body.index(b"</script>") + 9]
    with pytest.raises(TruncatedBodyError):
        parse_fitment_page(cut)
    assert parse_fitment_page(body.replace(b"</html>", b"</HTML >")) == FitmentPage(
        "ok", None, None, SQUARE_RANGES, SQUARE_RANGES
    )


# --------------------------------------------------------------------------- block markup


@pytest.mark.parametrize(
    "opening",
    [
        '<div class="full-size store-ymm-fitrange">',
        "<div class='store-ymm-fitrange\n   full-size'>",
        '<DIV data-note="a>b" class="store-ymm-fitrange full-size" >',
        '<div id=fit class="store-ymm-fitrange full-size" data-bp="1x1,1x1">',
    ],
)
def test_block_start_tag_variants(opening: str) -> None:
    block = pages.SQUARE_BLOCK.replace('<div class="store-ymm-fitrange full-size">', opening)
    if opening.startswith("<DIV"):
        block = block.replace("</div>", "</DIV>")
    assert parse_fitment_page(page(block, pages.BOLT_DATA)) == SQUARE


def test_blank_and_missing_ranges() -> None:
    block = square_block(span("Diameter:", ""), span("Width:", "  \n "))  # offset missing
    got = parse_fitment_page(page(block))
    assert got.front == AxleRanges()
    assert got.status == "ok"


def test_range_forms() -> None:
    block = square_block(
        span("  DIAMETER :", "17in to 20 in"),
        span("width", "7 to 9.5"),
        span("Offset:", "+20mm TO +45 mm"),
    )
    got = parse_fitment_page(page(block))
    assert got.front == AxleRanges(17.0, 20.0, 7.0, 9.5, 20.0, 45.0)


def test_range_without_bold_and_with_nested_label_markup() -> None:
    block = square_block(
        '<span class="store-conf-range">Diameter: 18&quot; to 22&quot;</span>',
        '<span class="store-conf-range"><em>Width:</em> '
        '<strong><b>8" to <i>10"</i></b></strong></span>',
        '<span class="store-conf-range">Offset:</span>',
    )
    got = parse_fitment_page(page(block))
    assert got.front == AxleRanges(18.0, 22.0, 8.0, 10.0, None, None)


def test_unknown_label_is_ignored() -> None:
    block = square_block(span("Load rating:", "1500 lbs"), span("Diameter:", '17" to 20"'))
    assert parse_fitment_page(page(block)).front == AxleRanges(17.0, 20.0)


@pytest.mark.parametrize(
    ("spans", "reason"),
    [
        ([span("Diameter:", 'abc to 20"')], "diameter: 'abc' is not a number"),
        ([span("Diameter:", '18"')], "diameter: '18\"' is not 'MIN to MAX'"),
        ([span("Diameter:", '17" to 20" to 22"')], "is not 'MIN to MAX'"),
        ([span("Diameter:", "17mm to 20mm")], "unit 'mm' does not belong to a diameter"),
        ([span("Width:", "7cm to 9cm")], "unit 'cm' does not belong to a width"),
        ([span("Offset:", '-12" to +35"')], "unit '\"' does not belong to a offset"),
        ([span("Diameter:", '20" to 17"')], "diameter: minimum 20 is greater than maximum 17"),
        ([span("Offset:", "+45mm to -12mm")], "minimum 45 is greater"),
        ([span("Diameter:", '5" to 20"')], "diameter = 5 in is outside 8..40 in"),
        ([span("Diameter:", '17" to 45"')], "outside 8..40"),
        ([span("Width:", '2" to 9"')], "width = 2 in is outside 3..20"),
        ([span("Width:", '7" to 21"')], "outside 3..20"),
        ([span("Offset:", "-200mm to +35mm")], "offset = -200 mm is outside -150..200 mm"),
        ([span("Offset:", "0mm to 250mm")], "outside -150..200"),
        ([span("Width:", '7" to 9"'), span("Width:", '8" to 9"')], "width range is given twice"),
        ([span("Width:", '7" to 9"'), span("width :", "")], "width range is given twice"),
    ],
)
def test_bad_ranges(spans: list[str], reason: str) -> None:
    assert_parse_error(page(square_block(*spans)), reason)


# --------------------------------------------------------------------------- block layout


def test_staggered_in_any_order_and_case() -> None:
    body = page(axle_block("REAR tires", '18" to 20"'), axle_block("front:", '17" to 19"'))
    got = parse_fitment_page(body)
    assert got.front == AxleRanges(17.0, 19.0)
    assert got.rear == AxleRanges(18.0, 20.0)


def test_unquoted_class_attributes() -> None:
    body = page(
        "<div class=store-ymm-fitrange><nobr>Front</nobr>"
        + span("Width:", '7" to 8"')
        + "</div><div class=store-ymm-fitrange><nobr>Rear</nobr>"
        + span("Width:", '9" to 10"')
        + "</div><span class=store-bp data-bp=5x4.5,5x114.3></span>"
    )
    got = parse_fitment_page(body)
    assert (got.front.width_min, got.rear.width_min) == (7.0, 9.0)
    assert got.bolt_pattern_mm == "5x114.3"


def test_full_size_without_label() -> None:
    block = f'<div class="store-ymm-fitrange full-size">{span("Width:", "7 to 8")}</div>'
    assert parse_fitment_page(page(block)).rear == AxleRanges(width_min=7.0, width_max=8.0)


@pytest.mark.parametrize(
    ("parts", "reason"),
    [
        ([axle_block("Front Wheels")], "single fit-range block labelled 'front'"),
        ([axle_block("Rear Wheels")], "single fit-range block labelled 'rear'"),
        ([axle_block("Wheels")], "single fit-range block labelled 'nothing'"),
        ([axle_block("Front"), axle_block("Front")], "two fit-range blocks labelled Front"),
        ([axle_block("Front"), axle_block("Both axles")], "has no Front/Rear label"),
        ([axle_block("Frontal"), axle_block("Rear")], "has no Front/Rear label"),
        (
            [axle_block("Front"), axle_block("Rear"), axle_block("Rear")],
            "3 fit-range blocks on one page",
        ),
        ([pages.SQUARE_BLOCK, axle_block("Rear")], "full-size fit-range block together"),
        (
            ['<div class="store-ymm-fitrange full-size"><div>Diameter:</div></div>'],
            "contains a nested <div>",
        ),
    ],
)
def test_bad_block_layouts(parts: list[str], reason: str) -> None:
    assert_parse_error(page(*parts), reason)


def test_unclosed_block_ends_where_the_parser_ends_it() -> None:
    # As in a browser: an element never closed ends with its parent (formerly an error,
    # when the block's end was looked for by hand).
    block = f'<div class="store-ymm-fitrange full-size">{span("Width:", "7 to 8")}'
    body = page(block).replace(b"</div>", b"</section>")
    got = parse_fitment_page(body)
    assert got.front == AxleRanges(width_min=7.0, width_max=8.0)
    assert parse_fitment_block(got.raw_block) == got


# --------------------------------------------------------------------------- bolt pattern


@pytest.mark.parametrize(
    ("element", "inch", "mm"),
    [
        ('<span class="store-bp" data-bp="5x4.5,5x114.3"></span>', "5x4.5", "5x114.3"),
        ('<span class="store-bp" data-bp=" 6x5.5 , 6x139.7 ">x</span>', "6x5.5", "6x139.7"),
        ("<span class='x store-bp'>5x120mm (5x4.72&quot;)</span>", "5x4.72", "5x120"),
        ('<div class="store-bp">Bolt: <b>8x170mm</b> (8x6.69")</div>', "8x6.69", "8x170"),
        ('<span class="store-bp" data-bp="">4x100mm (4x3.94in)</span>', "4x3.94", "4x100"),
        ('<input class="store-bp" data-bp="5x5,5x127">', "5x5", "5x127"),
    ],
)
def test_bolt_pattern_forms(element: str, inch: str, mm: str) -> None:
    got = parse_fitment_page(page(pages.SQUARE_BLOCK, element))
    assert (got.bolt_pattern_in, got.bolt_pattern_mm) == (inch, mm)
    assert got.raw_block == pages.SQUARE_BLOCK + "\n" + as_written(element)


@pytest.mark.parametrize(
    ("element", "reason"),
    [
        ('<span class="store-bp" data-bp="5x4.5">x</span>', "data-bp '5x4.5' is not 'INCH,MM'"),
        ('<span class="store-bp" data-bp="5x4.5,five">x</span>', "is not 'INCH,MM'"),
        ('<span class="store-bp">call us</span>', "'call us' holds no bolt pattern"),
        ('<span class="store-bp"></span>', "holds no bolt pattern"),
    ],
)
def test_unreadable_bolt_pattern(element: str, reason: str) -> None:
    assert_parse_error(page(pages.SQUARE_BLOCK, element), reason)


def test_bolt_pattern_repeated_must_agree() -> None:
    same = page(
        pages.BOLT_DATA,
        pages.SQUARE_BLOCK,
        pages.BOLT_TEXT.replace("5x112mm (5x4.41", "5x114.3mm (5x4.5"),
    )
    assert parse_fitment_page(same) == SQUARE
    differ = page(pages.BOLT_DATA, pages.SQUARE_BLOCK, pages.BOLT_TEXT)
    assert_parse_error(differ, "bolt pattern elements disagree")


def test_bolt_pattern_element_with_nested_markup() -> None:
    element = '<span class="store-bp"><span>5x114.3mm</span> <span>(5x4.5")</span></span>'
    got = parse_fitment_page(page(pages.SQUARE_BLOCK, element))
    assert (got.bolt_pattern_in, got.bolt_pattern_mm) == ("5x4.5", "5x114.3")
    assert got.raw_block.endswith(element)


def test_bolt_pattern_ignored_on_no_data_page() -> None:
    body = page('<span class="store-bp">unreadable</span>')
    assert parse_fitment_page(body) == FitmentPage.no_data()


def test_bolt_pattern_inside_the_block_is_saved_once() -> None:
    block = square_block(span("Diameter:", '17" to 20"'), pages.BOLT_DATA)
    got = parse_fitment_page(page(block))
    assert got.bolt_pattern_mm == "5x114.3"
    assert got.raw_block == as_written(block)


# --------------------------------------------------------------------------- encoding


def test_non_utf8_page() -> None:
    latin1 = page("<p>Citroën</p>", pages.SQUARE_BLOCK).decode().encode("latin-1")
    error = assert_parse_error(latin1, "page is not UTF-8")
    assert "at byte" in error.reason
    # Far from the block, in the padding, it is an error all the same.
    body = bytearray(fixture("fitment_decoys_100k.html"))
    body[90_000] = 0xFF
    assert_parse_error(bytes(body), "not UTF-8 .* at byte 90000")


def test_multibyte_text_around_chunk_boundaries() -> None:
    # Non-ASCII everywhere, so the piecewise UTF-8 check meets characters at its cuts.
    body = page("<p>" + "★é𝄞" * 20_000 + "</p>", pages.SQUARE_BLOCK)
    assert parse_fitment_page(body) == FitmentPage("ok", None, None, SQUARE_RANGES, SQUARE_RANGES)


# --------------------------------------------------------------------------- raw_block


@pytest.mark.parametrize(
    "name", ["fitment_square.html", "fitment_staggered.html", "fitment_decoys_100k.html"]
)
def test_raw_block_round_trip(name: str) -> None:
    original = parse_fitment_page(fixture(name))
    again = parse_fitment_block(original.raw_block)
    assert again == original
    assert again.raw_block == original.raw_block


def test_raw_block_edge_cases() -> None:
    assert parse_fitment_block("") == FitmentPage.no_data()
    with pytest.raises(ParseError, match="not valid Unicode"):
        parse_fitment_block(pages.SQUARE_BLOCK + "\ud800")
    with pytest.raises(ParseError, match="minimum 20"):
        parse_fitment_block(square_block(span("Diameter:", '20" to 17"')))
