"""What a claimed fitment item names, read in the claim's own transaction.

A fitment row stores only a vehicle id and a preference-set id (both tables
are large and shared by thousands of items); the request needs the names
behind them. One joined query per claim batch reads them, so workers get a
typed :class:`~custom_wheel_offset.work.FitmentTarget` and nothing in the
crawl goes back to the database for names.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from sqlalchemy import select

from custom_wheel_offset.protocol.records import PreferenceSet, VehicleId
from custom_wheel_offset.storage.schema import frontier, preference_sets, vehicles
from custom_wheel_offset.work import FitmentTarget

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from custom_wheel_offset.storage.frontier import WorkItem

__all__ = ["fill_fitment_targets"]


def fill_fitment_targets(conn: Connection, items: Sequence[WorkItem]) -> list[WorkItem]:
    """Set ``target`` on the fitment items of ``items`` and return ``items``.

    An item whose vehicle or preference set has vanished, or whose vehicle has
    no type, keeps ``target=None``: its handler fails it with that reason.
    """
    ids = [i.id for i in items if i.kind == "fitment"]
    if not ids:
        return list(items)
    query = (
        select(
            frontier.c.id,
            vehicles.c.year,
            vehicles.c.make,
            vehicles.c.model,
            vehicles.c.trim,
            vehicles.c.drive,
            vehicles.c.vehicle_type,
            vehicles.c.chassis_id,
            preference_sets.c.suspension,
            preference_sets.c.modification,
            preference_sets.c.rubbing,
        )
        .select_from(
            frontier.join(vehicles, vehicles.c.id == frontier.c.vehicle_id).join(
                preference_sets, preference_sets.c.id == frontier.c.prefset_id
            )
        )
        .where(frontier.c.id.in_(ids))
    )
    targets = {
        row.id: FitmentTarget(
            vehicle=VehicleId(row.year, row.make, row.model, row.trim, row.drive),
            vehicle_type=row.vehicle_type,
            chassis_id=row.chassis_id,
            prefs=PreferenceSet(row.suspension, row.modification, row.rubbing),
        )
        for row in conn.execute(query)
        if row.vehicle_type is not None
    }
    for item in items:
        item.target = targets.get(item.id)
    return list(items)
