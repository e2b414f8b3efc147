"""The typed parts of a unit of work, shared by the crawl and storage.

A claim (``storage/frontier.py``) hands a worker each fitment item's
:class:`FitmentTarget`, read in the claim's transaction; the worker
(``crawl/items.py``) turns the item into an :class:`Outcome`; the writer
(``storage/writer.py``) stores it. Both sides import these types from here,
so storage never imports ``crawl/`` and the crawl never takes its own
vocabulary from the writer. Plain frozen dataclasses over protocol records:
no I/O, nothing of storage at run time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from custom_wheel_offset.protocol.records import (
    FitmentPage,
    PreferenceOptions,
    PreferenceSet,
    VehicleId,
    VehicleSpec,
)

if TYPE_CHECKING:
    from custom_wheel_offset.storage.frontier import NewItem

__all__ = [
    "FitmentResult",
    "FitmentTarget",
    "OptionsResult",
    "Outcome",
    "OutcomeStatus",
    "VehicleResult",
]


@dataclass(frozen=True, slots=True)
class FitmentTarget:
    """Everything a fitment request names: the vehicle, its type and chassis, the preferences."""

    vehicle: VehicleId
    vehicle_type: str
    chassis_id: str | None
    prefs: PreferenceSet


@dataclass(frozen=True, slots=True)
class VehicleResult:
    vehicle: VehicleId
    spec: VehicleSpec


@dataclass(frozen=True, slots=True)
class OptionsResult:
    vehicle_type: str
    options: PreferenceOptions


@dataclass(frozen=True, slots=True)
class FitmentResult:
    vehicle_id: int
    prefset_id: int
    page: FitmentPage


OutcomeStatus = Literal["done", "retry", "failed", "release"]


@dataclass(slots=True)
class Outcome:
    """What became of one claimed item."""

    item_id: int
    kind: str
    status: OutcomeStatus
    result: VehicleResult | OptionsResult | FitmentResult | None = None
    children: list[NewItem] = field(default_factory=list)
    error: str | None = None
    not_before: float = 0.0
    code: str | None = None  # retry and failed: errors.failure_code of what went wrong
    # A listing's outcome: the key of every child the site listed, kept or not by
    # the run's filter. A child listed before and missing here is gone.
    listed: frozenset[str] | None = None
