"""Names behind fitment items: a claimed fitment row holds two ids; the URL needs names.

Each vehicle has dozens of fitment items and each preference set thousands, so
the answers are cached (LRU + TTL) and a claim batch's misses are loaded with
one query per table.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from custom_wheel_offset.cache import TTLCache
from custom_wheel_offset.protocol.records import PreferenceSet, VehicleId
from custom_wheel_offset.storage.schema import preference_sets, vehicles

if TYPE_CHECKING:
    from custom_wheel_offset.storage.database import OptimizedDatabaseManager
    from custom_wheel_offset.storage.frontier import WorkItem

__all__ = ["FitmentResolver"]


class FitmentResolver:
    """Fills the names of claimed fitment items from two LRU + TTL caches.

    A vehicle's fitment items are inserted together, so they have neighbouring
    ids and are claimed together: its entry is needed for a few claims, then
    never again. The vehicle cache is therefore small (a cache as large as
    the catalogue grew the process by a kilobyte per vehicle for the whole
    crawl); preference sets are few and used throughout.
    """

    def __init__(
        self,
        db: OptimizedDatabaseManager,
        *,
        ttl: float,
        vehicles_max: int = 1_024,
        prefsets_max: int = 20_000,
    ) -> None:
        self.db = db
        self.vehicles: TTLCache[int, dict[str, Any]] = TTLCache(max_size=vehicles_max, ttl=ttl)
        self.prefsets: TTLCache[int, PreferenceSet] = TTLCache(max_size=prefsets_max, ttl=ttl)

    def resolve(self, items: Sequence[WorkItem]) -> None:
        """Fill ``item.extra`` of fitment items (left empty when a row has vanished)."""
        fitment_items = [i for i in items if i.kind == "fitment"]
        if not fitment_items:
            return
        vehicle_ids = {i.vehicle_id for i in fitment_items if i.vehicle_id is not None}
        prefset_ids = {i.prefset_id for i in fitment_items if i.prefset_id is not None}
        found_v: dict[int, dict[str, Any]] = {}
        found_p: dict[int, PreferenceSet] = {}
        for vid in vehicle_ids:
            cached_v = self.vehicles.get(vid)
            if cached_v is not None:
                found_v[vid] = cached_v
        for pid in prefset_ids:
            cached_p = self.prefsets.get(pid)
            if cached_p is not None:
                found_p[pid] = cached_p
        missing_v = [v for v in vehicle_ids if v not in found_v]
        missing_p = [p for p in prefset_ids if p not in found_p]
        if missing_v or missing_p:
            with self.db.read() as conn:
                if missing_v:
                    for row in conn.execute(
                        select(
                            vehicles.c.id,
                            vehicles.c.year,
                            vehicles.c.make,
                            vehicles.c.model,
                            vehicles.c.trim,
                            vehicles.c.drive,
                            vehicles.c.vehicle_type,
                            vehicles.c.chassis_id,
                        ).where(vehicles.c.id.in_(missing_v))
                    ):
                        found_v[row.id] = {
                            "vehicle": VehicleId(
                                row.year, row.make, row.model, row.trim, row.drive
                            ),
                            "vehicle_type": row.vehicle_type,
                            "chassis_id": row.chassis_id,
                        }
                        self.vehicles.set(row.id, found_v[row.id])
                if missing_p:
                    for prow in conn.execute(
                        select(
                            preference_sets.c.id,
                            preference_sets.c.suspension,
                            preference_sets.c.modification,
                            preference_sets.c.rubbing,
                        ).where(preference_sets.c.id.in_(missing_p))
                    ):
                        found_p[prow.id] = PreferenceSet(
                            prow.suspension, prow.modification, prow.rubbing
                        )
                        self.prefsets.set(prow.id, found_p[prow.id])
        for item in fitment_items:
            v = found_v.get(item.vehicle_id) if item.vehicle_id is not None else None
            p = found_p.get(item.prefset_id) if item.prefset_id is not None else None
            if v is not None and p is not None:
                item.extra = {**v, "prefs": p}

    def stats(self) -> dict[str, Any]:
        return {"vehicles": self.vehicles.stats(), "preference_sets": self.prefsets.stats()}
