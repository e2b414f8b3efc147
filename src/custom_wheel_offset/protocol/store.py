"""Parsers of the store's bodies: preference options (JSON), the bot challenge, fitment pages.

A fitment page is ~100 KB of HTML carrying a few hundred bytes of data, plus
decoys: a commented-out copy of a block, block markup inside a script
string, look-alike class names (``store-ymm-fitrange-help``,
``store-bp-info``), range-like plain text. Parsing the whole page would cost
milliseconds for those few hundred bytes, so the candidates are located on
the bytes and only their own markup is parsed, by lxml (libxml2):

1. the page is lower-cased once (``bytes.lower`` changes ASCII only, so
   offsets do not move) and one linear walk locates the regions a browser
   does not read as markup: comments, ``<script>``, ``<style>``,
   ``<textarea>``, ``<title>``; a page without a real ``</html>`` outside
   them was cut short;
2. the class tokens ``store-ymm-fitrange`` and ``store-bp`` are located with
   ``bytes.find``; an occurrence outside those regions, bounded like a whole
   token, makes the last ``<`` before it a candidate;
3. each candidate is parsed from its ``<`` in a window of the page followed
   by a sentinel element: 512 bytes first (a look-alike's start tag, turned
   down, or a whole real element), doubling until the element closes before
   the sentinel, up to 64 KB. The parser decides what is an element, which
   class it has and where it ends; nothing is matched by hand. The first
   windows of all candidates go to lxml in one call, each in a box element
   of its own (lxml gives up the GIL on every call: one call per page, not
   one or two per candidate); a joint tree that is not one clean box per
   window is dropped for window-by-window parses.

Bounds keep any page linear: 16 candidates per token, 512 KB parsed, 64 KB
per element, 2 blocks, no nested blocks (each a ParseError, see
docs/parsing.md). :func:`parse_fitment_block` re-parses the ``raw_block``
saved with a record (the parser's serialisation of the block(s) and the
bolt-pattern element) through the same code.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from collections.abc import Iterator
from itertools import islice
from typing import TYPE_CHECKING, Final, NamedTuple
from urllib.parse import urlsplit

from custom_wheel_offset.errors import ParseError, TruncatedBodyError
from custom_wheel_offset.protocol.api import (
    DIAMETER_BOUNDS,
    OFFSET_BOUNDS,
    WIDTH_BOUNDS,
    check_range,
    load_json,
    short_repr,
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
        got = "an object" if isinstance(data, dict) else short_repr(data)
        raise ParseError(f"{what}: expected a JSON list of strings, got {got}")
    seen: dict[str, None] = {}
    for index, item in enumerate(data):
        where = f"{what}: item {index}"
        if not isinstance(item, str):
            raise ParseError(f"{where} is {short_repr(item)}, not an option string")
        if item == "":
            raise ParseError(f"{where} is an empty string, not an option")
        try:
            item.encode("utf-8")  # a lone surrogate ("\ud800") cannot travel in a URL
        except UnicodeEncodeError:
            raise ParseError(f"{where} = {short_repr(item)} is not valid Unicode text") from None
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

_HTML_END = re.compile(rb"</html[\s/]*>")
_FIT_RANGE_BYTES: Final = b"store-ymm-fitrange"
# Lower-cased bytes without which no page can be a challenge (see _challenge_in): the
# title's word, then the two that can only be in a script.
_TITLE_HINT: Final = b"verification"
_SCRIPT_HINTS: Final = (b"gokuprops", b"captcha.js")
_CHALLENGE_HINTS: Final = (_TITLE_HINT, *_SCRIPT_HINTS)
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


def _classes(element: _Element) -> list[str]:
    return [c for c in _HTML_SPACE.split(element.get("class") or "") if c]


def _has_class(element: _Element, token: str) -> bool:
    # A substring test first: most class attributes cannot hold the token at all.
    value = element.get("class")
    return bool(value) and token in value and token in _classes(element)


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

    return etree.tostring(element, method="html", encoding="unicode", with_tail=False)


# --------------------------------------------------------------------------- inert regions

_WS: Final = b" \t\n\r\f"
# "<script", "<style", "<textarea", "<title": their content is text to a browser (and
# to libxml2), not markup. One sre scan for all four (two scans with a two-byte
# literal prefix each cost more).
_RAW_TEXT_OPEN = re.compile(rb"<(?:s(?:cript|tyle)|t(?:extarea|itle))")
# A whole class token is bounded by a quote, whitespace, "=" (or an entity's
# ";") before it and a quote, whitespace, "/", ">" (or "&") after it.
_TOKEN_BEFORE: Final = frozenset(b"\"' \t\n\r\f=;")
_TOKEN_AFTER: Final = frozenset(b"\"' \t\n\r\f/>&")


class _Regions:
    """``[start, end)`` of a body's comments, scripts, styles, textareas and titles."""

    __slots__ = ("ends", "kinds", "starts")

    def __init__(self, lower: bytes) -> None:
        # kinds: b"" for a comment, else the element's name (b"script", b"title", ...)
        self.starts, self.ends, self.kinds = _inert_regions(lower)

    def containing(self, pos: int) -> int:
        """Index of the region holding ``pos``, or -1 when ``pos`` is markup."""
        i = bisect_right(self.starts, pos) - 1
        return i if i >= 0 and pos < self.ends[i] else -1


def _inert_regions(lower: bytes) -> tuple[list[int], list[int], list[bytes]]:
    """Sorted, disjoint ``[start, end)`` of comments and raw-text elements, and their kinds.

    One linear walk: whichever opener comes first wins and everything up to
    its closer is skipped, so a ``<!--`` inside a script string (or a
    ``<script>`` inside a comment) is not an opener. An opener without a
    closer runs to the end, as in a browser. Each kind of opener is searched
    for again only when the region just skipped covered it, so each scan
    crosses the page once. Comments are found through their ``!``: a
    one-byte ``find`` is a ``memchr``, and ``!`` is rare outside scripts.
    """
    n = len(lower)
    starts: list[int] = []
    ends: list[int] = []
    kinds: list[bytes] = []
    comment = _next_comment(lower, 0)
    raw, raw_end = _next_raw_text(lower, 0)
    while comment != -1 or raw != -1:
        if raw == -1 or (comment != -1 and comment < raw):
            start = comment
            # From start + 2 so that "<!-->" and "<!--->" close at once, as in HTML.
            close = lower.find(b"-->", start + 2)
            end = n if close == -1 else close + 3
            kinds.append(b"")
        else:
            start = raw
            end = _raw_text_end(lower, raw, raw_end)
            kinds.append(lower[raw + 1 : raw_end])
        starts.append(start)
        ends.append(end)
        # An opener found inside the region just skipped is not one: search on.
        if comment != -1 and comment < end:
            comment = _next_comment(lower, end)
        if raw != -1 and raw < end:
            raw, raw_end = _next_raw_text(lower, end)
    return starts, ends, kinds


def _raw_text_end(lower: bytes, start: int, name_end: int) -> int:
    """End of the raw-text element opened at ``start``: after its end tag, or the body's end."""
    closer = b"</" + lower[start + 1 : name_end]
    close = lower.find(closer, name_end)
    while close != -1 and not _name_ends(lower, close + len(closer)):
        close = lower.find(closer, close + 1)
    gt = -1 if close == -1 else lower.find(b">", close)
    return len(lower) if gt == -1 else gt + 1


def _next_comment(lower: bytes, pos: int) -> int:
    """Offset of the next ``<!--`` at or after ``pos``, or -1."""
    bang = lower.find(b"!", pos + 1)
    while bang != -1:
        if lower[bang - 1] == 0x3C and lower.startswith(b"--", bang + 1):  # "<!--"
            return bang - 1
        bang = lower.find(b"!", bang + 1)
    return -1


def _next_raw_text(lower: bytes, pos: int) -> tuple[int, int]:
    """(start, end of name) of the next raw-text start tag, or (-1, -1)."""
    m = _RAW_TEXT_OPEN.search(lower, pos)
    while m is not None and not _name_ends(lower, m.end()):  # "<scripts", "<titles"
        m = _RAW_TEXT_OPEN.search(lower, m.end())
    return (-1, -1) if m is None else (m.start(), m.end())


def _name_ends(lower: bytes, pos: int) -> bool:
    # A tag name ends at whitespace, "/", ">" or the end of the body.
    return pos >= len(lower) or lower[pos] in _WS or lower[pos] in b"/>"


def _real_html_end(lower: bytes, regions: _Regions, start: int, stop: int) -> int:
    """Offset of the first ``</html>`` in ``[start, stop)`` that is markup, or -1."""
    pos = lower.find(b"</html", start, stop)
    while pos != -1:
        if _name_ends(lower, pos + 6) and regions.containing(pos) == -1:
            return pos
        pos = lower.find(b"</html", pos + 6, stop)
    return -1


def _has_html_end(lower: bytes, regions: _Regions) -> bool:
    """Whether the body holds a real ``</html>`` (not one in a comment or a script)."""
    pos = lower.rfind(b"</html")
    while pos != -1:
        if regions.containing(pos) == -1 and _HTML_END.match(lower, pos):
            return True
        pos = lower.rfind(b"</html", 0, pos)
    return False


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


# The markers of section 5 stand in the page's head. Looking there only spares
# lower-casing and searching 100 KB three times on every response; a page
# whose "</head" is not written in one of these cases is searched whole.
_HEAD_ENDS: Final = (b"</head", b"</HEAD")


def _head(body: bytes) -> bytes:
    """``body`` up to its first ``</head``, or all of it when there is none."""
    for marker in _HEAD_ENDS:
        end = body.find(marker)
        if end != -1:
            return body[:end]
    return body


def _regions_may_be_challenge(lower: bytes, regions: _Regions) -> bool:
    """:func:`_may_be_challenge` restricted to where :func:`_challenge_in` looks.

    The first ``<title>`` and the scripts (start tag and content) are inert
    regions already located: a few hundred bytes to search on a data page,
    instead of three scans of 100 KB.
    """
    title_seen = False
    for start, end, kind in zip(regions.starts, regions.ends, regions.kinds, strict=True):
        if kind == b"title" and not title_seen:
            title_seen = True
            if lower.find(_TITLE_HINT, start, end) != -1:
                return True
        elif kind == b"script" and any(
            lower.find(hint, start, end) != -1 for hint in _SCRIPT_HINTS
        ):
            return True
    return False


def is_challenge(body: bytes) -> bool:
    """True when ``body`` is the store's bot challenge, whatever its HTTP status.

    That is: the first ``<title>`` is ``Human Verification`` (any case, any
    spacing), or an AWS WAF interstitial (see :func:`_challenge_in`); only
    real markup counts, not a comment or a script string. Called on every
    response, so a body whose head (up to ``</head``) holds no
    ``verification``, ``gokuprops`` or ``captcha.js`` (any case) is ruled out
    on the bytes, without parsing.
    """
    if not _may_be_challenge(_head(body).lower()):
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


def _read_block(found: _Found) -> _Block:
    element, where = found.element, found.where
    if element.tag == "div" and next(element.iterdescendants("div"), None) is not None:
        # The block shape has no nested <div>: one means the markup changed.
        raise ParseError(f"{where} contains a nested <div>")
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


def _bolt_pattern(found: _Found) -> tuple[str | None, str | None]:
    """(inch, mm) of one ``store-bp`` element: its ``data-bp`` (either order), else its text."""
    element, where = found.element, found.where
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


def _bolt_of(bolts: list[_Found]) -> tuple[str | None, str | None]:
    """The one (inch, mm) reading of the page's bolt-pattern elements ((None, None) without)."""
    readings = {_bolt_pattern(b) for b in bolts}
    if len(readings) > 1:
        shown = sorted((i or "-", m or "-") for i, m in readings)
        raise ParseError(f"bolt pattern elements disagree: {shown}")
    return next(iter(readings), (None, None))


# --------------------------------------------------------------------------- windows

# Put at the end of a window that stops short of the document's end: it is an element
# after the candidate when the candidate closed within the window, and inside it (or
# swallowed by a tag the cut left open) when the candidate did not.
_SENTINEL: Final = "cwo-window-end"
_SENTINEL_BYTES: Final = _SENTINEL.encode()
_SENTINEL_HTML: Final = f"<{_SENTINEL}></{_SENTINEL}>".encode()
# A window is parsed as the start of a body, so its first element is not moved to <head>.
_WINDOW_PREFIX: Final = b"<html><body>"
# Window sizes: a real block is a few hundred bytes; the first window fits it, and the
# window doubles up to the cap for a longer element (see docs/parsing.md, "Windows").
_WINDOW_FIRST: Final = 512
_WINDOW_CAP: Final = 65_536
# Places per class token that get a window parse, and bytes parsed per page, at most:
# any page costs a bounded number of bounded parses, so CPU stays linear in its size.
_MAX_CANDIDATES: Final = 16
_PARSE_BUDGET: Final = 512 * 1024


class _Page:
    """A body being searched: its bytes, lower-cased copy, inert regions and parse budget."""

    __slots__ = ("body", "candidates", "lower", "parsed", "regions", "views")

    def __init__(self, body: bytes, lower: bytes) -> None:
        self.body = body
        self.lower = lower  # bytes.lower changes ASCII only: offsets do not move
        self.regions = _Regions(lower)
        self.parsed = 0  # bytes given to the parser so far
        # Per class token: its first candidates (one more than examined, to tell "too many").
        self.candidates: dict[str, list[tuple[int, int]]] = {}
        # First windows parsed ahead, together (see _read_first_windows), by (start, end).
        self.views: dict[tuple[int, int], _View] = {}

    def spend(self, size: int) -> None:
        self.parsed += size
        if self.parsed > _PARSE_BUDGET:
            raise ParseError(
                f"more than {_PARSE_BUDGET // 1024} KB of markup parsed to delimit the "
                "fit-range blocks: the page is made of look-alike markup"
            )

    def candidates_of(self, token: str) -> list[tuple[int, int]]:
        """:func:`_candidates` of ``token``, at most one more than are examined."""
        found = self.candidates.get(token)
        if found is None:
            found = list(islice(_candidates(self, token), _MAX_CANDIDATES + 1))
            self.candidates[token] = found
        return found


class _Found(NamedTuple):
    element: _Element  # parsed from a window: its own tree, not the page's
    start: int  # offset of its "<" in the body
    where: str  # how reasons name it


def _candidates(page: _Page, token: str) -> Iterator[tuple[int, int]]:
    """(offset of the ``<``, offset of the next ``<``) of each tag that may carry ``token``.

    In page order. An occurrence counts when it is bounded like a whole
    token and sits outside the inert regions; its tag starts at the last
    ``<`` before it, and its start tag ends before the next ``<`` after it
    (unless an attribute value holds one). Each ``<`` is given once. Linear:
    a region is skipped whole, and after a ``<`` is given the search goes on
    from the next ``<`` (every occurrence in between has the same one).
    """
    needle = token.encode()
    body = page.body
    n = len(body)
    pos = body.find(needle)
    while pos != -1:
        after = pos + len(needle)
        region = page.regions.containing(pos)
        if region != -1:
            pos = body.find(needle, page.regions.ends[region])
            continue
        if (
            pos > 0
            and body[pos - 1] in _TOKEN_BEFORE
            and (after >= n or body[after] in _TOKEN_AFTER)
        ):
            lt = body.rfind(b"<", 0, pos)
            next_lt = body.find(b"<", after)
            if lt != -1 and page.regions.containing(lt) == -1:
                yield lt, n if next_lt == -1 else next_lt
            if next_lt == -1:
                return
            after = next_lt
        pos = body.find(needle, after)


def _window_end(page: _Page, start: int, wanted: int) -> tuple[int, bool]:
    """(end, final) of the window from ``start`` to about ``wanted``.

    ``final`` when the window reaches the end of the document: the body's
    end, or a real ``</html>`` (libxml2 reads nothing after one). A window
    ends before a ``<``, so not inside a tag, a comment or a raw-text
    element (nor inside a UTF-8 character).
    """
    n = len(page.body)
    end = min(wanted, n)
    html_end = _real_html_end(page.lower, page.regions, start, end)
    if html_end != -1:
        return html_end, True
    if end == n:
        return n, True
    # Just before a "<": a window cut inside a tag ("</nob") would swallow the sentinel.
    tag = page.body.rfind(b"<", start + 1, end) if page.body[end] != 0x3C else -1
    if tag != -1:
        end = tag
    region = page.regions.containing(end)
    if region != -1:
        end = page.regions.starts[region]  # a "<" too
    while end > start and 0x80 <= page.body[end] < 0xC0:
        end -= 1
    return end, False


def _first_element(container: _Element | None) -> _Element | None:
    """The window's first element when nothing comes before it (else the ``<`` was no tag)."""
    if container is None or container.text or len(container) == 0:
        return None
    first = container[0]
    return first if isinstance(first.tag, str) and first.tag != _SENTINEL else None


class _View(NamedTuple):
    """What the parser made of one window."""

    first: _Element | None  # see _first_element
    sentinel: _Element | None  # None when the window is final or swallowed it
    fatal: str | None  # see _Parsed
    final: bool  # the window reaches the document's end: no sentinel was put


def _window(page: _Page, start: int, end: int) -> bytes:
    """The bytes ``[start, end)`` that go to the parser; ParseError if they hold the marker.

    Only what is parsed is searched (a few hundred bytes a candidate, not
    the whole page): the marker elsewhere on the page cannot reach a tree.
    """
    if page.lower.find(_SENTINEL_BYTES, start, end) != -1:
        raise ParseError(
            f"markup at byte {start} holds {_SENTINEL!r}, the marker cwo puts at a window's end"
        )
    return page.body[start:end]


def _view_alone(window: bytes, final: bool) -> _View:
    """One window parsed by itself, as the start of a ``<body>``."""
    parsed = _parse_html(_WINDOW_PREFIX + window + (b"" if final else _SENTINEL_HTML))
    root = parsed.root
    body = None if root is None else next(root.iterchildren("body"), None)
    sentinel = None
    if root is not None and not final:
        sentinel = next(root.iter(_SENTINEL), None)
    return _View(_first_element(body), sentinel, parsed.fatal, final)


# What one window says about a candidate.
_UNDECIDED: Final = "undecided"  # the window ends before the parser got past its start tag
_NOT_ONE: Final = "not one"  # the "<" does not start an element carrying the token
_OPEN: Final = "open"  # an element with the token, not closed within the window
_CLOSED: Final = "closed"  # an element with the token, read whole


def _read_window(page: _Page, start: int, wanted: int, token: str) -> tuple[str, _Element | None]:
    """(what the window says, the element at ``start``) for the window up to about ``wanted``."""
    end, final = _window_end(page, start, wanted)
    page.spend(end - start)
    view = page.views.get((start, end))
    if view is None:
        view = _view_alone(_window(page, start, end), final)
    if not (view.final or view.sentinel is not None or view.fatal):
        return _UNDECIDED, None
    first = view.first
    if first is None or not _has_class(first, token):
        return _NOT_ONE, None
    if view.fatal is not None:
        raise ParseError(f"markup at byte {start} not read to the end: {view.fatal}")
    sentinel = view.sentinel
    inside = sentinel is not None and any(a is first for a in sentinel.iterancestors())
    return (_OPEN if inside else _CLOSED), first


def _element_at(page: _Page, start: int, token: str, what: str) -> _Element | None:
    """The whole element starting at ``start`` when it carries ``token``; None when it does not.

    The window holds 512 bytes first: the start tag of a look-alike, which
    is turned down, or the whole of a real element. It then doubles until
    the element closes inside it (or the window reaches the document's
    end, where a browser closes it too), up to the cap.
    """
    wanted = start + _WINDOW_FIRST
    size = _WINDOW_FIRST
    while True:
        state, element = _read_window(page, start, wanted, token)
        if state == _NOT_ONE:
            return None
        if element is not None and token == _FIT_RANGE:
            _no_nested_block(element, start)
        if state == _CLOSED:
            return element
        if wanted - start >= _WINDOW_CAP:
            if state == _OPEN:
                problem = f"{what} at byte {start} is not closed"
            else:
                problem = f"the start tag at byte {start} (a {what}?) does not end"
            raise ParseError(
                f"{problem} within {_WINDOW_CAP // 1024} KB (a real one is a few hundred bytes)"
            )
        while start + size <= wanted:
            size *= 2
        wanted = start + min(size, _WINDOW_CAP)


# Holds each window of a joint parse. Its name holds the sentinel's, which no page may
# hold (see _fitment), so a page's own markup can neither open nor close one.
_BOX: Final = f"{_SENTINEL}-box"
_BOX_OPEN: Final = f"<{_BOX}>".encode()
_BOX_CLOSE: Final = f"</{_BOX}>".encode()
# libxml2 lets an end tag close only elements of lower "end priority" than its own on the
# way: a <div> or table part a window leaves open would keep the box open (its end tag
# has the lowest). Their own end tags, as many as the window has start tags of that name
# (a surplus one matches nothing and is ignored), close them first, innermost kind first.
_TABLE_PARTS: Final = tuple(
    (f"<{name}".encode(), f"</{name}>".encode())
    for name in ("td", "th", "tr", "thead", "tbody", "tfoot", "table")
)


# libxml2 ignores a misplaced <html>, <head> or <body> start tag but counts it, and then
# ignores as many of their end tags: a count that one window would leave to the next.
_MISPLACED_START = re.compile(rb"<(?:html|head|body)(?:[\t\n\f\r />]|$)")


def _closed_box(page: _Page, start: int, end: int) -> bytes:
    """The window ``[start, end)`` in a box, with its sentinel, then whatever closes it."""
    window = _window(page, start, end)
    lower = page.lower[start:end]
    closers = [b"</div>" * lower.count(b"<div")]
    if b"<t" in lower:  # most windows hold no table: one search instead of seven counts
        closers += [close * lower.count(open_) for open_, close in _TABLE_PARTS]
    return b"".join((_BOX_OPEN, window, _SENTINEL_HTML, *closers, _BOX_CLOSE))


def _read_first_windows(page: _Page) -> None:
    """Parse the first window of every candidate in one parser call, into ``page.views``.

    lxml gives up the GIL for each call, which lets another worker thread
    in: one call per page instead of one or two per candidate
    (docs/performance.md, session 5). Each window sits in an element of its
    own, so the parser's stack is the window's own plus that element, whose
    name no page may hold.
    A window that reaches the document's end is left to be parsed alone, and
    a page with a misplaced ``<html>``, ``<head>`` or ``<body>`` in a window
    is parsed window by window (libxml2 counts those across windows).
    When the joint tree is not exactly one box per window, each holding its
    own sentinel (a page's quote or raw-text element swallowed markup of
    the next window), or the parser stopped, nothing is kept: each window
    is then parsed alone, as :func:`_read_window` does anyway.
    """
    examined = (page.candidates_of(t)[:_MAX_CANDIDATES] for t in (_FIT_RANGE, _BOLT))
    windows = []
    for start in sorted({start for found in examined for start, _ in found}):
        end, final = _window_end(page, start, start + _WINDOW_FIRST)
        if _MISPLACED_START.search(page.lower, start, end):
            return  # rare: every window is parsed alone
        if not final:
            windows.append((start, end))
    if len(windows) < 2:
        return  # one window: parsed alone, in the same single call
    joint = b"".join(_closed_box(page, s, e) for s, e in windows)
    parsed = _parse_html(_WINDOW_PREFIX + joint)
    root = parsed.root
    body = None if root is None else next(root.iterchildren("body"), None)
    if parsed.fatal or body is None or body.text or len(body) != len(windows):
        return
    views: dict[tuple[int, int], _View] = {}
    for window, box in zip(windows, body, strict=True):
        if box.tag != _BOX or box.tail:
            return
        sentinels = list(box.iter(_SENTINEL))
        if len(sentinels) != 1:
            return
        views[window] = _View(_first_element(box), sentinels[0], None, False)
    page.views = views


def _no_nested_block(element: _Element, start: int) -> None:
    # The store never nests blocks; nested look-alikes (thousands deep) end here, early.
    inner = next((e for e in element.iterdescendants("*") if _has_class(e, _FIT_RANGE)), None)
    if inner is not None:
        raise ParseError(
            f"a fit-range block (<{inner.tag}>) sits inside another fit-range block "
            f"(<{element.tag}> at byte {start})"
        )


def _too_many(token: str) -> ParseError:
    return ParseError(
        f"more than {_MAX_CANDIDATES} places carry the class token {token!r}: too many "
        "look-alike candidates to examine"
    )


def _blocks(page: _Page) -> list[_Found]:
    """The page's fit-range blocks, in page order (at most 2; a third is a ParseError)."""
    blocks: list[_Found] = []
    for count, (start, _) in enumerate(page.candidates_of(_FIT_RANGE), 1):
        if count > _MAX_CANDIDATES:
            raise _too_many(_FIT_RANGE)
        element = _element_at(page, start, _FIT_RANGE, "fit-range block")
        if element is None:
            continue
        where = f"fit-range block {len(blocks) + 1} (<{element.tag}> at byte {start})"
        blocks.append(_Found(element, start, where))
        if len(blocks) == 3:
            raise ParseError("at least 3 fit-range blocks on one page; expected 1 or 2")
    return blocks


def _bolts(page: _Page, blocks: list[_Found]) -> list[tuple[_Found, bool]]:
    """The page's bolt-pattern elements in page order, each with "sits inside a block".

    One inside a block is taken from the block's parse. Its own occurrence
    is also found on the page: the first N real ``store-bp`` elements after
    a block's start, N the count the block's parse holds, are those.
    """
    found: list[tuple[int, int, _Found, bool]] = []  # (offset, inside, element, inside)
    left: dict[int, int] = {}
    for block in blocks:
        inner = [e for e in block.element.iterdescendants("*") if _has_class(e, _BOLT)]
        left[block.start] = len(inner)
        where = f"bolt pattern element in {block.where}"
        found += [(block.start, 1, _Found(e, block.start, where), True) for e in inner]
    starts = [b.start for b in blocks]
    for count, (start, _) in enumerate(page.candidates_of(_BOLT), 1):
        if count > _MAX_CANDIDATES:
            raise _too_many(_BOLT)
        element = _element_at(page, start, _BOLT, "bolt pattern element")
        if element is None:
            continue
        if any(_has_class(e, _FIT_RANGE) for e in element.iterdescendants("*")):
            # A bolt element left open before a block swallows it: saving that
            # element would save the block twice, and which text is the pattern
            # is anyone's guess.
            raise ParseError(f"bolt pattern element at byte {start} wraps a fit-range block")
        owner = bisect_right(starts, start - 1) - 1  # the last block starting before it
        if owner >= 0 and left[starts[owner]] > 0:
            left[starts[owner]] -= 1  # one of that block's own: already taken
            continue
        where = f"bolt pattern element <{element.tag}> at byte {start}"
        found.append((start, 0, _Found(element, start, where), False))
    found.sort(key=lambda f: (f[0], f[1]))
    return [(f[2], f[3]) for f in found]


# --------------------------------------------------------------------------- pages


def _fitment(page: _Page) -> FitmentPage:
    """The fitment answer of a body: the one code path of pages and saved blocks."""
    if _FIT_RANGE_BYTES not in page.body:
        # The store answers a normal page without ranges for a combination it
        # has no data for (or does not recognise): a real "no data" answer.
        return FitmentPage.no_data()
    _read_first_windows(page)
    blocks = _blocks(page)
    if not blocks:
        return FitmentPage.no_data()
    front, rear = _axles([_read_block(b) for b in blocks])
    bolts = _bolts(page, blocks)
    bolt_in, bolt_mm = _bolt_of([b for b, _ in bolts])
    raw = [_outer_html(b.element) for b in blocks]
    # The bolt element is saved once: not again when it sits inside a block already saved.
    if bolts and not bolts[0][1]:
        raw.append(_outer_html(bolts[0][0].element))
    return FitmentPage("ok", bolt_mm, bolt_in, front, rear, "\n".join(raw))


def parse_fitment_page(body: bytes) -> FitmentPage:
    """A fitment page -> :class:`FitmentPage` (``ok`` or ``no_data``).

    Raises :class:`ParseError` for a challenge page, a non-UTF-8 body, a
    block that cannot be delimited and each inconsistency listed in
    ``docs/parsing.md``, and :class:`TruncatedBodyError` for a page without
    a real ``</html>``.
    """
    lower = body.lower()
    page = _Page(body, lower)
    # Before the truncation check: a challenge cut short is still a challenge.
    if _regions_may_be_challenge(lower, page.regions) and _challenge_in(_parse_html(body).root):
        raise ParseError(CHALLENGE_REASON)
    if not _has_html_end(lower, page.regions):
        raise TruncatedBodyError(f"page has no closing </html>: cut short after {len(body)} bytes")
    _check_utf8(body, "page")
    return _fitment(page)


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
    return _fitment(_Page(body, body.lower()))
