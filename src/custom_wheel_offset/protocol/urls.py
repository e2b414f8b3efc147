"""Every URL cwo requests, built from values: pure functions, no I/O.

The site's names travel exactly as served (case, inner and outer spaces,
punctuation, non-ASCII letters), so every path segment and every query value
is percent-encoded with *nothing* left safe: a model ``F-250/350 Super Duty``
becomes ``F-250%2F350%20Super%20Duty``, never a raw ``/`` that the server
would read as two segments. Query parameters keep the order the site uses.

Both base URLs are configurable (live site or local sandbox); a trailing
``/`` on a base is dropped so that ``{base}/...`` never doubles it.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from typing import Final
from urllib.parse import quote

from custom_wheel_offset.protocol.records import PreferenceSet, VehicleId

__all__ = [
    "API_KINDS",
    "OPTION_KINDS",
    "YMM_KINDS",
    "drives_url",
    "fitment_url",
    "makes_url",
    "model_info_url",
    "models_url",
    "options_url",
    "request_headers",
    "select_vehicle_url",
    "vehicle_url",
    "years_url",
]

#: The three preference questions, and the query flag that asks each one.
OPTION_KINDS: Final[dict[str, str]] = {
    "suspension": "getSuspension",
    "trimming": "getTrimming",
    "rubbing": "getRubbing",
}


def _base(url: str) -> str:
    # Bases come from settings; "https://x/" and "https://x" must give the same URLs.
    return url.rstrip("/")


@lru_cache(maxsize=8192)
def _encoded(text: str) -> str:
    """``text`` percent-encoded with nothing left safe.

    Cached: a vehicle's names and the preference values recur in every one of
    its dozens of fitment URLs, and quoting is most of building a URL.
    """
    return quote(text, safe="")


def _segment(value: object) -> str:
    text = str(value)
    if not text:
        # An empty segment would produce "//", which servers collapse into a
        # different resource; the parsers never produce empty names, so this is a bug.
        raise ValueError("an empty name cannot be a URL path segment")
    return _encoded(text)


def _path(base: str, *segments: object) -> str:
    return "/".join([_base(base), *(_segment(s) for s in segments)])


def _query(params: Sequence[tuple[str, object]]) -> str:
    # A sequence of pairs (not a dict) keeps the site's parameter order explicit.
    # Byte for byte what urlencode(..., quote_via=quote, safe="") gives.
    return "&".join(f"{_encoded(k)}={_encoded(str(v))}" for k, v in params)


def years_url(api_base: str) -> str:
    """``{api}/``: the list of model years."""
    return f"{_base(api_base)}/"


def makes_url(api_base: str, year: int) -> str:
    """``{api}/{year}``: the makes of one year."""
    return _path(api_base, year)


def models_url(api_base: str, year: int, make: str) -> str:
    """``{api}/{year}/{make}``: the models of one make in one year."""
    return _path(api_base, year, make)


def model_info_url(api_base: str, year: int, make: str, model: str) -> str:
    """``{api}/{year}/{make}/{model}``: vehicle types, drives and trims of one model."""
    return _path(api_base, year, make, model)


def drives_url(api_base: str, year: int, make: str, model: str, trim: str) -> str:
    """``{api}/offsetguide/{year}/{make}/{model}/trim/{trim}/drives``: drives of one trim."""
    base = _path(api_base, "offsetguide", year, make, model, "trim", trim)
    return f"{base}/drives"


def vehicle_url(api_base: str, vehicle: VehicleId) -> str:
    """``{api}/{year}/{make}/{model}/{trim}/{drive}``: one vehicle's specifications."""
    return _path(api_base, vehicle.year, vehicle.make, vehicle.model, vehicle.trim, vehicle.drive)


def select_vehicle_url(
    store_base: str, vehicle: VehicleId, vehicle_type: str, chassis_id: str | None
) -> str:
    """The store request that makes the session cookie select one vehicle.

    ``chassis`` is sent empty when the vehicle has no chassis id (the store
    still expects the parameter).
    """
    params: list[tuple[str, object]] = [
        ("store", "wheels"),
        ("type", "set"),
        ("vehicle_type", vehicle_type),
        ("year", vehicle.year),
        ("make", vehicle.make),
        ("model", vehicle.model),
        ("trim", vehicle.trim),
        ("drive", vehicle.drive),
        ("chassis", "" if chassis_id is None else chassis_id),
    ]
    return f"{_base(store_base)}/api/ymm-temp.php?{_query(params)}"


def options_url(store_base: str, vehicle_type: str, which: str) -> str:
    """The store request for one preference question of the selected vehicle.

    ``which`` is ``"suspension"``, ``"trimming"`` or ``"rubbing"``; anything
    else is a programming error (``ValueError``).
    """
    try:
        flag = OPTION_KINDS[which]
    except KeyError:
        raise ValueError(
            f"unknown option kind {which!r}; expected one of {', '.join(OPTION_KINDS)}"
        ) from None
    params: list[tuple[str, object]] = [
        ("type", "set"),
        ("vehicle_type", vehicle_type),
        ("store", "wheels"),
        (flag, "true"),
    ]
    return f"{_base(store_base)}/api/ymm-temp.php?{_query(params)}"


def fitment_url(
    store_base: str,
    vehicle: VehicleId,
    vehicle_type: str,
    chassis_id: str | None,
    prefs: PreferenceSet,
) -> str:
    """The store page with the fitment ranges of one vehicle with one preference set."""
    params: list[tuple[str, object]] = [
        ("sort", "instock"),
        ("saleToggle", "0"),
        ("qdToggle", "0"),
        ("year", vehicle.year),
        ("make", vehicle.make),
        ("model", vehicle.model),
        ("trim", vehicle.trim),
        ("drive", vehicle.drive),
        ("DRChassisID", "" if chassis_id is None else chassis_id),
        ("vehicle_type", vehicle_type),
        ("suspension", prefs.suspension),
        ("modification", prefs.modification),
        ("rubbing", prefs.rubbing),
    ]
    return f"{_base(store_base)}/store/wheels?{_query(params)}"


#: Kinds of request sent to the fitment API (everything of the vehicle tree).
API_KINDS: Final = frozenset({"years", "makes", "models", "model_info", "drives", "vehicle"})
#: Kinds of request the store's own page sends to ``api/ymm-temp.php`` as an XHR.
YMM_KINDS: Final = frozenset({"select", *OPTION_KINDS})


def request_headers(kind: str, store_base: str) -> dict[str, str]:
    """The headers the site's own pages send with a request of ``kind``, beyond cwo's own.

    Section 5 of the protocol notes: the store page calls ``api/ymm-temp.php``
    (``select`` and the three option lists) as an XHR, with
    ``X-Requested-With: XMLHttpRequest`` and the store page as ``Referer``;
    fitment-API calls carry the store's ``Referer``. Fitment pages and
    robots.txt need none. Never a ``User-Agent``: cwo does not disguise itself.
    """
    base = _base(store_base)
    if kind in YMM_KINDS:
        return {"X-Requested-With": "XMLHttpRequest", "Referer": f"{base}/store/wheels"}
    if kind in API_KINDS:
        return {"Referer": f"{base}/"}
    return {}
