"""The first windows of a page parsed in one parser call give what parsing each alone gives.

``store._read_first_windows`` puts every candidate's first window in a box
of its own and hands them to lxml together (lxml gives up the GIL on each
call: one call per page instead of two per element, docs/performance.md,
session 5). Each window is then read from its box instead of its own parse,
and when the joint tree is not one clean box per window the windows are
parsed one by one. These tests compare the two ways on markup chosen to
leak out of a window (elements left open, raw-text elements, open quotes,
stray end tags, misplaced ``<body>``): same record and ``raw_block``, or
the same ParseError; and count the parser calls of ordinary pages.
"""

from __future__ import annotations

from collections.abc import Callable

import protocol_pages as pages
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from custom_wheel_offset.errors import ParseError
from custom_wheel_offset.protocol import store

# Outcome of a parse: (record fields, raw_block) or ("error", message).
Outcome = tuple[object, str]

BOLT_AFTER = '<span class="bolt_patterns store-bp" data-bp="5x4.41,5x112"><b>5x112</b></span>'
# Markup that a window may leave open or unread, put between and after the candidates.
LEAKS = [
    '<div class="product-grid">\n<div class="product-item">',
    "<div><table><tr><td><div>",
    "<table><tr><td>",
    "<xmp>",
    "<plaintext>",
    "<noembed>",
    "<iframe>",
    "<noscript>",
    "<textarea>",
    '<a title="open quote',
    "<a title='open quote",
    "<a title=open",
    "</body>",
    "</html ",
    "</table></tr></td>",
    "</div></div></div>",
    "<body class='store-bp'>",
    "<html class='store-bp'>",
    "<head>",
    "<html>",
    "</head>",
    "<header>",
    "<meta charset='iso-8859-1'>Método",
    "<p><b><i>",
    "<li><li>",
    "<select><option>",
    "<!-- ",
    "--!>",
    "<!x",
    "<?php ",
    "</",
    "<td class='store-bp'>5x100</td>",
    '<span class="store-bp">5x4.5"</span>',
    '<div class="store-ymm-fitrange">',
]
ODD_PAGES = [
    pages.page(pages.SQUARE_BLOCK, leak, BOLT_AFTER, leak, pad=4_000) for leak in LEAKS
] + [pages.page(pages.SQUARE_BLOCK + leak, BOLT_AFTER + leak, pad=4_000) for leak in LEAKS]


def outcome(body: bytes) -> Outcome:
    try:
        got = store.parse_fitment_page(body)
    except ParseError as exc:
        return "error", str(exc)
    return got, got.raw_block


def counted(monkeypatch: pytest.MonkeyPatch) -> Callable[[], int]:
    """Count the parser calls from here on (the parser itself still runs)."""
    calls = [0]
    real = store._parse_html

    def parse(body: bytes) -> store._Parsed:
        calls[0] += 1
        return real(body)

    monkeypatch.setattr(store, "_parse_html", parse)
    return lambda: calls[0]


def both_ways(body: bytes) -> tuple[Outcome, Outcome]:
    """(joint first windows, each window alone) for ``body``."""
    joint = outcome(body)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(store, "_read_first_windows", lambda page: None)
        alone = outcome(body)
    return joint, alone


@pytest.mark.parametrize(
    "text",
    ODD_PAGES,
    ids=[f"between-{i}" for i in range(len(LEAKS))] + [f"inside-{i}" for i in range(len(LEAKS))],
)
def test_leaking_markup_reads_as_window_by_window(text: str) -> None:
    joint, alone = both_ways(text.encode())
    assert joint == alone


def bolt_with(inside: str) -> str:
    """A bolt element with ``inside`` in its text: a stray end tag there may end it early."""
    return f"<span class='store-bp'>5x112mm {inside} (5x4.41&quot;)</span>"


leaks = st.lists(st.sampled_from(LEAKS), max_size=3).map("".join)


@settings(deadline=None, max_examples=80, suppress_health_check=list(HealthCheck))
@given(leaks, leaks, leaks, leaks, st.booleans())
def test_random_leaks_read_as_window_by_window(
    a: str, b: str, c: str, d: str, staggered: bool
) -> None:
    blocks = pages.STAGGERED_BLOCKS if staggered else pages.SQUARE_BLOCK
    text = pages.page(a, blocks, b, bolt_with(c), d, pad=3_000)
    joint, alone = both_ways(text.encode())
    assert joint == alone


@pytest.mark.parametrize("leak", ["</div>", "</td></div>", "</table>", "</body>", "</p>"])
def test_stray_end_tag_in_a_later_window(leak: str) -> None:
    # The first window leaves <div>s (or a table) open; in one shared tree they would
    # take the stray end tag of the next window, which the window alone ignores.
    for opened in (LEAKS[0], LEAKS[1], LEAKS[2]):
        text = pages.page(pages.SQUARE_BLOCK, opened, bolt_with(leak + " 5x100"), pad=3_000)
        joint, alone = both_ways(text.encode())
        assert joint == alone


def test_misplaced_body_tag_before_a_stray_end_tag() -> None:
    # Found by the test above: libxml2 counts a misplaced <body> start tag and then
    # ignores one </body>; in one shared parse the count of one window would reach the
    # next, whose </body> ends the bolt element when that window is parsed alone.
    body_tag = "<body class='store-bp'>"
    text = pages.page(pages.SQUARE_BLOCK, body_tag, bolt_with("</body>"), body_tag, pad=3_000)
    joint, alone = both_ways(text.encode())
    assert joint == alone


def test_decoy_page_costs_one_parser_call(monkeypatch: pytest.MonkeyPatch) -> None:
    # Ten window parses before session 5: the block, the bolt element, six look-alikes
    # turned down and two grown windows.
    body = (pages.FIXTURES / "fitment_decoys_100k.html").read_bytes()
    calls = counted(monkeypatch)
    assert store.parse_fitment_page(body).status == "ok"
    assert calls() == 1


def test_sandbox_shaped_page_costs_one_parser_call(monkeypatch: pytest.MonkeyPatch) -> None:
    # As the sandbox writes them: the block, then the bolt element, then the product grid,
    # whose <div>s the block's window leaves open.
    text = pages.page(pages.SQUARE_BLOCK, BOLT_AFTER, LEAKS[0], pad=20_000)
    calls = counted(monkeypatch)
    got = store.parse_fitment_page(text.encode())
    assert (got.bolt_pattern_mm, got.bolt_pattern_in) == ("5x112", "5x4.41")
    assert calls() == 1


def test_window_swallowing_the_next_is_read_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    # An <xmp> left open swallows the next box: the joint tree is refused, and the
    # windows are parsed one by one, each as often as without the joint call.
    body = pages.page(pages.SQUARE_BLOCK + "<xmp>", BOLT_AFTER, pad=4_000).encode()
    calls = counted(monkeypatch)
    joint = outcome(body)
    joint_calls = calls()
    monkeypatch.setattr(store, "_read_first_windows", lambda page: None)
    alone = outcome(body)
    assert joint == alone
    assert joint_calls == calls() - joint_calls + 1
