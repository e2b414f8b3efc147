"""The typed readings of bolt patterns and lug sizes (protocol/specs.py)."""

from __future__ import annotations

import pytest

from custom_wheel_offset.protocol.specs import (
    BoltPattern,
    Thread,
    parse_bolt_pattern,
    parse_lug_size,
    same_bolt_pattern,
)
from custom_wheel_offset.sandbox.pool import BOLT_PATTERNS


@pytest.mark.parametrize(
    ("text", "count", "pcd"),
    [
        ("5x114.3", 5, 114.3),
        ("5x4.5", 5, 114.3),
        ("5 x 114.3mm", 5, 114.3),
        ('6x5.5"', 6, 139.7),
        ("8X6.5", 8, 165.1),
        ("4-100", 4, 100.0),
        ("5x127", 5, 127.0),
        ("5x5", 5, 127.0),
        ("5x5in", 5, 127.0),
    ],
)
def test_bolt_pattern_either_unit(text: str, count: int, pcd: float) -> None:
    reading = parse_bolt_pattern(text)
    assert reading.reason is None
    assert reading.value == BoltPattern(count, pcd)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        (None, "missing"),
        ("  ", "missing"),
        ("five by 114", "unreadable"),
        ("5x114.3, 5x4.5", "unreadable"),
        ("1x100", "implausible"),
    ],
)
def test_bolt_pattern_unreadable_says_why(text: str | None, reason: str) -> None:
    reading = parse_bolt_pattern(text)
    assert reading.value is None
    assert reading.reason is not None and reading.reason.startswith(reason)


@pytest.mark.parametrize(("mm", "inches"), sorted(BOLT_PATTERNS.items()))
def test_every_sandbox_pair_is_one_pattern(mm: str, inches: str) -> None:
    a, b = parse_bolt_pattern(mm).value, parse_bolt_pattern(inches).value
    assert a is not None and b is not None
    assert same_bolt_pattern(a, b)


def test_different_patterns_differ() -> None:
    a, b = parse_bolt_pattern("5x112").value, parse_bolt_pattern("5x114.3").value
    assert a is not None and b is not None
    assert not same_bolt_pattern(a, b)


@pytest.mark.parametrize(
    ("text", "diameter", "pitch"),
    [
        ("M12 x 1.5", 12.0, 1.5),
        ("M14x1.25", 14.0, 1.25),
        ("m14 x 2.0", 14.0, 2.0),
        ('1/2"-20', 12.7, 1.27),
        ("7/16-20", 11.112, 1.27),
        ('9/16" x 18', 14.287, 1.4111),
    ],
)
def test_lug_size_metric_and_imperial(text: str, diameter: float, pitch: float) -> None:
    reading = parse_lug_size(text)
    assert reading.reason is None
    assert reading.value == Thread(diameter, pitch)


@pytest.mark.parametrize("text", ["M4", "Lug Nut", "12mm"])
def test_lug_size_unreadable_says_why(text: str) -> None:
    reading = parse_lug_size(text)
    assert reading.value is None
    assert reading.reason == f"unreadable lug size {text!r}"
