"""What a claimed fitment item names, read in the claim's own transaction.

A fitment row stores only a vehicle id and a preference-set id (both tables
are large and shared by thousands of items); the request needs the names
behind them. One joined query per claim batch reads them, so workers get a
typed :class:`~custom_wheel_offset.work.FitmentTarget` and nothing in the
crawl goes back to the database for names.

Preference sets are a few dozen rows that every claim names again, and a set's
id always names the same three strings: they come from an LRU + TTL cache
(``PreferenceSetCache``), whose hit rate is the run's metrics ``cache`` section.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from sqlalchemy import select

from custom_wheel_offset.cache import TTLCache
from custom_wheel_offset.protocol.records import PreferenceSet, VehicleId
from custom_wheel_offset.storage.schema import preference_sets, vehicles
from custom_wheel_offset.work import FitmentTarget

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from custom_wheel_offset.storage.frontier import WorkItem

__all__ = ["PreferenceSetCache", "fill_fitment_targets"]

#: preference-set id -> its three option strings
PreferenceSetCache = TTLCache[int, PreferenceSet]


def _preference_sets(
    conn: Connection, ids: set[int], cache: PreferenceSetCache
) -> dict[int, PreferenceSet]:
    """The preference sets of ``ids``: cached ones from ``cache``, the rest read (and cached)."""
    found = {i: p for i in ids if (p := cache.get(i)) is not None}
    missing = ids - found.keys()
    if missing:
        query = select(
            preference_sets.c.id,
            preference_sets.c.suspension,
            preference_sets.c.modification,
            preference_sets.c.rubbing,
        ).where(preference_sets.c.id.in_(sorted(missing)))
        for row in conn.execute(query):
            found[row.id] = PreferenceSet(row.suspension, row.modification, row.rubbing)
            cache.set(row.id, found[row.id])
    return found


def fill_fitment_targets(
    conn: Connection, items: Sequence[WorkItem], cache: PreferenceSetCache | None = None
) -> list[WorkItem]:
    """Set ``target`` on the fitment items of ``items`` and return ``items``.

    An item whose vehicle or preference set has vanished, or whose vehicle has
    no type, keeps ``target=None``: its handler fails it with that reason.
    """
    fitment_items = [i for i in items if i.kind == "fitment" and i.vehicle_id is not None]
    if not fitment_items:
        return list(items)
    # By vehicle, not by item: a claim's items are consecutive ids, which the
    # fan-out gives to one vehicle's preference sets, so a claim of dozens of
    # items names one or two vehicles (each row read gives up the GIL once).
    query = select(
        vehicles.c.id,
        vehicles.c.year,
        vehicles.c.make,
        vehicles.c.model,
        vehicles.c.trim,
        vehicles.c.drive,
        vehicles.c.vehicle_type,
        vehicles.c.chassis_id,
    ).where(
        vehicles.c.id.in_(sorted({i.vehicle_id for i in fitment_items if i.vehicle_id})),
        vehicles.c.vehicle_type.is_not(None),
    )
    by_vehicle = {row.id: row for row in conn.execute(query).all()}
    prefs = _preference_sets(
        conn,
        {i.prefset_id for i in fitment_items if i.prefset_id is not None},
        cache if cache is not None else PreferenceSetCache(),
    )
    for item in fitment_items:
        row = by_vehicle.get(item.vehicle_id)
        pref = prefs.get(item.prefset_id) if item.prefset_id is not None else None
        if row is None or pref is None:
            continue
        item.target = FitmentTarget(
            vehicle=VehicleId(row.year, row.make, row.model, row.trim, row.drive),
            vehicle_type=row.vehicle_type,
            chassis_id=row.chassis_id,
            prefs=pref,
        )
    return list(items)
