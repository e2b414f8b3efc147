"""Hand-written fragments of store pages, and a page builder, for the protocol tests.

The fragments imitate the store's markup (``site-protocol.md`` section 3)
and the decoys a page carries around the real data. The saved fixture pages
in ``tests/fixtures/protocol/`` were made from them by :func:`write_fixtures`
and are read back as files by the tests, so a change here does not silently
change what the fixtures say.
"""

from __future__ import annotations

from pathlib import Path

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "protocol"

SQUARE_BLOCK = """<div class="store-ymm-fitrange full-size">
  <nobr>Front &amp; Rear</nobr>
  <span class="store-conf-range">Diameter: <b>17" to 20"</b></span>
  <span class="store-conf-range">Width: <b>7" to 9.5"</b></span>
  <span class="store-conf-range">Offset: <b>-12mm to +35mm</b></span>
</div>"""

STAGGERED_BLOCKS = """<div class='store-ymm-fitrange'>
  <nobr>Front Wheels</nobr>
  <span class='store-conf-range'>Diameter: <b>19" to 21"</b></span>
  <span class='store-conf-range'>Width: <b>8.5" to 9.5"</b></span>
  <span class='store-conf-range'>Offset: <b>+20mm to +45mm</b></span>
</div>
<div class='store-ymm-fitrange'>
  <nobr>Rear Wheels</nobr>
  <span class='store-conf-range'>Diameter: <b>19&quot; to 21&#34;</b></span>
  <span class='store-conf-range'>Width: <b>10" to 11.5"</b></span>
  <span class='store-conf-range'>Offset: <b>+25mm to +52mm</b></span>
</div>"""

BOLT_DATA = '<span class="store-bp" data-bp="5x4.5,5x114.3">5x114.3mm (5x4.5&quot;)</span>'
BOLT_TEXT = "<span class='store-bp'>Bolt pattern: 5x112mm (5x4.41&quot;)</span>"

# Decoys: each holds block-like markup or range-like text that is not data.
DECOY_COMMENT = """<!-- previous layout, kept for A/B test:
<div class="store-ymm-fitrange full-size">
  <nobr>Front &amp; Rear</nobr>
  <span class="store-conf-range">Diameter: <b>15" to 16"</b></span>
  <span class="store-conf-range">Width: <b>6" to 7"</b></span>
  <span class="store-conf-range">Offset: <b>+40mm to +50mm</b></span>
</div>
<span class="store-bp" data-bp="4x100,4x100"></span>
-->"""
DECOY_SCRIPT = """<script type="text/javascript">
  var fitTemplate = '<div class="store-ymm-fitrange full-size"><nobr>Front &amp; Rear</nobr>'
    + '<span class="store-conf-range">Diameter: <b>22" to 24"</b></span></div>'
    + '<span class="store-bp" data-bp="6x5.5,6x139.7"></span>';
  if (a < b && b > c) { document.title = "<!-- not a comment"; }
</script>"""
DECOY_STYLE = """<style>
  .store-ymm-fitrange { border: 1px solid #ccc; }
  /* <div class="store-ymm-fitrange full-size">
     <span class="store-conf-range">Width: <b>3" to 4"</b></span></div> */
</style>"""
DECOY_LOOKALIKE = """<div class="store-ymm-fitrange-help tooltip">
  <span class="store-conf-range">Diameter: <b>14" to 15"</b></span>
</div>
<p class="old-store-ymm-fitrange note">Width: <b>5" to 6"</b> on older models</p>
<div class="tip" data-target="store-ymm-fitrange">What do the store-ymm-fitrange numbers mean?</div>
<div class="store-ymm-fitrange-help full-size" title="store-ymm-fitrange">
  <span class="store-conf-range">Offset: <b>+50mm to +60mm</b></span>
</div>"""
DECOY_TEXT = """<p class="seo">Most owners choose Diameter: 18" to 22" and Offset: +30mm to +45mm.
Bolt pattern 5x120mm (5x4.72") is common.
class="store-ymm-fitrange full-size" is the box above.</p>"""
DECOY_BOLT = """<span class="store-bp-info" data-bp="4x4,4x101.6">4x101.6mm (4x4")</span>
<a class="product-card" href="/wheels/fuel-rebel" data-bp="6x5.5,6x139.7">Fuel Rebel 20x9</a>"""

DECOYS_BEFORE = "\n".join(
    [DECOY_COMMENT, DECOY_SCRIPT, DECOY_STYLE, DECOY_LOOKALIKE, DECOY_TEXT, DECOY_BOLT]
)
DECOYS_AFTER = "\n".join(
    [DECOY_BOLT, DECOY_TEXT, DECOY_LOOKALIKE, DECOY_STYLE, DECOY_SCRIPT, DECOY_COMMENT]
)

HEAD = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Wheels for your vehicle | Custom Offsets</title>
<link rel="stylesheet" href="/css/store.css?v=31">
</head>
<body class="store wheels">
<header><nav><a href="/">Custom Offsets</a> &rsaquo;
<a href="/store/wheels">Wheels</a></nav></header>
<main id="store">"""
FOOT = """</main>
<footer><p>&copy; Custom Offsets, LLC</p></footer>
</body>
</html>
"""

CHALLENGE_PAGE = """<!DOCTYPE html>
<html>
<head>
<meta name="robots" content="noindex">
<TITLE lang="en">
    Human   Verification
</TITLE>
</head>
<body><div id="challenge">Please verify you are a human.</div>
<script src="/challenge.js"></script>
</body>
</html>
"""


def product_card(i: int) -> str:
    """One padding product card, with varied text like the real grid (a little non-ASCII)."""
    brand = ("Fuel", "Método", "Enkei", "Škoda OEM", "Konig", "XD Series")[i % 6]
    note = "<em>Customer’s pick</em>" if i % 25 == 0 else f"{i % 97} reviews"
    return (
        f'<div class="product-card col-{i % 4}" data-sku="W{i:05d}" data-bp="5x{100 + i % 40}">\n'
        f'  <a href="/store/wheels/{i}"><img src="/img/w{i}.jpg" alt="{brand} wheel {i}"></a>\n'
        f'  <div class="product-title">{brand} Model {i} {17 + i % 6}x{7 + i % 4}.5</div>\n'
        f'  <div class="price">$ {150 + i % 300}.99 <span class="each">each</span></div>\n'
        f'  <span class="store-rating">{3 + i % 3}.{i % 10} / 5 ({note})</span>\n'
        "</div>\n"
    )


def padding(size: int, start: int = 0) -> str:
    """Product cards adding up to about ``size`` bytes."""
    cards: list[str] = []
    total = 0
    i = start
    while total < size:
        card = product_card(i)
        cards.append(card)
        total += len(card.encode())
        i += 1
    return "".join(cards)


def page(*parts: str, pad: int = 0) -> str:
    """A full store page: head, optional padding before and after, ``parts``, foot."""
    half = pad // 2
    return "\n".join([HEAD, padding(half), *parts, padding(pad - half, start=10_000), FOOT])


def write_fixtures() -> None:
    """(Re)write the fixture pages; run by hand from tests/protocol/:

    ``python -c "import protocol_pages; protocol_pages.write_fixtures()"``
    """
    FIXTURES.mkdir(parents=True, exist_ok=True)
    pages = {
        "fitment_square.html": page(SQUARE_BLOCK, BOLT_DATA),
        "fitment_staggered.html": page(STAGGERED_BLOCKS, BOLT_TEXT),
        "fitment_no_data.html": page(DECOY_TEXT, BOLT_DATA),
        "fitment_challenge.html": CHALLENGE_PAGE,
        "fitment_decoys_100k.html": page(
            DECOYS_BEFORE, SQUARE_BLOCK, BOLT_DATA, DECOYS_AFTER, pad=96_000
        ),
    }
    for name, text in pages.items():
        (FIXTURES / name).write_text(text, encoding="utf-8", newline="\n")
    square = pages["fitment_square.html"].encode()
    (FIXTURES / "fitment_truncated.html").write_bytes(square[: len(square) * 2 // 3])


# --------------------------------------------------------------------------- section 5 shapes
# Shapes other clients of the live site handle (site-protocol.md section 5), one
# fixture page each, named by shape; written by write_shape_fixtures().


def conf_range(label: str, value: str) -> str:
    return f'<span class="store-conf-range">{label} <b>{value}</b></span>'


def fit_block(label_html: str, *ranges: str, full_size: bool = False) -> str:
    classes = "store-ymm-fitrange full-size" if full_size else "store-ymm-fitrange"
    inner = "\n  ".join([label_html, *ranges])
    return f'<div class="{classes}">\n  {inner}\n</div>'


def header(text: str) -> str:
    return f'<span class="store-conf-header">{text}</span>'


def bolt_span(text: str, data_bp: str | None = None) -> str:
    attr = "" if data_bp is None else f' data-bp="{data_bp}"'
    return f'<span class="bolt_patterns store-bp"{attr}><b>{text}</b></span>'


BLANK_UNITS_BLOCK = fit_block(
    "<nobr>Front &amp; Rear</nobr>",
    conf_range("Diameter:", '" to "'),
    conf_range("Width:", "″ to ″"),
    conf_range("Offset:", "mm to mm"),
    full_size=True,
)
FRONT_RANGES = (
    conf_range("Diameter:", '19" to 21"'),
    conf_range("Width:", '8.5" to 9.5"'),
    conf_range("Offset:", "+20mm to +45mm"),
)
REAR_RANGES = (
    conf_range("Diameter:", '19" to 21"'),
    conf_range("Width:", "10in to 11.5in"),
    conf_range("Offset:", "mm to mm"),
)
HEADER_BLOCKS = "\n".join(  # Rear first: the order of the blocks means nothing
    [
        fit_block(header("Rear Sizes:"), *REAR_RANGES),
        fit_block(header("Front Sizes:"), *FRONT_RANGES),
    ]
)
HEADER_AND_NOBR_BLOCKS = "\n".join(
    [
        fit_block(header("Front Sizes:") + "<nobr>Front Wheels</nobr>", *FRONT_RANGES),
        fit_block("<nobr>Rear Wheels</nobr>" + header("Rear Sizes:"), *REAR_RANGES),
    ]
)
SQUARE_RANGES_HTML = (
    conf_range("Diameter:", '17" to 20"'),
    conf_range("Width:", '7" to 9.5"'),
    conf_range("Offset:", "-12mm to +35mm"),
)
SQUARE_PLAIN = fit_block("<nobr>Front &amp; Rear</nobr>", *SQUARE_RANGES_HTML, full_size=True)

AWSWAF_CHALLENGE_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Human Verification</title>
<script>
  window.awsWafCookieDomainList = [];
  window.gokuProps = {"key": "AQIDAHjcYu/GjX+QlghicBg", "iv": "CgAHbCe2GgAAAgh", "context": "x"};
</script>
<script src="https://3f1a.e25b.us-east-1.token.awswaf.com/3f1a/7b2c/challenge.js"></script>
<script src="https://3f1a.e25b.us-east-1.captcha.awswaf.com/3f1a/7b2c/captcha.js"></script>
</head>
<body><div id="captcha-container"></div></body>
</html>
"""
SDK_ON_DATA_PAGE_HEAD = (
    '<script src="https://3f1a.e25b.us-east-1.token.awswaf.com/3f1a/7b2c/challenge.js">'
    "</script>\n<!-- <script>window.gokuProps = {};</script>\n"
    '<script src="https://3f1a.e25b.us-east-1.captcha.awswaf.com/3f1a/7b2c/captcha.js">'
    "</script> -->"
)

SHAPE_PAGES = {
    "fitment_blank_units.html": (BLANK_UNITS_BLOCK, bolt_span("5x114.3mm (5x4.5&quot;)")),
    "fitment_staggered_conf_header.html": (HEADER_BLOCKS, bolt_span("5x112mm (5x4.41&quot;)")),
    "fitment_staggered_header_and_nobr.html": (
        HEADER_AND_NOBR_BLOCKS,
        bolt_span("5x112mm (5x4.41&quot;)", "5x112, 5x4.41"),
    ),
    "fitment_bolt_data_bp_mm_first.html": (
        SQUARE_PLAIN,
        bolt_span("5x114.3mm (5x4.5&quot;)", "5x114.3, 5x4.5"),
    ),
    "fitment_bolt_text_both_units.html": (SQUARE_PLAIN, bolt_span("5x128mm (5x5.04&quot;)")),
    "fitment_bolt_text_mm_only.html": (SQUARE_PLAIN, bolt_span("5x114.3mm")),
    "fitment_bolt_text_inch_only.html": (SQUARE_PLAIN, bolt_span("5x4.5&quot;")),
    "fitment_bolt_text_bare_mm.html": (SQUARE_PLAIN, bolt_span("5x114.3")),
    "fitment_awswaf_sdk_on_data_page.html": (
        SDK_ON_DATA_PAGE_HEAD,
        SQUARE_PLAIN,
        bolt_span("5x114.3mm (5x4.5&quot;)", "5x4.5,5x114.3"),
    ),
}


def write_shape_fixtures() -> None:
    """(Re)write the section-5 fixture pages; run by hand from tests/protocol/:

    ``python -c "import protocol_pages; protocol_pages.write_shape_fixtures()"``
    """
    for name, parts in SHAPE_PAGES.items():
        (FIXTURES / name).write_text(page(*parts), encoding="utf-8", newline="\n")
    (FIXTURES / "fitment_challenge_awswaf.html").write_text(
        AWSWAF_CHALLENGE_PAGE, encoding="utf-8", newline="\n"
    )
