"""Parsers of the store's bodies: preference options (JSON), the bot challenge, fitment pages.

A fitment page is ~100 KB of HTML carrying a few hundred bytes of data, plus
decoys: a commented-out copy of a block, block markup inside a script
string, look-alike class names (``store-ymm-fitrange-help``,
``store-bp-info``), range-like plain text. Telling markup from the rest is
an HTML parser's job, so the page is parsed by lxml (libxml2, whose
tokenizer follows HTML5: comments, ``<script>``, ``<style>``, ``<textarea>``,
``<title>`` and attribute values are what a browser makes of them):

1. cheap byte checks first: a page without the bytes ``store-ymm-fitrange``
   and without a challenge marker, ending in ``</html>``, is a no-data page
   and is not parsed at all;
2. otherwise the page is parsed once; an empty marker element is put before
   each ``</html>`` first, so the parser says which of them is real markup
   (the marker becomes an element) and which sits in a comment or a script
   (the marker becomes text): a page without a real one was cut short;
3. elements are located in the parsed tree by their class tokens; only the
   block(s) and the bolt-pattern element are read, without recursion.

libxml2 stops at 2,048 levels of nesting and reports it; such a page is a
ParseError, never a partly read page. :func:`parse_fitment_block` re-parses
the ``raw_block`` saved with a record (the parser's serialisation of the
block(s) and the bolt-pattern element) through the same code.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import TYPE_CHECKING, Final, NamedTuple
from urllib.parse import urlsplit

from custom_wheel_offset.errors import ParseError, TruncatedBodyError
from custom_wheel_offset.protocol.api import (
    DIAMETER_BOUNDS,
    OFFSET_BOUNDS,
    WIDTH_BOUNDS,
    check_range,
    load_json,
)
from custom_wheel_offset.protocol.records import AxleRanges, FitmentPage

if TYPE_CHECKING:
    from lxml.etree import _Element

__all__ = [
    "CHALLENGE_REASON",
    "is_challenge",
    "parse_fitment_block",
    "parse_fitment_page",
    "parse_options",
]

#: The reason of the ParseError raised for a challenge page.
CHALLENGE_REASON: Final = "challenge page, not data"

_OPTION_KINDS: Final = ("suspension", "trimming", "rubbing")


def _describe(value: object) -> str:
    # Reasons end up in logs and the database; a 100 KB value must not.
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


# --------------------------------------------------------------------------- options


def parse_options(body: bytes, which: str) -> tuple[str, ...]:
    """One preference question's answers: a JSON list of strings, de-duplicated in order.

    A bare string is a one-element list; an empty list is allowed (the
    question has no answers for this vehicle type). Options are kept exactly
    as served, quotes and spaces included (``Lifted 2-4"``). Anything else
    is an error. ``which`` (suspension, trimming, rubbing) names the list.
    """
    if which not in _OPTION_KINDS:
        raise ValueError(f"unknown option kind {which!r}; expected one of {_OPTION_KINDS}")
    what = f"{which} options"
    data = load_json(body, what)
    if isinstance(data, str):
        data = [data]
    if not isinstance(data, list):
        got = "an object" if isinstance(data, dict) else _describe(data)
        raise ParseError(f"{what}: expected a JSON list of strings, got {got}")
    seen: dict[str, None] = {}
    for index, item in enumerate(data):
        where = f"{what}: item {index}"
        if not isinstance(item, str):
            raise ParseError(f"{where} is {_describe(item)}, not an option string")
        if item == "":
            raise ParseError(f"{where} is an empty string, not an option")
        try:
            item.encode("utf-8")  # a lone surrogate ("\ud800") cannot travel in a URL
        except UnicodeEncodeError:
            raise ParseError(f"{where} = {_describe(item)} is not valid Unicode text") from None
        seen.setdefault(item, None)
    return tuple(seen)


# --------------------------------------------------------------------------- UTF-8

_UTF8_CHUNK: Final = 16_384


def _check_utf8(body: bytes, what: str) -> None:
    """Raise ParseError unless ``body`` is UTF-8, without building a 100 KB string.

    Decoding in 16 KB pieces keeps each temporary string small (a whole page
    with one non-Latin-1 character becomes a 200 KB UCS-2 string, whose
    allocation costs more than the decoding). A piece never ends before a
    continuation byte, so no character is split: the pieces are all valid
    exactly when the whole is.
    """
    if body.isascii():
        return
    n = len(body)
    start = 0
    while start < n:
        end = min(start + _UTF8_CHUNK, n)
        # At most 3 continuation bytes follow a character's first byte.
        for _ in range(3):
            if end < n and 0x80 <= body[end] < 0xC0:
                end += 1
        try:
            body[start:end].decode("utf-8")
        except UnicodeDecodeError as exc:
            raise ParseError(
                f"{what} is not UTF-8 ({exc.reason} at byte {start + exc.start})"
            ) from exc
        start = end


# --------------------------------------------------------------------------- HTML parsing

# Put before each "</html>": an element where the end tag is markup, text where it is not.
_END_MARK: Final = "cwo-html-end"
_END_MARK_HTML: Final = f"<{_END_MARK}></{_END_MARK}>"
_HTML_END = re.compile(rb"</html[\s/]*>")
_FIT_RANGE_BYTES: Final = b"store-ymm-fitrange"
# Lower-cased bytes without which no page can be a challenge (see _challenge_in).
_CHALLENGE_HINTS: Final = (b"verification", b"gokuprops", b"captcha.js")
# HTML splits class lists on ASCII whitespace only (not on U+00A0, as str.split would).
_HTML_SPACE = re.compile(r"[ \t\n\f\r]+")
# Elements whose content is not page text.
_NOT_TEXT: Final = frozenset({"script", "style"})


class _Parsed(NamedTuple):
    root: _Element | None  # None for a body with no element at all
    fatal: str | None  # why libxml2 stopped part-way, if it did


def _parse_html(body: bytes) -> _Parsed:
    """``body`` parsed as UTF-8 HTML.

    A fresh parser per call: an lxml parser serialises the threads sharing
    it, and its error log would mix their pages. Creating one costs ~1 µs.
    """
    from lxml import etree  # on first use: importing lxml costs ~50 ms at start-up

    parser = etree.HTMLParser(encoding="utf-8", huge_tree=True, collect_ids=False)
    try:
        root = etree.fromstring(body, parser)
    except etree.LxmlError as exc:
        raise ParseError(f"page is not parseable HTML ({exc})") from exc
    last = parser.error_log.last_error
    # A fatal error (nesting beyond 2,048 levels, ...) stops libxml2 part-way.
    if last is not None and last.level == etree.ErrorLevels.FATAL:
        return _Parsed(root, f"{last.message.strip()} (line {last.line})")
    return _Parsed(root, None)


def _complete(parsed: _Parsed) -> _Element | None:
    """The root of a page read to its end; ParseError when libxml2 stopped part-way."""
    if parsed.fatal is not None:
        raise ParseError(f"page markup not read to the end: {parsed.fatal}")
    return parsed.root


def _classes(element: _Element) -> list[str]:
    return [c for c in _HTML_SPACE.split(element.get("class") or "") if c]


def _with_classes(root: _Element, first: str, second: str) -> list[_Element]:
    """Elements whose class list holds the token ``first`` or ``second``, in document order.

    A substring test on each class attribute first (cheaper than XPath's
    ``contains()``, which copies every attribute); the whole-token test then
    drops ``store-bp-info`` and the like.
    """
    found: list[_Element] = []
    for element in root.iter("*"):
        value = element.get("class")
        if value and (first in value or second in value):
            classes = _classes(element)
            if first in classes or second in classes:
                found.append(element)
    return found


def _walk(root: _Element) -> Iterator[_Element | str]:
    """Descendant elements (at their start) and text pieces of ``root``, in document order.

    Iterative, so depth costs no stack. Comment text and the content of
    scripts and styles are left out (their tails are page text); every
    element boundary gives a ``" "`` so that ``Front<br>Wheels`` stays two words.
    """
    if root.text:
        yield root.text
    stack = [(root, iter(root))]
    while stack:
        parent, children = stack[-1]
        child = next(children, None)
        if child is None:
            stack.pop()
            if stack:
                yield " "
                if parent.tail:
                    yield parent.tail
            continue
        if not isinstance(child.tag, str):  # a comment or processing instruction
            if child.tail:
                yield child.tail
            continue
        yield child
        yield " "
        if child.tag in _NOT_TEXT:
            yield " "
            if child.tail:
                yield child.tail
            continue
        if child.text:
            yield child.text
        stack.append((child, iter(child)))


def _clean(pieces: Iterator[_Element | str] | list[str]) -> str:
    """Text pieces joined, whitespace runs collapsed to one space (entities are already text)."""
    return " ".join("".join(p for p in pieces if isinstance(p, str)).split())


def _text(element: _Element) -> str:
    return _clean(_walk(element))


def _outer_html(element: _Element) -> str:
    """The element's markup as the parser serialises it, without its tail."""
    from lxml import etree

    html = etree.tostring(element, method="html", encoding="unicode", with_tail=False)
    # An end marker inside a block (a "</html>" in its comment or script) is not the store's.
    return html.replace(_END_MARK_HTML, "")


def _with_end_marks(body: bytes, lower: bytes) -> bytes:
    """``body`` with the end marker put before every ``</html>`` (any case)."""
    cuts = [m.start() for m in _HTML_END.finditer(lower)]
    if not cuts:
        return body
    mark = _END_MARK_HTML.encode()
    pieces: list[bytes] = []
    pos = 0
    for cut in cuts:
        pieces += (body[pos:cut], mark)
        pos = cut
    pieces.append(body[pos:])
    return b"".join(pieces)


# --------------------------------------------------------------------------- challenge

_GOKU_PROPS = re.compile(r"\bwindow\s*\.\s*gokuProps\s*=(?!=)")


def _awswaf_script(src: str) -> str | None:
    """``captcha.js`` / ``challenge.js`` when ``src`` loads that file from ``*.awswaf.com``."""
    try:
        parts = urlsplit(src.strip())
        host = parts.hostname or ""
    except ValueError:  # e.g. an unbalanced "[" in the host: not an AWS address
        return None
    if host != "awswaf.com" and not host.endswith(".awswaf.com"):
        return None
    name = parts.path.rsplit("/", 1)[-1].lower()
    return name if name in ("captcha.js", "challenge.js") else None


def _challenge_in(root: _Element | None) -> bool:
    """Whether a parsed page is the store's bot challenge (markers in comments do not count).

    The title ``Human Verification``, or an AWS WAF interstitial: an inline
    script setting ``window.gokuProps``, or ``captcha.js`` from awswaf.com.
    ``challenge.js`` alone is not one: protected sites load that SDK on
    normal pages too (with ``gokuProps`` the page is a challenge anyway).
    """
    if root is None:
        return False
    title = next(root.iter("title"), None)
    if title is not None and _clean([title.text or ""]).lower() == "human verification":
        return True
    for script in root.iter("script"):
        src = script.get("src")
        if src is not None:
            if _awswaf_script(src) == "captcha.js":
                return True
        elif _GOKU_PROPS.search(script.text or ""):
            return True
    return False


def _may_be_challenge(lower: bytes) -> bool:
    return any(hint in lower for hint in _CHALLENGE_HINTS)


def is_challenge(body: bytes) -> bool:
    """True when ``body`` is the store's bot challenge, whatever its HTTP status.

    That is: the first ``<title>`` is ``Human Verification`` (any case, any
    spacing), or an AWS WAF interstitial (see :func:`_challenge_in`); only
    real markup counts, not a comment or a script string. Called on every
    response, so a body without ``verification``, ``gokuprops`` or
    ``captcha.js`` (any case) is ruled out on the bytes, without parsing.
    """
    lower = body.lower()
    if not _may_be_challenge(lower):
        return False
    # A page that stops the parser part-way is judged on what was read (the head comes first).
    return _challenge_in(_parse_html(body).root)


# --------------------------------------------------------------------------- fitment

_FIT_RANGE: Final = "store-ymm-fitrange"
_CONF_RANGE: Final = "store-conf-range"
_CONF_HEADER: Final = "store-conf-header"
_BOLT: Final = "store-bp"
_FULL_SIZE: Final = "full-size"

_TO = re.compile(r"\s*(?<![A-Za-z])to(?![A-Za-z])\s*", re.IGNORECASE)
_VALUE = re.compile(r"([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))\s*(.*)", re.DOTALL)
_AXLE_LABEL = re.compile(r"(front|rear)\b", re.IGNORECASE)

_INCH_UNITS: Final = frozenset({"", '"', "in", "″", "”"})
# label -> (plausible bounds, units that belong, unit named in reasons).
# A value without a unit is accepted: the label already says what it is.
_RANGE_KINDS: Final[dict[str, tuple[tuple[float, float], frozenset[str], str]]] = {
    "diameter": (DIAMETER_BOUNDS, _INCH_UNITS, "in"),
    "width": (WIDTH_BOUNDS, _INCH_UNITS, "in"),
    "offset": (OFFSET_BOUNDS, frozenset({"", "mm"}), "mm"),
}


def _parse_value(text: str, kind: str, where: str) -> float:
    m = _VALUE.fullmatch(text)
    if m is None:
        raise ParseError(f"{where}: {text!r} is not a number")
    if m.group(2).strip().lower() not in _RANGE_KINDS[kind][1]:
        raise ParseError(f"{where}: unit {m.group(2)!r} does not belong to a {kind}")
    return float(m.group(1))


def _label_and_value(span: _Element) -> tuple[str, str]:
    """The span's text before its first ``<b>`` and the text of that ``<b>``.

    Without a ``<b>``, the label runs to the first colon and the value is the rest.
    """
    label: list[str] = []
    for item in _walk(span):
        if isinstance(item, str):
            label.append(item)
        elif item.tag == "b":
            return _clean(label), _text(item)
    text, _, rest = _clean(label).partition(":")
    return text, rest.strip()


def _parse_range(span: _Element, where: str) -> tuple[str, float | None, float | None] | None:
    """(kind, min, max) of one ``store-conf-range`` span; None for a label it does not know.

    A blank range is ``None, None``: an empty value, or units alone
    (``" to "``, ``mm to mm``), as the store writes a range it does not know.
    """
    label, value = _label_and_value(span)
    kind = label.strip().rstrip(":").strip().lower()
    if kind not in _RANGE_KINDS:
        return None  # not one of the three ranges: nothing that could be misread as one
    where = f"{where}: {kind}"
    if not value:
        return kind, None, None
    parts = _TO.split(value)
    if len(parts) != 2:
        raise ParseError(f"{where}: {value!r} is not 'MIN to MAX'")
    bounds, units, unit = _RANGE_KINDS[kind]
    blank = [p.strip().lower() in units for p in parts]
    if all(blank):
        return kind, None, None
    if any(blank):
        raise ParseError(f"{where}: {value!r} has one bound only")
    low = _parse_value(parts[0], kind, where)
    high = _parse_value(parts[1], kind, where)
    check_range(low, high, bounds, where, unit)
    return kind, low, high


class _Block(NamedTuple):
    element: _Element
    full_size: bool
    label: str | None  # "front" / "rear", else None


def _first_with_class(root: _Element, token: str) -> _Element | None:
    return next((e for e in root.iterdescendants() if token in _classes(e)), None)


def _axle_label(element: _Element, where: str) -> str | None:
    """ "front" / "rear" from the block's first ``<nobr>`` and/or its ``store-conf-header``."""
    labels: dict[str, str] = {}
    nobr = next(element.iterdescendants("nobr"), None)
    header = _first_with_class(element, _CONF_HEADER)
    for name, node in (("<nobr>", nobr), ("header", header)):
        m = _AXLE_LABEL.match(_text(node)) if node is not None else None
        if m:
            labels[name] = m.group(1).lower()
    if len(set(labels.values())) > 1:
        raise ParseError(
            f"{where}: <nobr> says {labels['<nobr>'].title()} but the store-conf-header "
            f"says {labels['header'].title()}"
        )
    return next(iter(labels.values()), None)


def _read_block(element: _Element, index: int) -> _Block:
    where = f"fit-range block {index + 1} (<{element.tag}>, line {element.sourceline})"
    if element.tag == "div" and next(element.iterdescendants("div"), None) is not None:
        # The block shape has no nested <div>: one means the markup changed.
        raise ParseError(f"{where} contains a nested <div>")
    if next((a for a in element.iterancestors() if _FIT_RANGE in _classes(a)), None) is not None:
        raise ParseError(f"{where} sits inside another fit-range block")
    return _Block(element, _FULL_SIZE in _classes(element), _axle_label(element, where))


def _axle_ranges(block: _Block, where: str) -> AxleRanges:
    values: dict[str, tuple[float | None, float | None]] = {}
    spans: list[_Element] = []
    pending = list(reversed(block.element))
    while pending:  # depth-first, not descending into a range span
        child = pending.pop()
        if not isinstance(child.tag, str) or child.tag in _NOT_TEXT:
            continue
        if _CONF_RANGE in _classes(child):
            spans.append(child)
        else:
            pending.extend(reversed(child))
    for span in spans:
        parsed = _parse_range(span, where)
        if parsed is None:
            continue
        kind, low, high = parsed
        if kind in values:
            raise ParseError(f"{where}: the {kind} range is given twice")
        values[kind] = (low, high)
    d_min, d_max = values.get("diameter", (None, None))
    w_min, w_max = values.get("width", (None, None))
    o_min, o_max = values.get("offset", (None, None))
    return AxleRanges(d_min, d_max, w_min, w_max, o_min, o_max)


def _axles(blocks: list[_Block]) -> tuple[AxleRanges, AxleRanges]:
    """(front, rear) of one full-size block, or of a Front and a Rear block in any order."""
    if len(blocks) > 2:
        raise ParseError(f"{len(blocks)} fit-range blocks on one page; expected 1 or 2")
    if len(blocks) == 1:
        block = blocks[0]
        if not block.full_size:
            raise ParseError(
                f"a single fit-range block labelled {block.label or 'nothing'!r} and not "
                "full-size: the other axle is unknown"
            )
        front = _axle_ranges(block, "fit-range block (front & rear)")
        return front, front
    if any(b.full_size for b in blocks):
        raise ParseError("a full-size fit-range block together with another block")
    by_axle: dict[str, _Block] = {}
    for index, block in enumerate(blocks):
        if block.label is None:
            raise ParseError(f"fit-range block {index + 1} has no Front/Rear label")
        if block.label in by_axle:
            raise ParseError(f"two fit-range blocks labelled {block.label.title()}")
        by_axle[block.label] = block
    front = _axle_ranges(by_axle["front"], "fit-range block Front")
    rear = _axle_ranges(by_axle["rear"], "fit-range block Rear")
    return front, rear


# --------------------------------------------------------------------------- bolt pattern

# A pattern, then an optional unit: mm, or inches written ", ″, ”, in, inch(es).
_BOLT_TEXT = re.compile(
    r"(?<![0-9A-Za-z.])([0-9]+)x([0-9]+(?:\.[0-9]+)?)(?![0-9.])\s*"
    r"(mm|inch(?:es)?|in|\"|″|”)?(?![A-Za-z])",
    re.IGNORECASE,
)
_BOLT_ONE = re.compile(r"([0-9]+)x([0-9]+(?:\.[0-9]+)?)")
# Pitch-circle diameters: every real mm pattern is 98..335, every inch pattern 3..14.
_PCD_MM: Final = (98.0, 335.0)
_PCD_IN: Final = (3.0, 14.0)


def _pcd_unit(pattern: str, pcd: str, where: str) -> str:
    """ "mm" or "in" for a pattern, told by the value of its pitch-circle diameter alone."""
    value = float(pcd)
    if _PCD_MM[0] <= value <= _PCD_MM[1]:
        return "mm"
    if _PCD_IN[0] <= value <= _PCD_IN[1]:
        return "in"
    raise ParseError(
        f"{where}: {pattern!r} has a pitch-circle diameter of {value:g}, neither inches "
        f"({_PCD_IN[0]:g}-{_PCD_IN[1]:g}) nor mm ({_PCD_MM[0]:g}-{_PCD_MM[1]:g})"
    )


def _by_unit(
    patterns: list[tuple[str, str, str | None]], where: str
) -> tuple[str | None, str | None]:
    """(inch, mm) of one or two (pattern, pcd, written unit) readings; a missing unit is None."""
    found: dict[str, str] = {}
    for pattern, pcd, written in patterns:
        unit = _pcd_unit(pattern, pcd, where)
        if written is not None and written != unit:
            raise ParseError(f"{where}: {pattern!r} is written in {written} but its size is {unit}")
        if unit in found:
            raise ParseError(
                f"{where}: {found[unit]!r} and {pattern!r} are both {unit}; expected one of each"
            )
        found[unit] = pattern
    return found.get("in"), found.get("mm")


def _written_unit(text: str | None) -> str | None:
    if not text:
        return None
    return "mm" if text.lower() == "mm" else "in"


def _bolt_pattern(element: _Element) -> tuple[str | None, str | None]:
    """(inch, mm) of one ``store-bp`` element: its ``data-bp`` (either order), else its text."""
    where = f"bolt pattern element <{element.tag}> (line {element.sourceline})"
    data_bp = (element.get("data-bp") or "").strip()
    if data_bp:
        parts = [p.strip() for p in data_bp.split(",")]
        matches = [_BOLT_ONE.fullmatch(p) for p in parts]
        if len(parts) != 2 or not all(matches):
            raise ParseError(f"{where}: data-bp {data_bp!r} is not 'INCH,MM' (either order)")
        return _by_unit([(m.group(0), m.group(2), None) for m in matches if m], where)
    text = _text(element)
    readings = [
        (f"{m.group(1)}x{m.group(2)}", m.group(2), _written_unit(m.group(3)))
        for m in _BOLT_TEXT.finditer(text)
    ]
    if not readings:
        raise ParseError(f"{where}: {text[:80]!r} holds no bolt pattern")
    if len(readings) > 2:
        raise ParseError(f"{where}: {text[:80]!r} holds {len(readings)} bolt patterns")
    return _by_unit(readings, where)


def _bolt_of(bolts: list[_Element]) -> tuple[str | None, str | None]:
    """The one (inch, mm) reading of the page's bolt-pattern elements ((None, None) without)."""
    readings = {_bolt_pattern(b) for b in bolts}
    if len(readings) > 1:
        shown = sorted((i or "-", m or "-") for i, m in readings)
        raise ParseError(f"bolt pattern elements disagree: {shown}")
    return next(iter(readings), (None, None))


# --------------------------------------------------------------------------- pages


def _fitment(root: _Element | None) -> FitmentPage:
    """The fitment answer of a parsed page: the one code path of pages and saved blocks."""
    found = [] if root is None else _with_classes(root, _FIT_RANGE, _BOLT)
    elements = [e for e in found if _FIT_RANGE in _classes(e)]
    if not elements:
        # The store answers a normal page without ranges for a combination it
        # has no data for (or does not recognise): a real "no data" answer.
        return FitmentPage.no_data()
    if len(elements) > 2:  # before reading any: thousands of nested blocks stay cheap
        raise ParseError(f"{len(elements)} fit-range blocks on one page; expected 1 or 2")
    front, rear = _axles([_read_block(e, i) for i, e in enumerate(elements)])
    bolts = [e for e in found if _BOLT in _classes(e)]
    bolt_in, bolt_mm = _bolt_of(bolts)
    raw = [_outer_html(e) for e in elements]
    # The bolt element is saved once: not again when it sits inside a block already saved.
    if bolts and not any(a in elements for a in bolts[0].iterancestors()):
        raw.append(_outer_html(bolts[0]))
    return FitmentPage("ok", bolt_mm, bolt_in, front, rear, "\n".join(raw))


def _ends_plainly(body: bytes, lower: bytes) -> bool:
    """Whether the last ``</html>`` is followed by nothing but whitespace."""
    pos = lower.rfind(b"</html")
    m = _HTML_END.match(lower, pos) if pos != -1 else None
    return m is not None and not body[m.end() :].strip()


def parse_fitment_page(body: bytes) -> FitmentPage:
    """A fitment page -> :class:`FitmentPage` (``ok`` or ``no_data``).

    Raises :class:`ParseError` for a challenge page, a non-UTF-8 body, a
    page the parser cannot read to its end and each inconsistency listed in
    ``docs/parsing.md``, and :class:`TruncatedBodyError` for a page without
    a real ``</html>``.
    """
    lower = body.lower()
    may_be_challenge = _may_be_challenge(lower)
    has_block = _FIT_RANGE_BYTES in body
    if not (may_be_challenge or has_block) and _ends_plainly(body, lower):
        # A no-data page: nothing on it needs the parser (docs/parsing.md, "Speed").
        _check_utf8(body, "page")
        return FitmentPage.no_data()
    if _END_MARK.encode() in lower:
        raise ParseError(f"page holds {_END_MARK!r}, the marker cwo puts before </html>")
    parsed = _parse_html(_with_end_marks(body, lower))
    # Before the truncation check: a challenge cut short is still a challenge.
    if may_be_challenge and _challenge_in(parsed.root):
        raise ParseError(CHALLENGE_REASON)
    root = _complete(parsed)
    if root is None or next(root.iter(_END_MARK), None) is None:
        raise TruncatedBodyError(f"page has no closing </html>: cut short after {len(body)} bytes")
    _check_utf8(body, "page")
    return _fitment(root) if has_block else FitmentPage.no_data()


def parse_fitment_block(raw_block: str) -> FitmentPage:
    """Re-parse a saved ``raw_block`` (the block(s) plus the bolt element) -> FitmentPage.

    Gives the record of the page the block was cut from; ``""`` gives ``no_data``.
    """
    try:
        body = raw_block.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ParseError(f"raw block is not valid Unicode text ({exc.reason})") from exc
    if _FIT_RANGE_BYTES not in body:
        return FitmentPage.no_data()
    return _fitment(_complete(_parse_html(body)))
