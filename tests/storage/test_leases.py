"""Lease renewal and expiry on a real SQLite file (PostgreSQL: tests/postgres/test_pg_storage.py).

No sleeping: an expired lease is made by moving ``lease_expires`` into the past.
"""

from __future__ import annotations

import time

from sqlalchemy import select, update

from custom_wheel_offset.storage.database import OptimizedDatabaseManager
from custom_wheel_offset.storage.frontier import Frontier, ItemFilter, NewItem
from custom_wheel_offset.storage.schema import frontier


def _seed(db: OptimizedDatabaseManager, n: int) -> None:
    now = time.time()
    items = [NewItem(key=f"v{i}", kind="vehicle", params={}) for i in range(n)]
    with db.begin() as conn:
        conn.execute(db.insert_ignore(frontier), [i.row(now) for i in items])


def _leases(db: OptimizedDatabaseManager) -> dict[int, tuple[str | None, str, float | None]]:
    with db.read() as conn:
        rows = conn.execute(
            select(
                frontier.c.id, frontier.c.lease_owner, frontier.c.status, frontier.c.lease_expires
            )
        ).all()
    return {r.id: (r.lease_owner, r.status, r.lease_expires) for r in rows}


def _expire_all(db: OptimizedDatabaseManager) -> None:
    with db.begin() as conn:
        conn.execute(update(frontier).values(lease_expires=time.time() - 1))


def test_renew_extends_only_this_owners_leases(db: OptimizedDatabaseManager) -> None:
    _seed(db, 4)
    mine = Frontier(db, owner="me:1:aaaa", lease_seconds=600)
    other = Frontier(db, owner="you:2:bbbb", lease_seconds=600)
    taken = mine.claim(["vehicle"], 3, ItemFilter())
    theirs = other.claim(["vehicle"], 3, ItemFilter())
    assert len(taken) == 3 and len(theirs) == 1
    _expire_all(db)
    # Renewing names every id: only the three this owner holds are extended.
    assert mine.renew([i.id for i in taken + theirs]) == 3
    leases = _leases(db)
    now = time.time()
    assert all(leases[i.id][2] > now + 500 for i in taken)  # type: ignore[operator]
    assert leases[theirs[0].id][2] < now


def test_an_expired_lease_is_reaped_then_claimed_by_another_and_no_longer_renewable(
    db: OptimizedDatabaseManager,
) -> None:
    _seed(db, 3)
    dead = Frontier(db, owner="gone:1:aaaa", lease_seconds=600)
    alive = Frontier(db, owner="here:2:bbbb", lease_seconds=600)
    taken = dead.claim(["vehicle"], 10, ItemFilter())
    assert alive.claim(["vehicle"], 10, ItemFilter()) == []  # leased, not expired
    assert dead.renew([i.id for i in taken]) == 3  # a live owner keeps its leases
    assert alive.reap_expired() == 0
    _expire_all(db)
    assert alive.reap_expired() == 3
    assert dead.renew([i.id for i in taken]) == 0  # too late: the items went back
    again = alive.claim(["vehicle"], 10, ItemFilter())
    assert sorted(i.id for i in again) == sorted(i.id for i in taken)
    assert {owner for owner, status, _ in _leases(db).values()} == {"here:2:bbbb"}
    assert alive.renew([i.id for i in again]) == 3
