"""The sandbox's deterministic catalogue: listings, vehicles and fitment data.

Everything is a pure function of ``(size, seed, edition)`` and the names asked for,
computed lazily and cached in bounded caches, so even the large catalogue
needs no more than a few tens of megabytes. Fitment data is never stored:
:meth:`Catalogue.fitment` computes it from (vehicle, preference set, seed).

The catalogue has two layers:

* a *showcase* in model year 2024, the same at every size (only its numbers
  depend on the seed), which holds at least one instance of every looseness
  the live site shows: odd names, bare strings, duplicates, leaves without
  trims, numbers as strings, missing and null keys, staggered pages, blank
  and missing ranges, text-only bolt patterns, pages without data;
* a *bulk* layer of real makes and models (:mod:`.pool`) whose amount
  depends on the size, with the same kinds of looseness sprinkled at random.

Served forms (what the HTTP server sends) and the canonical values behind
them live side by side, so the ground truth is computed from the model and
never by parsing a body.

**Editions** (issue 14): edition 1 is the catalogue as it always was; each
later edition is the one before with, per step, about 1 % of the bulk
vehicles withdrawn, 2 % added (a new trim beside an existing one), 1 % of
vehicle specs changed (a front ``diameter_max`` one inch larger) and 3 % of
fitment pages with a changed range (the first block's offset maximum 2 mm
larger). Every decision is a digest of (seed, step, identity), so an edition
is as deterministic as edition 1. The showcase year never changes.
"""

from __future__ import annotations

import functools
import hashlib
import math
import random
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from custom_wheel_offset.protocol.records import PreferenceOptions, VehicleId
from custom_wheel_offset.sandbox.config import SIZES
from custom_wheel_offset.sandbox.pool import (
    BODY_STYLES,
    OPTIONS,
    POOL,
    SUSPENSION_WEIGHT,
    ModelEntry,
)

__all__ = [
    "AXLE_KEYS",
    "REAR_KEYS",
    "SHOWCASE_YEAR",
    "Axle",
    "Catalogue",
    "CatalogueStats",
    "FitBlock",
    "FitmentModel",
    "ModelPlan",
    "PageFeatures",
    "RangeCell",
    "VehicleModel",
    "build_catalogue",
    "names_of",
]

SHOWCASE_YEAR = 2024
EMPTY_YEAR = 2025  # a model year the site already lists, with no makes yet

#: served key of each front axle field, in :class:`Axle` order
AXLE_KEYS: tuple[tuple[str, str], ...] = (
    ("stock_diameter", "stockWheelDiameter"),
    ("stock_width", "stockWheelWidth"),
    ("stock_offset", "stockOffset"),
    ("stock_tire", "stockTireSize"),
    ("diameter_min", "wheelDiameterMin"),
    ("diameter_max", "wheelDiameterMax"),
    ("width_min", "wheelWidthMin"),
    ("width_max", "wheelWidthMax"),
)
REAR_KEYS: tuple[tuple[str, str], ...] = tuple(
    (name, "stockTireSizeRear" if key == "stockTireSize" else key + "Rear")
    for name, key in AXLE_KEYS
)
STRING_FIELDS = frozenset({"stock_tire"})
BLANK_MODES = frozenset({"missing", "null", "empty"})
#: per edition step, in thousandths: vehicles withdrawn, added, specs changed, pages changed
EDITION_GONE, EDITION_ADDED, EDITION_SPEC, EDITION_FIT = 10, 20, 10, 30
#: bolt-pattern element forms -> (shows millimetres, shows inches); see render.py.
#: A page showing one unit leaves the other null: a parser never converts units.
BP_MODES: dict[str, tuple[bool, bool]] = {
    "data": (True, True),  # <div class="store-bp" data-bp="IN,MM">.. MMmm (IN")</div>
    "text": (True, True),  # <div class="store-bp">Bolt Pattern: MMmm (IN")</div>
    "none": (False, False),  # no store-bp element
    "data_space": (True, True),  # <div class="store-bp" data-bp="IN, MM">..</div>
    "span_mm_first": (True, True),  # <span class="bolt_patterns store-bp" data-bp="MM, IN"><b>MM
    "span_in_mm": (True, True),  # <span class="bolt_patterns store-bp" data-bp="IN,MM"><b>MM
    "span_text": (True, True),  # <span class="bolt_patterns store-bp"><b>MMmm (IN")</b></span>
    "text_mm": (True, False),  # <div class="store-bp">Bolt Pattern: MMmm</div>
    "span_text_in": (False, True),  # <span class="bolt_patterns store-bp"><b>IN"</b></span>
}
#: the live-site forms added from site-protocol.md section 5
LIVE_BP_MODES: tuple[str, ...] = tuple(BP_MODES)[3:]
#: the vehicle object's flags saying whether the car is staggered
FLAG_KEYS: tuple[str, ...] = ("staggered", "factoryStaggered")
#: the extra vehicle keys other clients of the live API show (section 5)
LIVE_EXTRA_KEYS: tuple[str, ...] = (
    "multiChassis",
    "vehicleType2",
    "drmodelid",
    "bodyType",
    "tireWidthMin",
    "tireLoadIndex",
    "tireSpeedIndex",
    "engine",
    "wheelDiameterMinList",
    "tireWidthMaxList",
)

# ---------------------------------------------------------------- hashing


def _digest(*parts: object) -> int:
    """A stable 64-bit hash of ``parts`` (independent of PYTHONHASHSEED)."""
    raw = repr(parts).encode("utf-8")
    return int.from_bytes(hashlib.blake2b(raw, digest_size=8).digest(), "big")


def _rng(*parts: object) -> random.Random:
    return random.Random(_digest(*parts))


def names_of(value: Any) -> tuple[str, ...]:
    """A model-info value as the distinct names a client takes from it, in served order.

    A list gives its distinct items; a bare non-empty string gives itself;
    a missing key, ``null``, ``""`` or ``[]`` gives nothing.
    """
    if isinstance(value, str):
        return (value,) if value else ()
    if isinstance(value, list):
        return tuple(dict.fromkeys(str(v) for v in value if v not in (None, "")))
    return ()


# ---------------------------------------------------------------- sizes


@dataclass(frozen=True, slots=True)
class SizeProfile:
    """How much bulk a size holds."""

    bulk_years: tuple[int, ...]
    models_per_year: int  # 0 = every model in production that year
    trims: tuple[int, int]
    max_drives: int
    body_styles: bool


PROFILES: dict[str, SizeProfile] = {
    "tiny": SizeProfile((2023,), 4, (1, 1), 1, False),
    "small": SizeProfile((2022, 2023, 2024), 28, (1, 3), 2, False),
    "medium": SizeProfile(tuple(range(2015, 2025)), 0, (2, 6), 2, False),
    "large": SizeProfile(tuple(range(1990, 2025)), 0, (8, 16), 3, True),
}
assert tuple(PROFILES) == SIZES


# ---------------------------------------------------------------- value objects


@dataclass(frozen=True, slots=True)
class Axle:
    """Canonical factory data of one axle (floats; ``stock_tire`` a string)."""

    stock_diameter: float
    stock_width: float
    stock_offset: float
    stock_tire: str
    diameter_min: float
    diameter_max: float
    width_min: float
    width_max: float


@dataclass(frozen=True, slots=True)
class PageFeatures:
    """How one fitment page is drawn.

    ``damage`` is ``"blank"`` (``<b></b>``), ``"blank_space"`` (``<b> </b>``),
    ``"units"`` (units only: ``<b>" to "</b>``, ``<b>mm to mm</b>``) or
    ``"missing"`` (no span) for range ``damaged_range`` of block
    ``damaged_block``; ``bp_mode`` is a key of :data:`BP_MODES`.
    A staggered page's blocks are labelled by ``label_mode`` (``"nobr"``,
    ``"header"`` (a ``store-conf-header`` span) or ``"both"``), rear block
    first when ``rear_first``.
    """

    no_data: bool = False
    bp_mode: str = "data"
    damaged_block: int = 0
    damaged_range: str | None = None
    damage: str | None = None
    label_mode: str = "nobr"
    rear_first: bool = False


@dataclass(frozen=True, slots=True)
class VehicleForce:
    """Showcase overrides of how a vehicle's JSON is presented."""

    modes: tuple[tuple[str, str], ...] = ()
    chassis_as_string: bool | None = None
    extras: tuple[tuple[str, Any], ...] | None = None
    rear_blanks: tuple[tuple[str, str], ...] | None = None
    staggered: bool | None = None
    two_blocks: bool | None = None
    pages: tuple[tuple[int, PageFeatures], ...] = ()
    plain_pages: bool = False  # pages not listed in ``pages`` get no random features
    bolt_key: str | None = None  # "boltpattern", "mm" (boltpatternMm only) or "both"
    flags: tuple[tuple[str, ...], str] | None = None  # (flag keys, form: bool/str/int)
    live: str | None = None  # live extra keys: "none", "native" (all), "string" (all as strings)


@dataclass(frozen=True, slots=True)
class VehicleModel:
    """One vehicle: canonical values and how its JSON presents them.

    ``modes`` maps a served key to ``num``/``str`` (numbers), ``val``
    (strings) or ``missing``/``null``/``empty``. ``rear`` is set for a
    staggered car; ``rear_blanks`` lists ``*Rear`` keys a square car serves
    with ``null`` or ``""``. ``bolt_key`` says under which key the
    millimetre bolt pattern is served (``boltpattern``, ``mm`` for
    ``boltpatternMm`` only, ``both``); ``flag_keys``/``flag_form`` the
    staggered flags served; ``live_extras`` the section-5 extra keys, served
    as they are.
    """

    vid: VehicleId
    vehicle_type: str
    chassis: int
    chassis_as_string: bool
    entry: ModelEntry
    front: Axle
    rear: Axle | None
    modes: Mapping[str, str]
    extras: tuple[tuple[str, Any], ...]
    rear_blanks: tuple[tuple[str, str], ...]
    two_blocks: bool
    page_force: Mapping[int, PageFeatures]
    plain_pages: bool
    options: PreferenceOptions
    bolt_key: str = "boltpattern"
    flag_keys: tuple[str, ...] = ()
    flag_form: str = "bool"
    live_extras: tuple[tuple[str, Any], ...] = ()

    @property
    def staggered_served(self) -> bool:
        """Whether the served ``*Rear`` keys hold a value: what the staggered flags say."""
        if self.rear is None:
            return False
        return any(self.modes.get(key, "val") not in BLANK_MODES for _, key in REAR_KEYS)

    @property
    def bolt_mm(self) -> str:
        return self.entry.bolt_mm

    @property
    def bolt_in(self) -> str:
        return self.entry.bolt_in

    @property
    def chassis_served(self) -> int | str:
        return str(self.chassis) if self.chassis_as_string else self.chassis

    @property
    def chassis_id(self) -> str:
        """``str(drchassisid)`` as served: the store's ``DRChassisID``."""
        return str(self.chassis)


@dataclass(frozen=True, slots=True)
class RangeCell:
    """One range of a fit-range block; ``mode`` is ok, blank, blank_space or missing."""

    lo: float | None
    hi: float | None
    mode: str = "ok"

    @property
    def values(self) -> tuple[float | None, float | None]:
        return (self.lo, self.hi) if self.mode == "ok" else (None, None)


@dataclass(frozen=True, slots=True)
class FitBlock:
    """One ``store-ymm-fitrange`` element."""

    label: str
    full_size: bool
    diameter: RangeCell
    width: RangeCell
    offset: RangeCell


@dataclass(frozen=True, slots=True)
class FitmentModel:
    """What one fitment page shows. No blocks = no fitment data."""

    blocks: tuple[FitBlock, ...]  # front first (the page may show them the other way round)
    bp_mode: str
    bolt_mm: str
    bolt_in: str
    label_mode: str = "nobr"
    rear_first: bool = False


@dataclass(frozen=True, slots=True)
class ModelPlan:
    """One (year, make, model): its served model info and the trims and drives behind it."""

    entry: ModelEntry | None
    info: dict[str, Any]
    trims: tuple[str, ...]
    drives: Mapping[str, list[Any]]
    forces: Mapping[tuple[str, str], VehicleForce] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class CatalogueStats:
    """Counts of one catalogue, computed without rendering anything."""

    years: int
    makes: int
    models: int
    vehicles: int
    fitment_pages: int
    vehicles_by_type: Mapping[str, int]


# ---------------------------------------------------------------- the showcase

_ENTRIES = {(e.make, e.model): e for e in POOL}


def _entry(make: str, pool_model: str, **changes: Any) -> ModelEntry:
    base = _ENTRIES[(make, pool_model)]
    return replace(base, **changes) if changes else base


@dataclass(frozen=True, slots=True)
class _Show:
    make: str
    model: str
    entry: ModelEntry | None
    info: dict[str, Any]
    drives: tuple[tuple[str, tuple[str, ...]], ...]
    forces: tuple[tuple[tuple[str, str], VehicleForce], ...] = ()


_CIVIC_LX = VehicleForce(
    modes=(
        ("hub", "str"),
        ("stockWheelDiameter", "str"),
        ("stockWheelWidth", "str"),
        ("stockOffset", "str"),
        ("wheelDiameterMin", "str"),
        ("wheelWidthMax", "num"),
        ("lugType", "val"),
        ("lugSize", "val"),
    ),
    chassis_as_string=False,
    extras=(),
    staggered=False,
    rear_blanks=(),
    pages=(
        (0, PageFeatures()),
        (1, PageFeatures(bp_mode="text")),
        (2, PageFeatures(damaged_range="width", damage="blank")),
        (3, PageFeatures(damaged_range="offset", damage="blank_space")),
        (4, PageFeatures(damaged_range="diameter", damage="missing")),
        (5, PageFeatures(bp_mode="data_space")),
        (6, PageFeatures(bp_mode="span_mm_first")),
        (7, PageFeatures(bp_mode="span_in_mm")),
        (8, PageFeatures(bp_mode="text_mm")),
        (9, PageFeatures(bp_mode="span_text_in")),
        (10, PageFeatures(no_data=True, bp_mode="data")),
        (11, PageFeatures(no_data=True, bp_mode="none")),
    ),
    plain_pages=True,
    bolt_key="boltpattern",
    flags=((), "bool"),
    live="none",
)
_CIVIC_LX_SPACE = VehicleForce(
    modes=(
        ("lugType", "missing"),
        ("lugSize", "null"),
        ("wheelWidthMax", "empty"),
        ("stockTireSize", "empty"),
        ("boltpattern", "val"),
        ("hub", "num"),
    ),
    chassis_as_string=True,
    extras=(("marketingName", "Civic LX Sedan"), ("_rev", 3), ("images", [])),
    staggered=False,
    rear_blanks=(),
    bolt_key="boltpattern",
    flags=((), "bool"),
    live="none",
)
_CIVIC_EX = VehicleForce(
    staggered=False,
    rear_blanks=(
        ("stockWheelDiameterRear", "null"),
        ("stockTireSizeRear", "empty"),
        ("wheelWidthMaxRear", "missing"),
    ),
    bolt_key="boltpattern",
    flags=((), "bool"),
    live="none",
)
_MUSTANG = VehicleForce(
    modes=(
        ("wheelDiameterMinRear", "missing"),
        ("stockOffsetRear", "str"),
        ("stockTireSizeRear", "val"),
        ("stockWheelWidthRear", "num"),
    ),
    staggered=True,
    two_blocks=True,
    pages=(
        (0, PageFeatures()),
        (1, PageFeatures(damaged_block=1, damaged_range="width", damage="blank")),
        (2, PageFeatures(damaged_block=0, damaged_range="offset", damage="missing")),
        (3, PageFeatures(bp_mode="text")),
        (4, PageFeatures(label_mode="header")),
        (5, PageFeatures(label_mode="both", rear_first=True)),
        (6, PageFeatures(rear_first=True)),
        (
            7,
            PageFeatures(
                label_mode="header",
                rear_first=True,
                damaged_block=1,
                damaged_range="offset",
                damage="units",
            ),
        ),
        (8, PageFeatures(damaged_block=0, damaged_range="width", damage="units")),
        (11, PageFeatures(no_data=True, bp_mode="text")),
    ),
    bolt_key="boltpattern",
    flags=((), "bool"),
    live="none",
)
_C_CLASS = VehicleForce(
    staggered=True,
    two_blocks=False,
    chassis_as_string=True,
    modes=(("stockTireSizeRear", "val"),),
    bolt_key="mm",
    flags=(FLAG_KEYS, "str"),
    live="native",
)


def _staggered_flagged(keys: tuple[str, ...], form: str) -> VehicleForce:
    """A staggered car (two blocks) whose rear keys all hold values, with these flags."""
    rear = tuple((key, "val" if key == "stockTireSizeRear" else "num") for _, key in REAR_KEYS)
    return VehicleForce(staggered=True, two_blocks=True, modes=rear, flags=(keys, form))


_CIVIC_BASE = VehicleForce(
    staggered=False,
    modes=(("boltpattern", "val"),),
    pages=(
        (0, PageFeatures(damaged_range="diameter", damage="units")),
        (1, PageFeatures(damaged_range="offset", damage="units")),
        (2, PageFeatures(bp_mode="span_text")),
        (3, PageFeatures(damaged_range="width", damage="units", bp_mode="span_mm_first")),
    ),
    bolt_key="both",
    flags=(FLAG_KEYS, "int"),
    live="string",
)
_GLADIATOR = VehicleForce(
    modes=(("boltpattern", "val"),),
    bolt_key="mm",
    flags=(("staggered",), "bool"),
    live="native",
)

SHOWCASE: tuple[_Show, ...] = (
    _Show("Citroën", "C4", None, {"vehicleType": ["Car"], "drive": ["FWD"], "trim": ""}, ()),
    _Show(
        "Citroën",
        "C5 Aircross",
        _entry("Citroën", "C5 Aircross"),
        {"vehicleType": ["SUV"], "trim": ["Shine Série Limitée"]},
        (("Shine Série Limitée", ("FWD",)),),
    ),
    _Show(
        "Ford",
        "F-250/350 Super Duty",
        _entry("Ford", "F-250/350 Super Duty"),
        {"vehicleType": ["Truck"], "drive": ["2WD", "4WD"], "trim": ["XL", "Lariat", "Platinum"]},
        (("XL", ("4WD", "4WD")), ("Lariat", ("4WD",)), ("Platinum", ())),
        ((("Lariat", "4WD"), VehicleForce(live="string", flags=(FLAG_KEYS, "bool"))),),
    ),
    _Show(
        "Ford",
        "Mustang",
        _entry("Ford", "Mustang"),
        {"vehicleType": ["Car"], "drive": "RWD", "trim": ["GT Premium", "Dark Horse"]},
        (("GT Premium", ("RWD",)), ("Dark Horse", ("RWD",))),
        (
            (("GT Premium", "RWD"), _MUSTANG),
            (("Dark Horse", "RWD"), _staggered_flagged(FLAG_KEYS, "bool")),
        ),
    ),
    _Show(
        "Honda",
        "Civic",
        _entry("Honda", "Civic"),
        {
            "vehicleType": ["Car"],
            "drive": ["FWD"],
            "trim": ["LX", "LX ", "EX", "Base, 4-Door", "LX"],
        },
        (("LX", ("FWD",)), ("LX ", ("FWD",)), ("EX", ("FWD",)), ("Base, 4-Door", ("FWD",))),
        (
            (("LX", "FWD"), _CIVIC_LX),
            (("LX ", "FWD"), _CIVIC_LX_SPACE),
            (("EX", "FWD"), _CIVIC_EX),
            (("Base, 4-Door", "FWD"), _CIVIC_BASE),
        ),
    ),
    _Show(
        "Jeep",
        "Gladiator",
        _entry("Jeep", "Gladiator"),
        {"vehicleType": "Truck", "drive": ["4WD"], "trim": ["O'Neil"]},
        (("O'Neil", ("4WD",)),),
        ((("O'Neil", "4WD"), _GLADIATOR),),
    ),
    _Show(
        "Mazda",
        "#1 Edition?",
        _entry("Mazda", "MX-5 Miata", model="#1 Edition?"),
        {"vehicleType": ["Car"], "drive": ["RWD"], "trim": ["Club"]},
        (("Club", ("RWD",)),),
    ),
    _Show(
        "Mercedes-Benz",
        "C-Class",
        _entry("Mercedes-Benz", "C-Class"),
        {"vehicleType": None, "drive": ["AWD"], "trim": ["AMG C 43", "AMG C 63"]},
        (("AMG C 43", ("AWD",)), ("AMG C 63", ("AWD",))),
        (
            (("AMG C 43", "AWD"), _C_CLASS),
            (("AMG C 63", "AWD"), _staggered_flagged(("factoryStaggered",), "int")),
        ),
    ),
    _Show(
        "Renault",
        "Clio  RS",
        _entry("Renault", "Clio", model="Clio  RS"),
        {"vehicleType": "Car", "drive": None, "trim": "Base"},
        (("Base", ("FWD",)),),
    ),
    _Show("Subaru", "Outback", None, {"vehicleType": ["SUV"], "drive": ["AWD"], "trim": []}, ()),
    _Show(
        "Subaru",
        "WRX",
        _entry("Subaru", "WRX"),
        {"vehicleType": ["Car"], "drive": ["AWD"], "trim": ['Sport 2.0T "Launch Edition"']},
        (('Sport 2.0T "Launch Edition"', ("AWD",)),),
        (
            (
                ('Sport 2.0T "Launch Edition"', "AWD"),
                VehicleForce(bolt_key="both", flags=(("factoryStaggered",), "str")),
            ),
        ),
    ),
    _Show(
        "Tesla",
        "Model 3",
        _entry("Tesla", "Model 3", stagger=0.0),
        {"vehicleType": ["Car"], "drive": ["AWD"], "trim": ["100% Electric & More +"]},
        (("100% Electric & More +", ("AWD",)),),
        ((("100% Electric & More +", "AWD"), VehicleForce(flags=(("staggered",), "int"))),),
    ),
    _Show(
        "Škoda",
        "Kodiaq",
        _entry("Škoda", "Kodiaq"),
        {"vehicleType": ["SUV"], "drive": ["AWD", "FWD"], "trim": ["Style edice šedá"]},
        (("Style edice šedá", ("AWD",)),),
    ),
    _Show("Škoda", "Superb", None, {"vehicleType": ["Car"], "drive": ["FWD"]}, ()),
)
SHOWCASE_PAIRS = frozenset((s.make, s.model) for s in SHOWCASE)
#: the make listed twice in the showcase year's makes, and the model listed twice
SHOWCASE_DUP_MAKE = "Honda"
SHOWCASE_DUP_MODEL = ("Subaru", "WRX")

# ---------------------------------------------------------------- numbers


def _half(x: float) -> float:
    return round(x * 2) / 2


def _tire(vtype: str, width: float, diameter: float, bolt_mm: str) -> str:
    extra = {"Car": 38, "SUV": 45, "Truck": 55}[vtype]
    section = round((width * 25.4 + extra - 5) / 10) * 10 + 5
    target = {"Car": 25.5, "SUV": 29.0, "Truck": 32.0}[vtype]
    aspect = (target - diameter) * 25.4 / 2 / section * 100
    aspect_i = max(25, min(85, round(aspect / 5) * 5))
    prefix = "LT" if vtype == "Truck" and bolt_mm.startswith("8x") else ""
    return f"{prefix}{section}/{aspect_i}R{int(diameter)}"


def _axle(entry: ModelEntry, diameter: float, width: float, offset: float) -> Axle:
    vtype = entry.vehicle_type
    down = 1 if vtype == "Car" else 2
    up = 2 if vtype == "Car" else 4
    return Axle(
        stock_diameter=float(diameter),
        stock_width=float(width),
        stock_offset=float(offset),
        stock_tire=_tire(vtype, width, diameter, entry.bolt_mm),
        diameter_min=float(max(14, diameter - down)),
        diameter_max=float(diameter + up),
        width_min=_half(width - 1.0),
        width_max=_half(width + (2.0 if vtype == "Car" else 3.0)),
    )


def _fit_axle(
    axle: Axle, vtype: str, weight: float, t_i: int, r_i: int, h: int
) -> tuple[RangeCell, RangeCell, RangeCell]:
    bonus = weight + 0.5 * t_i + 0.75 * r_i
    truck = vtype == "Truck"
    d = axle.stock_diameter
    dmin = max(15.0 if truck else 14.0, d - (2 if truck else 1))
    dmax = max(d, d + 2 + math.floor(max(bonus, -1.0) * (1.5 if truck else 1.0)))
    w = axle.stock_width
    wmin = _half(w - (1.5 if truck else 1.0))
    wmax = max(w, _half(w + 1.5 + 0.5 * bonus * (2 if truck else 1)))
    o = axle.stock_offset
    omin = float(o - 15 - round(bonus * (12 if truck else 5)) - (h % 4))
    omax = float(o + (10 if truck else 5) + (h >> 2) % 6)
    return RangeCell(dmin, float(dmax)), RangeCell(wmin, wmax), RangeCell(omin, omax)


# ---------------------------------------------------------------- section-5 shapes


def _live_page(
    seed: int, vm: VehicleModel, index: tuple[int, int, int], feats: PageFeatures
) -> PageFeatures:
    """Give a randomly drawn page the live-site shapes of section 5, in fixed shares.

    Of the pages drawn with ``data-bp``, 36% get one of the six new bolt
    pattern forms (6% each); 40% of damaged ranges are rendered with units
    only; of the two-block pages, 25% are labelled by a header, 15% by both a
    header and a ``<nobr>``, and 20% show the rear block first. A generator
    of its own keeps the older draws (and so the older pages) unchanged.
    """
    r = _rng(seed, "page-live", vm.vid, index)
    changes: dict[str, Any] = {}
    u = r.random()
    if feats.bp_mode == "data" and u < 0.36:
        changes["bp_mode"] = LIVE_BP_MODES[int(u / 0.06)]
    if feats.damage is not None and r.random() < 0.4:
        changes["damage"] = "units"
    u = r.random()
    changes["label_mode"] = "header" if u < 0.25 else "both" if u < 0.4 else "nobr"
    changes["rear_first"] = r.random() < 0.2
    return replace(feats, **changes)


_FLAG_FORMS = ("bool", "bool", "str", "int")
_BODY_TYPES = {"Car": ("Sedan", "Coupe", "Hatchback"), "SUV": ("SUV",), "Truck": ("Crew Cab",)}
_VEHICLE_TYPE2 = {"Car": "Passenger Car", "SUV": "SUV / Crossover", "Truck": "Pickup"}
_ENGINES = ("2.0L I4", "1.5L I4 Turbo", "3.5L V6", "5.0L V8", "6.7L I6 Diesel", "Electric")


def _live_vehicle(
    r: random.Random, force: VehicleForce, entry: ModelEntry, front: Axle
) -> dict[str, Any]:
    """The :class:`VehicleModel` fields of the section-5 shapes of one vehicle.

    ``r`` is a generator of its own, so that the vehicle's older draws keep
    their values.

    Shares in the bulk: ``boltpatternMm`` alone 15%, with ``boltpattern``
    15%; staggered flags on 60% of vehicles (one key or both; bool, string or
    1/0); each live extra key on 35% of vehicles, its scalars strings 30% of
    the time.
    """
    u = r.random()
    bolt_key = force.bolt_key or ("mm" if u < 0.15 else "both" if u < 0.3 else "boltpattern")
    if force.flags is not None:
        flag_keys, flag_form = force.flags
    elif r.random() < 0.6:
        flag_keys = r.choice(((FLAG_KEYS[0],), (FLAG_KEYS[1],), FLAG_KEYS))
        flag_form = r.choice(_FLAG_FORMS)
    else:
        flag_keys, flag_form = (), "bool"
    return {
        "bolt_key": bolt_key,
        "flag_keys": flag_keys,
        "flag_form": flag_form,
        "live_extras": _live_extras(r, force.live, entry, front),
    }


def _live_extras(
    r: random.Random, mode: str | None, entry: ModelEntry, front: Axle
) -> tuple[tuple[str, Any], ...]:
    """The section-5 extra keys with served values (``mode``: see :class:`VehicleForce`)."""
    if mode == "none":
        return ()
    vtype = entry.vehicle_type
    section = int(front.stock_tire.removeprefix("LT").split("/")[0])
    dmin = int(front.diameter_min)
    native: dict[str, Any] = {
        "multiChassis": r.random() < 0.2,
        "vehicleType2": _VEHICLE_TYPE2[vtype],
        "drmodelid": 100 + r.randrange(99900),
        "bodyType": r.choice(_BODY_TYPES[vtype]),
        "tireWidthMin": section - 10,
        "tireLoadIndex": 88 + r.randrange(34),
        "tireSpeedIndex": r.choice(("H", "V", "W", "T", "R")),
        "engine": r.sample(_ENGINES, r.randint(1, 2)),
        "wheelDiameterMinList": [dmin, dmin + 1],
        "tireWidthMaxList": [section + 20, section + 30],
    }
    out: list[tuple[str, Any]] = []
    for key in LIVE_EXTRA_KEYS:
        keep, as_string = r.random() < 0.35, r.random() < 0.3
        if mode is None and not keep:
            continue
        value = native[key]
        if mode == "string" or (mode is None and as_string):
            value = _as_string(value)
        out.append((key, value))
    return tuple(out)


def _as_string(value: Any) -> Any:
    """A served value with its scalars as strings (``True`` -> ``"true"``, 17 -> ``"17"``)."""
    if isinstance(value, list):
        return [_as_string(v) for v in value]
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


# ---------------------------------------------------------------- the catalogue


class Catalogue:
    """The deterministic catalogue of one ``(size, seed)``.

    Listing methods return what the API serves (``None`` for an unknown
    name); ``vehicle`` and ``fitment`` return the canonical models the
    server renders and the ground truth reads.
    """

    def __init__(self, size: str, seed: int, edition: int = 1) -> None:
        if size not in PROFILES:
            raise ValueError(f"unknown size {size!r}")
        if edition < 1:
            raise ValueError(f"edition must be 1 or more, not {edition!r}")
        self.size = size
        self.seed = seed
        self.edition = edition
        self.profile = PROFILES[size]
        years = set(self.profile.bulk_years) | {SHOWCASE_YEAR, EMPTY_YEAR}
        self._years: tuple[int, ...] = tuple(sorted(years, reverse=True))
        self._year_set = frozenset(years)
        # bounded caches, per instance
        self._year_plan = functools.lru_cache(maxsize=64)(self._build_year_plan)
        self._model_plan = functools.lru_cache(maxsize=16384)(self._build_model_plan)
        self._vehicle = functools.lru_cache(maxsize=32768)(self._build_vehicle)

    def __repr__(self) -> str:
        return f"Catalogue(size={self.size!r}, seed={self.seed!r}, edition={self.edition!r})"

    # ------------------------------------------------------------ listings

    def years(self) -> tuple[int, ...]:
        """Distinct model years, newest first."""
        return self._years

    def years_served(self) -> list[int | str]:
        """The years list as served: numbers and strings mixed, one year listed twice."""
        out: list[int | str] = []
        for y in self._years:
            as_string = y == SHOWCASE_YEAR - 1 or (
                y != SHOWCASE_YEAR and _digest(self.seed, "year-form", y) % 3 == 0
            )
            out.append(str(y) if as_string else y)
        out.append(str(SHOWCASE_YEAR))
        return out

    def makes_served(self, year: int) -> list[str] | None:
        if year not in self._year_set:
            return None
        plan = self._year_plan(year)
        makes = sorted(plan)
        if year == SHOWCASE_YEAR:
            makes.append(SHOWCASE_DUP_MAKE)
        elif makes and _digest(self.seed, "dup-make", year) % 4 == 0:
            makes.insert(0, makes[_digest(self.seed, "dup-make-i", year) % len(makes)])
        return makes

    def models_served(self, year: int, make: str) -> list[str] | None:
        if year not in self._year_set:
            return None
        models = self._year_plan(year).get(make)
        if models is None:
            return None
        out = sorted(models)
        if year == SHOWCASE_YEAR and make == SHOWCASE_DUP_MODEL[0]:
            out.append(SHOWCASE_DUP_MODEL[1])
        elif len(out) > 1 and _digest(self.seed, "dup-model", year, make) % 12 == 0:
            out.append(out[0])
        return out

    def model_plan(self, year: int, make: str, model: str) -> ModelPlan | None:
        if year not in self._year_set:
            return None
        if model not in self._year_plan(year).get(make, {}):
            return None
        return self._model_plan(year, make, model)

    def model_info_served(self, year: int, make: str, model: str) -> dict[str, Any] | None:
        plan = self.model_plan(year, make, model)
        return None if plan is None else plan.info

    def drives_served(self, year: int, make: str, model: str, trim: str) -> list[Any] | None:
        plan = self.model_plan(year, make, model)
        if plan is None or trim not in plan.drives:
            return None
        return plan.drives[trim]

    def vehicle(
        self, year: int, make: str, model: str, trim: str, drive: str
    ) -> VehicleModel | None:
        """The vehicle with this identity, or ``None`` when the catalogue has none."""
        plan = self.model_plan(year, make, model)
        if plan is None or trim not in plan.drives or drive not in plan.drives[trim]:
            return None
        return self._vehicle(year, make, model, trim, drive)

    def options(self, vehicle_type: str) -> PreferenceOptions:
        suspension, trimming, rubbing = OPTIONS[vehicle_type]
        return PreferenceOptions(suspension, trimming, rubbing)

    # ------------------------------------------------------------ walking

    def iter_model_plans(self) -> Iterator[tuple[int, str, str, ModelPlan]]:
        """Every (year, make, model) reachable through the listings, in sort order."""
        for year in sorted(self._years):
            for make in sorted(set(self.makes_served(year) or ())):
                for model in sorted(set(self.models_served(year, make) or ())):
                    plan = self.model_plan(year, make, model)
                    if plan is not None:
                        yield year, make, model, plan

    def iter_vehicle_ids(self) -> Iterator[VehicleId]:
        """Every vehicle reachable through the listings, in export sort order."""
        for year, make, model, plan in self.iter_model_plans():
            for trim in sorted(plan.trims):
                for drive in sorted(set(plan.drives.get(trim, ()))):
                    yield VehicleId(year, make, model, trim, drive)

    def iter_vehicles(self) -> Iterator[VehicleModel]:
        for vid in self.iter_vehicle_ids():
            vm = self.vehicle(vid.year, vid.make, vid.model, vid.trim, vid.drive)
            assert vm is not None
            yield vm

    def stats(self) -> CatalogueStats:
        """Counts by walking the listings; no vehicle or page is built."""
        makes: set[tuple[int, str]] = set()
        models = vehicles = pages = 0
        by_type: dict[str, int] = {}
        for year, make, _model, plan in self.iter_model_plans():
            makes.add((year, make))
            models += 1
            if plan.entry is None:
                continue
            vtype = plan.entry.vehicle_type
            per_vehicle = len(self.options(vtype).preference_sets())
            for trim in plan.trims:
                n = len(set(plan.drives.get(trim, ())))
                vehicles += n
                pages += n * per_vehicle
                by_type[vtype] = by_type.get(vtype, 0) + n
        return CatalogueStats(len(self._years), len(makes), models, vehicles, pages, by_type)

    # ------------------------------------------------------------ fitment

    def preference_index(
        self, vm: VehicleModel, suspension: str, modification: str, rubbing: str
    ) -> tuple[int, int, int] | None:
        opts = vm.options
        try:
            return (
                opts.suspension.index(suspension),
                opts.trimming.index(modification),
                opts.rubbing.index(rubbing),
            )
        except ValueError:
            return None

    def page_features(self, vm: VehicleModel, index: tuple[int, int, int]) -> PageFeatures:
        opts = vm.options
        flat = (index[0] * len(opts.trimming) + index[1]) * len(opts.rubbing) + index[2]
        if flat in vm.page_force:
            return vm.page_force[flat]
        if vm.plain_pages:
            return PageFeatures()
        r = _rng(self.seed, "page", vm.vid, index)
        no_data = r.random() < 0.07
        u = r.random()
        if no_data:
            bp_mode = "none" if u < 0.5 else ("text" if u < 0.6 else "data")
            return _live_page(self.seed, vm, index, PageFeatures(no_data=True, bp_mode=bp_mode))
        bp_mode = "text" if u < 0.15 else "data"
        if r.random() < 0.08:
            damage = r.choice(("blank", "blank_space", "missing"))
            feats = PageFeatures(
                bp_mode=bp_mode,
                damaged_block=r.randrange(2),
                damaged_range=r.choice(("diameter", "width", "offset")),
                damage=damage,
            )
            return _live_page(self.seed, vm, index, feats)
        return _live_page(self.seed, vm, index, PageFeatures(bp_mode=bp_mode))

    def fitment(self, vm: VehicleModel, index: tuple[int, int, int]) -> FitmentModel:
        """The fitment page of ``vm`` with the preference set at ``index`` (s, t, r)."""
        feats = self.page_features(vm, index)
        if feats.no_data:
            return FitmentModel((), feats.bp_mode, vm.bolt_mm, vm.bolt_in)
        axles = self._page_axles(vm)
        two = len(axles) == 2
        weight = SUSPENSION_WEIGHT[vm.vehicle_type][index[0]]
        h = _digest(self.seed, "fit", vm.vid, index)
        blocks: list[FitBlock] = []
        for i, axle in enumerate(axles):
            cells = list(_fit_axle(axle, vm.vehicle_type, weight, index[1], index[2], h))
            if feats.damage is not None and i == min(feats.damaged_block, len(axles) - 1):
                k = ("diameter", "width", "offset").index(feats.damaged_range or "diameter")
                cells[k] = RangeCell(None, None, feats.damage)
            if len(axles) == 1:
                label, full = "Front & Rear", True
            else:
                word = "Front" if i == 0 else "Rear"
                label = word + (" Wheels" if (h >> 9) % 2 else "")
                full = False
            blocks.append(FitBlock(label, full, cells[0], cells[1], cells[2]))
        blocks[0] = self._edition_block(vm, index, blocks[0])
        if not two:
            return FitmentModel(tuple(blocks), feats.bp_mode, vm.bolt_mm, vm.bolt_in)
        return FitmentModel(
            tuple(blocks),
            feats.bp_mode,
            vm.bolt_mm,
            vm.bolt_in,
            label_mode=feats.label_mode,
            rear_first=feats.rear_first,
        )

    def _edition_block(
        self, vm: VehicleModel, index: tuple[int, int, int], block: FitBlock
    ) -> FitBlock:
        """The first block as edition ``self.edition`` shows it: offset maximum 2 mm per change."""
        if vm.vid.year == SHOWCASE_YEAR or block.offset.mode != "ok" or block.offset.hi is None:
            return block
        steps = self._changed_steps(EDITION_FIT, "edition-fit", vm.vid, index)
        if not steps:
            return block
        return replace(block, offset=replace(block.offset, hi=block.offset.hi + 2.0 * steps))

    @staticmethod
    def _page_axles(vm: VehicleModel) -> list[Axle]:
        return [vm.front] if vm.rear is None or not vm.two_blocks else [vm.front, vm.rear]

    # ------------------------------------------------------------ builders

    def _build_year_plan(self, year: int) -> dict[str, dict[str, _Show | ModelEntry]]:
        plan: dict[str, dict[str, _Show | ModelEntry]] = {}
        if year == EMPTY_YEAR:
            return plan
        if year == SHOWCASE_YEAR:
            for show in SHOWCASE:
                plan.setdefault(show.make, {})[show.model] = show
        if year in self.profile.bulk_years:
            eligible = [
                e
                for e in POOL
                if e.since <= year <= e.until
                and not (year == SHOWCASE_YEAR and (e.make, e.model) in SHOWCASE_PAIRS)
            ]
            n = self.profile.models_per_year or len(eligible)
            chosen = _rng(self.seed, "models", year).sample(eligible, min(n, len(eligible)))
            for e in chosen:
                plan.setdefault(e.make, {})[e.model] = e
        return plan

    def _build_model_plan(self, year: int, make: str, model: str) -> ModelPlan:
        source = self._year_plan(year)[make][model]
        if isinstance(source, _Show):
            return ModelPlan(
                source.entry,
                dict(source.info),
                names_of(source.info.get("trim")),
                {trim: list(d) for trim, d in source.drives},
                dict(source.forces),
            )
        entry = source
        r = _rng(self.seed, "model", year, make, model)
        universe = list(entry.trims)
        if self.profile.body_styles:
            universe += [f"{t} {b}" for t in entry.trims for b in BODY_STYLES[entry.vehicle_type]]
        lo, hi = self.profile.trims
        trims = r.sample(universe, min(len(universe), r.randint(lo, hi)))
        drives: dict[str, list[Any]] = {}
        for trim in trims:
            k = r.randint(1, min(self.profile.max_drives, len(entry.drives)))
            d = r.sample(list(entry.drives), k)
            if r.random() < 0.03:
                d.append(d[0])
            drives[trim] = d
        served_trims: list[str] = list(trims)
        if len(trims) > 1 and r.random() < 0.04:
            served_trims.append(trims[-1])
        info: dict[str, Any] = {}
        u = r.random()
        info["vehicleType"] = entry.vehicle_type if u < 0.05 else [entry.vehicle_type]
        u = r.random()
        if u < 0.03:
            pass  # key missing
        elif u < 0.06:
            info["drive"] = None
        elif u < 0.12 and len(entry.drives) == 1:
            info["drive"] = entry.drives[0]
        else:
            info["drive"] = list(entry.drives)
        info["trim"] = trims[0] if len(trims) == 1 and r.random() < 0.1 else served_trims
        # After every draw of ``r``: edition 1 stays exactly what it always was.
        for step in range(2, self.edition + 1 if year != SHOWCASE_YEAR else 2):
            self._edition_step(step, year, make, model, info, drives)
        return ModelPlan(entry, info, names_of(info["trim"]), drives)

    def _edition_step(
        self,
        step: int,
        year: int,
        make: str,
        model: str,
        info: dict[str, Any],
        drives: dict[str, list[Any]],
    ) -> None:
        """Withdraw and add vehicles of one bulk model for edition ``step`` (in place).

        A withdrawal never takes a model's last vehicle (the model would turn
        into a leaf, a different shape). An added vehicle is a new trim named
        after an existing one, with that vehicle's drive.
        """
        trims = list(names_of(info.get("trim")))
        before = [(t, d) for t in sorted(trims) for d in sorted(set(drives.get(t, ())))]
        for trim, drive in before:
            if _digest(self.seed, "edition-gone", step, year, make, model, trim, drive) % 1000 >= (
                EDITION_GONE
            ):
                continue
            if len(set(drives[trim])) > 1:
                drives[trim] = [d for d in drives[trim] if d != drive]
            elif len(trims) > 1 and trim in trims:
                trims.remove(trim)
                del drives[trim]
        for trim, drive in before:
            new = f"{trim} Series {step}"
            if new in drives or (
                _digest(self.seed, "edition-added", step, year, make, model, trim, drive) % 1000
                >= EDITION_ADDED
            ):
                continue
            trims.append(new)
            drives[new] = [drive]
        if trims != list(names_of(info.get("trim"))):
            info["trim"] = trims

    def _build_vehicle(
        self, year: int, make: str, model: str, trim: str, drive: str
    ) -> VehicleModel:
        vm = self._build_vehicle_edition_1(year, make, model, trim, drive)
        steps = self._changed_steps(EDITION_SPEC, "edition-specs", vm.vid)
        if not steps or year == SHOWCASE_YEAR:
            return vm
        # A field only the vehicle's JSON shows (fitment ranges derive from the stock
        # sizes), served as a number so that the change always shows.
        front = replace(vm.front, diameter_max=vm.front.diameter_max + steps)
        return replace(vm, front=front, modes={**vm.modes, "wheelDiameterMax": "num"})

    def _changed_steps(self, share: int, what: str, *parts: object) -> int:
        """In how many edition steps up to this edition ``parts`` changed (``share`` per mille)."""
        return sum(
            1
            for step in range(2, self.edition + 1)
            if _digest(self.seed, what, step, *parts) % 1000 < share
        )

    def _build_vehicle_edition_1(
        self, year: int, make: str, model: str, trim: str, drive: str
    ) -> VehicleModel:
        plan = self._model_plan(year, make, model)
        entry = plan.entry
        assert entry is not None
        force = plan.forces.get((trim, drive), VehicleForce())
        vid = VehicleId(year, make, model, trim, drive)
        r = _rng(self.seed, "vehicle", vid)
        # factory wheel: better trims get bigger wheels; older years a size smaller
        base_trim = next((t for t in entry.trims if trim.startswith(t)), entry.trims[0])
        rank = entry.trims.index(base_trim) / max(1, len(entry.trims) - 1)
        di = min(len(entry.diameters) - 1, int(rank * len(entry.diameters)))
        diameter = entry.diameters[di] - (1 if year < 2008 else 0) - (1 if year < 1998 else 0)
        diameter = max(14, diameter)
        width = _half(
            entry.width + 0.5 * (diameter - entry.diameters[0]) + r.choice((-0.5, 0.0, 0.0, 0.5))
        )
        offset = entry.offset + r.choice((-5, 0, 0, 3, 5))
        front = _axle(entry, diameter, width, offset)
        staggered = force.staggered if force.staggered is not None else r.random() < entry.stagger
        rear: Axle | None = None
        if staggered:
            rear_d = diameter + (1 if r.random() < 0.3 else 0)
            rear_w = _half(width + r.choice((1.0, 1.0, 1.5, 2.0)))
            rear = _axle(entry, rear_d, rear_w, offset + r.choice((-8, -5, 0, 3, 7)))
        modes = self._modes(r, rear is not None)
        modes.update(dict(force.modes))
        chassis = 1000 + _digest(self.seed, "chassis", make, model, year // 5) % 89000
        as_string = (
            force.chassis_as_string if force.chassis_as_string is not None else r.random() < 0.5
        )
        extras = force.extras if force.extras is not None else self._extras(r, vid)
        rear_blanks: tuple[tuple[str, str], ...] = ()
        if rear is None:
            if force.rear_blanks is not None:
                rear_blanks = force.rear_blanks
            elif r.random() < 0.15:
                keys = r.sample([k for _, k in REAR_KEYS], r.randint(1, 3))
                rear_blanks = tuple((k, r.choice(("null", "empty"))) for k in keys)
        two_blocks = rear is not None and (
            force.two_blocks if force.two_blocks is not None else r.random() < 0.75
        )
        return VehicleModel(
            vid=vid,
            vehicle_type=entry.vehicle_type,
            chassis=chassis,
            chassis_as_string=as_string,
            entry=entry,
            front=front,
            rear=rear,
            modes=modes,
            extras=extras,
            rear_blanks=rear_blanks,
            two_blocks=two_blocks,
            page_force=dict(force.pages),
            plain_pages=force.plain_pages,
            options=self.options(entry.vehicle_type),
            **_live_vehicle(_rng(self.seed, "live-vehicle", vid), force, entry, front),
        )

    @staticmethod
    def _modes(r: random.Random, staggered: bool) -> dict[str, str]:
        modes: dict[str, str] = {}
        numeric = ["hub"] + [k for n, k in AXLE_KEYS if n not in STRING_FIELDS]
        strings = ["boltpattern", "boltpatternInches", "lugType", "lugSize", "stockTireSize"]
        if staggered:
            numeric += [k for n, k in REAR_KEYS if n not in STRING_FIELDS]
            strings.append("stockTireSizeRear")
        for key in numeric:
            u = r.random()
            modes[key] = (
                "missing"
                if u < 0.03
                else "null"
                if u < 0.06
                else "empty"
                if u < 0.08
                else "str"
                if u < 0.33
                else "num"
            )
        for key in strings:
            u = r.random()
            modes[key] = (
                "missing" if u < 0.03 else "null" if u < 0.06 else "empty" if u < 0.08 else "val"
            )
        return modes

    @staticmethod
    def _extras(r: random.Random, vid: VehicleId) -> tuple[tuple[str, Any], ...]:
        extras: list[tuple[str, Any]] = []
        if r.random() < 0.3:
            extras.append(("marketingName", f"{vid.year} {vid.make} {vid.model} {vid.trim}"))
        if r.random() < 0.3:
            extras.append(("_rev", r.randint(1, 9)))
        if r.random() < 0.15:
            extras.append(("notes", None))
        return tuple(extras)


@functools.lru_cache(maxsize=8)
def build_catalogue(size: str = "tiny", seed: int = 1, edition: int = 1) -> Catalogue:
    """The catalogue of ``(size, seed, edition)``; the same object for the same arguments."""
    return Catalogue(size, seed, edition)
