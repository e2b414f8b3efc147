"""Fitment-page shapes of site-protocol.md section 5, the ambiguity errors, the WAF challenge."""

from __future__ import annotations

from pathlib import Path

import protocol_pages as pages
import pytest

from custom_wheel_offset.errors import ParseError, TruncatedBodyError
from custom_wheel_offset.protocol.records import AxleRanges, FitmentPage
from custom_wheel_offset.protocol.store import (
    CHALLENGE_REASON,
    is_challenge,
    parse_fitment_block,
    parse_fitment_page,
)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "protocol"

SQUARE = AxleRanges(17.0, 20.0, 7.0, 9.5, -12.0, 35.0)
FRONT = AxleRanges(19.0, 21.0, 8.5, 9.5, 20.0, 45.0)
REAR = AxleRanges(19.0, 21.0, 10.0, 11.5, None, None)  # offset written "mm to mm"


def parsed(name: str) -> FitmentPage:
    got = parse_fitment_page((FIXTURES / name).read_bytes())
    # Every record re-parses from its saved block to itself.
    assert parse_fitment_block(got.raw_block) == got
    return got


def page(*parts: str) -> bytes:
    return pages.page(*parts).encode()


def assert_parse_error(body: bytes, match: str) -> None:
    with pytest.raises(ParseError, match=match) as info:
        parse_fitment_page(body)
    assert not isinstance(info.value, TruncatedBodyError)


# --------------------------------------------------------------------------- fixture per shape


def test_blank_ranges_written_with_units_only() -> None:
    got = parsed("fitment_blank_units.html")
    assert got == FitmentPage("ok", "5x114.3", "5x4.5", AxleRanges(), AxleRanges())


def test_staggered_labelled_by_conf_header_in_any_order() -> None:
    got = parsed("fitment_staggered_conf_header.html")
    assert got == FitmentPage("ok", "5x112", "5x4.41", FRONT, REAR)


def test_staggered_labelled_by_header_and_nobr_with_mm_first_data_bp() -> None:
    got = parsed("fitment_staggered_header_and_nobr.html")
    assert got == FitmentPage("ok", "5x112", "5x4.41", FRONT, REAR)


@pytest.mark.parametrize(
    ("name", "mm", "inch"),
    [
        ("fitment_bolt_data_bp_mm_first.html", "5x114.3", "5x4.5"),
        ("fitment_bolt_text_both_units.html", "5x128", "5x5.04"),
        ("fitment_bolt_text_mm_only.html", "5x114.3", None),
        ("fitment_bolt_text_inch_only.html", None, "5x4.5"),
        ("fitment_bolt_text_bare_mm.html", "5x114.3", None),
    ],
)
def test_bolt_pattern_shapes(name: str, mm: str | None, inch: str | None) -> None:
    got = parsed(name)
    assert got == FitmentPage("ok", mm, inch, SQUARE, SQUARE)
    assert 'class="bolt_patterns store-bp"' in got.raw_block


# --------------------------------------------------------------------------- shapes inline


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ('" to "', "Diameter:"),
        ("in to in", "Width:"),
        ("″ to ″", "Width:"),
        (" to ", "Offset:"),
        ("mm to mm", "Offset:"),
        ("MM TO MM", "Offset:"),
        ("", "Offset:"),
    ],
)
def test_blank_range_forms(value: str, kind: str) -> None:
    block = pages.fit_block("", pages.conf_range(kind, value), full_size=True)
    assert parse_fitment_page(page(block)).front == AxleRanges()


@pytest.mark.parametrize(
    "data_bp",
    ["5x4.5,5x114.3", "5x114.3,5x4.5", "5x114.3, 5x4.5", " 5x4.5 ,5x114.3 "],
)
def test_data_bp_in_either_order(data_bp: str) -> None:
    got = parse_fitment_page(page(pages.SQUARE_PLAIN, pages.bolt_span("", data_bp)))
    assert (got.bolt_pattern_mm, got.bolt_pattern_in) == ("5x114.3", "5x4.5")


@pytest.mark.parametrize(
    ("text", "mm", "inch"),
    [
        ('5x4.5" (5x114.3mm)', "5x114.3", "5x4.5"),  # units first or second: by value
        ("8x6.5", None, "8x6.5"),  # a bare inch pattern, by value
        ("Bolt Pattern: 6x139.7 mm", "6x139.7", None),
        ("4x98mm (4x3.86in)", "4x98", "4x3.86"),
    ],
)
def test_bolt_text_told_apart_by_value(text: str, mm: str | None, inch: str | None) -> None:
    got = parse_fitment_page(page(pages.SQUARE_PLAIN, pages.bolt_span(text)))
    assert (got.bolt_pattern_mm, got.bolt_pattern_in) == (mm, inch)


def test_labels_in_nobr_and_header_may_differ_in_wording() -> None:
    front = pages.fit_block("<nobr>FRONT wheels</nobr>" + pages.header("Front Sizes:"))
    rear = pages.fit_block(pages.header("rear sizes:"))
    got = parse_fitment_page(page(rear, front))
    assert got.status == "ok" and got.front == got.rear == AxleRanges()


# --------------------------------------------------------------------------- ambiguity errors

FRONT_BLOCK = pages.fit_block(pages.header("Front Sizes:"))
REAR_BLOCK = pages.fit_block(pages.header("Rear Sizes:"))


@pytest.mark.parametrize(
    ("parts", "reason"),
    [
        ([FRONT_BLOCK, REAR_BLOCK, REAR_BLOCK], "3 fit-range blocks on one page"),
        ([FRONT_BLOCK, FRONT_BLOCK], "two fit-range blocks labelled Front"),
        (
            [pages.fit_block("<nobr>Front</nobr>"), pages.fit_block(pages.header("Front Sizes:"))],
            "two fit-range blocks labelled Front",
        ),
        ([pages.SQUARE_PLAIN, REAR_BLOCK], "a full-size fit-range block together with another"),
        (
            [pages.fit_block("<nobr>Front</nobr>" + pages.header("Rear Sizes:")), REAR_BLOCK],
            "<nobr> says Front but the store-conf-header says Rear",
        ),
        ([FRONT_BLOCK, pages.fit_block(pages.header("Sizes:"))], "has no Front/Rear label"),
        (
            ['<div class="store-ymm-fitrange"><span class="store-ymm-fitrange">x</span></div>'],
            "sits inside another fit-range block",
        ),
    ],
)
def test_ambiguous_blocks(parts: list[str], reason: str) -> None:
    assert_parse_error(page(*parts), reason)


@pytest.mark.parametrize(
    ("bolt", "reason"),
    [
        (pages.bolt_span("", "5x114.3,5x120"), "'5x114.3' and '5x120' are both mm"),
        (pages.bolt_span("", "5x4.5,5x4.75"), "are both in"),
        (pages.bolt_span("5x114.3mm (5x120mm)"), "are both mm"),
        (pages.bolt_span("5x4.5 or 5x5"), "are both in"),
        (pages.bolt_span("", "5x50,5x4.5"), "pitch-circle diameter of 50, neither inches"),
        (pages.bolt_span("5x400mm"), "diameter of 400, neither"),
        (pages.bolt_span("5x2"), "diameter of 2, neither"),
        (pages.bolt_span("5x4.5mm"), "'5x4.5' is written in mm but its size is in"),
        (pages.bolt_span('5x114.3"'), "'5x114.3' is written in in but its size is mm"),
        (pages.bolt_span("5x114.3 (5x4.5) or 6x139.7"), "holds 3 bolt patterns"),
        (pages.bolt_span("", "5x114.3"), "is not 'INCH,MM'"),
        (pages.bolt_span("", "5x114.3,5x4.5,5x4.5"), "is not 'INCH,MM'"),
        (
            pages.bolt_span("5x114.3mm") + pages.bolt_span('5x4.5"'),
            "bolt pattern elements disagree",
        ),
    ],
)
def test_ambiguous_bolt_patterns(bolt: str, reason: str) -> None:
    assert_parse_error(page(pages.SQUARE_PLAIN, bolt), reason)


@pytest.mark.parametrize("value", ['17" to "', '" to 20"', "mm to +35mm"])
def test_half_blank_range_is_an_error(value: str) -> None:
    kind = "Offset:" if "mm" in value else "Diameter:"
    block = pages.fit_block("", pages.conf_range(kind, value), full_size=True)
    assert_parse_error(page(block), "has one bound only")


# --------------------------------------------------------------------------- challenge

HEAD = "<!DOCTYPE html><html><head><title>Wheels</title>{}</head><body>x</body></html>"
GOKU = '<script>window.gokuProps = {"key": "k", "iv": "i"};</script>'
CAPTCHA = '<script src="https://a.b.captcha.awswaf.com/x/y/captcha.js"></script>'
CHALLENGE_JS = '<script src="//a.b.token.awswaf.com/x/y/challenge.js"></script>'


def test_awswaf_challenge_fixture() -> None:
    body = (FIXTURES / "fitment_challenge_awswaf.html").read_bytes()
    assert is_challenge(body)
    assert_parse_error(body, CHALLENGE_REASON)
    assert_parse_error(body[:300], CHALLENGE_REASON)  # cut short: still a challenge


def test_awswaf_sdk_on_a_data_page_is_data() -> None:
    body = (FIXTURES / "fitment_awswaf_sdk_on_data_page.html").read_bytes()
    assert b"challenge.js" in body and b"gokuProps" in body and b"captcha.js" in body
    assert not is_challenge(body)
    assert parsed("fitment_awswaf_sdk_on_data_page.html").front == SQUARE


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (GOKU, True),
        ("<script>\nwindow . gokuProps={}\n</script>", True),
        (CAPTCHA, True),
        ('<SCRIPT SRC="https://X.AWSWAF.COM/a/CAPTCHA.JS"></SCRIPT>', True),
        (CHALLENGE_JS, False),  # the SDK alone: protected sites load it on data pages
        (CHALLENGE_JS + GOKU, True),
        ("<!-- " + GOKU + CAPTCHA + " -->", False),
        ('<script src="https://awswaf.com.example.net/captcha.js"></script>', False),
        ('<script src="https://a.awswaf.com/captcha.js.map"></script>', False),
        ("<script>if (window.gokuProps == null) {}</script>", False),
        ('<script src="http://[::1/captcha.js"></script>', False),
        ("<noscript>Human Verification</noscript>", False),
    ],
)
def test_awswaf_markers(head: str, expected: bool) -> None:
    body = HEAD.format(head).encode()
    assert is_challenge(body) is expected
    if expected:
        assert_parse_error(body, CHALLENGE_REASON)
    else:
        assert parse_fitment_page(body) == FitmentPage.no_data()


def test_the_response_check_looks_for_markers_in_the_head() -> None:
    """Section 5 puts the markers in the challenge page's head: the check run on
    every response looks there only, and reads a page without ``</head`` whole."""
    in_body = (
        "<!DOCTYPE html><html><head><title>Wheels</title></head><body>" + GOKU + "</body></html>"
    ).encode()
    assert not is_challenge(in_body)
    no_head_end = ("<!DOCTYPE html><html><head><title>Wheels</title>" + GOKU).encode()
    assert is_challenge(no_head_end)
    upper = HEAD.format(CAPTCHA).replace("</head>", "</HEAD>").encode()
    assert is_challenge(upper)
