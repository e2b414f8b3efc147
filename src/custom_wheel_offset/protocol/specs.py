"""Typed readings of the site's free-text specifications (pure, no I/O).

The site writes a bolt pattern as text in millimetres (``5x114.3``) or inches
(``5x4.5``) and a lug size as a thread (``M12 x 1.5``, ``1/2"-20``). Queries
("which cars does this wheel fit?") and the data audit compare numbers, so
these functions read the text into numbers: the lug count and pitch-circle
diameter in millimetres, and the thread's diameter and pitch in millimetres.
Each returns a value or a short reason why the text could not be read; the
caller stores the reason beside a null instead of guessing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Generic, TypeVar

__all__ = [
    "MM_PER_INCH",
    "BoltPattern",
    "Reading",
    "Thread",
    "parse_bolt_pattern",
    "parse_lug_size",
    "same_bolt_pattern",
]

MM_PER_INCH = 25.4

# A pitch-circle diameter below this many units is in inches: the smallest
# passenger-car PCD is 98 mm (3.86"), the largest truck PCD 10" (254 mm).
_INCH_CEILING = 20.0
# Two PCDs are the same circle when they differ by less than this (the site
# rounds inch forms to two decimals: 5x4.5 is 114.3 mm, 5x4.41 is 112.01).
_PCD_TOLERANCE_MM = 0.6

T = TypeVar("T")

_BOLT = re.compile(
    r"""^\s*(?P<count>[0-9]{1,2})\s*[x×X*-]\s*
        (?P<pcd>[0-9]{1,3}(?:\.[0-9]+)?)\s*
        (?P<unit>mm|in|inch|inches|"|″)?\s*$""",
    re.VERBOSE | re.IGNORECASE,
)
_METRIC_THREAD = re.compile(
    r"^\s*M\s*(?P<diameter>[0-9]{1,2}(?:\.[0-9]+)?)\s*[x×X*-]\s*(?P<pitch>[0-9](?:\.[0-9]+)?)\s*(?:mm)?\s*$",
    re.IGNORECASE,
)
_IMPERIAL_THREAD = re.compile(
    r"""^\s*(?P<diameter>[0-9]{1,2}/[0-9]{1,2}|[0-9](?:\.[0-9]+)?)\s*(?:"|″|in)?\s*
        [-x×X]\s*(?P<tpi>[0-9]{1,2})\s*(?:tpi|unf|unc)?\s*$""",
    re.VERBOSE | re.IGNORECASE,
)


@dataclass(frozen=True, slots=True)
class BoltPattern:
    """``lug_count`` studs on a circle of ``pcd_mm`` millimetres."""

    lug_count: int
    pcd_mm: float


@dataclass(frozen=True, slots=True)
class Thread:
    """A stud or bolt thread: nominal diameter and pitch, both in millimetres."""

    diameter_mm: float
    pitch_mm: float


@dataclass(frozen=True, slots=True)
class Reading(Generic[T]):
    """What a text was read as: ``value``, or None with the ``reason``."""

    value: T | None
    reason: str | None = None


def parse_bolt_pattern(text: str | None) -> Reading[BoltPattern]:
    """Read ``5x114.3``, ``5x4.5``, ``5 x 114.3mm``, ``6x5.5"`` into numbers.

    Without a unit, a diameter under 20 is in inches (see ``_INCH_CEILING``).
    """
    if text is None or not text.strip():
        return Reading(None, "missing")
    match = _BOLT.match(text)
    if match is None:
        return Reading(None, f"unreadable bolt pattern {text.strip()[:40]!r}")
    count = int(match["count"])
    pcd = float(match["pcd"])
    unit = (match["unit"] or "").lower()
    inches = unit in ("in", "inch", "inches", '"', "″") or (unit == "" and pcd < _INCH_CEILING)
    if inches:
        pcd *= MM_PER_INCH
    if not 3 <= count <= 10 or pcd <= 0:
        return Reading(None, f"implausible bolt pattern {text.strip()[:40]!r}")
    return Reading(BoltPattern(count, round(pcd, 2)))


def same_bolt_pattern(a: BoltPattern, b: BoltPattern) -> bool:
    """True when two readings name the same pattern (inch forms are rounded)."""
    return a.lug_count == b.lug_count and abs(a.pcd_mm - b.pcd_mm) < _PCD_TOLERANCE_MM


def parse_lug_size(text: str | None) -> Reading[Thread]:
    """Read ``M12 x 1.5`` (metric) or ``1/2"-20`` (inch diameter, threads per inch)."""
    if text is None or not text.strip():
        return Reading(None, "missing")
    metric = _METRIC_THREAD.match(text)
    if metric is not None:
        diameter, pitch = float(metric["diameter"]), float(metric["pitch"])
        if pitch <= 0 or diameter <= 0:
            return Reading(None, f"implausible lug size {text.strip()[:40]!r}")
        return Reading(Thread(diameter, pitch))
    imperial = _IMPERIAL_THREAD.match(text)
    if imperial is not None:
        tpi = int(imperial["tpi"])
        fraction = Fraction(imperial["diameter"])
        if tpi == 0 or fraction <= 0:
            return Reading(None, f"implausible lug size {text.strip()[:40]!r}")
        return Reading(Thread(round(float(fraction) * MM_PER_INCH, 3), round(MM_PER_INCH / tpi, 4)))
    return Reading(None, f"unreadable lug size {text.strip()[:40]!r}")
