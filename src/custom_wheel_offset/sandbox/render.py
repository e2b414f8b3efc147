"""Bodies the sandbox serves: JSON for the API and the options, HTML for the store.

Fitment pages are padded to about ``page_kb`` KB of realistic store markup
(head, navigation, filters, a product grid, footer, JSON-LD, inline
scripts). The padding is built once per page size and cached as bytes;
only the title and the fitment section are rendered per request.

The padding carries decoys that a careless parser would pick up, both
before and after the real fitment section:

1. HTML comments holding a complete fake ``store-ymm-fitrange full-size`` block;
2. a ``<script>`` whose JavaScript string holds fit-range markup;
3. elements whose class merely looks alike (``store-ymm-fitrange-help``,
   ``old-store-ymm-fitrange``) holding ``store-conf-range`` spans;
4. product descriptions with plain ``Diameter: 18" to 22"`` text;
5. a ``store-bp-info`` element with ``data-bp`` and ``data-bp`` on product links.

No static part contains ``</html>`` except the very end of the page.
"""

from __future__ import annotations

import functools
import json
from html import escape
from typing import Any

from custom_wheel_offset.sandbox.catalogue import (
    AXLE_KEYS,
    REAR_KEYS,
    STRING_FIELDS,
    FitBlock,
    FitmentModel,
    RangeCell,
    VehicleModel,
)

__all__ = [
    "PageTemplate",
    "challenge_page",
    "error_page",
    "fitment_section",
    "format_inches",
    "format_offset",
    "json_bytes",
    "page_template",
    "robots_txt",
    "vehicle_json",
]


# ---------------------------------------------------------------- JSON


def json_bytes(obj: Any) -> bytes:
    """Compact UTF-8 JSON (non-ASCII letters kept as they are)."""
    return json.dumps(obj, ensure_ascii=False).encode("utf-8")


def _number(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


def _number_text(value: float, signed: bool) -> str:
    text = f"{value:g}"
    return "+" + text if signed and value > 0 else text


def vehicle_json(vm: VehicleModel) -> dict[str, Any]:
    """The vehicle's specifications object as the fitment API serves it."""
    out: dict[str, Any] = {"vehicleType": vm.vehicle_type, "drchassisid": vm.chassis_served}

    def put(key: str, value: Any, numeric: bool, signed: bool = False) -> None:
        mode = vm.modes.get(key, "num" if numeric else "val")
        if mode == "missing":
            return
        if mode == "null":
            out[key] = None
        elif mode == "empty":
            out[key] = ""
        elif mode == "str":
            out[key] = _number_text(value, signed)
        else:
            out[key] = _number(value) if numeric else value

    _put_bolt_pattern(vm, out)
    put("boltpatternInches", vm.bolt_in, False)
    put("hub", vm.entry.hub, True)
    put("lugType", vm.entry.lug_type, False)
    put("lugSize", vm.entry.lug_size, False)
    for name, key in AXLE_KEYS:
        put(key, getattr(vm.front, name), name not in STRING_FIELDS, name == "stock_offset")
    if vm.rear is not None:
        for name, key in REAR_KEYS:
            put(key, getattr(vm.rear, name), name not in STRING_FIELDS, name == "stock_offset")
    else:
        for key, mode in vm.rear_blanks:
            if mode != "missing":
                out[key] = None if mode == "null" else ""
    for key in vm.flag_keys:
        out[key] = _flag(vm.staggered_served, vm.flag_form)
    for key, value in vm.extras:
        out[key] = value
    for key, value in vm.live_extras:
        out[key] = value
    return out


def _put_bolt_pattern(vm: VehicleModel, out: dict[str, Any]) -> None:
    """The millimetre bolt pattern under ``boltpattern``, ``boltpatternMm`` or both.

    Both keys carry the same served form (the mode of ``boltpattern``), so
    whichever a client reads, it reads the same value.
    """
    mode = vm.modes.get("boltpattern", "val")
    if mode == "missing":
        return
    value = None if mode == "null" else "" if mode == "empty" else vm.bolt_mm
    keys = {"mm": ("boltpatternMm",), "both": ("boltpattern", "boltpatternMm")}
    for key in keys.get(vm.bolt_key, ("boltpattern",)):
        out[key] = value


def _flag(value: bool, form: str) -> bool | str | int:
    """A staggered flag as served: ``true``, ``"true"`` or ``1`` (and the false forms)."""
    if form == "str":
        return "true" if value else "false"
    if form == "int":
        return int(value)
    return value


# ---------------------------------------------------------------- the fitment section


def format_inches(value: float) -> str:
    return f'{value:g}"'


def format_offset(value: float) -> str:
    """Signed millimetres: ``+35mm``, ``-12mm``, ``0mm``."""
    if value == 0:
        return "0mm"
    text = f"{int(value):+d}" if float(value).is_integer() else f"{value:+g}"
    return text + "mm"


def _range_span(label: str, cell: RangeCell, fmt: Any) -> str:
    if cell.mode == "missing":
        return ""
    if cell.mode == "blank":
        inner = ""
    elif cell.mode == "blank_space":
        inner = " "
    elif cell.mode == "units":  # the live store's blank: the units with no numbers
        inner = "mm to mm" if label == "Offset" else '" to "'
    else:
        assert cell.lo is not None and cell.hi is not None
        inner = f"{fmt(cell.lo)} to {fmt(cell.hi)}"
    return f'  <span class="store-conf-range">{label}: <b>{inner}</b></span>\n'


def _label(block: FitBlock, label_mode: str) -> str:
    """A block's side label: a ``<nobr>``, a ``store-conf-header`` span, or both."""
    nobr = f"  <nobr>{escape(block.label, quote=False)}</nobr>\n"
    if block.full_size or label_mode == "nobr":
        return nobr
    side = "Rear" if block.label.startswith("Rear") else "Front"
    header = f'  <span class="store-conf-header">{side} Sizes:</span>\n'
    return header if label_mode == "header" else header + nobr


def _block(block: FitBlock, label_mode: str = "nobr") -> str:
    cls = "store-ymm-fitrange full-size" if block.full_size else "store-ymm-fitrange"
    return (
        f'<div class="{cls}">\n'
        + _label(block, label_mode)
        + _range_span("Diameter", block.diameter, format_inches)
        + _range_span("Width", block.width, format_inches)
        + _range_span("Offset", block.offset, format_offset)
        + "</div>\n"
    )


_BP_SPAN = '<span class="bolt_patterns store-bp"'


def _bolt_pattern(mode: str, bolt_mm: str, bolt_in: str) -> str:
    """The bolt-pattern element in one of the forms of ``catalogue.BP_MODES``."""
    forms = {
        "data": (
            f'<div class="store-bp" data-bp="{bolt_in},{bolt_mm}">'
            f"Bolt Pattern: {bolt_mm}mm ({bolt_in}&quot;)</div>"
        ),
        "text": f'<div class="store-bp">Bolt Pattern: {bolt_mm}mm ({bolt_in}")</div>',
        "data_space": (
            f'<div class="store-bp" data-bp="{bolt_in}, {bolt_mm}">'
            f"Bolt Pattern: {bolt_mm}mm ({bolt_in}&quot;)</div>"
        ),
        # the order of the other client's own example: millimetres first, a space
        "span_mm_first": f'{_BP_SPAN} data-bp="{bolt_mm}, {bolt_in}"><b>{bolt_mm}</b></span>',
        "span_in_mm": f'{_BP_SPAN} data-bp="{bolt_in},{bolt_mm}"><b>{bolt_mm}</b></span>',
        "span_text": f"{_BP_SPAN}><b>{bolt_mm}mm ({bolt_in}&quot;)</b></span>",
        "text_mm": f'<div class="store-bp">Bolt Pattern: {bolt_mm}mm</div>',
        "span_text_in": f"{_BP_SPAN}><b>{bolt_in}&quot;</b></span>",
    }
    form = forms.get(mode)
    return "" if form is None else form + "\n"


def fitment_section(heading: str, fm: FitmentModel | None) -> str:
    """The variable middle of a fitment page; ``fm=None`` is a page without data."""
    out = [f'<h2 class="store-ymm-title">Wheel Fitment for your {escape(heading)}</h2>\n']
    if fm is not None and fm.blocks:
        blocks = fm.blocks[::-1] if fm.rear_first else fm.blocks
        out.extend(_block(b, fm.label_mode) for b in blocks)
        out.append(_bolt_pattern(fm.bp_mode, fm.bolt_mm, fm.bolt_in))
        out.append(
            '<p class="store-ymm-note">Ranges are for wheels that fit with the '
            "preferences you selected; tire size affects fitment.</p>\n"
        )
    else:
        out.append(
            '<div class="store-ymm-nodata">We do not have fitment ranges for this '
            'selection yet. <a href="/contact-us">Ask a fitment expert</a>.</div>\n'
        )
        if fm is not None:
            out.append(_bolt_pattern(fm.bp_mode, fm.bolt_mm, fm.bolt_in))
    return "".join(out)


# ---------------------------------------------------------------- the padding

_BRANDS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Fuel", ("D538 Maverick", "D679 Rebel", "D694 Covert")),
    ("Method Race Wheels", ("MR305 NV", "MR701 Bead Grip")),
    ("Vision", ("141 Legend 5", "398 Rocker")),
    ("XD Series", ("XD820 Grenade", "XD863")),
    ("American Racing", ("AR172 Baja", "VN501 Torq Thrust")),
    ("Enkei", ("RPF1", "TS-10")),
    ("Konig", ("Hypergram", "Dekagram")),
    ("Rotiform", ("BLQ", "KPS")),
    ("BBS", ("CH-R", "LM")),
    ("Black Rhino", ("Armory", "Arsenal")),
    ("KMC", ("KM235 Grenade", "KM708 Bully")),
    ("Niche", ("M117 Misano", "M130 Targa")),
)
_SIZES = ("17x8", "17x9", "18x8.5", "18x9", "20x9", "20x10", "22x12", "19x9.5")
_OFFSETS = ("+35mm", "+20mm", "+1mm", "-12mm", "-44mm", "+45mm", "0mm", "+18mm")
_BP_DECOYS = ("6x5.5,6x139.7", "5x4.5,5x114.3", "8x6.5,8x165.1", "5x5,5x127")
_STARS = ("4.5", "4.8", "4.2", "5.0", "3.9")
_FINISHES = ("gloss black", "machined", "bronze", "chrome")

_HEAD = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="description"
 content="Shop wheels that fit your vehicle: guaranteed fitment, free shipping.">
<title>"""

_HEAD_REST = """</title>
<link rel="preconnect" href="https://images.customwheeloffset.com">
<link rel="stylesheet" href="/assets/css/store.min.css?v=20240611">
<link rel="icon" href="/favicon.ico">
<style>
.store-ymm-fitrange{border:1px solid #d5d5d5;border-radius:4px;padding:8px 12px;margin:6px 0}
.store-ymm-fitrange nobr{font-weight:700;display:block}
.store-conf-range{display:inline-block;margin-right:14px}
.store-bp{color:#555;font-size:13px}
.product-grid{display:flex;flex-wrap:wrap;gap:12px}
.product-item{width:240px;border:1px solid #eee;padding:8px}
</style>
<script type="application/ld+json">
{"@context": "https://schema.org", "@type": "WebSite", "name": "Custom Offsets",
 "url": "https://www.customwheeloffset.com/",
 "potentialAction": {"@type": "SearchAction",
   "target": "https://www.customwheeloffset.com/search?q={search_term_string}",
   "query-input": "required name=search_term_string"}}
</script>
</head>
<body class="store store-wheels">
<header class="site-header">
  <div class="topbar">Free shipping on wheel &amp; tire packages | Call (530) 298-7440</div>
  <nav class="main-nav">
    <a href="/">Home</a> <a href="/store/wheels">Wheels</a> <a href="/store/tires">Tires</a>
    <a href="/store/wheel-tire-packages">Packages</a> <a href="/store/suspension">Suspension</a>
    <a href="/wheel-offset-gallery">Gallery</a> <a href="/financing">Financing</a>
    <a href="/cart" class="cart-link">Cart (0)</a>
  </nav>
</header>
<div class="container store-container">
<aside class="sidebar filters">
  <h3>Filter Wheels</h3>
  <div class="filter-group"><h4>Brand</h4><ul>BRANDS</ul></div>
  <div class="filter-group"><h4>Finish</h4><ul><li>Black</li><li>Bronze</li><li>Chrome</li>
  <li>Machined</li><li>Gunmetal</li></ul></div>
  <div class="store-ymm-fitrange-help">
    <nobr>Front</nobr> and <nobr>Rear</nobr> ranges explained:
    <span class="store-conf-range">Diameter: <b>16" to 22"</b></span>
    <span class="store-conf-range">Width: <b>7" to 12"</b></span>
    <span class="store-conf-range">Offset: <b>-44mm to +45mm</b></span>
  </div>
  <div class="store-bp-info" data-bp="4x4,4x101.6">Popular bolt pattern: 4x101.6mm (4x4&quot;)</div>
</aside>
<!-- legacy fitment widget, kept for reference
<div class="store-ymm-fitrange full-size">
  <nobr>Front &amp; Rear</nobr>
  <span class="store-conf-range">Diameter: <b>14" to 15"</b></span>
  <span class="store-conf-range">Width: <b>5" to 6"</b></span>
  <span class="store-conf-range">Offset: <b>+50mm to +60mm</b></span>
</div>
<div class="store-bp" data-bp="4x4,4x101.6">Bolt Pattern: 4x101.6mm (4x4&quot;)</div>
-->
<main class="store-main">
<div class="store-toolbar">Sort by: <select name="sort">
<option value="instock" selected>In Stock</option>
<option value="price">Price</option><option value="popular">Most Popular</option></select></div>
<div class="product-grid">
"""

_SECTION_OPEN = """</div>
<section id="ymm-fitment" class="store-ymm-section">
"""

_SECTION_CLOSE = """</section>
<div class="product-grid">
"""

_TAIL = """</div>
<div class="old-store-ymm-fitrange" hidden>
  <nobr>Rear</nobr>
  <span class="store-conf-range">Diameter: <b>15" to 17"</b></span>
  <span class="store-conf-range">Width: <b>8" to 10"</b></span>
  <span class="store-conf-range">Offset: <b>-25mm to 0mm</b></span>
</div>
<p class="seo-copy">Staggered setups need different front and rear sizes. Typical aftermarket
ranges are Diameter: 18" to 22", Width: 8" to 10.5" and Offset: -12mm to +35mm, but always
check the ranges for your own vehicle above.</p>
</main>
</div>
<!-- old widget
<div class="store-ymm-fitrange"><nobr>Front</nobr>
<span class="store-conf-range">Diameter: <b>13" to 14"</b></span></div>
-->
<footer class="site-footer">
  <div class="footer-cols">
    <div><h4>Customer Service</h4><a href="/contact-us">Contact Us</a>
    <a href="/returns">Returns</a>
    <a href="/shipping">Shipping</a> <a href="/faq">FAQ</a></div>
    <div><h4>Company</h4><a href="/about">About Us</a> <a href="/careers">Careers</a>
    <a href="/privacy">Privacy Policy</a> <a href="/terms">Terms</a></div>
  </div>
  <p class="copyright">&copy; 2024 Custom Offsets, LLC. All rights reserved.</p>
</footer>
<script>
window.dataLayer = window.dataLayer || [];
var fitTemplate = '<div class="store-ymm-fitrange full-size"><nobr>Front &amp; Rear</nobr>' +
  '<span class="store-conf-range">Diameter: <b>15" to 24"</b></span>' +
  '<span class="store-conf-range">Width: <b>6" to 12"</b></span>' +
  '<span class="store-conf-range">Offset: <b>-44mm to +50mm</b></span></div>' +
  '<div class="store-bp" data-bp="6x5.5,6x139.7">Bolt Pattern: 6x139.7mm</div>';
function renderFit(el) { el.innerHTML = fitTemplate; }
dataLayer.push({"event": "view_item_list", "item_list_name": "wheels"});
</script>
</body>
</html>"""


def _card(i: int) -> str:
    brand, names = _BRANDS[i % len(_BRANDS)]
    name = names[(i // len(_BRANDS)) % len(names)]
    size = _SIZES[(i * 7) % len(_SIZES)]
    offset = _OFFSETS[(i * 5) % len(_OFFSETS)]
    slug = f"{brand}-{name}-{size}-{offset}".lower().replace(" ", "-").replace("+", "p")
    sku = f"{brand[:3].upper()}-{1000 + i * 37:05d}-{size.replace('.', '')}"
    link_bp = f' data-bp="{_BP_DECOYS[i % len(_BP_DECOYS)]}"' if i % 6 == 2 else ""
    desc = (
        f'Available in many sizes: Diameter: {17 + i % 4}" to {20 + i % 3}", '
        f"widths up to {9 + i % 4}.5 inches."
        if i % 4 == 1
        else f"The {escape(name)} from {escape(brand)} pairs a {_FINISHES[i % 4]} finish "
        "with a forged-look spoke design and a lightweight cast barrel."
    )
    price = 189 + (i * 53) % 400
    reviews = 12 + (i * 31) % 400
    return (
        f'<div class="product-item" data-sku="{sku}" data-brand="{escape(brand)}" '
        f'data-position="{i}">\n'
        f'  <a class="product-link" href="/store/wheels/{slug}"{link_bp}>\n'
        f'    <img class="product-image lazyload" src="data:image/gif;base64,R0lGODlhAQABAAAAACw=" '
        f'data-src="https://images.customwheeloffset.com/web/{slug}.jpg" '
        f'alt="{escape(brand)} {escape(name)} {size}" width="240" height="240">\n'
        f"  </a>\n"
        f'  <div class="product-info">\n'
        f'    <div class="product-brand">{escape(brand)}</div>\n'
        f'    <div class="product-name">{escape(name)}</div>\n'
        f'    <div class="product-size">{size} {offset}</div>\n'
        f'    <p class="product-desc">{desc}</p>\n'
        f'    <div class="product-rating" data-rating="{_STARS[i % len(_STARS)]}">'
        f"({reviews} reviews)</div>\n"
        f'    <div class="product-price"><span class="price">${price}.00</span> '
        f'<span class="per">per wheel</span></div>\n'
        f'    <button class="btn btn-cart" type="button" data-sku="{sku}">Add to Cart</button>\n'
        f"  </div>\n"
        f"</div>\n"
    )


class PageTemplate:
    """The cached static parts of a fitment page of about ``page_kb`` KB."""

    def __init__(self, page_kb: int) -> None:
        brands = "".join(f"<li>{escape(b)}</li>" for b, _ in _BRANDS)
        head = _HEAD_REST.replace("BRANDS", brands)
        fixed = len(_HEAD) + len(head) + len(_SECTION_OPEN) + len(_SECTION_CLOSE) + len(_TAIL)
        variable = 900  # title and a typical fitment section
        budget = page_kb * 1024 - fixed - variable
        cards: list[str] = []
        used = 0
        while used + 900 <= budget:
            card = _card(len(cards))
            cards.append(card)
            used += len(card.encode("utf-8"))
        half = len(cards) // 2
        self.page_kb = page_kb
        self.head = _HEAD.encode()
        self.before = (head + "".join(cards[:half]) + _SECTION_OPEN).encode()
        self.after = (_SECTION_CLOSE + "".join(cards[half:]) + _TAIL).encode()
        for part in (self.head, self.before, self.after[:-7]):
            assert b"</html>" not in part

    def parts(self, title: str, section: str) -> tuple[bytes, ...]:
        """The page as parts to join: head, title, padding, section, padding and tail."""
        return (
            self.head,
            escape(title, quote=False).encode(),
            self.before,
            section.encode(),
            self.after,
        )


@functools.lru_cache(maxsize=8)
def page_template(page_kb: int) -> PageTemplate:
    return PageTemplate(page_kb)


# ---------------------------------------------------------------- small pages

CHALLENGE_PAGE = (
    b'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
    b"<title>Human Verification</title>"
    b'<meta name="robots" content="noindex, nofollow"></head>'
    b'<body><div class="hv-container"><h1>Verifying you are human</h1>'
    b"<p>This may take a few seconds. Please complete the check below to continue.</p>"
    b'<div class="h-captcha" data-sitekey="10000000-ffff-ffff-ffff-000000000001"></div>'
    b"<noscript>Please enable JavaScript and cookies to continue.</noscript>"
    b"</div></body></html>"
)

_REASONS = {
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


def challenge_page() -> bytes:
    return CHALLENGE_PAGE


@functools.lru_cache(maxsize=16)
def error_page(status: int) -> bytes:
    """A bare proxy-style error page (what a CDN or nginx sends on 429 and 5xx)."""
    title = f"{status} {_REASONS.get(status, 'Error')}"
    return (
        f"<html><head><title>{title}</title></head><body><center><h1>{title}</h1>"
        "</center><hr><center>nginx</center></body></html>"
    ).encode()


def robots_txt(disallow: tuple[str, ...]) -> bytes:
    lines = ["User-agent: *"]
    lines += [f"Disallow: {prefix}" for prefix in disallow]
    lines.append("Allow: /")
    return ("\n".join(lines) + "\n").encode()
