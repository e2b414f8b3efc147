"""The batch writer on a real SQLite file: one transaction per batch, leases honoured."""

from __future__ import annotations

import io
import json
import threading
import time

import pytest
from sqlalchemy import func, select

from custom_wheel_offset.errors import DatabaseError
from custom_wheel_offset.exporting.export import export
from custom_wheel_offset.metrics.counters import Counters
from custom_wheel_offset.protocol.records import (
    AxleRanges,
    AxleSpec,
    FitmentPage,
    PreferenceOptions,
    VehicleId,
    VehicleSpec,
)
from custom_wheel_offset.storage.frontier import Frontier, ItemFilter, NewItem
from custom_wheel_offset.storage.schema import fitments, frontier, vehicles
from custom_wheel_offset.storage.writer import (
    BatchWriter,
    FitmentResult,
    OptionsResult,
    Outcome,
    VehicleResult,
)

AXLE = AxleSpec(17.0, 7.5, 35.0, "225/45R17", 16.0, 20.0, 6.5, 9.0)


def _spec(vtype: str = "Car") -> VehicleSpec:
    return VehicleSpec(
        vtype, "123", "5x114.3", "5x4.5", 64.1, "Lug Nut", "M12 x 1.5", AXLE, AXLE, {"x": 1}
    )


def _writer(db, counters: Counters, owner: str = "me") -> BatchWriter:
    w = BatchWriter(
        db, owner=owner, crawl_id=1, counters=counters, batch_size=100, flush_interval=0.05
    )
    w.start()
    return w


def _claim_all(f: Frontier, kinds=("vehicle", "options", "fitment", "makes")):
    return {i.key: i for i in f.claim(list(kinds), 1000, ItemFilter())}


def _count(db, table) -> int:
    with db.read() as conn:
        return conn.execute(select(func.count()).select_from(table)).scalar_one()


def _seed(db, keys_kinds) -> None:
    with db.begin() as conn:
        conn.execute(
            db.insert_ignore(frontier),
            [NewItem(k, kind, {}).row(0.0) for k, kind in keys_kinds],
        )


def test_vehicle_and_options_fan_out_fitment_items_then_fitments_export(any_db) -> None:
    db = any_db
    counters = Counters()
    _seed(db, [("vehicle/a", "vehicle"), ("vehicle/b", "vehicle"), ("options/Car", "options")])
    f = Frontier(db, owner="me", lease_seconds=60)
    items = _claim_all(f)
    w = _writer(db, counters)
    a = VehicleId(2020, "Ford", "F-250/350 Super Duty", "LX ", "4WD")
    b = VehicleId(2020, "Citroën", "C4", "Base, 4-Door", "FWD")
    w.submit(Outcome(items["vehicle/a"].id, "vehicle", "done", VehicleResult(a, _spec())))
    w.drain()
    assert _count(db, vehicles) == 1
    # No preference sets yet: no fitment items.
    assert f.stage_counts().get("fitment") is None
    opts = PreferenceOptions(("Stock", 'Lifted 2-4"'), ("None",), ("No rub", "Rub"))
    w.submit(Outcome(items["options/Car"].id, "options", "done", OptionsResult("Car", opts)))
    w.submit(Outcome(items["vehicle/b"].id, "vehicle", "done", VehicleResult(b, _spec())))
    w.drain()
    assert f.stage_counts()["fitment"] == {"pending": 8}  # 2 vehicles x 4 sets
    assert counters.get("items/discovered/fitment") == 8
    # A vehicle type's first options are added, not updated (a first crawl said "updated 3").
    assert counters.get("records/added/preference_options") == 1
    assert counters.get("records/changed/preference_options") == 0
    fit_items = f.claim(["fitment"], 100, ItemFilter())
    page = FitmentPage(
        "ok",
        "5x114.3",
        "5x4.5",
        AxleRanges(17, 20, 7, 9.5, -12, 35),
        AxleRanges(17, 20, 7, 9.5, -12, 35),
        "<div/>",
    )
    for item in fit_items:
        w.submit(
            Outcome(
                item.id, "fitment", "done", FitmentResult(item.vehicle_id, item.prefset_id, page)
            )
        )
    w.stop()
    assert _count(db, fitments) == 8
    assert counters.get("records/added/fitment") == 8
    out = io.StringIO()
    assert export(db, what="fitments", fmt="jsonl", out=out) == 8
    lines = [json.loads(x) for x in out.getvalue().splitlines()]
    # Sorted by identity, strings by code point: "Citroën" < "Ford".
    assert [x["make"] for x in lines] == ["Citroën"] * 4 + ["Ford"] * 4
    assert lines[4]["model"] == "F-250/350 Super Duty" and lines[4]["trim"] == "LX "
    assert lines[0]["suspension"] == 'Lifted 2-4"' and lines[0]["front"]["offset_min"] == -12


def test_result_of_a_lost_lease_is_dropped(db) -> None:
    counters = Counters()
    _seed(db, [("vehicle/a", "vehicle")])
    slow = Frontier(db, owner="slow", lease_seconds=-1)
    item = slow.claim(["vehicle"], 1, ItemFilter())[0]
    fast = Frontier(db, owner="fast", lease_seconds=60)
    assert fast.reap_expired() == 1
    fast.claim(["vehicle"], 1, ItemFilter())
    w = _writer(db, counters, owner="slow")
    w.submit(
        Outcome(
            item.id, "vehicle", "done", VehicleResult(VehicleId(2020, "A", "B", "C", "D"), _spec())
        )
    )
    w.stop()
    assert _count(db, vehicles) == 0
    assert counters.get("writer/lease_lost") == 1
    assert fast.stage_counts()["vehicle"] == {"leased": 1}


def test_retry_failed_and_release_outcomes(db) -> None:
    counters = Counters()
    _seed(db, [("makes/1", "makes"), ("makes/2", "makes"), ("makes/3", "makes")])
    f = Frontier(db, owner="me", lease_seconds=60)
    items = _claim_all(f)
    w = _writer(db, counters)
    w.submit(Outcome(items["makes/1"].id, "makes", "retry", error="timeout", not_before=1e12))
    w.submit(Outcome(items["makes/2"].id, "makes", "failed", error="ParseError: bad"))
    w.submit(Outcome(items["makes/3"].id, "makes", "release", error="challenge"))
    w.stop()
    with db.read() as conn:
        rows = {r.key: r for r in conn.execute(select(frontier))}
    assert (rows["makes/1"].status, rows["makes/1"].attempts) == ("pending", 1)
    assert rows["makes/1"].not_before == 1e12
    assert (rows["makes/2"].status, rows["makes/2"].last_error) == ("failed", "ParseError: bad")
    assert (rows["makes/3"].status, rows["makes/3"].attempts) == ("pending", 0)
    assert w.stats()["batches"] >= 1 and w.stats()["rows"] == 3


def test_children_are_inserted_once(any_db) -> None:
    db = any_db
    counters = Counters()
    _seed(db, [("makes/1", "makes")])
    f = Frontier(db, owner="me", lease_seconds=60)
    items = _claim_all(f)
    w = _writer(db, counters)
    kids = [
        NewItem("models/1/a", "models", {}),
        NewItem("models/1/a", "models", {}),
        NewItem("models/1/b", "models", {}),
    ]
    w.submit(Outcome(items["makes/1"].id, "makes", "done", children=kids))
    w.stop()
    assert f.stage_counts()["models"] == {"pending": 2}
    assert counters.get("items/discovered/models") == 2


class _ServerAbort(Exception):
    """What a driver raises when the server aborts a transaction (psycopg's shape)."""

    sqlstate = "40P01"


def test_a_batch_the_server_aborts_is_written_again_and_counted_once(db, monkeypatch) -> None:
    """Unit test of the retry's bookkeeping: the first attempt counts and then is
    aborted as PostgreSQL aborts a deadlock victim; only the attempt that commits counts."""
    from sqlalchemy.exc import OperationalError

    counters = Counters()
    _seed(db, [("makes/1", "makes")])
    f = Frontier(db, owner="me", lease_seconds=60)
    items = _claim_all(f)
    real_write = BatchWriter._write
    calls: list[int] = []

    def aborted_once(self, conn, batch, tally):
        calls.append(len(batch))
        rows = real_write(self, conn, batch, tally)
        if len(calls) == 1:
            raise OperationalError("INSERT ...", {}, _ServerAbort("deadlock detected"))
        return rows

    monkeypatch.setattr(BatchWriter, "_write", aborted_once)
    w = _writer(db, counters)
    kids = [NewItem("models/1/a", "models", {}), NewItem("models/1/b", "models", {})]
    w.submit(Outcome(items["makes/1"].id, "makes", "done", children=kids))
    w.stop()
    assert calls == [1, 1]
    assert f.stage_counts() == {"makes": {"done": 1}, "models": {"pending": 2}}
    assert counters.get("items/done/makes") == 1
    assert counters.get("items/discovered/models") == 2
    assert counters.get("writer/batches") == 1


def test_the_end_of_crawl_sweep_adds_exactly_the_missing_fitment_items(any_db) -> None:
    """The sweep repairs pairs lost when a vehicle and its type's options commit at
    once in two processes (each fan-out blind to the other's rows)."""
    from sqlalchemy import delete

    db = any_db
    _seed(db, [("vehicle/a", "vehicle"), ("vehicle/b", "vehicle"), ("options/Car", "options")])
    f = Frontier(db, owner="me", lease_seconds=60)
    items = _claim_all(f)
    w = _writer(db, Counters())
    opts = PreferenceOptions(("Stock", "Lifted"), ("None",), ("No rub", "Rub"))
    w.submit(Outcome(items["options/Car"].id, "options", "done", OptionsResult("Car", opts)))
    for key, trim in (("vehicle/a", "A"), ("vehicle/b", "B")):
        v = VehicleId(2020, "Ford", "Focus", trim, "FWD")
        w.submit(Outcome(items[key].id, "vehicle", "done", VehicleResult(v, _spec())))
    w.stop()
    assert f.stage_counts()["fitment"] == {"pending": 8}
    with db.begin() as conn:
        lost = conn.execute(
            delete(frontier).where(frontier.c.kind == "fitment", frontier.c.id % 2 == 0)
        ).rowcount
    assert 0 < lost < 8
    assert f.sweep_fitments() == lost
    assert f.stage_counts()["fitment"] == {"pending": 8}
    assert f.sweep_fitments() == 0


# -- issue 11: failure codes, failed runs, a bounded queue -----------------------------------------


class SlowWriter(BatchWriter):
    """A writer on a slow database: every batch's transaction takes ``delay`` longer."""

    delay = 0.02

    def _commit(self, batch) -> None:  # type: ignore[no-untyped-def]
        time.sleep(self.delay)
        super()._commit(batch)


def test_writer_backlog_never_exceeds_its_bound_with_a_slow_database(db) -> None:
    """16 threads submit 600 outcomes at once to a writer that needs 20 ms per batch of 20."""
    n, bound = 600, 40
    _seed(db, [(f"makes/{i}", "makes") for i in range(n)])
    f = Frontier(db, owner="me", lease_seconds=600)
    items = list(f.claim(["makes"], n, ItemFilter()))
    assert len(items) == n
    w = SlowWriter(
        db, owner="me", crawl_id=1, counters=Counters(), batch_size=20, flush_interval=0.01,
        max_backlog=bound,
    )  # fmt: skip
    w.start()
    queue = list(items)
    lock = threading.Lock()

    def worker() -> None:
        while True:
            with lock:
                if not queue:
                    return
                item = queue.pop()
            w.submit(Outcome(item.id, "makes", "done"))

    threads = [threading.Thread(target=worker) for _ in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    w.stop()
    stats = w.stats()
    # The bound held (counts, not time): it was reached, never passed, and submitters waited.
    assert stats["max_backlog"] == bound
    assert stats["max_backlog_seen"] == bound, stats
    assert stats["submit_waits"] > 0
    assert f.stage_counts()["makes"] == {"done": n}


def test_a_waiting_submit_raises_when_the_writer_fails(db) -> None:
    class Broken(BatchWriter):
        def _commit(self, batch) -> None:  # type: ignore[no-untyped-def]
            time.sleep(0.05)
            raise DatabaseError("disk full")

    w = Broken(db, owner="me", crawl_id=1, counters=Counters(), batch_size=2, max_backlog=2)
    w.start()
    w.submit(Outcome(1, "makes", "done"))
    w.submit(Outcome(2, "makes", "done"))
    with pytest.raises(DatabaseError, match="disk full"):
        w.submit(Outcome(3, "makes", "done"))  # waits for room that never comes, then raises


def test_failed_items_keep_code_and_runs_and_status_counts_every_one(any_db) -> None:
    """1,200 failures with 1,200 distinct messages: status groups them by code, totals by COUNT."""
    from custom_wheel_offset.status import crawl_status, status_lines

    db = any_db
    codes = ("http_404", "internal:RecursionError", "timeout")
    n = 1200
    _seed(db, [(f"vehicle/{i}", "vehicle") for i in range(n)])
    f = Frontier(db, owner="me", lease_seconds=600)
    root = NewItem("years", "years", {})
    f.begin_run(skip_existing=False, retry_failed=False, root=root, item_attempts=2)
    items = {i.key: i for i in f.claim(["vehicle"], n, ItemFilter())}
    counters = Counters()
    w = _writer(db, counters)
    for i in range(n):
        item = items[f"vehicle/{i}"]
        error = f"boom at https://x/{i}"
        w.submit(Outcome(item.id, "vehicle", "failed", error=error, code=codes[i % 3]))
    w.stop()
    assert counters.get("items/failed/vehicle") == n
    assert {c: counters.get(f"items/failed/{c}") for c in codes} == dict.fromkeys(codes, n // 3)

    status = crawl_status(db, item_attempts=2)
    assert status["failed_total"] == n and status["failed_past_limit"] == 0
    assert {g["code"]: g["count"] for g in status["failures"]} == dict.fromkeys(codes, n // 3)
    for group in status["failures"]:
        assert group["example"].startswith("boom at https://x/")
    assert "failed items by reason (1200 in all):" in status_lines(status)

    # Run 2 re-opens them (1 failed run < 2) and they fail again: 2 runs, past the limit.
    state = f.begin_run(skip_existing=False, retry_failed=False, root=root, item_attempts=2)
    assert state.retired == 0
    w = _writer(db, Counters())
    for item in f.claim(["vehicle"], n, ItemFilter()):
        w.submit(Outcome(item.id, "vehicle", "failed", error="again", code="timeout"))
    w.stop()
    assert f.failed_in_run(state, 2) == n
    status = crawl_status(db, item_attempts=2)
    assert (status["failed_total"], status["failed_past_limit"]) == (n, n)
    assert status["failures"] == [{"code": "timeout", "count": n, "example": "again"}]
    assert any("no longer retried" in line for line in status_lines(status))

    # Run 3 leaves them failed, and they do not count against it.
    state = f.begin_run(skip_existing=False, retry_failed=False, root=root, item_attempts=2)
    assert state.retired == n
    assert f.claim(["vehicle"], n, ItemFilter()) == []
    assert f.failed_in_run(state, 2) == 0
    # --retry-failed takes them all; a success clears the code and the failed runs.
    state = f.begin_run(skip_existing=False, retry_failed=True, root=root, item_attempts=2)
    assert state.retired == 0
    w = _writer(db, Counters())
    for item in f.claim(["vehicle"], n, ItemFilter()):
        w.submit(Outcome(item.id, "vehicle", "done"))
    w.stop()
    with db.read() as conn:
        left = conn.execute(
            select(frontier.c.failure_code, frontier.c.failed_runs, frontier.c.last_error)
            .where(frontier.c.kind == "vehicle")
            .distinct()
        ).all()
    assert [tuple(r) for r in left] == [(None, 0, None)]
