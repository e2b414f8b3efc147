"""ItemHandler on real parts: the tiny sandbox over HTTP on loopback, the real network manager.

One handler turns one claimed item into its outcome; nothing here touches a
database (the handler never does). Expected values come from the sandbox's
catalogue and ground truth, never from the handler's own parsers.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from custom_wheel_offset.crawl.items import ItemHandler, root_item
from custom_wheel_offset.metrics.counters import Counters
from custom_wheel_offset.net.network import OptimizedNetworkManager
from custom_wheel_offset.sandbox.catalogue import Catalogue, VehicleModel
from custom_wheel_offset.sandbox.server import RunningSandbox
from custom_wheel_offset.sandbox.truth import fitment_page
from custom_wheel_offset.storage.frontier import ItemFilter, WorkItem
from custom_wheel_offset.work import FitmentResult, FitmentTarget, VehicleResult

from .conftest import settings_for


@pytest.fixture(scope="module")
def handler(sandbox: RunningSandbox) -> Iterator[ItemHandler]:
    settings = settings_for(sandbox)
    network = OptimizedNetworkManager(settings, Counters())
    yield ItemHandler(settings, network, Counters(), ItemFilter())
    network.close()


def _work(item_id: int, key: str, kind: str, params: dict, **more: object) -> WorkItem:
    return WorkItem(id=item_id, key=key, kind=kind, params=params, attempts=0, **more)  # type: ignore[arg-type]


def _first_vehicle(catalogue: Catalogue) -> VehicleModel:
    return next(iter(catalogue.iter_vehicles()))


def test_the_root_lists_every_year_as_a_makes_item(
    handler: ItemHandler, catalogue: Catalogue
) -> None:
    root = root_item()
    outcome = handler.handle(_work(1, root.key, root.kind, root.params))
    assert outcome.status == "done" and outcome.item_id == 1
    years = set(catalogue.years())
    assert {vm.vid.year for vm in catalogue.iter_vehicles()} <= years
    assert {c.kind for c in outcome.children} == {"makes"}
    assert {c.year for c in outcome.children} == years
    assert outcome.listed == {c.key for c in outcome.children}
    assert years <= handler.listed["year"]


def test_a_vehicle_item_yields_its_record_and_its_types_options_item(
    handler: ItemHandler, catalogue: Catalogue
) -> None:
    vm = _first_vehicle(catalogue)
    v = vm.vid
    params = {"year": v.year, "make": v.make, "model": v.model, "trim": v.trim, "drive": v.drive}
    outcome = handler.handle(_work(7, "vehicle/x", "vehicle", {**params, "model_types": []}))
    assert outcome.status == "done", outcome.error
    assert isinstance(outcome.result, VehicleResult)
    assert outcome.result.vehicle == v
    assert outcome.result.spec.vehicle_type == vm.vehicle_type
    assert [c.kind for c in outcome.children] == ["options"]


def test_a_fitment_item_fetches_what_its_typed_target_names(
    handler: ItemHandler, catalogue: Catalogue
) -> None:
    vm = _first_vehicle(catalogue)
    opts = vm.options
    prefs = sorted(opts.preference_sets())[0]
    index = (
        opts.suspension.index(prefs.suspension),
        opts.trimming.index(prefs.modification),
        opts.rubbing.index(prefs.rubbing),
    )
    target = FitmentTarget(vm.vid, vm.vehicle_type, vm.chassis_id, prefs)
    item = _work(9, "fitment/1/2", "fitment", {}, vehicle_id=11, prefset_id=12, target=target)
    outcome = handler.handle(item)
    assert outcome.status == "done", outcome.error
    assert isinstance(outcome.result, FitmentResult)
    assert (outcome.result.vehicle_id, outcome.result.prefset_id) == (11, 12)
    assert outcome.result.page == fitment_page(catalogue.fitment(vm, index))


def test_a_fitment_item_without_a_target_fails_with_its_reason_and_no_request(
    handler: ItemHandler, sandbox: RunningSandbox
) -> None:
    before = sandbox.counters()["total_requests"]
    outcome = handler.handle(_work(3, "fitment/5/6", "fitment", {}, vehicle_id=5, prefset_id=6))
    assert outcome.status == "failed"
    assert outcome.code is not None
    assert "no longer exists" in (outcome.error or "")
    assert sandbox.counters()["total_requests"] == before


def test_a_vehicle_the_site_does_not_have_is_this_items_failure_not_the_runs(
    handler: ItemHandler,
) -> None:
    params = {"year": 2023, "make": "Nope", "model": "None", "trim": "X", "drive": "FWD"}
    outcome = handler.handle(_work(4, "vehicle/nope", "vehicle", {**params, "model_types": []}))
    assert outcome.status in ("failed", "retry")
    assert outcome.code is not None and outcome.result is None
