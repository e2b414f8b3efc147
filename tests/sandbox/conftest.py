"""Fixtures for the sandbox tests, and a minimal self-contained protocol client.

The client speaks only the documented protocol (site-protocol.md sections
1-3, and the live-site shapes of section 5) over real HTTP with
``requests``, ``json`` and regular expressions: it never reads the
catalogue. It retries faulty answers (5xx, 429, resets, cut bodies,
challenges) so the same client can crawl a faulty sandbox.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

import pytest
import requests

from custom_wheel_offset.exporting.format import fitment_record, vehicle_record
from custom_wheel_offset.protocol.records import (
    AxleRanges,
    AxleSpec,
    FitmentPage,
    PreferenceSet,
    VehicleId,
    VehicleSpec,
)
from custom_wheel_offset.sandbox import SandboxConfig, start_sandbox
from custom_wheel_offset.sandbox.server import RunningSandbox

REAR_KEYS = (
    "stockWheelDiameterRear",
    "stockWheelWidthRear",
    "stockOffsetRear",
    "stockTireSizeRear",
    "wheelDiameterMinRear",
    "wheelDiameterMaxRear",
    "wheelWidthMinRear",
    "wheelWidthMaxRear",
)


def q(value: object) -> str:
    return quote(str(value), safe="")


def query(params: dict[str, Any]) -> str:
    return urlencode(params, quote_via=quote, safe="")


# ---------------------------------------------------------------- parsing (pure)


def distinct(items: Any) -> list[str]:
    """A model-info value or list as distinct names: list, bare string, or nothing."""
    if isinstance(items, str):
        return [items] if items else []
    if isinstance(items, list):
        return list(dict.fromkeys(str(i) for i in items if i not in (None, "")))
    return []


def _blank(value: Any) -> bool:
    return value is None or value == ""


def _float(value: Any) -> float | None:
    return None if _blank(value) else float(value)


def _str(value: Any) -> str | None:
    return None if _blank(value) else str(value)


def parse_vehicle(obj: dict[str, Any]) -> VehicleSpec:
    def axle(suffix: str) -> AxleSpec:
        tire = "stockTireSizeRear" if suffix else "stockTireSize"
        return AxleSpec(
            stock_diameter=_float(obj.get("stockWheelDiameter" + suffix)),
            stock_width=_float(obj.get("stockWheelWidth" + suffix)),
            stock_offset=_float(obj.get("stockOffset" + suffix)),
            stock_tire=_str(obj.get(tire)),
            diameter_min=_float(obj.get("wheelDiameterMin" + suffix)),
            diameter_max=_float(obj.get("wheelDiameterMax" + suffix)),
            width_min=_float(obj.get("wheelWidthMin" + suffix)),
            width_max=_float(obj.get("wheelWidthMax" + suffix)),
        )

    front = axle("")
    staggered = any(not _blank(obj.get(k)) for k in REAR_KEYS)
    chassis = obj.get("drchassisid")
    return VehicleSpec(
        vehicle_type=_str(obj.get("vehicleType")),
        chassis_id=None if _blank(chassis) else str(chassis),
        bolt_pattern_mm=_str(obj.get("boltpattern", obj.get("boltpatternMm"))),
        bolt_pattern_in=_str(obj.get("boltpatternInches")),
        hub_bore_mm=_float(obj.get("hub")),
        lug_type=_str(obj.get("lugType")),
        lug_size=_str(obj.get("lugSize")),
        front=front,
        rear=axle("Rear") if staggered else front,
        raw=obj,
    )


_COMMENT = re.compile(r"<!--.*?-->", re.S)
_SCRIPT = re.compile(r"<script\b[^>]*>.*?</script>", re.S | re.I)
_BLOCK = re.compile(r'<div class="store-ymm-fitrange( full-size)?">(.*?)</div>', re.S)
_SIDE = re.compile(r'<nobr>(.*?)</nobr>|<span class="store-conf-header">(.*?)</span>', re.S)
_RANGE = re.compile(r'<span class="store-conf-range">(Diameter|Width|Offset):\s*<b>(.*?)</b>', re.S)
_NUMBER = re.compile(r"[+-]?\d+(?:\.\d+)?")
_BP_ELEMENT = re.compile(
    r'<(div|span) class="(?:bolt_patterns )?store-bp"(?: data-bp="([^"]*)")?>(.*?)</\1>', re.S
)
_BP_PATTERN = re.compile(r"\d+x(\d+(?:\.\d+)?)")


def strip_inert(html: str) -> str:
    """The page without comments and scripts (where the decoys hide)."""
    return _SCRIPT.sub("", _COMMENT.sub("", html))


def fit_blocks(html: str) -> list[tuple[bool, str]]:
    """(full_size, inner HTML) of every real store-ymm-fitrange element."""
    return [(bool(full), inner) for full, inner in _BLOCK.findall(strip_inert(html))]


def _ranges(inner: str) -> AxleRanges:
    values: dict[str, tuple[float | None, float | None]] = {}
    for label, text in _RANGE.findall(inner):
        nums = _NUMBER.findall(text)
        values[label] = (float(nums[0]), float(nums[1])) if len(nums) == 2 else (None, None)
    d = values.get("Diameter", (None, None))
    w = values.get("Width", (None, None))
    o = values.get("Offset", (None, None))
    return AxleRanges(d[0], d[1], w[0], w[1], o[0], o[1])


def parse_fitment(html: str) -> FitmentPage:
    if "<title>Human Verification</title>" in html:
        raise ValueError("challenge page")
    if not html.rstrip().endswith("</html>"):
        raise ValueError("cut page")
    blocks = fit_blocks(html)
    if not blocks:
        return FitmentPage.no_data()
    if len(blocks) == 1:
        front = rear = _ranges(blocks[0][1])
    else:
        by_side = {}
        for _full, inner in blocks:
            side = _SIDE.search(inner)
            assert side is not None
            label = (side.group(1) or side.group(2)).strip()
            by_side["Rear" if label.startswith("Rear") else "Front"] = inner
        front, rear = _ranges(by_side["Front"]), _ranges(by_side["Rear"])
    bp_mm, bp_in = bolt_patterns(html)
    return FitmentPage("ok", bp_mm, bp_in, front, rear)


def bolt_patterns(html: str) -> tuple[str | None, str | None]:
    """(mm, inch) of the page's store-bp element, each told by value, never by position."""
    element = _BP_ELEMENT.search(strip_inert(html))
    if element is None:
        return None, None
    source = element.group(2) or element.group(3)
    found: dict[str, str] = {}
    for match in _BP_PATTERN.finditer(source):
        unit = "mm" if float(match.group(1)) >= 98 else "in"
        found.setdefault(unit, match.group(0))
    return found.get("mm"), found.get("in")


# ---------------------------------------------------------------- the client


class Retry(Exception):
    """A faulty answer: ask again."""


@dataclass
class CrawlResult:
    vehicles: list[dict[str, Any]] = field(default_factory=list)
    fitments: list[dict[str, Any]] = field(default_factory=list)
    #: served bodies, for looseness checks: kind -> list of (url, parsed JSON or text)
    bodies: dict[str, list[tuple[str, Any]]] = field(default_factory=dict)
    options: dict[str, tuple[list[str], list[str], list[str]]] = field(default_factory=dict)


class ProtocolClient:
    """Crawls a sandbox through the documented protocol only."""

    def __init__(
        self, api_base: str, store_base: str, *, attempts: int = 1, keep_bodies: bool = False
    ) -> None:
        self.api = api_base
        self.store = store_base
        self.session = requests.Session()
        self.attempts = attempts
        self.keep_bodies = keep_bodies
        self.result = CrawlResult()

    def close(self) -> None:
        self.session.close()

    def _once(self, session: requests.Session, url: str, as_json: bool) -> Any:
        try:
            r = session.get(url, timeout=10)
        except requests.RequestException as exc:  # reset, cut body (IncompleteRead)
            raise Retry(str(exc)) from exc
        if r.status_code == 429 or r.status_code >= 500:
            raise Retry(str(r.status_code))
        if r.status_code in (401, 403) and r.content == b'{"message":"Forbidden"}':
            raise Retry("API Forbidden")  # section 5: transient, never data
        text = r.content.decode("utf-8")
        if "<title>Human Verification</title>" in text:
            raise Retry("challenge")
        if r.status_code != 200:
            raise AssertionError(f"{url}: {r.status_code} {text[:200]}")
        if as_json:
            try:
                return json.loads(text)
            except ValueError as exc:
                raise Retry("cut JSON") from exc
        if not text.endswith("</html>"):
            raise Retry("cut page")
        return text

    def get(
        self, kind: str, url: str, *, as_json: bool = True, session: requests.Session | None = None
    ) -> Any:
        for attempt in range(self.attempts):
            try:
                value = self._once(session or self.session, url, as_json)
            except Retry:
                if attempt == self.attempts - 1:
                    raise
                continue
            if self.keep_bodies:
                self.result.bodies.setdefault(kind, []).append((url, value))
            return value
        raise AssertionError("unreachable")

    def options(self, vid: VehicleId, spec: VehicleSpec) -> tuple[list[str], ...]:
        """Select the vehicle in a fresh session, then ask the three option lists."""
        session = requests.Session()
        try:
            select = {
                "store": "wheels",
                "type": "set",
                "vehicle_type": spec.vehicle_type,
                "year": vid.year,
                "make": vid.make,
                "model": vid.model,
                "trim": vid.trim,
                "drive": vid.drive,
                "chassis": spec.chassis_id,
            }
            for attempt in range(self.attempts * 3):
                try:
                    self.get(
                        "select", f"{self.store}/api/ymm-temp.php?{query(select)}", session=session
                    )
                    lists = []
                    for flag, kind in (
                        ("getSuspension", "suspension"),
                        ("getTrimming", "trimming"),
                        ("getRubbing", "rubbing"),
                    ):
                        params = {
                            "type": "set",
                            "vehicle_type": spec.vehicle_type,
                            "store": "wheels",
                            flag: "true",
                        }
                        lists.append(
                            self.get(
                                kind,
                                f"{self.store}/api/ymm-temp.php?{query(params)}",
                                session=session,
                            )
                        )
                    return tuple(distinct(x) for x in lists)
                except Retry:
                    if attempt == self.attempts * 3 - 1:
                        raise
            raise AssertionError("unreachable")
        finally:
            session.close()

    def iter_vehicles(self) -> Iterator[tuple[VehicleId, VehicleSpec]]:
        years = sorted({int(y) for y in self.get("years", f"{self.api}/")})
        for year in years:
            for make in distinct(self.get("makes", f"{self.api}/{year}")):
                for model in distinct(self.get("models", f"{self.api}/{year}/{q(make)}")):
                    info = self.get("model_info", f"{self.api}/{year}/{q(make)}/{q(model)}")
                    for trim in distinct(info.get("trim")):
                        drives = self.get(
                            "drives",
                            f"{self.api}/offsetguide/{year}/{q(make)}/{q(model)}"
                            f"/trim/{q(trim)}/drives",
                        )
                        for drive in distinct(drives):
                            obj = self.get(
                                "vehicle",
                                f"{self.api}/{year}/{q(make)}/{q(model)}/{q(trim)}/{q(drive)}",
                            )
                            yield VehicleId(year, make, model, trim, drive), parse_vehicle(obj)

    def fitment_url(self, vid: VehicleId, spec: VehicleSpec, prefs: PreferenceSet) -> str:
        params = {
            "sort": "instock",
            "saleToggle": 0,
            "qdToggle": 0,
            "year": vid.year,
            "make": vid.make,
            "model": vid.model,
            "trim": vid.trim,
            "drive": vid.drive,
            "DRChassisID": spec.chassis_id,
            "vehicle_type": spec.vehicle_type,
            "suspension": prefs.suspension,
            "modification": prefs.modification,
            "rubbing": prefs.rubbing,
        }
        return f"{self.store}/store/wheels?{query(params)}"

    def crawl(self) -> CrawlResult:
        result = self.result
        for vid, spec in self.iter_vehicles():
            result.vehicles.append(vehicle_record(vid, spec))
            vtype = spec.vehicle_type
            assert vtype
            if vtype not in result.options:
                result.options[vtype] = self.options(vid, spec)  # type: ignore[assignment]
            suspension, trimming, rubbing = result.options[vtype]
            for s in suspension:
                for t in trimming:
                    for r in rubbing:
                        prefs = PreferenceSet(s, t, r)
                        url = self.fitment_url(vid, spec, prefs)
                        for attempt in range(self.attempts):
                            try:
                                html = self.get("fitment", url, as_json=False)
                                page = parse_fitment(html)
                                break
                            except (Retry, ValueError):
                                if attempt == self.attempts - 1:
                                    raise
                        result.fitments.append(fitment_record(vid, prefs, page))
        return result


# ---------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def tiny_sandbox() -> Iterator[RunningSandbox]:
    """One fault-free tiny sandbox (seed 1, 100 KB pages) shared by read-only tests."""
    with start_sandbox(SandboxConfig(size="tiny", seed=1)) as sb:
        yield sb


@pytest.fixture(scope="session")
def tiny_crawl(tiny_sandbox: RunningSandbox) -> CrawlResult:
    """A full protocol crawl of the tiny sandbox, keeping every served body."""
    client = ProtocolClient(tiny_sandbox.api_base, tiny_sandbox.store_base, keep_bodies=True)
    try:
        return client.crawl()
    finally:
        client.close()


@pytest.fixture
def http() -> Iterator[requests.Session]:
    session = requests.Session()
    yield session
    session.close()


@pytest.fixture(scope="session")
def client_class() -> type[ProtocolClient]:
    """The protocol client class (test modules get it here rather than importing conftest)."""
    return ProtocolClient


@pytest.fixture(scope="session")
def page_parser() -> Any:
    """Pure helpers of the client: parse_fitment, fit_blocks, strip_inert, parse_vehicle."""

    class Helpers:
        pass

    helpers = Helpers()
    for fn in (parse_fitment, fit_blocks, strip_inert, parse_vehicle, distinct, query, q):
        setattr(helpers, fn.__name__, staticmethod(fn))
    return helpers
