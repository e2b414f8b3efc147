"""The storage layer on PostgreSQL, in-process: claims, leases, locks, workers, export order."""

from __future__ import annotations

import io
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

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


def test_a_transaction_the_server_aborts_to_break_a_deadlock_runs_again(
    pg: OptimizedDatabaseManager, caplog: pytest.LogCaptureFixture
) -> None:
    """Two transactions lock two rows in opposite orders: a real deadlock. The
    server aborts one of them; ``transaction`` runs that one again and both land."""
    _seed(pg, 2)
    with pg.read() as conn:
        first, second = sorted(conn.execute(select(frontier.c.id)).scalars())
    barrier = threading.Barrier(2, timeout=10)
    attempts: list[str] = []
    errors: list[BaseException] = []

    def locker(name: str, order: tuple[int, int]) -> Callable[[], None]:
        def work(conn: Any) -> None:
            retry = name in attempts
            attempts.append(name)
            for n, item_id in enumerate(order):
                conn.execute(
                    update(frontier).where(frontier.c.id == item_id).values(last_error=name)
                )
                if n == 0 and not retry:
                    barrier.wait()  # both hold their first row before asking for the second

        def run() -> None:
            try:
                pg.transaction(work, what=f"test {name}")
            except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
                errors.append(exc)

        return run

    caplog.set_level("INFO", logger="custom_wheel_offset.storage.database")
    threads = [
        threading.Thread(target=locker("a", (first, second))),
        threading.Thread(target=locker("b", (second, first))),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    assert sorted(attempts) in (["a", "a", "b"], ["a", "b", "b"])  # exactly one ran again
    assert "deadlock, attempt 1 of" in caplog.text
    with pg.read() as conn:
        last = set(conn.execute(select(frontier.c.last_error)).scalars())
    assert len(last) == 1 and last <= {"a", "b"}  # the retried one wrote last, both rows


def test_writers_of_several_processes_meeting_on_the_same_keys_do_not_deadlock(
    pg: OptimizedDatabaseManager, caplog: pytest.LogCaptureFixture
) -> None:
    """Items of two owners discover the same children (as vehicles of one type all
    discover its options item), handed over in opposite orders. Rows are locked in
    key order, so the writers wait for each other in turn: no deadlock, no retry."""
    rounds, per_round = 40, 40
    _seed(pg, 2 * rounds * per_round)
    a = Frontier(pg, owner="a:1:x", lease_seconds=600)
    b = Frontier(pg, owner="b:2:x", lease_seconds=600)
    items_a = a.claim(["vehicle"], rounds * per_round, ItemFilter())
    items_b = b.claim(["vehicle"], rounds * per_round, ItemFilter())
    assert len(items_a) == len(items_b) == rounds * per_round

    caplog.set_level("INFO", logger="custom_wheel_offset.storage.database")
    counters = {"a": Counters(), "b": Counters()}
    writers = {
        name: BatchWriter(
            pg, owner=f"{name}:{n}:x", crawl_id=1, counters=counters[name], batch_size=per_round
        )
        for n, name in ((1, "a"), (2, "b"))
    }
    for w in writers.values():
        w.start()
    barrier = threading.Barrier(2, timeout=30)

    def feed(name: str, items: list[Any], reverse: bool) -> None:
        for r in range(rounds):
            shared = [NewItem(f"options/{r}/{k}", "options", {"k": k}) for k in range(per_round)]
            if reverse:
                shared.reverse()
            barrier.wait()
            for item, child in zip(items[r * per_round : (r + 1) * per_round], shared, strict=True):
                # Each outcome carries every shared child: one batch inserts them all.
                children = shared if item is items[r * per_round] else [child]
                writers[name].submit(Outcome(item.id, "vehicle", "done", children=children))
            writers[name].drain()

    threads = [
        threading.Thread(target=feed, args=("a", items_a, False)),
        threading.Thread(target=feed, args=("b", items_b, True)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    for w in writers.values():
        w.stop()
    assert _statuses(pg) == {"done": 2 * rounds * per_round, "pending": rounds * per_round}
    total = sum(c.get("items/discovered/options") for c in counters.values())
    assert total == rounds * per_round  # each shared child inserted once, counted once
    assert "deadlock" not in caplog.text
