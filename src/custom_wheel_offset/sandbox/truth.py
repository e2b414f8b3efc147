"""The ground truth of a sandbox catalogue, in the export format.

Computed from the catalogue's model, never by parsing a served body, and
written through :mod:`custom_wheel_offset.exporting.format`, so a correct
crawl exported with ``cwo export`` is byte-identical to ``cwo sandbox truth``.

The semantics are those a correct scraper implements:

* vehicles are every (year, make, model, trim, drive) reachable through the
  listings, each list de-duplicated; a model without trims is a leaf;
* a vehicle key served missing, ``null`` or ``""`` is ``None``; numbers
  served as strings are floats; the rear axle comes from the ``*Rear`` keys
  only when at least one of them has a value, otherwise it equals the front;
* one fitment record per vehicle and element of its type's
  suspension x trimming x rubbing; ``ok`` when the page has a fit-range
  block, else ``no_data`` with every number and the bolt pattern ``None``;
  a blank or missing range is ``None``; a full-size block holds for both axles;
  a bolt-pattern unit the page does not show is ``None``.

The vehicle's ``bolt_pattern_mm`` is the served millimetre pattern whether the
object carries it under ``boltpattern``, ``boltpatternMm`` or both (the model
keeps one value and one served form for it).

Records come out already in export order (the walk visits every level
sorted), so writing them streams in constant memory.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from custom_wheel_offset.exporting.format import (
    fitment_record,
    fitment_sort_key,
    jsonl_line,
    vehicle_record,
    vehicle_sort_key,
)
from custom_wheel_offset.protocol.records import (
    AxleRanges,
    AxleSpec,
    FitmentPage,
    VehicleSpec,
)
from custom_wheel_offset.sandbox.catalogue import (
    AXLE_KEYS,
    BLANK_MODES,
    BP_MODES,
    REAR_KEYS,
    STRING_FIELDS,
    Catalogue,
    FitBlock,
    FitmentModel,
    VehicleModel,
    build_catalogue,
)
from custom_wheel_offset.sandbox.config import SandboxConfig
from custom_wheel_offset.sandbox.removal import removed_vehicles

__all__ = [
    "TruthFiles",
    "fitment_page",
    "iter_fitment_records",
    "iter_vehicle_records",
    "truth_records",
    "vehicle_spec",
    "write_truth",
]

VEHICLES_FILE = "vehicles.jsonl"
FITMENTS_FILE = "fitments.jsonl"


def _value(vm: VehicleModel, key: str, value: Any, numeric: bool) -> Any:
    mode = vm.modes.get(key, "num" if numeric else "val")
    if mode in BLANK_MODES:
        return None
    return float(value) if numeric else value


def vehicle_spec(vm: VehicleModel) -> VehicleSpec:
    """What a correct parser reads from the vehicle's JSON."""
    front = AxleSpec(
        **{
            name: _value(vm, key, getattr(vm.front, name), name not in STRING_FIELDS)
            for name, key in AXLE_KEYS
        }
    )
    rear = front
    if vm.rear is not None:
        values = {
            name: _value(vm, key, getattr(vm.rear, name), name not in STRING_FIELDS)
            for name, key in REAR_KEYS
        }
        if any(v is not None for v in values.values()):
            rear = AxleSpec(**values)
    # a square car's rear_blanks are all null, "" or missing: no value, so rear = front
    return VehicleSpec(
        vehicle_type=vm.vehicle_type,
        chassis_id=vm.chassis_id,
        bolt_pattern_mm=_value(vm, "boltpattern", vm.bolt_mm, False),
        bolt_pattern_in=_value(vm, "boltpatternInches", vm.bolt_in, False),
        hub_bore_mm=_value(vm, "hub", vm.entry.hub, True),
        lug_type=_value(vm, "lugType", vm.entry.lug_type, False),
        lug_size=_value(vm, "lugSize", vm.entry.lug_size, False),
        front=front,
        rear=rear,
    )


def _axle_ranges(block: FitBlock) -> AxleRanges:
    return AxleRanges(*block.diameter.values, *block.width.values, *block.offset.values)


def fitment_page(fm: FitmentModel) -> FitmentPage:
    """What a correct parser reads from the fitment page drawn from ``fm``."""
    if not fm.blocks:
        return FitmentPage.no_data()
    front = _axle_ranges(fm.blocks[0])
    rear = _axle_ranges(fm.blocks[1]) if len(fm.blocks) > 1 else front
    # a unit the page does not show is null: a parser never converts units
    shows_mm, shows_in = BP_MODES[fm.bp_mode]
    bolt_mm = fm.bolt_mm if shows_mm else None
    bolt_in = fm.bolt_in if shows_in else None
    return FitmentPage("ok", bolt_mm, bolt_in, front, rear)


def _catalogue(config: SandboxConfig | Catalogue) -> Catalogue:
    if isinstance(config, Catalogue):
        return config
    return build_catalogue(config.size, config.seed, config.edition)


def _present(config: SandboxConfig | Catalogue, catalogue: Catalogue) -> Iterator[VehicleModel]:
    """The catalogue's vehicles less those ``config.remove_vehicles`` withdraws."""
    count = config.remove_vehicles if isinstance(config, SandboxConfig) else 0
    removed = removed_vehicles(catalogue, count)
    for vm in catalogue.iter_vehicles():
        if vm.vid not in removed:
            yield vm


def iter_vehicle_records(config: SandboxConfig | Catalogue) -> Iterator[dict[str, Any]]:
    """Vehicle export records, in export order."""
    for vm in _present(config, _catalogue(config)):
        yield vehicle_record(vm.vid, vehicle_spec(vm))


def iter_fitment_records(config: SandboxConfig | Catalogue) -> Iterator[dict[str, Any]]:
    """Fitment export records, in export order."""
    catalogue = _catalogue(config)
    for vm in _present(config, catalogue):
        opts = vm.options
        for prefs in sorted(opts.preference_sets()):
            index = (
                opts.suspension.index(prefs.suspension),
                opts.trimming.index(prefs.modification),
                opts.rubbing.index(prefs.rubbing),
            )
            page = fitment_page(catalogue.fitment(vm, index))
            yield fitment_record(vm.vid, prefs, page)


def truth_records(
    config: SandboxConfig | Catalogue,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(vehicle records, fitment records), each sorted by the export sort keys."""
    vehicles = sorted(iter_vehicle_records(config), key=vehicle_sort_key)
    fitments = sorted(iter_fitment_records(config), key=fitment_sort_key)
    return vehicles, fitments


@dataclass(frozen=True, slots=True)
class TruthFiles:
    """Where the truth was written and how many records each file holds."""

    vehicles_path: Path
    fitments_path: Path
    vehicles: int
    fitments: int


def _write_lines(path: Path, records: Iterator[dict[str, Any]]) -> int:
    tmp = path.with_name(path.name + ".tmp")
    count = 0
    with tmp.open("w", encoding="utf-8", newline="") as out:
        for record in records:
            out.write(jsonl_line(record))
            count += 1
    os.replace(tmp, path)
    return count


def write_truth(config: SandboxConfig | Catalogue, out_dir: str | os.PathLike[str]) -> TruthFiles:
    """Write ``out_dir/vehicles.jsonl`` and ``out_dir/fitments.jsonl`` (UTF-8, sorted)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    vehicles_path = out / VEHICLES_FILE
    fitments_path = out / FITMENTS_FILE
    n_vehicles = _write_lines(vehicles_path, iter_vehicle_records(config))
    n_fitments = _write_lines(fitments_path, iter_fitment_records(config))
    return TruthFiles(vehicles_path, fitments_path, n_vehicles, n_fitments)
