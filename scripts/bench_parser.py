"""CPU time per fitment page of ``parse_fitment_page`` on a ~100 KB padded page.

Usage::

    python scripts/bench_parser.py                 # the saved decoy page, 5 x 2000 parses
    python scripts/bench_parser.py --page FILE     # any saved page
    python scripts/bench_parser.py -n 500 -r 3     # fewer iterations

The page defaults to ``tests/fixtures/protocol/fitment_decoys_100k.html`` (the
real block between decoys, padded with product cards); without the fixture a
similar page is generated. Time is ``time.process_time`` (CPU of this
process, so other load on the machine matters less than with wall time).
Printed: the mean over all iterations, and the best of the repeats (the
least disturbed figure). Target: well under 1 ms per page.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--page", type=Path, default=None, help="a saved fitment page")
    parser.add_argument("-n", "--iterations", type=int, default=2000, help="parses per repeat")
    parser.add_argument("-r", "--repeats", type=int, default=5, help="repeats")
    args = parser.parse_args()

    if args.page is not None:
        body, source = args.page.read_bytes(), str(args.page)
    elif FIXTURE.exists():
        body, source = FIXTURE.read_bytes(), str(FIXTURE)
    else:
        body, source = generated_page(), "generated page"
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
