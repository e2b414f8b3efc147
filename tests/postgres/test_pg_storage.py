"""The storage layer on PostgreSQL, in-process: claims, leases, locks, workers, export order."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Callable, Iterator

import pytest
from sqlalchemy import func, select, update

from custom_wheel_offset.errors import LockedError
from custom_wheel_offset.exporting.export import export
from custom_wheel_offset.metrics.counters import Counters
from custom_wheel_offset.storage.database import OptimizedDatabaseManager
from custom_wheel_offset.storage.frontier import Frontier, ItemFilter, NewItem
from custom_wheel_offset.storage.lock import acquire_run_lock
from custom_wheel_offset.storage.schema import frontier, vehicles, workers
from custom_wheel_offset.storage.workers import (
    STALE_AFTER_SECONDS,
    heartbeat,
    list_workers,
    register_worker,
    stop_worker,
)
from custom_wheel_offset.storage.writer import BatchWriter, Outcome

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg(postgres_url: str) -> Iterator[OptimizedDatabaseManager]:
    db = OptimizedDatabaseManager(postgres_url)
    db.ensure_schema()
    yield db
    db.dispose()


def _seed(db: OptimizedDatabaseManager, count: int, kind: str = "vehicle") -> None:
    with db.begin() as conn:
        conn.execute(
            db.insert_ignore(frontier),
            [NewItem(f"{kind}/{i}", kind, {"i": i}).row(0.0) for i in range(count)],
        )


def _statuses(db: OptimizedDatabaseManager) -> dict[str, int]:
    with db.read() as conn:
        rows = conn.execute(
            select(frontier.c.status, func.count()).group_by(frontier.c.status)
        ).all()
    return {status: n for status, n in rows}


def test_concurrent_claims_never_hand_out_an_item_twice(pg: OptimizedDatabaseManager) -> None:
    _seed(pg, 600)
    claimed: dict[str, list[int]] = {}
    errors: list[BaseException] = []
    barrier = threading.Barrier(6)

    def claimer(owner: str) -> None:
        f = Frontier(pg, owner=owner, lease_seconds=60)
        mine = claimed.setdefault(owner, [])
        try:
            barrier.wait()
            while batch := f.claim(["vehicle"], 7, ItemFilter()):
                mine.extend(i.id for i in batch)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=claimer, args=(f"h:{n}:r",)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    every = [i for ids in claimed.values() for i in ids]
    assert len(every) == 600 and len(set(every)) == 600
    assert sum(1 for ids in claimed.values() if ids) > 1  # the claims were really concurrent
    assert _statuses(pg) == {"leased": 600}
    with pg.read() as conn:
        owners = dict(
            conn.execute(
                select(frontier.c.lease_owner, func.count()).group_by(frontier.c.lease_owner)
            ).all()
        )
    assert owners == {owner: len(ids) for owner, ids in claimed.items() if ids}


def test_expired_lease_is_claimable_again_and_the_late_result_is_dropped(
    pg: OptimizedDatabaseManager,
) -> None:
    _seed(pg, 3)
    dead = Frontier(pg, owner="gone:1:aaaa", lease_seconds=0.2)
    alive = Frontier(pg, owner="here:2:bbbb", lease_seconds=60)
    taken = dead.claim(["vehicle"], 10, ItemFilter())
    assert len(taken) == 3
    assert alive.claim(["vehicle"], 10, ItemFilter()) == []  # leased, not expired
    time.sleep(0.3)
    assert dead.renew([i.id for i in taken]) == 3  # renewing is possible until someone reaps
    time.sleep(0.3)
    # A claim alone (no separate reaper) takes over the expired leases.
    alive._next_claim_reap = 0.0
    again = alive.claim(["vehicle"], 10, ItemFilter())
    assert sorted(i.id for i in again) == sorted(i.id for i in taken)
    assert dead.renew([i.id for i in taken]) == 0

    # The first owner's results arrive late: they must not overwrite or complete anything.
    counters = Counters()
    late = BatchWriter(pg, owner="gone:1:aaaa", crawl_id=1, counters=counters, flush_interval=0.01)
    late.start()
    for item in taken:
        late.submit(Outcome(item.id, "vehicle", "failed", error="late"))
    late.submit(Outcome(taken[0].id, "vehicle", "done"))
    late.drain()
    late.stop()
    assert counters.get("writer/lease_lost") == 1
    with pg.read() as conn:
        rows = conn.execute(
            select(frontier.c.status, frontier.c.lease_owner, frontier.c.last_error)
        ).all()
    assert {(r.status, r.lease_owner, r.last_error) for r in rows} == {
        ("leased", "here:2:bbbb", None)
    }

    owner_writer = BatchWriter(
        pg, owner="here:2:bbbb", crawl_id=1, counters=Counters(), flush_interval=0.01
    )
    owner_writer.start()
    for item in again:
        owner_writer.submit(Outcome(item.id, "vehicle", "done"))
    owner_writer.drain()
    owner_writer.stop()
    assert _statuses(pg) == {"done": 3}


def test_open_counts_see_leases_of_other_processes(pg: OptimizedDatabaseManager) -> None:
    _seed(pg, 4)
    other = Frontier(pg, owner="other:1:r", lease_seconds=60)
    me = Frontier(pg, owner="me:2:r", lease_seconds=60)
    other.claim(["vehicle"], 3, ItemFilter())
    assert me.open_counts(["vehicle"], ItemFilter()) == (1, 3, None)
    me.claim(["vehicle"], 3, ItemFilter())
    assert me.open_counts(["vehicle"], ItemFilter()) == (0, 4, None)
    with pg.begin() as conn:
        conn.execute(update(frontier).values(status="done"))
    assert me.open_counts(["vehicle"], ItemFilter()) == (0, 0, None)


def test_worker_lock_is_per_name_and_per_schema(
    postgres_url: str, postgres_schemas: Callable[[], str]
) -> None:
    first = OptimizedDatabaseManager(postgres_url)
    same = OptimizedDatabaseManager(postgres_url)
    elsewhere = OptimizedDatabaseManager(postgres_schemas())
    try:
        lock = acquire_run_lock(first, wait=False, worker_name="w1")
        with pytest.raises(LockedError, match="worker name 'w1'"):
            acquire_run_lock(same, wait=False, worker_name="w1")
        # Another name on the same crawl, or the same name on another schema's crawl: fine.
        acquire_run_lock(same, wait=False, worker_name="w2").release()
        acquire_run_lock(elsewhere, wait=False, worker_name="w1").release()
        lock.release()
        acquire_run_lock(same, wait=False, worker_name="w1").release()
    finally:
        for db in (first, same, elsewhere):
            db.dispose()


def test_workers_register_beat_stop_and_go_stale(pg: OptimizedDatabaseManager) -> None:
    register_worker(pg, owner="a:1:r", host="a", pid=1, run_id=1)
    register_worker(pg, owner="b:2:r", host="b", pid=2, run_id=2)
    register_worker(pg, owner="c:3:r", host="c", pid=3, run_id=3)
    heartbeat(pg, owner="a:1:r", items_done=42, rate=3.5)
    stop_worker(pg, owner="b:2:r", items_done=7, rate=1.5)
    with pg.begin() as conn:
        conn.execute(
            update(workers)
            .where(workers.c.owner == "c:3:r")
            .values(heartbeat_at=time.time() - STALE_AFTER_SECONDS - 1)
        )
    listed = {w["host"]: w for w in list_workers(pg)}
    assert {h: w["state"] for h, w in listed.items()} == {"a": "live", "b": "ended", "c": "stale"}
    assert (listed["a"]["items_done"], listed["a"]["rate"]) == (42, 3.5)
    assert (listed["b"]["items_done"], listed["b"]["rate"]) == (7, 1.5)


def test_export_order_is_the_same_as_on_sqlite(
    pg: OptimizedDatabaseManager, db: OptimizedDatabaseManager
) -> None:
    """Strings sort by code point on both (PostgreSQL's collation would put "a" before "B")."""
    names = ["a", "B", "É", "e", "Z", "z 2", "z-1", "ñ", "Ö"]
    rows = [
        {
            "year": 2020,
            "make": make,
            "model": model,
            "trim": "T",
            "drive": "FWD",
            "raw_json": "{}",
            "fetched_at": 0.0,
        }
        for make in names
        for model in ("m", "M")
    ]
    for manager in (pg, db):
        with manager.begin() as conn:
            conn.execute(vehicles.insert(), rows)
    outputs = []
    for manager in (pg, db):
        out = io.StringIO()
        assert export(manager, what="vehicles", fmt="jsonl", out=out) == len(rows)
        outputs.append(out.getvalue())
    assert outputs[0] == outputs[1]
    makes = [line.split('"make": ')[1].split(",")[0] for line in outputs[0].splitlines()[::2]]
    assert makes == sorted(makes)
