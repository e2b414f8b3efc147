"""Parsers of the fitment API's JSON bodies: bytes in, typed records out.

Each parser either returns its record or raises :class:`ParseError` whose
``reason`` says what was wrong and where (``vehicle: key 'hub' = 'abc' is not
a number``). A body that looks cut short raises :class:`TruncatedBodyError`
instead, so the network layer fetches it again rather than recording a
failure.

The live site is loose (a year may be ``2024`` or ``"2024"``, a list may be a
bare string, a number may be ``"+35"``); every such form is accepted. What is
not accepted is anything that could silently turn into wrong data: wrong
types, unparseable numbers and physically absurd values are errors.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import fields
from typing import Any, Final

from custom_wheel_offset.errors import ParseError, TruncatedBodyError
from custom_wheel_offset.protocol.records import AxleSpec, ModelInfo, VehicleSpec

__all__ = [
    "DIAMETER_BOUNDS",
    "HUB_BOUNDS",
    "OFFSET_BOUNDS",
    "WIDTH_BOUNDS",
    "YEAR_BOUNDS",
    "check_range",
    "is_forbidden",
    "load_json",
    "parse_model_info",
    "parse_names",
    "parse_vehicle",
    "parse_years",
    "short_repr",
]

# Plausibility bounds, inclusive. A value outside them is a site bug or a
# parsing slip (a width read as a diameter, millimetres read as inches), and
# recording it would be silently wrong data, so it is an error instead.
YEAR_BOUNDS: Final = (1900, 2100)
DIAMETER_BOUNDS: Final = (8.0, 40.0)  # inches
WIDTH_BOUNDS: Final = (3.0, 20.0)  # inches
OFFSET_BOUNDS: Final = (-150.0, 200.0)  # millimetres
HUB_BOUNDS: Final = (30.0, 250.0)  # millimetres

_JSON_WS: Final = " \t\n\r"
# Python's own number grammar (json.decoder.NUMBER_RE) and the set of its prefixes.
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?")
_NUMBER_PREFIX = re.compile(
    r"-?(?:(?:0|[1-9][0-9]*)(?:\.(?:[0-9]+(?:[eE][-+]?[0-9]*)?)?|[eE][-+]?[0-9]*)?)?"
)
_LITERALS: Final = ("true", "false", "null", "NaN", "Infinity", "-Infinity")
_STRING_CHUNK = re.compile(r'[^"\\\x00-\x1f]*')
_HEX = frozenset("0123456789abcdefABCDEF")
_PLAIN_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)")
_YEAR_TEXT = re.compile(r"[0-9]+")


# --------------------------------------------------------------------------- JSON


def short_repr(value: Any, limit: int = 60) -> str:
    """``repr(value)``, cut to ``limit`` characters: for parse errors of both hosts."""
    # Reasons end up in logs and the database; a 100 KB value must not.
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _kind(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a float"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__  # pragma: no cover - json.loads makes nothing else


# A grammar step's answer: the next index and state, or the verdict on the whole text.
_Step = tuple[int, str] | bool


def _is_json_prefix(text: str) -> bool:
    """True when ``text`` is a proper prefix of some valid JSON document.

    Only called after ``json.loads`` failed, to tell a body cut short (worth
    fetching again) from one that is wrong (not worth it). It walks the
    grammar with an explicit stack, so deep nesting cannot overflow.
    """
    n = len(text)
    stack: list[str] = []
    # States: "value" (a value must come), "value]" (a value or "]"),
    # "key" (a string key must come), "key}" (a key or "}"), "colon", "after".
    state = "value"
    i = 0
    while True:
        while i < n and text[i] in _JSON_WS:
            i += 1
        if i == n:
            # Ran out where more was expected: cut short. A complete top-level
            # value would have parsed, so "after" with an empty stack is not a prefix.
            return bool(stack) or state != "after"
        step = _STEPS[state](text, i, stack, state)
        if isinstance(step, bool):
            return step
        i, state = step


def _after_value(text: str, i: int, stack: list[str], state: str) -> _Step:
    c = text[i]
    if not stack:
        return False  # extra data after a complete document
    if c == ",":
        return i + 1, "value" if stack[-1] == "[" else "key"
    if (c == "]" and stack[-1] == "[") or (c == "}" and stack[-1] == "{"):
        stack.pop()
        return i + 1, "after"
    return False


def _colon(text: str, i: int, stack: list[str], state: str) -> _Step:
    return (i + 1, "value") if text[i] == ":" else False


def _key(text: str, i: int, stack: list[str], state: str) -> _Step:
    c = text[i]
    if c == "}" and state == "key}":
        stack.pop()
        return i + 1, "after"
    if c != '"':
        return False
    return _string(text, i, "colon")


def _string(text: str, i: int, then: str) -> _Step:
    end = _string_end(text, i)
    if end is None:
        return True
    if end < 0:
        return False
    return end, then


def _value(text: str, i: int, stack: list[str], state: str) -> _Step:
    c = text[i]
    if c == "]" and state == "value]":
        stack.pop()
        return i + 1, "after"
    if c in "[{":
        stack.append(c)
        return i + 1, "value]" if c == "[" else "key}"
    if c == '"':
        return _string(text, i, "after")
    return _scalar(text, i)


def _scalar(text: str, i: int) -> _Step:
    """A literal (``true``, ``NaN``, ...) or a number starting at ``i``."""
    n = len(text)
    rest = text[i : i + 10]
    for literal in _LITERALS:
        if text.startswith(literal, i):
            return i + len(literal), "after"
        if i + len(rest) == n and literal.startswith(rest):
            return True  # cut inside a literal ("tr", "-Inf")
    if text[i] not in "-0123456789":
        return False
    prefix = _NUMBER_PREFIX.match(text, i)
    assert prefix is not None  # the prefix pattern matches "" at worst
    if prefix.end() == n:
        return prefix.end() > i  # cut inside a number ("1.", "2e-")
    full = _NUMBER.match(text, i)
    if full is None or full.end() != prefix.end():
        return False  # "1.]" or "-x": wrong, not short
    return full.end(), "after"


_STEPS = {
    "after": _after_value,
    "colon": _colon,
    "key": _key,
    "key}": _key,
    "value": _value,
    "value]": _value,
}


def _string_end(text: str, start: int) -> int | None:
    """Index after the string starting at ``start`` (a ``"``), None if cut short, -1 if invalid."""
    n = len(text)
    i = start + 1
    while True:
        m = _STRING_CHUNK.match(text, i)
        assert m is not None  # the chunk pattern matches "" at worst
        i = m.end()
        if i == n:
            return None
        c = text[i]
        if c == '"':
            return i + 1
        if c != "\\":
            return -1  # a raw control character: invalid in strict JSON
        if i + 1 == n:
            return None
        esc = text[i + 1]
        if esc in '"\\/bfnrt':
            i += 2
        elif esc == "u":
            digits = text[i + 2 : i + 6]
            if not all(d in _HEX for d in digits):
                return -1
            if len(digits) < 4:
                return None
            i += 6
        else:
            return -1


def load_json(body: bytes, what: str) -> Any:
    """Decode ``body`` (strict UTF-8) and parse it as JSON.

    ``what`` names the body in error reasons. A UTF-8 byte-order mark is
    tolerated (some PHP back ends emit one). An empty body, or one that is a
    valid JSON prefix ending early, raises :class:`TruncatedBodyError`; any
    other invalid body raises :class:`ParseError`.
    """
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        if exc.reason == "unexpected end of data" and exc.end == len(body):
            # Cut inside a multi-byte character: the body ended early.
            raise TruncatedBodyError(
                f"{what}: body is cut short inside a UTF-8 character at byte {exc.start}"
            ) from exc
        raise ParseError(f"{what}: body is not UTF-8 ({exc.reason} at byte {exc.start})") from exc
    if not text.strip(_JSON_WS):
        raise TruncatedBodyError(f"{what}: body is empty")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        if _is_json_prefix(text):
            raise TruncatedBodyError(
                f"{what}: JSON is cut short after {len(text)} characters ({exc.msg})"
            ) from exc
        raise ParseError(
            f"{what}: body is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno});"
            f" it starts with {short_repr(text[:40])}"
        ) from exc
    except RecursionError as exc:
        raise ParseError(f"{what}: JSON is nested too deeply") from exc
    except ValueError as exc:
        # e.g. an integer literal longer than Python's int conversion limit.
        raise ParseError(f"{what}: body is not usable JSON ({exc})") from exc


def _check_text(value: str, where: str) -> str:
    # JSON "\ud800" decodes to a lone surrogate, which can be neither
    # percent-encoded into a URL nor stored as UTF-8: refuse it here.
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ParseError(f"{where} = {short_repr(value)} is not valid Unicode text") from None
    return value


# --------------------------------------------------------------------------- refusal

#: Longer bodies are not the refusal; ``{"message":"Forbidden"}`` is 24 bytes.
FORBIDDEN_MAX_BYTES: Final = 512


def is_forbidden(body: bytes) -> bool:
    """True when ``body`` is the fitment API's refusal, ``{"message":"Forbidden"}``.

    An AWS API Gateway answer to a client it will not serve (section 5 of the
    protocol notes). Whitespace, key order and other keys next to
    ``message`` do not matter; the message is compared without surrounding
    spaces or letter case. It is never data, whatever the status: a vehicle
    read from it would have every field empty.
    """
    # Cheap tests first: this runs on every answer, and almost none is small
    # enough or mentions the word.
    if len(body) > FORBIDDEN_MAX_BYTES or b"orbidden" not in body.lower():
        return False
    try:
        data = json.loads(body.decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError):
        return False
    message = data.get("message") if isinstance(data, dict) else None
    return isinstance(message, str) and message.strip().casefold() == "forbidden"


# --------------------------------------------------------------------------- tree


def _name(item: Any, where: str) -> str:
    if isinstance(item, bool) or item is None or isinstance(item, float | list | dict):
        raise ParseError(f"{where} is {_kind(item)} ({short_repr(item)}), not a name")
    if isinstance(item, int):
        # A model called 86 may arrive as the number 86; its URL form is "86".
        return str(item)
    if not isinstance(item, str):  # pragma: no cover - json.loads makes nothing else
        raise ParseError(f"{where} is {_kind(item)}, not a name")
    if item == "":
        raise ParseError(f"{where} is an empty string, not a name")
    return _check_text(item, where)


def _names(value: Any, where: str) -> list[str]:
    """A list of names (or one bare name), de-duplicated by exact string in served order."""
    if isinstance(value, dict):
        raise ParseError(f"{where}: expected a JSON list of names, got an object")
    items = value if isinstance(value, list) else [value]
    seen: dict[str, None] = {}
    for index, item in enumerate(items):
        # Whitespace is significant: "LX" and "LX " are two names with two URLs.
        seen.setdefault(_name(item, f"{where}: item {index}"), None)
    return list(seen)


def parse_years(body: bytes) -> list[int]:
    """The years listing: ``[2024, "2023", ...]`` -> ``[2024, 2023, ...]``.

    Items are integers or strings of ASCII digits (surrounding whitespace
    allowed); a bare year counts as a one-year list. Duplicates are dropped
    keeping first-seen order (``2024`` and ``"2024"`` are the same year).
    Booleans, floats, other shapes and years outside 1900..2100 are errors.
    """
    data = load_json(body, "years")
    if isinstance(data, dict):
        raise ParseError("years: expected a JSON list of years, got an object")
    items = data if isinstance(data, list) else [data]
    seen: dict[int, None] = {}
    for index, item in enumerate(items):
        where = f"years: item {index}"
        if isinstance(item, bool) or not isinstance(item, int | str):
            raise ParseError(f"{where} is {_kind(item)} ({short_repr(item)}), not a year")
        if isinstance(item, str):
            if not _YEAR_TEXT.fullmatch(item.strip()):
                raise ParseError(f"{where} = {short_repr(item)} is not a year")
            year = int(item.strip())
        else:
            year = item
        low, high = YEAR_BOUNDS
        if not low <= year <= high:
            raise ParseError(f"{where} = {short_repr(item)} is outside {low}..{high}")
        seen.setdefault(year, None)
    return list(seen)


def parse_names(body: bytes, what: str) -> list[str]:
    """A listing of makes, models or drives; ``what`` names it in error reasons.

    A JSON list of strings; a bare string is a one-element list; an integer
    becomes its decimal string. Duplicates (exact string) are dropped keeping
    served order; an empty list is a valid, empty listing. Empty strings,
    null, floats, booleans, objects and nested lists are errors.
    """
    return _names(load_json(body, what), what)


def parse_model_info(body: bytes) -> ModelInfo:
    """A model's info object ``{"vehicleType": [...], "drive": [...], "trim": [...]}``.

    Each value may be a list, a bare name, missing, null, ``""`` or ``[]``
    (the last four mean "none"); items follow :func:`parse_names`. Extra keys
    are ignored. Anything but an object is an error.
    """
    data = load_json(body, "model info")
    if not isinstance(data, dict):
        raise ParseError(f"model info: expected a JSON object, got {_kind(data)}")

    def field(key: str) -> tuple[str, ...]:
        value = data.get(key)
        if value is None or value == "" or value == []:
            return ()
        return tuple(_names(value, f"model info: key {key!r}"))

    return ModelInfo(vehicle_types=field("vehicleType"), drives=field("drive"), trims=field("trim"))


# --------------------------------------------------------------------------- vehicle

# (key, bounds, unit) of every numeric field, front and rear.
_NUMBER_KEYS: Final[dict[str, tuple[tuple[float, float], str]]] = {
    "hub": (HUB_BOUNDS, "mm"),
    **{
        f"{stem}{suffix}": (bounds, unit)
        for suffix in ("", "Rear")
        for stem, bounds, unit in (
            ("stockWheelDiameter", DIAMETER_BOUNDS, "in"),
            ("stockWheelWidth", WIDTH_BOUNDS, "in"),
            ("stockOffset", OFFSET_BOUNDS, "mm"),
            ("wheelDiameterMin", DIAMETER_BOUNDS, "in"),
            ("wheelDiameterMax", DIAMETER_BOUNDS, "in"),
            ("wheelWidthMin", WIDTH_BOUNDS, "in"),
            ("wheelWidthMax", WIDTH_BOUNDS, "in"),
        )
    },
}


def _text_field(obj: dict[str, Any], key: str) -> str | None:
    """A text value; missing/null/``""`` -> None; an integer -> its decimal text.

    An integer (``"lugSize": 12``) is kept as the text it was written as, like
    a numeric chassis id or model name. A float is refused: ``1.50`` would come
    back as ``"1.5"``, not what the site wrote.
    """
    value = obj.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if not isinstance(value, str):
        raise ParseError(f"vehicle: key {key!r} = {short_repr(value)} is {_kind(value)}, not text")
    return _check_text(value, f"vehicle: key {key!r}")


def _bolt_pattern(obj: dict[str, Any]) -> str | None:
    """``boltpattern``, or its alias ``boltpatternMm`` when it is the only one given.

    Both given with different values (compared without surrounding spaces and
    letter case) is an error: choosing one would be a guess.
    """
    plain = _text_field(obj, "boltpattern")
    alias = _text_field(obj, "boltpatternMm")
    if plain is None:
        return alias
    if alias is not None and plain.strip().casefold() != alias.strip().casefold():
        raise ParseError(
            f"vehicle: key 'boltpattern' = {short_repr(plain)} and key 'boltpatternMm' = "
            f"{short_repr(alias)} disagree"
        )
    return plain


_FLAG_WORDS: Final[dict[str, bool]] = {
    "true": True,
    "yes": True,
    "1": True,
    "false": False,
    "no": False,
    "0": False,
}
_STAGGER_FLAGS: Final = ("staggered", "factoryStaggered")


def _flag(obj: dict[str, Any], key: str) -> bool | None:
    """A yes/no flag: a boolean, 0/1, or true/false/yes/no/1/0 text in any case."""
    value = obj.get(key)
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().casefold() in _FLAG_WORDS:
        return _FLAG_WORDS[value.strip().casefold()]
    raise ParseError(f"vehicle: key {key!r} = {short_repr(value)} is not a yes/no flag")


def _chassis(obj: dict[str, Any]) -> str | None:
    value = obj.get("drchassisid")
    where = "vehicle: key 'drchassisid'"
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return _check_text(value, where)
    if isinstance(value, bool):
        raise ParseError(f"{where} = {short_repr(value)} is a boolean, not a chassis id")
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        # 1234.0 is how some JSON encoders write the integer 1234; 1234.5 is no id.
        if math.isfinite(value) and value.is_integer() and abs(value) < 2**53:
            return str(int(value))
        raise ParseError(f"{where} = {short_repr(value)} is not an integral chassis id")
    raise ParseError(f"{where} = {short_repr(value)} is {_kind(value)}, not a chassis id")


def _number(value: Any, where: str) -> float | None:
    """A JSON number or plain decimal string as float; None for null/""/blank."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise ParseError(f"{where} = {short_repr(value)} is a boolean, not a number")
    if isinstance(value, int | float):
        try:
            number = float(value)
        except OverflowError:
            raise ParseError(f"{where} = {short_repr(value)} is too large") from None
    elif isinstance(value, str):
        text = value.strip()
        if not text:
            return None
        if not _PLAIN_DECIMAL.fullmatch(text):
            raise ParseError(f"{where} = {short_repr(value)} is not a number")
        number = float(text)
    else:
        raise ParseError(f"{where} = {short_repr(value)} is {_kind(value)}, not a number")
    if not math.isfinite(number):
        raise ParseError(f"{where} = {short_repr(value)} is not a finite number")
    return number


def check_range(
    low: float | None, high: float | None, bounds: tuple[float, float], where: str, unit: str
) -> None:
    """Raise ParseError when a value is outside ``bounds`` or ``low > high``.

    Shared with the store parser, so the API and the fitment pages agree on
    what is plausible.
    """
    lo, hi = bounds
    for value in (low, high):
        if value is not None and not lo <= value <= hi:
            raise ParseError(f"{where} = {value:g} {unit} is outside {lo:g}..{hi:g} {unit}")
    if low is not None and high is not None and low > high:
        raise ParseError(f"{where}: minimum {low:g} is greater than maximum {high:g}")


def _axle(obj: dict[str, Any], suffix: str) -> AxleSpec:
    numbers: dict[str, float | None] = {}
    for stem in (
        "stockWheelDiameter",
        "stockWheelWidth",
        "stockOffset",
        "wheelDiameterMin",
        "wheelDiameterMax",
        "wheelWidthMin",
        "wheelWidthMax",
    ):
        key = stem + suffix
        where = f"vehicle: key {key!r}"
        bounds, unit = _NUMBER_KEYS[key]
        number = _number(obj.get(key), where)
        check_range(number, None, bounds, where, unit)
        numbers[stem] = number
    side = "rear" if suffix else "front"
    check_range(
        numbers["wheelDiameterMin"],
        numbers["wheelDiameterMax"],
        DIAMETER_BOUNDS,
        f"vehicle: {side} wheel diameter range",
        "in",
    )
    check_range(
        numbers["wheelWidthMin"],
        numbers["wheelWidthMax"],
        WIDTH_BOUNDS,
        f"vehicle: {side} wheel width range",
        "in",
    )
    return AxleSpec(
        stock_diameter=numbers["stockWheelDiameter"],
        stock_width=numbers["stockWheelWidth"],
        stock_offset=numbers["stockOffset"],
        stock_tire=_text_field(obj, "stockTireSize" + suffix),
        diameter_min=numbers["wheelDiameterMin"],
        diameter_max=numbers["wheelDiameterMax"],
        width_min=numbers["wheelWidthMin"],
        width_max=numbers["wheelWidthMax"],
    )


def _rear_axle(data: dict[str, Any], front: AxleSpec, rear: AxleSpec) -> AxleSpec:
    """The rear axle, from the ``*Rear`` values and the staggered flags.

    Data beats a flag, and nothing is ever copied that might be wrong:

    * ``*Rear`` values present: the rear comes from them alone, unless every
      flag given says "not staggered" and every rear value present equals the
      front's (a square car that repeats its front in the rear keys);
    * no ``*Rear`` value and a flag saying staggered: the rear is unknown
      (every field None), never a copy of the front;
    * otherwise the car is square and the rear is the front.
    """
    flags = [flag for flag in (_flag(data, key) for key in _STAGGER_FLAGS) if flag is not None]
    claims_staggered = any(flags)
    claims_square = bool(flags) and not claims_staggered
    present = {f.name: getattr(rear, f.name) for f in fields(AxleSpec)}
    present = {name: value for name, value in present.items() if value is not None}
    if present:
        if claims_square and all(getattr(front, n) == v for n, v in present.items()):
            return front
        return rear
    return AxleSpec() if claims_staggered else front


def parse_vehicle(body: bytes) -> VehicleSpec:
    """One vehicle's specification object -> :class:`VehicleSpec`.

    Text fields: missing/null/``""`` -> None, an integer -> its decimal text,
    otherwise they must be strings. ``boltpatternMm`` is an alias of
    ``boltpattern`` (either alone; both and different is an error).
    ``drchassisid`` may be a string or an integral number. Numeric fields are
    numbers or plain decimal strings (``"17"``, ``"+35"``, ``" 64.1 "``);
    anything else, a value outside its plausible range, or a min above its
    max is an error. The rear axle follows :func:`_rear_axle` (``*Rear``
    values, then the ``staggered``/``factoryStaggered`` flags). ``raw`` is the
    decoded object, unknown and list-valued keys included.
    """
    data = load_json(body, "vehicle")
    if not isinstance(data, dict):
        raise ParseError(f"vehicle: expected a JSON object, got {_kind(data)}")
    hub = _number(data.get("hub"), "vehicle: key 'hub'")
    check_range(hub, None, HUB_BOUNDS, "vehicle: key 'hub'", "mm")
    front = _axle(data, "")
    # Parsing every *Rear key first both validates them and tells
    # null/""/blank apart from real values.
    rear = _rear_axle(data, front, _axle(data, "Rear"))
    return VehicleSpec(
        vehicle_type=_text_field(data, "vehicleType"),
        chassis_id=_chassis(data),
        bolt_pattern_mm=_bolt_pattern(data),
        bolt_pattern_in=_text_field(data, "boltpatternInches"),
        hub_bore_mm=hub,
        lug_type=_text_field(data, "lugType"),
        lug_size=_text_field(data, "lugSize"),
        front=front,
        rear=rear,
        raw=data,
    )
