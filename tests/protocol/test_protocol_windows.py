"""How fitment blocks are delimited: a window of the page from each candidate's ``<``.

Only the candidate elements are parsed (docs/parsing.md, "Windows"): the
window starts with the start tag alone and doubles from 512 bytes up to
64 KB until the element closes inside it. These tests pin each rule: a
block longer than the first windows, one over the cap, nested blocks, the
class token outside a class attribute, the bounds on look-alike
candidates and on parsed bytes, comments inside a block and at a window's
edge, and the bolt-pattern element inside or outside a block.
"""

from __future__ import annotations

import protocol_pages as pages
import pytest

from custom_wheel_offset.errors import ParseError, TruncatedBodyError
from custom_wheel_offset.protocol.records import AxleRanges, FitmentPage
from custom_wheel_offset.protocol.store import parse_fitment_block, parse_fitment_page

SQUARE = AxleRanges(17.0, 20.0, 7.0, 9.5, -12.0, 35.0)
RECORD = FitmentPage("ok", "5x114.3", "5x4.5", SQUARE, SQUARE)
OPEN_TAG = '<div class="store-ymm-fitrange full-size">'


def page(*parts: str) -> bytes:
    return pages.page(*parts).encode()


def parsed(body: bytes) -> FitmentPage:
    got = parse_fitment_page(body)
    again = parse_fitment_block(got.raw_block)  # saved blocks re-parse through the same code
    assert again == got and again.raw_block == got.raw_block
    return got


def padded_block(filler: str) -> str:
    """The square block with ``filler`` put before its end tag."""
    return pages.SQUARE_BLOCK.replace("\n</div>", f"\n{filler}\n</div>")


def assert_parse_error(body: bytes, match: str) -> None:
    with pytest.raises(ParseError, match=match) as info:
        parse_fitment_page(body)
    assert not isinstance(info.value, TruncatedBodyError)


# --------------------------------------------------------------------------- window size


@pytest.mark.parametrize("size", [600, 3_000, 40_000])
def test_block_longer_than_the_first_windows_is_read_whole(size: str) -> None:
    # Text and inline markup inside the block: the window grows until the block closes.
    filler = "<span class='note'>Fits most trims.</span> " * (size // 43)
    got = parsed(page(padded_block(filler), pages.BOLT_DATA))
    assert got == RECORD
    assert got.raw_block.count("Fits most trims.") == size // 43


def test_range_at_the_end_of_a_long_block_is_read() -> None:
    # The offset range comes after 20 KB of filler: a window cut short would lose it.
    block = pages.SQUARE_BLOCK.replace(
        '  <span class="store-conf-range">Offset:',
        "<i>.</i>" * 2500 + '\n  <span class="store-conf-range">Offset:',
    )
    assert parsed(page(block, pages.BOLT_DATA)).front == SQUARE


def test_block_over_the_cap_is_an_error() -> None:
    filler = "<span>Fits most trims.</span>\n" * 2_500  # ~75 KB, closed after the cap
    assert_parse_error(
        page(padded_block(filler), pages.BOLT_DATA),
        r"fit-range block at byte \d+ is not closed within 64 KB",
    )


def test_unclosed_block_at_the_end_of_the_page_ends_there() -> None:
    # Within the cap, a block never closed ends with the document, as in a browser.
    body = page(OPEN_TAG + '<span class="store-conf-range">Width: <b>7 to 8</b></span>')
    assert parsed(body.replace(b"</main>", b"")).front == AxleRanges(width_min=7.0, width_max=8.0)


def test_start_tag_longer_than_the_first_window() -> None:
    opening = f'<div data-note="{"x" * 5_000}" class="store-ymm-fitrange full-size">'
    got = parsed(page(pages.SQUARE_BLOCK.replace(OPEN_TAG, opening), pages.BOLT_DATA))
    assert got == RECORD


# --------------------------------------------------------------------------- nesting


@pytest.mark.parametrize(
    "inner",
    [
        '<div class="store-ymm-fitrange">x</div>',
        '<section><p><span class="a store-ymm-fitrange b">x</span></p></section>',
    ],
)
def test_nested_blocks_are_an_error(inner: str) -> None:
    assert_parse_error(
        page(padded_block(inner)), r"fit-range block \(<\w+>\) sits inside another fit-range"
    )


def test_nested_block_found_after_the_first_window() -> None:
    filler = "<span>Fits most trims.</span>\n" * 100  # the inner block is ~3 KB in
    block = padded_block(filler + '<span class="store-ymm-fitrange">x</span>')
    assert_parse_error(page(block), "sits inside another fit-range block")


# --------------------------------------------------------------------------- the class token


@pytest.mark.parametrize(
    "decoy",
    [
        '<div data-target="store-ymm-fitrange">Diameter: <b>1" to 2"</b></div>',
        '<div title="store-ymm-fitrange" class="tip">x</div>',
        '<a href="#store-ymm-fitrange" id="store-ymm-fitrange">jump</a>',
        "<p>the store-ymm-fitrange box, a < b store-ymm-fitrange</p>",
        '<textarea><div class="store-ymm-fitrange full-size"></div></textarea>',
        '<svg><desc class="x" data-c="store-ymm-fitrange"></desc></svg>',
    ],
)
def test_token_outside_a_class_attribute_is_ignored(decoy: str) -> None:
    assert parsed(page(decoy)) == FitmentPage.no_data()
    assert parsed(page(decoy, pages.SQUARE_BLOCK, pages.BOLT_DATA, decoy)) == RECORD


def test_many_occurrences_in_one_tag_or_text_run_are_one_candidate() -> None:
    # 5,000 occurrences after one "<": one window parse, not 5,000.
    text = "<p>" + "store-ymm-fitrange " * 5_000 + "</p>"
    assert parsed(page(text, pages.SQUARE_BLOCK, pages.BOLT_DATA)) == RECORD


def test_look_alike_candidates_are_bounded() -> None:
    lookalike = '<p data-x="store-ymm-fitrange">x</p>'
    fifteen = page(lookalike * 15, pages.SQUARE_BLOCK, pages.BOLT_DATA)
    assert parsed(fifteen) == RECORD  # 16 candidates: each looked at
    assert_parse_error(
        page(lookalike * 16, pages.SQUARE_BLOCK, pages.BOLT_DATA),
        "more than 16 places carry the class token 'store-ymm-fitrange'",
    )
    bolt_lookalike = '<i data-x="store-bp">x</i>'
    assert_parse_error(
        page(pages.SQUARE_BLOCK, bolt_lookalike * 17),
        "more than 16 places carry the class token 'store-bp'",
    )


def test_parsed_bytes_are_bounded() -> None:
    # Start tags of 40 KB: each candidate costs 127 KB of window parses, the page at most 512 KB.
    lookalike = f'<div data-a="store-ymm-fitrange" data-pad="{"x" * 40_000}"></div>'
    assert_parse_error(page(lookalike * 6, pages.SQUARE_BLOCK), "more than 512 KB of markup")


def test_the_window_marker_cannot_be_forged() -> None:
    forged = "<cwo-window-end></cwo-window-end>"
    assert_parse_error(page(pages.SQUARE_BLOCK, forged), "'cwo-window-end', the marker")


# --------------------------------------------------------------------------- comments


def test_block_containing_a_comment_with_an_end_tag() -> None:
    comment = '<!-- </div> <span class="store-conf-range">Width: <b>3" to 4"</b></span> -->'
    block = padded_block(comment)
    got = parsed(page(block, pages.BOLT_DATA))
    assert got == RECORD
    assert comment in got.raw_block  # kept as served


def test_comment_across_the_first_window_edge() -> None:
    # A 2 KB comment starting ~400 bytes into the block: no window may end inside it.
    comment = "<!-- " + "</div> " * 300 + " -->"
    block = pages.SQUARE_BLOCK.replace("<nobr>", f"<i>{'x' * 300}</i>{comment}<nobr>")
    assert parsed(page(block, pages.BOLT_DATA)) == RECORD


def test_page_end_inside_the_window() -> None:
    # The block right before </html>: the window stops there (libxml2 reads nothing after).
    body = page(pages.BOLT_DATA).replace(b"</html>", pages.SQUARE_BLOCK.encode() + b"</html>")
    assert parsed(body) == RECORD


# --------------------------------------------------------------------------- bolt pattern


def test_bolt_inside_the_block_and_another_after_it() -> None:
    block = padded_block(pages.BOLT_DATA)
    same = '<span class="store-bp">5x114.3mm (5x4.5")</span>'
    got = parsed(page(block, same))
    assert got == RECORD
    assert got.raw_block.count("store-bp") == 1  # the first bolt sits in the block: saved once
    assert_parse_error(
        page(block, '<span class="store-bp">5x120mm</span>'), "bolt pattern elements disagree"
    )


def test_bolts_inside_each_of_two_blocks() -> None:
    bolt = '<b class="store-bp" data-bp="5x4.41,5x112"></b>'
    front = pages.fit_block("<nobr>Front</nobr>" + bolt)
    rear = pages.fit_block("<nobr>Rear</nobr>" + bolt)
    got = parsed(page(front, rear))
    assert (got.bolt_pattern_mm, got.bolt_pattern_in) == ("5x112", "5x4.41")
    assert got.raw_block.count("store-bp") == 2
