"""Parsers of the store's bodies: preference options (JSON), the bot challenge, fitment pages.

A fitment page is ~100 KB of HTML carrying a few hundred bytes of data, plus
decoys: a commented-out copy of a block, block markup inside a script
string, look-alike class names (``store-ymm-fitrange-help``,
``store-bp-info``), range-like plain text. Building a DOM of the whole page
would cost milliseconds for nothing, so the page is handled as bytes:

1. it is lower-cased once (``bytes.lower`` changes ASCII only, so offsets do
   not move) and the regions a browser does not render as markup are
   located: comments ``<!-- ... -->``, ``<script>...</script>``,
   ``<style>...</style>``;
2. the class tokens ``store-ymm-fitrange`` and ``store-bp`` are located with
   ``bytes.find``; an occurrence counts only outside those regions, inside
   a start tag, in its ``class`` attribute, as a whole whitespace-separated
   token; the element's end is its matching end tag (nesting counted);
3. only the small elements found are parsed, into a tiny tree of their own.

:func:`parse_fitment_block` re-parses the ``raw_block`` saved with a record
through the same code (steps 1-3 run on the saved text), so stored records
can be parsed again later without fetching.
"""

from __future__ import annotations

import html
import re
from bisect import bisect_right
from collections.abc import Iterator
from functools import lru_cache
from typing import Final, NamedTuple

from custom_wheel_offset.errors import ParseError, TruncatedBodyError
from custom_wheel_offset.protocol.api import (
    DIAMETER_BOUNDS,
    OFFSET_BOUNDS,
    WIDTH_BOUNDS,
    check_range,
    load_json,
)
from custom_wheel_offset.protocol.records import AxleRanges, FitmentPage

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


# --------------------------------------------------------------------------- challenge

# The title may carry attributes; its text may be spaced or wrapped ("Human\n  Verification").
_TITLE = re.compile(rb"<title(?:[\s/][^>]*)?>\s*human\s+verification\s*</title[\s/]*>")


def _title_is_challenge(doc: _Document) -> bool:
    """Whether the page's title (its first ``<title>`` outside comments and scripts) matches."""
    lower = doc.lower
    pos = lower.find(b"<title")
    while pos != -1:
        if doc.outside(pos) and _name_ends(lower, pos + 6):
            return _TITLE.match(lower, pos) is not None
        pos = lower.find(b"<title", pos + 6)
    return False


def is_challenge(body: bytes) -> bool:
    """True when the page's ``<title>`` is ``Human Verification`` (any case, any spacing).

    The title is the first ``<title>`` element outside comments, scripts and
    styles. Works on the bytes, without decoding: a page that does not
    contain "verification" at all (every data page) is ruled out by one
    ``bytes.lower`` and one ``find``.
    """
    lower = body.lower()
    if lower.find(b"verification") == -1:
        return False
    return _title_is_challenge(_Document(body, lower))


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


# --------------------------------------------------------------------------- page scanning

_WS: Final = b" \t\n\r\f"
# A start tag: name, then attributes where quoted values may hold ">". The loop is
# unrolled ([^>"']* between quoted strings): far faster in sre than one
# alternation per character.
_START_TAG = re.compile(rb"""<([A-Za-z][^\s/>]*)([^>"']*(?:(?:"[^"]*"|'[^']*')[^>"']*)*)>""")
_ATTR = re.compile(r"""([^\s"'>/=]+)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+)))?""")
_HTML_END = re.compile(rb"</html[\s/]*>")
# "<script" and "<style" in one compiled scan (sre looks for the literal prefix
# "<s"), cheaper than two bytes.find passes over 100 KB.
_RAW_TEXT_OPEN = re.compile(rb"<s(?:cript|tyle)")
# A whole class token is bounded by a quote, whitespace, "=" (or an entity's
# ";") before it and a quote, whitespace, "/", ">" (or "&") after it.
_TOKEN_BEFORE: Final = frozenset(b"\"' \t\n\r\f=;")
_TOKEN_AFTER: Final = frozenset(b"\"' \t\n\r\f/>&")
# Void elements have no content and no end tag.
_VOID: Final = frozenset(
    {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source"}
    | {"track", "wbr"}
)


@lru_cache(maxsize=32)
def _tag_pattern(name: bytes) -> re.Pattern[bytes]:
    # Start or end tags of one element name, on the lower-cased page.
    return re.compile(rb"<(/?)" + re.escape(name) + rb"(?=[\s/>]|\Z)")


def _attributes(text: str) -> dict[str, str]:
    """Attributes of a start tag: lower-cased names, unescaped values, first duplicate wins."""
    attrs: dict[str, str] = {}
    for key, double, single, bare in _ATTR.findall(text):
        value = double or single or bare
        if "&" in value:
            value = html.unescape(value)
        attrs.setdefault(key.lower(), value)
    return attrs


class _Element(NamedTuple):
    """One element located in a page: its start tag and byte offsets.

    A NamedTuple, not a frozen dataclass: several are built per page, and
    tuples are built several times faster.
    """

    name: str  # lower-cased tag name
    attrs: dict[str, str]
    start: int  # offset of "<"
    content_start: int  # offset after the start tag's ">"
    content_end: int  # offset of the end tag's "<" (== content_start when void)
    end: int  # offset after the end tag's ">"

    @property
    def classes(self) -> list[str]:
        return self.attrs.get("class", "").split()


class _Document:
    """A page (or a saved block) as bytes, with the regions that are not markup."""

    __slots__ = ("_ends", "_starts", "body", "lower")

    def __init__(self, body: bytes, lower: bytes | None = None) -> None:
        self.body = body
        self.lower = body.lower() if lower is None else lower
        self._starts, self._ends = _inert_regions(self.lower)

    def outside(self, pos: int) -> bool:
        """True when ``pos`` is not inside a comment, script or style."""
        i = bisect_right(self._starts, pos) - 1
        return i < 0 or pos >= self._ends[i]

    def has_html_end(self) -> bool:
        """Whether a real ``</html>`` (not one in a comment or script) is present."""
        pos = self.lower.rfind(b"</html")
        while pos != -1:
            if self.outside(pos) and _HTML_END.match(self.lower, pos):
                return True
            pos = self.lower.rfind(b"</html", 0, pos)
        return False

    def markup(self, start: int, end: int) -> str:
        """The text of ``[start, end)`` with comments, scripts and styles cut out."""
        i = bisect_right(self._starts, start) - 1
        if i < 0 or self._ends[i] <= start:
            i += 1
        if i >= len(self._starts) or self._starts[i] >= end:
            return self.body[start:end].decode("utf-8")  # the usual case: nothing to cut
        pieces: list[bytes] = []
        pos = start
        while i < len(self._starts) and self._starts[i] < end:
            if self._starts[i] > pos:
                pieces.append(self.body[pos : self._starts[i]])
            pos = max(pos, self._ends[i])
            i += 1
        if pos < end:
            pieces.append(self.body[pos:end])
        return b"".join(pieces).decode("utf-8")

    def source(self, element: _Element) -> str:
        """The exact HTML of ``element``, start tag to end tag."""
        return self.body[element.start : element.end].decode("utf-8")

    def with_class(self, token: str) -> list[_Element]:
        """Real elements whose class attribute has the whole token ``token``, in page order."""
        needle = token.encode()
        body = self.body
        n = len(body)
        found: list[_Element] = []
        seen: set[int] = set()
        pos = body.find(needle)
        while pos != -1:
            after = pos + len(needle)
            # Cheap rejections first ("store-bp-info", "old-store-ymm-fitrange").
            if (
                pos > 0
                and body[pos - 1] in _TOKEN_BEFORE
                and (after >= n or body[after] in _TOKEN_AFTER)
                and self.outside(pos)
            ):
                # The occurrence must sit inside a start tag: the last "<" before it
                # opens a tag that reaches past it (else it is plain text).
                lt = body.rfind(b"<", 0, pos)
                if lt != -1 and lt not in seen:
                    seen.add(lt)
                    element = self._element_at(lt, token, pos)
                    if element is not None:
                        found.append(element)
            pos = body.find(needle, after)
        return found

    def _element_at(self, lt: int, token: str, covering: int) -> _Element | None:
        """The element whose start tag begins at ``lt``, covers ``covering`` and has ``token``.

        The class is checked before the end tag is looked for, so an unclosed
        look-alike is skipped rather than an error.
        """
        m = _START_TAG.match(self.body, lt)
        if m is None or m.end() <= covering:
            return None
        rest = m.group(2).decode("utf-8")
        attrs = _attributes(rest)
        if token not in attrs.get("class", "").split():
            return None
        name = m.group(1).decode("utf-8").lower()
        content_start = m.end()
        if name in _VOID or rest.rstrip().endswith("/"):
            return _Element(name, attrs, lt, content_start, content_start, content_start)
        depth = 1
        for t in _tag_pattern(name.encode()).finditer(self.lower, content_start):
            if not self.outside(t.start()):
                continue
            depth += -1 if t.group(1) else 1
            if depth == 0:
                gt = self.lower.find(b">", t.end())
                end = len(self.body) if gt == -1 else gt + 1
                return _Element(name, attrs, lt, content_start, t.start(), end)
        raise ParseError(f"<{name} class={attrs['class']!r}> at byte {lt} is not closed")


def _inert_regions(lower: bytes) -> tuple[list[int], list[int]]:
    """Sorted, disjoint ``[start, end)`` of comments, scripts and styles.

    A linear walk: whichever opener comes first wins and everything up to its
    closer is skipped, so a ``<!--`` inside a script string (or a
    ``<script>`` inside a comment) is not an opener. An opener without a
    closer runs to the end, as in a browser.

    Comments are found through their ``!``: a one-byte ``find`` is a
    ``memchr``, and ``!`` is rare outside scripts, which are skipped whole.
    """
    n = len(lower)
    starts: list[int] = []
    ends: list[int] = []
    comment = _next_comment(lower, 0)
    raw, raw_end = _next_raw_text(lower, 0)
    while comment != -1 or raw != -1:
        if raw == -1 or (comment != -1 and comment < raw):
            start = comment
            # From start + 2 so that "<!-->" and "<!--->" close at once, as in HTML.
            close = lower.find(b"-->", start + 2)
            end = n if close == -1 else close + 3
        else:
            start = raw
            closer = b"</" + lower[raw + 1 : raw_end]
            close = lower.find(closer, raw_end)
            while close != -1 and not _name_ends(lower, close + len(closer)):
                close = lower.find(closer, close + 1)
            gt = -1 if close == -1 else lower.find(b">", close)
            end = n if gt == -1 else gt + 1
        starts.append(start)
        ends.append(end)
        # An opener found inside the region just skipped is not one: search on.
        if comment != -1 and comment < end:
            comment = _next_comment(lower, end)
        if raw != -1 and raw < end:
            raw, raw_end = _next_raw_text(lower, end)
    return starts, ends


def _next_comment(lower: bytes, pos: int) -> int:
    """Offset of the next ``<!--`` at or after ``pos``, or -1."""
    bang = lower.find(b"!", pos + 1)
    while bang != -1:
        if lower[bang - 1] == 0x3C and lower.startswith(b"--", bang + 1):  # "<!--"
            return bang - 1
        bang = lower.find(b"!", bang + 1)
    return -1


def _next_raw_text(lower: bytes, pos: int) -> tuple[int, int]:
    """(start, end of name) of the next ``<script`` / ``<style`` start tag, or (-1, -1)."""
    m = _RAW_TEXT_OPEN.search(lower, pos)
    while m is not None and not _name_ends(lower, m.end()):  # "<scripts", "<styled"
        m = _RAW_TEXT_OPEN.search(lower, m.end())
    return (-1, -1) if m is None else (m.start(), m.end())


def _name_ends(lower: bytes, pos: int) -> bool:
    # A tag name ends at whitespace, "/", ">" or the end of the body.
    return pos >= len(lower) or lower[pos] in _WS or lower[pos] in b"/>"


# --------------------------------------------------------------------------- block tree

_TAG = re.compile(r"""<(/?)([A-Za-z][^\s/>]*)([^>"']*(?:(?:"[^"]*"|'[^']*')[^>"']*)*)>""")


class _Node:
    """An element of a block's tiny tree; children are nodes and raw text strings."""

    __slots__ = ("_attrs", "_rest", "children", "name")

    def __init__(self, name: str, rest: str) -> None:
        self.name = name
        self._rest = rest  # the start tag's attribute text, parsed on first use
        self._attrs: dict[str, str] | None = None
        self.children: list[_Node | str] = []

    @property
    def attrs(self) -> dict[str, str]:
        if self._attrs is None:
            self._attrs = _attributes(self._rest)
        return self._attrs

    @property
    def classes(self) -> list[str]:
        # Most tags of a block have no class: skip parsing their attributes.
        return self.attrs.get("class", "").split() if "class" in self._rest.lower() else []

    def walk(self) -> Iterator[_Node]:
        """Descendant elements in document order."""
        for child in self.children:
            if isinstance(child, _Node):
                yield child
                yield from child.walk()

    def find(self, name: str) -> _Node | None:
        return next((node for node in self.walk() if node.name == name), None)


def _tree(markup: str) -> _Node:
    """A tiny tree of a block's content (a few hundred bytes, comments already cut out).

    An end tag closes the nearest open element of its name (stray end tags
    are ignored); elements still open at the end are closed there.
    """
    root = _Node("#block", "")
    stack = [root]
    pos = 0
    for m in _TAG.finditer(markup):
        if m.start() > pos:
            stack[-1].children.append(markup[pos : m.start()])
        pos = m.end()
        closing, raw_name, rest = m.groups()
        name = raw_name.lower()
        if closing:
            for i in range(len(stack) - 1, 0, -1):
                if stack[i].name == name:
                    del stack[i:]
                    break
            continue
        node = _Node(name, rest)
        stack[-1].children.append(node)
        if name not in _VOID and not rest.rstrip().endswith("/"):
            stack.append(node)
    if pos < len(markup):
        stack[-1].children.append(markup[pos:])
    return root


def _raw_text(children: list[_Node | str], out: list[str]) -> None:
    for child in children:
        if isinstance(child, str):
            out.append(child)
        else:
            # Element boundaries separate words ("Front<br>Wheels").
            out.append(" ")
            _raw_text(child.children, out)
            out.append(" ")


def _clean(pieces: list[str]) -> str:
    """Joined text, entities unescaped, whitespace runs collapsed to one space."""
    return " ".join(html.unescape("".join(pieces)).split())


def _text(node: _Node) -> str:
    out: list[str] = []
    _raw_text(node.children, out)
    return _clean(out)


# --------------------------------------------------------------------------- fitment

_FIT_RANGE: Final = "store-ymm-fitrange"
_CONF_RANGE: Final = "store-conf-range"
_BOLT: Final = "store-bp"
_FULL_SIZE: Final = "full-size"

_TO = re.compile(r"\s*(?<![A-Za-z])to(?![A-Za-z])\s*", re.IGNORECASE)
_VALUE = re.compile(r"([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))\s*(.*)", re.DOTALL)
_AXLE_LABEL = re.compile(r"(front|rear)\b", re.IGNORECASE)
_PATTERN: Final = r"[0-9]+x[0-9]+(?:\.[0-9]+)?"
_BOLT_PATTERN = re.compile(_PATTERN)
_BOLT_TEXT = re.compile(rf"({_PATTERN})\s*mm\s*\(\s*({_PATTERN})\s*(?:\"|in|″|”)?\s*\)")

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


def _label_and_value(span: _Node) -> tuple[str, str]:
    """The span's text before its first ``<b>`` and the text of that ``<b>``.

    Without a ``<b>``, the label runs to the first colon and the value is the rest.
    """
    label: list[str] = []
    value: list[str] = []
    found_bold = False

    def visit(children: list[_Node | str]) -> bool:
        nonlocal found_bold
        for child in children:
            if isinstance(child, str):
                label.append(child)
            elif child.name == "b":
                found_bold = True
                _raw_text(child.children, value)
                return True
            else:
                label.append(" ")
                if visit(child.children):
                    return True
                label.append(" ")
        return False

    visit(span.children)
    if found_bold:
        return _clean(label), _clean(value)
    text, _, rest = _clean(label).partition(":")
    return text, rest


def _parse_range(span: _Node, where: str) -> tuple[str, float | None, float | None] | None:
    """(kind, min, max) of one ``store-conf-range`` span; None for a label it does not know."""
    label, value = _label_and_value(span)
    kind = label.strip().rstrip(":").strip().lower()
    if kind not in _RANGE_KINDS:
        return None  # not one of the three ranges: nothing that could be misread as one
    where = f"{where}: {kind}"
    value = value.strip()
    if not value:
        return kind, None, None
    parts = _TO.split(value)
    if len(parts) != 2:
        raise ParseError(f"{where}: {value!r} is not 'MIN to MAX'")
    bounds, _, unit = _RANGE_KINDS[kind]
    low = _parse_value(parts[0], kind, where)
    high = _parse_value(parts[1], kind, where)
    check_range(low, high, bounds, where, unit)
    return kind, low, high


class _Block(NamedTuple):
    element: _Element
    full_size: bool
    label: str | None  # "front" / "rear" from the first <nobr>, else None
    tree: _Node


def _read_block(doc: _Document, element: _Element) -> _Block:
    tree = _tree(doc.markup(element.content_start, element.content_end))
    if element.name == "div" and tree.find("div") is not None:
        # The block shape has no nested <div>: one means the markup changed.
        raise ParseError(f"fit-range block at byte {element.start} contains a nested <div>")
    nobr = tree.find("nobr")
    m = _AXLE_LABEL.match(_text(nobr)) if nobr is not None else None
    label = m.group(1).lower() if m else None
    return _Block(element, _FULL_SIZE in element.classes, label, tree)


def _axle_ranges(block: _Block, where: str) -> AxleRanges:
    values: dict[str, tuple[float | None, float | None]] = {}
    spans: list[_Node] = []
    pending = list(reversed(block.tree.children))
    while pending:  # depth-first, not descending into a range span
        child = pending.pop()
        if isinstance(child, str):
            continue
        if _CONF_RANGE in child.classes:
            spans.append(child)
        else:
            pending.extend(reversed(child.children))
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


def _bolt_pattern(doc: _Document, element: _Element) -> tuple[str, str]:
    """(inch, mm) of one ``store-bp`` element: its ``data-bp``, else its text."""
    where = f"bolt pattern element at byte {element.start}"
    data_bp = element.attrs.get("data-bp", "").strip()
    if data_bp:
        parts = [p.strip() for p in data_bp.split(",")]
        if len(parts) != 2 or not all(_BOLT_PATTERN.fullmatch(p) for p in parts):
            raise ParseError(f"{where}: data-bp {data_bp!r} is not 'INCH,MM'")
        return parts[0], parts[1]
    text = _text(_tree(doc.markup(element.content_start, element.content_end)))
    m = _BOLT_TEXT.search(text)
    if m is None:
        raise ParseError(f"{where}: {text[:80]!r} holds no 'MMmm (INCH\")' pattern")
    return m.group(2), m.group(1)


def _fitment(doc: _Document) -> FitmentPage:
    """The fitment answer of a scanned document: the one code path of pages and saved blocks."""
    elements = doc.with_class(_FIT_RANGE)
    if not elements:
        # The store answers a normal page without ranges for a combination it
        # has no data for (or does not recognise): a real "no data" answer.
        return FitmentPage.no_data()
    if len(elements) > 2:
        raise ParseError(f"{len(elements)} fit-range blocks on one page; expected 1 or 2")
    blocks = [_read_block(doc, e) for e in elements]
    if len(blocks) == 1:
        block = blocks[0]
        if not block.full_size:
            raise ParseError(
                f"a single fit-range block labelled {block.label or 'nothing'!r} and not "
                "full-size: the other axle is unknown"
            )
        front = rear = _axle_ranges(block, "fit-range block (front & rear)")
    else:
        if any(b.full_size for b in blocks):
            raise ParseError("a full-size fit-range block together with another block")
        by_axle: dict[str, _Block] = {}
        for block in blocks:
            if block.label is None:
                raise ParseError(
                    f"fit-range block at byte {block.element.start} has no Front/Rear label"
                )
            if block.label in by_axle:
                raise ParseError(f"two fit-range blocks labelled {block.label.title()}")
            by_axle[block.label] = block
        front = _axle_ranges(by_axle["front"], "fit-range block Front")
        rear = _axle_ranges(by_axle["rear"], "fit-range block Rear")

    raw = [doc.source(e) for e in elements]
    bolt_in = bolt_mm = None
    bolts = doc.with_class(_BOLT)
    if bolts:
        readings = {_bolt_pattern(doc, b) for b in bolts}
        if len(readings) > 1:
            raise ParseError(f"bolt pattern elements disagree: {sorted(readings)}")
        ((bolt_in, bolt_mm),) = readings
        first = bolts[0]
        # Saved once: not again when it sits inside a block already saved.
        if not any(e.start <= first.start < e.end for e in elements):
            raw.append(doc.source(first))
    return FitmentPage("ok", bolt_mm, bolt_in, front, rear, "\n".join(raw))


def parse_fitment_page(body: bytes) -> FitmentPage:
    """A fitment page -> :class:`FitmentPage` (``ok`` or ``no_data``).

    Raises :class:`ParseError` for a challenge page, a non-UTF-8 body and
    each inconsistency listed in ``docs/parsing.md``, and
    :class:`TruncatedBodyError` for a page without a real ``</html>``.
    """
    doc = _Document(body)
    # Before the truncation check: a challenge cut short is still a challenge.
    if _title_is_challenge(doc):
        raise ParseError(CHALLENGE_REASON)
    if not doc.has_html_end():
        raise TruncatedBodyError(f"page has no closing </html>: cut short after {len(body)} bytes")
    _check_utf8(body, "page")
    return _fitment(doc)


def parse_fitment_block(raw_block: str) -> FitmentPage:
    """Re-parse a saved ``raw_block`` (the block(s) plus the bolt element) -> FitmentPage.

    Gives the record of the page the block was cut from; ``""`` gives ``no_data``.
    """
    try:
        body = raw_block.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ParseError(f"raw block is not valid Unicode text ({exc.reason})") from exc
    return _fitment(_Document(body))
