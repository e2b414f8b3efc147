"""Typed records that the parsers produce and the storage and export layers consume.

Identity strings are kept exactly as the site served them (case, spaces,
punctuation, non-ASCII letters). Diameters and widths are inches, offsets
signed millimetres, the hub bore millimetres.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any, Literal

__all__ = [
    "AXLE_RANGE_KEYS",
    "AXLE_SPEC_KEYS",
    "AxleRanges",
    "AxleSpec",
    "FitmentPage",
    "FitmentStatus",
    "ModelInfo",
    "PreferenceOptions",
    "PreferenceSet",
    "VehicleId",
    "VehicleSpec",
]


@dataclass(frozen=True, slots=True, order=True)
class VehicleId:
    """One vehicle: the identity (year, make, model, trim, drive)."""

    year: int
    make: str
    model: str
    trim: str
    drive: str


@dataclass(frozen=True, slots=True)
class AxleSpec:
    """Factory wheel and tire, and the aftermarket range that fits, for one axle."""

    stock_diameter: float | None = None
    stock_width: float | None = None
    stock_offset: float | None = None
    stock_tire: str | None = None
    diameter_min: float | None = None
    diameter_max: float | None = None
    width_min: float | None = None
    width_max: float | None = None


#: The fields of :class:`AxleSpec`, in order: the export format's ``front``/``rear``
#: keys and the database's ``front_*``/``rear_*`` columns both come from here.
AXLE_SPEC_KEYS: tuple[str, ...] = tuple(f.name for f in fields(AxleSpec))


@dataclass(frozen=True, slots=True)
class VehicleSpec:
    """A vehicle's specifications as parsed from the fitment API.

    ``rear`` equals ``front`` for a square car (no ``*Rear`` key with a value
    and no flag saying staggered); it is all ``None`` when a flag says
    staggered but no ``*Rear`` key holds a value (unknown, never copied).
    ``raw`` is the JSON object exactly as served, unknown keys included.
    """

    vehicle_type: str | None
    chassis_id: str | None
    bolt_pattern_mm: str | None
    bolt_pattern_in: str | None
    hub_bore_mm: float | None
    lug_type: str | None
    lug_size: str | None
    front: AxleSpec
    rear: AxleSpec
    raw: dict[str, Any] = field(default_factory=dict, compare=False)


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """A model's info: vehicle types, drives and trims, each de-duplicated in served order."""

    vehicle_types: tuple[str, ...]
    drives: tuple[str, ...]
    trims: tuple[str, ...]


@dataclass(frozen=True, slots=True, order=True)
class PreferenceSet:
    """One combination of preferences; ``modification`` is the trimming answer."""

    suspension: str
    modification: str
    rubbing: str


@dataclass(frozen=True, slots=True)
class PreferenceOptions:
    """The three option lists of one vehicle type, de-duplicated in served order."""

    suspension: tuple[str, ...]
    trimming: tuple[str, ...]
    rubbing: tuple[str, ...]

    def preference_sets(self) -> list[PreferenceSet]:
        """Every element of suspension x trimming x rubbing."""
        return [
            PreferenceSet(s, t, r)
            for s in self.suspension
            for t in self.trimming
            for r in self.rubbing
        ]


@dataclass(frozen=True, slots=True)
class AxleRanges:
    """Fitment ranges for one axle: diameter and width in inches, offset in signed mm."""

    diameter_min: float | None = None
    diameter_max: float | None = None
    width_min: float | None = None
    width_max: float | None = None
    offset_min: float | None = None
    offset_max: float | None = None


#: The fields of :class:`AxleRanges`, in order (export keys and database columns).
AXLE_RANGE_KEYS: tuple[str, ...] = tuple(f.name for f in fields(AxleRanges))


FitmentStatus = Literal["ok", "no_data"]


@dataclass(frozen=True, slots=True)
class FitmentPage:
    """What one fitment page says for one vehicle with one preference set.

    ``no_data`` pages have every number and the bolt pattern ``None``.
    ``raw_block`` keeps the HTML of the fit-range block(s) and the bolt-pattern
    element, so data can be re-parsed without fetching again.
    """

    status: FitmentStatus
    bolt_pattern_mm: str | None
    bolt_pattern_in: str | None
    front: AxleRanges
    rear: AxleRanges
    raw_block: str = field(default="", compare=False)

    @classmethod
    def no_data(cls) -> FitmentPage:
        return cls("no_data", None, None, AxleRanges(), AxleRanges(), "")
