"""Adversarial markup at full page size (100 KB) and 1 MB: a record or a ParseError, nothing else.

Deep nesting, thousands of nested look-alike blocks, stray end tags and
random junk, with or without a real block somewhere in them. The parser
must neither recurse (5,000-deep nesting once raised RecursionError) nor
rescan (nested look-alikes once cost 18 s of CPU); outcomes, not times,
are asserted here (``scripts/bench_parser.py`` measures the times).
"""

from __future__ import annotations

import protocol_pages as pages
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from custom_wheel_offset.errors import ParseError, TruncatedBodyError
from custom_wheel_offset.protocol.records import FitmentPage
from custom_wheel_offset.protocol.store import (
    is_challenge,
    parse_fitment_block,
    parse_fitment_page,
)

KB100 = 100_000
MB1 = 1_000_000
FEW = settings(deadline=None, max_examples=6, suppress_health_check=list(HealthCheck))
SOME = settings(deadline=None, max_examples=25, suppress_health_check=list(HealthCheck))

LOOKALIKE = (
    '<div class="store-ymm-fitrange"><nobr>Front</nobr>'
    '<span class="store-conf-range">Width: <b>7" to 8"</b></span>'
)
UNITS = [
    "<div>",
    "<span>",
    "<b>",
    "<p>",
    "<table><tr><td>",
    "<li>",
    "<nobr>",
    LOOKALIKE,
    '<span class="store-conf-range">Diameter: <b>',
    '<span class="store-bp" data-bp="5x4.5,5x114.3">',
    '<div class="store-ymm-fitrange full-size">',
    "</div>",
    "</span>",
    "</b>",
    "</p>",
    "</table>",
    "</nobr>",
    "</html>",
    "<!--",
    "-->",
    "<script>",
    "</script>",
    "x",
    "é★",
]
junk = st.text(alphabet="<>/=\"'!- abdivspnx&;#", min_size=1, max_size=40)
units = st.lists(st.sampled_from(UNITS) | junk, min_size=1, max_size=6).map("".join)


def outcome(body: bytes) -> FitmentPage | None:
    """The record, or None for a ParseError (TruncatedBodyError included); others propagate."""
    assert isinstance(is_challenge(body), bool)
    try:
        got = parse_fitment_page(body)
    except ParseError:
        return None
    if got.status == "ok":
        again = parse_fitment_block(got.raw_block)
        assert again == got
        assert again.raw_block == got.raw_block
    return got


def adversarial(unit: str, size: int, real: bool, at: float, close: bool) -> bytes:
    """``unit`` repeated to about ``size`` bytes, a real block at fraction ``at`` if asked."""
    filler = unit * max(1, size // max(1, len(unit.encode())))
    cut = int(len(filler) * at)
    middle = pages.SQUARE_BLOCK + pages.BOLT_DATA if real else ""
    foot = "</body></html>" if close else ""
    return f"<!DOCTYPE html><html><body>{filler[:cut]}{middle}{filler[cut:]}{foot}".encode()


@SOME
@given(units, st.booleans(), st.floats(0, 1), st.booleans())
def test_100k_adversarial_markup(unit: str, real: bool, at: float, close: bool) -> None:
    outcome(adversarial(unit, KB100, real, at, close))


@FEW
@given(units, st.booleans(), st.floats(0, 1), st.booleans())
def test_1mb_adversarial_markup(unit: str, real: bool, at: float, close: bool) -> None:
    outcome(adversarial(unit, MB1, real, at, close))


@FEW
@given(st.binary(min_size=1, max_size=64), st.booleans())
def test_1mb_random_bytes(chunk: bytes, close: bool) -> None:
    body = chunk * (MB1 // len(chunk))
    outcome(body + (b"</html>" if close else b""))


# --------------------------------------------------------------------------- named cases


@pytest.mark.parametrize("tag", ["div", "span", "b", "table"])
def test_deep_nesting_around_the_block_does_not_matter(tag: str) -> None:
    # 5,000+ levels (here ~80,000 in 1 MB) around the block: only the block's own markup
    # is parsed (a window from its "<"), so the depth of the page around it costs nothing.
    # (When the whole page was parsed, libxml2 stopped at 2,048 levels: a ParseError.)
    depth = MB1 // (2 * len(tag) + 5)
    body = (
        f"<!DOCTYPE html><html><body>{f'<{tag}>' * depth}{pages.SQUARE_BLOCK}"
        f"{pages.BOLT_DATA}{f'</{tag}>' * depth}</body></html>"
    ).encode()
    got = parse_fitment_page(body)
    assert (got.front.diameter_min, got.bolt_pattern_mm) == (17.0, "5x114.3")


@pytest.mark.parametrize("tag", ["span", "b"])
def test_deep_nesting_inside_the_block_is_a_clear_error(tag: str) -> None:
    # 5,000 levels inside the block (30 KB, within the 64 KB cap): libxml2 stops at 2,048.
    inner = f"<{tag}>" * 5000 + "x" + f"</{tag}>" * 5000
    block = pages.SQUARE_BLOCK.replace("</div>", inner + "</div>")
    with pytest.raises(ParseError, match="not read to the end: Excessive depth") as info:
        parse_fitment_page(page_with(block))
    assert not isinstance(info.value, TruncatedBodyError)


def test_moderate_nesting_still_parses() -> None:
    body = (
        f"<!DOCTYPE html><html><body>{'<div>' * 1500}{pages.SQUARE_BLOCK}"
        f"{'</div>' * 1500}</body></html>"
    ).encode()
    assert parse_fitment_page(body).front.diameter_max == 20.0


def test_thousands_of_nested_lookalike_blocks() -> None:
    n = 1500  # under the depth limit: every block is real markup, nested in the one before
    body = f"<!DOCTYPE html><html><body>{LOOKALIKE * n}{'</div>' * n}</body></html>".encode()
    # The first block's window already holds the second: an error after one small parse.
    nested = r"sits inside another fit-range block \(<div> at byte 27\)"
    with pytest.raises(ParseError, match=nested):
        parse_fitment_page(body)


def test_stray_end_tags_around_the_real_block() -> None:
    stray = "</div></span></b></p></table></nobr></td>" * 20_000  # ~840 KB
    body = page_with(stray, pages.SQUARE_BLOCK, pages.BOLT_DATA, stray)
    got = parse_fitment_page(body)
    assert (got.front.diameter_min, got.bolt_pattern_mm) == (17.0, "5x114.3")


def page_with(*parts: str) -> bytes:
    return pages.page(*parts).encode()


def test_a_bolt_element_left_open_around_the_block_is_refused() -> None:
    # Found by hypothesis (test_fitment_page_on_page_like_markup): the unclosed
    # span swallowed the block, and the saved raw block held the block twice.
    block = (
        '<div class="store-ymm-fitrange full-size"><nobr>Front &amp; Rear</nobr>'
        '<span class="store-conf-range">Diameter: <b>17" to 20"</b></span>'
        '<span class="store-conf-range">Width: <b>7" to 9.5"</b></span>'
        '<span class="store-conf-range">Offset: <b>-12mm to +35mm</b></span></div>'
    )
    body = (
        '<html><body><span class="store-bp">\n' + block + '\n<span class="store-bp" '
        'data-bp="5x4.5,5x114.3">5x114.3mm</span></body></html>'
    ).encode()
    with pytest.raises(ParseError, match="wraps a fit-range block"):
        parse_fitment_page(body)
