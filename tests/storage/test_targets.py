"""A claim hands fitment items their typed target, read in the claim's own transaction."""

from __future__ import annotations

import time

from sqlalchemy import insert

from custom_wheel_offset.protocol.records import PreferenceSet, VehicleId
from custom_wheel_offset.storage.database import OptimizedDatabaseManager
from custom_wheel_offset.storage.frontier import Frontier, ItemFilter
from custom_wheel_offset.storage.schema import frontier, preference_sets, vehicles
from custom_wheel_offset.work import FitmentTarget

VEHICLE = VehicleId(2024, "Ford", "F-150", "XLT 4dr Crew Cab", "4WD")
PREFS = PreferenceSet("Leveling Kit", "Minor Plastic Trimming", "Slight Rubbing")


def _seed(db: OptimizedDatabaseManager) -> tuple[int, int]:
    now = time.time()
    v = VEHICLE
    with db.begin() as conn:
        vid = conn.execute(
            insert(vehicles).values(
                year=v.year,
                make=v.make,
                model=v.model,
                trim=v.trim,
                drive=v.drive,
                vehicle_type="Truck",
                chassis_id="P702",
                raw_json="{}",
                fetched_at=now,
            )
        ).inserted_primary_key[0]
        pid = conn.execute(
            insert(preference_sets).values(
                vehicle_type="Truck",
                suspension=PREFS.suspension,
                modification=PREFS.modification,
                rubbing=PREFS.rubbing,
            )
        ).inserted_primary_key[0]
        rows = [
            {"key": "fitment/ok", "kind": "fitment", "vehicle_id": vid, "prefset_id": pid},
            # A vehicle id no row has (deleted meanwhile): no target, the handler says why.
            {"key": "fitment/lost", "kind": "fitment", "vehicle_id": vid + 1000, "prefset_id": pid},
            {"key": "makes/2024", "kind": "makes", "vehicle_id": None, "prefset_id": None},
        ]
        conn.execute(insert(frontier), [{**r, "updated_at": now} for r in rows])
    return vid, pid


def test_fitment_items_carry_names_type_chassis_and_preferences(
    db: OptimizedDatabaseManager,
) -> None:
    vid, pid = _seed(db)
    claimed = Frontier(db, "me:1:aaaa", 60).claim(["fitment", "makes"], 10, ItemFilter())
    by_key = {item.key: item for item in claimed}
    assert set(by_key) == {"fitment/ok", "fitment/lost", "makes/2024"}
    assert by_key["fitment/ok"].target == FitmentTarget(VEHICLE, "Truck", "P702", PREFS)
    assert (by_key["fitment/ok"].vehicle_id, by_key["fitment/ok"].prefset_id) == (vid, pid)
    assert by_key["fitment/lost"].target is None
    assert by_key["makes/2024"].target is None
