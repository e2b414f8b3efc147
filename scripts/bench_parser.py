"""CPU time per fitment page of ``parse_fitment_page`` on a ~100 KB padded page.

Usage::

    python scripts/bench_parser.py                 # the saved decoy page, 5 x 2000 parses
    python scripts/bench_parser.py --page FILE     # any saved page
    python scripts/bench_parser.py -n 500 -r 3     # fewer iterations
    python scripts/bench_parser.py --scaling       # CPU vs page size, ordinary and adversarial
    python scripts/bench_parser.py --compare       # lxml vs selectolax/lexbor (if installed)

The page defaults to ``tests/fixtures/protocol/fitment_decoys_100k.html`` (the
real block between decoys, padded with product cards); without the fixture a
similar page is generated. Time is ``time.process_time`` (CPU of this
process, so other load on the machine matters less than with wall time).
Printed: the mean over all iterations, and the best of the repeats (the
least disturbed figure).

``--scaling`` parses pages of 100 KB to 2 MB, ordinary (product cards around
the block) and adversarial (deep nesting, nested look-alike blocks, stray end
tags, the class token in other attributes or as text, 40 KB start tags, a
block never closed), and prints CPU ms per page and per 100 KB: a flat (or
falling) per-100 KB column is linear time. Target: the 1 MB adversarial
pages under 50 ms of CPU each.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Final

from custom_wheel_offset.errors import ParseError
from custom_wheel_offset.protocol.store import is_challenge, parse_fitment_page

FIXTURE = (
    Path(__file__).resolve().parent.parent
    / "tests"
    / "fixtures"
    / "protocol"
    / "fitment_decoys_100k.html"
)

_BLOCK = """<div class="store-ymm-fitrange full-size">
  <nobr>Front &amp; Rear</nobr>
  <span class="store-conf-range">Diameter: <b>17" to 20"</b></span>
  <span class="store-conf-range">Width: <b>7" to 9.5"</b></span>
  <span class="store-conf-range">Offset: <b>-12mm to +35mm</b></span>
</div>
<span class="store-bp" data-bp="5x4.5,5x114.3">5x114.3mm (5x4.5&quot;)</span>"""
_DECOYS = """<!-- <div class="store-ymm-fitrange full-size"><b>15" to 16"</b></div> -->
<script>var t = '<div class="store-ymm-fitrange full-size"></div>';</script>
<div class="store-ymm-fitrange-help">Diameter: <b>14" to 15"</b></div>
<span class="store-bp-info" data-bp="4x4,4x101.6">4x101.6mm (4x4")</span>"""


def generated_page(size: int = 100_000) -> bytes:
    """A page like the fixture: head, product cards, decoys around the block, foot."""
    cards = []
    total = 0
    i = 0
    while total < size:
        card = (
            f'<div class="product-card" data-sku="W{i:05d}"><a href="/w/{i}">Método {i}</a>'
            f'<div class="price">$ {150 + i % 300}.99</div></div>\n'
        )
        cards.append(card)
        total += len(card.encode())
        i += 1
    half = len(cards) // 2
    return "\n".join(
        [
            "<!DOCTYPE html><html><head><title>Wheels</title></head><body>",
            "".join(cards[:half]),
            _DECOYS,
            _BLOCK,
            _DECOYS,
            "".join(cards[half:]),
            "</body></html>",
        ]
    ).encode()


def measure(body: bytes, iterations: int, repeats: int) -> tuple[list[float], list[float]]:
    """Mean CPU microseconds per call of each repeat: (parse_fitment_page, is_challenge)."""
    parse_means: list[float] = []
    challenge_means: list[float] = []
    for _ in range(repeats):
        start = time.process_time()
        for _ in range(iterations):
            parse_fitment_page(body)
        parse_means.append((time.process_time() - start) / iterations * 1e6)
        start = time.process_time()
        for _ in range(iterations):
            is_challenge(body)
        challenge_means.append((time.process_time() - start) / iterations * 1e6)
    return parse_means, challenge_means


_HEAD = "<!DOCTYPE html><html><head><title>Wheels</title></head><body>"
_FOOT = "</body></html>"
_LOOKALIKE = (
    '<div class="store-ymm-fitrange"><nobr>Front</nobr>'
    '<span class="store-conf-range">Width: <b>7" to 8"</b></span>'
)


_ADVERSARIAL: Final = ("deep", "nested", "stray", "lookalike", "tokens", "longtags", "unclosed")


def adversarial_page(kind: str, size: int) -> bytes:
    """About ``size`` bytes of one adversarial shape, the real block in the middle.

    deep/nested/stray attack a parser; lookalike (the class token in other
    attributes), tokens (the token as text), longtags (40 KB start tags with
    the token) and unclosed (a block never closed) attack the location of
    the blocks and the growing windows.
    """
    if kind == "deep":  # one level per 5 bytes: 200,000 levels in 1 MB
        n = size // 11
        middle = "<div>" * n + _BLOCK + "</div>" * n
    elif kind == "nested":  # nested look-alike blocks with real class tokens
        n = size // (len(_LOOKALIKE) + 6)
        middle = _LOOKALIKE * n + _BLOCK + "</div>" * n
    elif kind == "lookalike":
        unit = '<p data-x="store-ymm-fitrange">x</p>'
        middle = _BLOCK + unit * (size // len(unit))
    elif kind == "tokens":
        middle = _BLOCK + "<p>" + "store-ymm-fitrange " * (size // 19) + "</p>"
    elif kind == "longtags":
        unit = f'<div data-a="store-ymm-fitrange" data-pad="{"x" * 40_000}"></div>'
        middle = _BLOCK + unit * max(1, size // len(unit))
    elif kind == "unclosed":
        middle = '<div class="store-ymm-fitrange full-size">' + "<span>x</span>" * (size // 14)
    else:  # "stray": end tags with no start tag, and unclosed inline elements
        unit = "</div></span></b></p></table></nobr><b>x"
        half = unit * (size // len(unit) // 2)
        middle = half + _BLOCK + half
    return (_HEAD + middle + _FOOT).encode()


def outcome(body: bytes) -> str:
    try:
        return parse_fitment_page(body).status
    except ParseError as exc:
        return f"ParseError: {exc.reason[:60]}"


def cpu_ms(call: Callable[[], object], repeats: int) -> float:
    """Best CPU milliseconds of ``repeats`` calls (the least disturbed)."""
    best = float("inf")
    for _ in range(repeats):
        start = time.process_time()
        call()
        best = min(best, time.process_time() - start)
    return best * 1e3


def scaling(repeats: int) -> None:
    """CPU per page against page size; per 100 KB flat = linear."""
    sizes = (100_000, 200_000, 500_000, 1_000_000, 2_000_000)
    print(f"{'page':9} {'size':>10} {'CPU ms':>8} {'ms/100KB':>9}  outcome")
    worst_1mb = 0.0
    for kind in ("ordinary", *_ADVERSARIAL):
        for size in sizes:
            body = generated_page(size) if kind == "ordinary" else adversarial_page(kind, size)
            ms = cpu_ms(lambda body=body: outcome(body), repeats)
            if kind != "ordinary" and size == 1_000_000:
                worst_1mb = max(worst_1mb, ms)
            per = ms / len(body) * 100_000
            print(f"{kind:9} {len(body):>10,} {ms:>8.2f} {per:>9.3f}  {outcome(body)}")
    verdict = "met" if worst_1mb < 50 else "NOT met"
    print(f"slowest 1 MB adversarial page: {worst_1mb:.1f} ms CPU (target < 50 ms: {verdict})")


def compare(body: bytes, repeats: int) -> None:
    """Parse-only CPU of lxml and of selectolax/lexbor on ``body`` and on 1 MB adversarial pages."""
    from lxml import etree

    parsers: dict[str, Callable[[bytes], object]] = {
        "lxml": lambda b: etree.fromstring(b, etree.HTMLParser(huge_tree=True)),
    }
    try:
        from selectolax.lexbor import LexborHTMLParser

        parsers["lexbor"] = LexborHTMLParser
    except ImportError:
        print("selectolax is not installed: lxml only (pip install selectolax)")
    pages = {"given page": body}
    pages.update({f"1 MB {k}": adversarial_page(k, 1_000_000) for k in ("nested", "stray")})
    pages["5,000-deep"] = adversarial_page("deep", 55_000)
    for label, page in pages.items():
        cells = [
            f"{n} {cpu_ms(lambda p=p, page=page: p(page), repeats):8.2f} ms"
            for n, p in parsers.items()
        ]
        print(f"{label:12} {len(page):>9,} B  " + "  ".join(cells))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--page", type=Path, default=None, help="a saved fitment page")
    parser.add_argument("-n", "--iterations", type=int, default=2000, help="parses per repeat")
    parser.add_argument("-r", "--repeats", type=int, default=5, help="repeats")
    parser.add_argument("--scaling", action="store_true", help="CPU vs page size")
    parser.add_argument("--compare", action="store_true", help="lxml vs selectolax/lexbor")
    args = parser.parse_args()
    if args.scaling:
        scaling(args.repeats)
        return

    if args.page is not None:
        body, source = args.page.read_bytes(), str(args.page)
    elif FIXTURE.exists():
        body, source = FIXTURE.read_bytes(), str(FIXTURE)
    else:
        body, source = generated_page(), "generated page"
    if args.compare:
        compare(body, args.repeats)
        return
    page = parse_fitment_page(body)  # also warms caches and compiled patterns
    print(f"page: {source} ({len(body):,} bytes), status {page.status}")

    parse_means, challenge_means = measure(body, args.iterations, args.repeats)
    print(
        f"parse_fitment_page: mean {statistics.fmean(parse_means):.1f} us CPU per page, "
        f"best repeat {min(parse_means):.1f} us "
        f"({args.repeats} x {args.iterations} pages, time.process_time)"
    )
    print(
        f"is_challenge:       mean {statistics.fmean(challenge_means):.1f} us CPU per page, "
        f"best repeat {min(challenge_means):.1f} us"
    )


if __name__ == "__main__":
    main()
