"""What each kind of work item means: its URL, its parser, its results and children.

One :class:`ItemHandler` turns a claimed :class:`WorkItem` into an
:class:`Outcome` for the writer. It runs on a worker thread and does its I/O
only through the network manager. The kinds, from the root down:

========== ============================================ ==============================
kind       request                                      yields
========== ============================================ ==============================
years      ``{api}/``                                   makes items
makes      ``{api}/{year}``                             models items
models     ``{api}/{year}/{make}``                      model_info items
model_info ``{api}/{year}/{make}/{model}``              drives items (one per trim)
drives     ``{api}/offsetguide/.../trim/{trim}/drives`` vehicle items
vehicle    ``{api}/{year}/{make}/{model}/{trim}/{drive}`` the vehicle; its type's
                                                        options item
options    select + 3 option lists on the store         the type's preference sets
fitment    ``{store}/store/wheels?...``                 the fitment record
========== ============================================ ==============================

Fitment items are not children of one response: the writer fans them out when
a vehicle or its type's preference sets arrive (``storage.writer``).
"""

from __future__ import annotations

import dataclasses
import logging
import random
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from custom_wheel_offset.errors import (
    ChallengeError,
    CwoError,
    FetchError,
    ParseError,
    PermanentFetchError,
    RunInterrupted,
    TransientFetchError,
    TruncatedBodyError,
    failure_code,
)
from custom_wheel_offset.protocol import api, store, urls
from custom_wheel_offset.protocol.records import PreferenceOptions, VehicleId
from custom_wheel_offset.storage.frontier import ItemFilter, NewItem, WorkItem
from custom_wheel_offset.storage.gone import GONE_CODES
from custom_wheel_offset.work import FitmentResult, OptionsResult, Outcome, VehicleResult

if TYPE_CHECKING:
    from custom_wheel_offset.metrics.counters import Counters
    from custom_wheel_offset.net.network import OptimizedNetworkManager
    from custom_wheel_offset.settings import Settings

__all__ = ["ItemHandler", "root_item"]

log = logging.getLogger(__name__)


def _key(kind: str, *parts: object) -> str:
    # Percent-encoding every part keeps keys unique whatever the names hold.
    return "/".join([kind, *(quote(str(p), safe="") for p in parts)])


def root_item() -> NewItem:
    return NewItem(key="years", kind="years", params={})


def vehicle_item(vehicle: VehicleId, model_types: list[str]) -> NewItem:
    v = vehicle
    return NewItem(
        key=_key("vehicle", v.year, v.make, v.model, v.trim, v.drive),
        kind="vehicle",
        params={
            "year": v.year,
            "make": v.make,
            "model": v.model,
            "trim": v.trim,
            "drive": v.drive,
            "model_types": model_types,
        },
        year=v.year,
        make=v.make,
        model=v.model,
    )


class ItemHandler:
    """Fetch, parse and judge one work item (thread-safe; holds no per-item state)."""

    def __init__(
        self,
        settings: Settings,
        network: OptimizedNetworkManager,
        counters: Counters,
        item_filter: ItemFilter,
    ) -> None:
        self.settings = settings
        self.network = network
        self.counters = counters
        self.filter = item_filter
        # Every year, make and model the listings named, admitted by the filter or
        # not: a filter value that matches none of them is reported after the run.
        self.listed: dict[str, set[Any]] = {"year": set(), "make": set(), "model": set()}
        self.api = settings.api_base.rstrip("/")
        self.store = settings.store_base.rstrip("/")
        self._handlers = {
            "years": self._years,
            "makes": self._makes,
            "models": self._models,
            "model_info": self._model_info,
            "drives": self._drives,
            "vehicle": self._vehicle,
            "options": self._options,
            "fitment": self._fitment,
        }
        # One mapping per request kind, built once: the network's per-path header
        # cache keys on its contents, and the fitment pages send none.
        self._headers = {
            kind: urls.request_headers(kind, self.store)
            for kind in (*urls.API_KINDS, *urls.YMM_KINDS)
        }

    def handle(self, item: WorkItem) -> Outcome:
        """The outcome of one item; whatever handling it raises becomes its retry/failed/release.

        Only stopping the run (:class:`RunInterrupted`, and ``BaseException``s
        such as ``KeyboardInterrupt``, never caught here) leaves the item
        untouched. Any other exception, ours or not (a ``RecursionError`` on a
        page nested too deep, a ``ValueError`` from a library), is this item's
        failure: recorded with its code, and the run goes on.
        """
        try:
            return self._handlers[item.kind](item)
        except ChallengeError as exc:
            # The host that challenged or refused: the store, or the fitment API.
            paused_until = self.network.paused_until(exc.url or self.store)
            self.counters.incr(f"items/challenged/{item.kind}")
            return Outcome(
                item.id,
                item.kind,
                "release",
                error=f"bot challenge: {exc.message}",
                not_before=paused_until or time.time() + 5.0,
            )
        except RunInterrupted:
            # The run is stopping and woke this request from a backoff: give it back untouched.
            return Outcome(item.id, item.kind, "release", error="run stopped")
        except (TransientFetchError, TruncatedBodyError) as exc:
            # The network layer already retried these; the item comes back later.
            return self._retry_or_fail(item, exc)
        except (PermanentFetchError, ParseError, FetchError) as exc:
            return self._fail(item, exc)
        except Exception as exc:  # one item's failure, whatever its class
            log.debug("%s: handling raised", item.key, exc_info=True)
            return self._fail(item, exc)

    def _fail(self, item: WorkItem, exc: BaseException, attempts: int | None = None) -> Outcome:
        code, reason = failure_code(exc), _reason(exc)
        after = f" after {attempts} item attempts" if attempts is not None else ""
        if code in GONE_CODES:
            # The writer decides: gone if this URL worked in an earlier crawl, else failed.
            log.info("%s answered %s%s: %s", item.key, code, after, reason)
        else:
            log.warning("%s failed%s [%s]: %s", item.key, after, code, reason)
        return Outcome(item.id, item.kind, "failed", error=reason, code=code)

    def _retry_or_fail(self, item: WorkItem, exc: CwoError) -> Outcome:
        attempts = item.attempts + 1
        if attempts >= self.settings.item_attempts:
            return self._fail(item, exc, attempts)
        # Later, not now: rescheduling at once is what turns a bad minute into a retry storm.
        delay = min(600.0, 15.0 * 2**item.attempts) * random.uniform(0.5, 1.0)
        return Outcome(
            item.id,
            item.kind,
            "retry",
            error=_reason(exc),
            not_before=time.time() + delay,
            code=failure_code(exc),
        )

    def _get(self, url: str, kind: str, parse: Any = None) -> Any:
        """``network.get`` with the headers the site's own pages send for ``kind``."""
        return self.network.get(url, kind, parse, headers=self._headers.get(kind))

    # -- the vehicle tree -------------------------------------------------------------------

    def _listing(self, item: WorkItem, listed: list[NewItem]) -> Outcome:
        """A listing's outcome: the children the run's filter admits, and every key listed
        (a child the site still lists but the filter leaves out is not gone)."""
        children = [c for c in listed if self.filter.admits(c.year, c.make, c.model)]
        keys = frozenset(c.key for c in listed)
        return Outcome(item.id, item.kind, "done", children=children, listed=keys)

    def _years(self, item: WorkItem) -> Outcome:
        years = self._get(urls.years_url(self.api), kind="years", parse=api.parse_years)
        self.listed["year"].update(years)
        listed = [NewItem(_key("makes", y), "makes", {"year": y}, year=y) for y in years]
        return self._listing(item, listed)

    def _makes(self, item: WorkItem) -> Outcome:
        year = item.params["year"]
        makes = self._get(urls.makes_url(self.api, year), kind="makes", parse=_names("makes"))
        self.listed["make"].update(makes)
        listed = [
            NewItem(_key("models", year, m), "models", {"year": year, "make": m}, year=year, make=m)
            for m in makes
        ]
        return self._listing(item, listed)

    def _models(self, item: WorkItem) -> Outcome:
        year, make = item.params["year"], item.params["make"]
        models = self._get(
            urls.models_url(self.api, year, make), kind="models", parse=_names("models")
        )
        self.listed["model"].update(models)
        listed = [
            NewItem(
                _key("model_info", year, make, m),
                "model_info",
                {"year": year, "make": make, "model": m},
                year=year,
                make=make,
                model=m,
            )
            for m in models
        ]
        return self._listing(item, listed)

    def _model_info(self, item: WorkItem) -> Outcome:
        p = item.params
        info = self._get(
            urls.model_info_url(self.api, p["year"], p["make"], p["model"]),
            kind="model_info",
            parse=api.parse_model_info,
        )
        if not info.trims:
            self.counters.incr("tree/models_without_trims")
        children = [
            NewItem(
                _key("drives", p["year"], p["make"], p["model"], trim),
                "drives",
                {**p, "trim": trim, "model_types": list(info.vehicle_types)},
                year=p["year"],
                make=p["make"],
                model=p["model"],
            )
            for trim in info.trims
        ]
        return self._listing(item, children)

    def _drives(self, item: WorkItem) -> Outcome:
        p = item.params
        drives = self._get(
            urls.drives_url(self.api, p["year"], p["make"], p["model"], p["trim"]),
            kind="drives",
            parse=_names("drives"),
        )
        children = [
            vehicle_item(
                VehicleId(p["year"], p["make"], p["model"], p["trim"], d), p.get("model_types", [])
            )
            for d in drives
        ]
        return self._listing(item, children)

    # -- records ----------------------------------------------------------------------------

    def _vehicle(self, item: WorkItem) -> Outcome:
        p = item.params
        vehicle = VehicleId(p["year"], p["make"], p["model"], p["trim"], p["drive"])
        spec = self._get(
            urls.vehicle_url(self.api, vehicle), kind="vehicle", parse=api.parse_vehicle
        )
        model_types = p.get("model_types") or []
        if spec.vehicle_type is None and len(model_types) == 1:
            # The model says what the vehicle is when the vehicle itself does not.
            spec = dataclasses.replace(spec, vehicle_type=model_types[0])
        children: list[NewItem] = []
        if spec.vehicle_type is None:
            self.counters.incr("records/vehicle_without_type")
            log.warning("%s has no vehicle type: no preference sets, no fitments", item.key)
        else:
            children.append(
                NewItem(
                    _key("options", spec.vehicle_type),
                    "options",
                    {
                        "vehicle_type": spec.vehicle_type,
                        "vehicle": [
                            vehicle.year,
                            vehicle.make,
                            vehicle.model,
                            vehicle.trim,
                            vehicle.drive,
                        ],
                        "chassis_id": spec.chassis_id,
                    },
                )
            )
        return Outcome(
            item.id, item.kind, "done", result=VehicleResult(vehicle, spec), children=children
        )

    def _options(self, item: WorkItem) -> Outcome:
        p = item.params
        vtype = p["vehicle_type"]
        vehicle = VehicleId(*p["vehicle"])
        # The store answers options for the vehicle this session selected last,
        # so select and the three questions go through this thread's own session.
        self._get(
            urls.select_vehicle_url(self.store, vehicle, vtype, p.get("chassis_id")), kind="select"
        )
        lists = {
            which: self._get(
                urls.options_url(self.store, vtype, which),
                kind=which,
                parse=_options_parser(which),
            )
            for which in ("suspension", "trimming", "rubbing")
        }
        options = PreferenceOptions(lists["suspension"], lists["trimming"], lists["rubbing"])
        return Outcome(item.id, item.kind, "done", result=OptionsResult(vtype, options))

    def _fitment(self, item: WorkItem) -> Outcome:
        t = item.target
        if t is None:
            raise PermanentFetchError(
                f"fitment item {item.key} names a vehicle or preference set that no longer exists"
            )
        url = urls.fitment_url(self.store, t.vehicle, t.vehicle_type, t.chassis_id, t.prefs)
        page = self._get(url, kind="fitment", parse=store.parse_fitment_page)
        assert item.vehicle_id is not None and item.prefset_id is not None
        return Outcome(
            item.id,
            item.kind,
            "done",
            result=FitmentResult(item.vehicle_id, item.prefset_id, page),
        )


# Longest stored reason: the class and the start of the message (a message of a
# foreign exception may quote a whole body).
MAX_REASON_CHARS = 500


def _reason(exc: BaseException) -> str:
    """``Class: message``, short: what the item's row and `cwo status` show."""
    message = exc.message if isinstance(exc, CwoError) else str(exc)
    reason = f"{type(exc).__name__}: {message}" if message else type(exc).__name__
    if len(reason) > MAX_REASON_CHARS:
        reason = reason[: MAX_REASON_CHARS - 3] + "..."
    return reason


def _names(what: str) -> Any:
    def parse(body: bytes) -> list[str]:
        return api.parse_names(body, what)

    return parse


def _options_parser(which: str) -> Any:
    def parse(body: bytes) -> tuple[str, ...]:
        return store.parse_options(body, which)

    return parse
