"""Gone marks (storage.gone) through the real writer, on SQLite and PostgreSQL.

A small catalogue: one drives listing naming two vehicles of one type with two
preference sets. Crawl 1 fetches everything; later crawls change what the
listing names or answer 404 for a vehicle, as the site would.
"""

from __future__ import annotations

import io
import json
from typing import Any

from sqlalchemy import select

from custom_wheel_offset.crawl.items import vehicle_item
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
from custom_wheel_offset.status import crawl_status, status_lines
from custom_wheel_offset.storage.frontier import CrawlState, Frontier, ItemFilter, NewItem
from custom_wheel_offset.storage.schema import fitments, frontier, vehicles
from custom_wheel_offset.storage.writer import (
    BatchWriter,
    FitmentResult,
    OptionsResult,
    Outcome,
    VehicleResult,
)

AXLE = AxleSpec(17.0, 7.5, 35.0, "225/45R17", 16.0, 20.0, 6.5, 9.0)
SPEC = VehicleSpec(
    "Car", "123", "5x114.3", "5x4.5", 64.1, "Lug Nut", "M12 x 1.5", AXLE, AXLE, {"x": 1}
)
PAGE = FitmentPage(
    "ok",
    "5x114.3",
    "5x4.5",
    AxleRanges(17, 20, 7, 9.5, -12, 35),
    AxleRanges(17, 20, 7, 9, 0, 1),
    "",
)
A = VehicleId(2020, "Acme", "Roadster", "Base", "FWD")
B = VehicleId(2020, "Acme", "Roadster", "Base", "AWD")
ROOT = NewItem("drives/x", "drives", {})
OPTIONS = NewItem("options/Car", "options", {"vehicle_type": "Car"})


def _begin(f: Frontier, *, skip_existing: bool = False) -> CrawlState:
    return f.begin_run(skip_existing=skip_existing, retry_failed=False, root=ROOT)


def _writer(db: Any, state: CrawlState, counters: Counters) -> BatchWriter:
    w = BatchWriter(
        db,
        owner="me",
        crawl_id=state.crawl_id,
        counters=counters,
        batch_size=50,
        flush_interval=0.02,
    )
    w.start()
    return w


def _listing(item_id: int, *listed: VehicleId) -> Outcome:
    children = [vehicle_item(v, ["Car"]) for v in listed]
    return Outcome(
        item_id, "drives", "done", children=children, listed=frozenset(c.key for c in children)
    )


def _answer(f: Frontier, w: BatchWriter, kind: str, answer: Any) -> None:
    """Claim every pending item of ``kind`` and submit ``answer(item)`` for each."""
    for item in f.claim([kind], 100, ItemFilter()):
        w.submit(answer(item))
    w.drain()


def _vehicle_done(item: Any) -> Outcome:
    p = item.params
    v = VehicleId(p["year"], p["make"], p["model"], p["trim"], p["drive"])
    return Outcome(item.id, "vehicle", "done", VehicleResult(v, SPEC), children=[OPTIONS])


def _fitment_done(item: Any) -> Outcome:
    return Outcome(
        item.id, "fitment", "done", FitmentResult(item.vehicle_id, item.prefset_id, PAGE)
    )


def _options_done(item: Any) -> Outcome:
    opts = PreferenceOptions(("Stock", "Lifted"), ("None",), ("No rub",))
    return Outcome(item.id, "options", "done", OptionsResult("Car", opts))


def _first_crawl(db: Any) -> Frontier:
    """Crawl 1: the listing names A and B; both vehicles and their 2 x 2 fitments are stored."""
    f = Frontier(db, owner="me", lease_seconds=60)
    state = _begin(f)
    w = _writer(db, state, Counters())
    _answer(f, w, "drives", lambda item: _listing(item.id, A, B))
    _answer(f, w, "vehicle", _vehicle_done)
    _answer(f, w, "options", _options_done)
    _answer(f, w, "fitment", _fitment_done)
    w.stop()
    assert f.finish_crawl_if_complete(state.crawl_id)
    assert f.stage_counts() == {
        "drives": {"done": 1},
        "vehicle": {"done": 2},
        "options": {"done": 1},
        "fitment": {"done": 4},
    }
    return f


def _marks(db: Any) -> dict[str, Any]:
    """Item status and gone_crawl by key; vehicles' and fitments' gone_crawl by drive."""
    with db.read() as conn:
        items = {
            r.key: (r.status, r.gone_crawl)
            for r in conn.execute(select(frontier.c.key, frontier.c.status, frontier.c.gone_crawl))
        }
        cars = dict(conn.execute(select(vehicles.c.drive, vehicles.c.gone_crawl)).all())
        fits = sorted(
            conn.execute(
                select(vehicles.c.drive, fitments.c.gone_crawl).join(
                    vehicles, vehicles.c.id == fitments.c.vehicle_id
                )
            ).all()
        )
    return {"items": items, "vehicles": cars, "fitments": [tuple(r) for r in fits]}


def _export(db: Any, what: str, **kw: Any) -> list[dict[str, Any]]:
    out = io.StringIO()
    export(db, what=what, fmt="jsonl", out=out, **kw)
    return [json.loads(line) for line in out.getvalue().splitlines()]


def _fitment_keys_of(marks: dict[str, Any], status: str) -> int:
    return sum(
        1 for k, (s, _) in marks["items"].items() if k.startswith("fitment/") and s == status
    )


def test_a_vehicle_no_longer_listed_goes_with_its_fitments_then_comes_back(any_db) -> None:
    db = any_db
    f = _first_crawl(db)
    b_key = vehicle_item(B, []).key

    # Crawl 2 (--skip-existing): the listing no longer names B.
    second = _begin(f, skip_existing=True)
    counters = Counters()
    w = _writer(db, second, counters)
    _answer(f, w, "drives", lambda item: _listing(item.id, A))
    _answer(f, w, "options", _options_done)
    w.stop()
    marks = _marks(db)
    assert marks["items"][b_key] == ("gone", second.crawl_id)
    assert marks["items"][vehicle_item(A, []).key] == ("done", None)
    assert marks["vehicles"] == {"FWD": None, "AWD": second.crawl_id}
    assert marks["fitments"] == [("AWD", second.crawl_id)] * 2 + [("FWD", None)] * 2
    assert _fitment_keys_of(marks, "gone") == 2 and _fitment_keys_of(marks, "done") == 2
    assert counters.get("items/gone/vehicle") == 1 and counters.get("items/gone/fitment") == 2
    assert f.failure_summary().total == 0 and f.failed_in_run(second, 3) == 0
    assert f.finish_crawl_if_complete(second.crawl_id)

    # Exports leave B out unless asked; then every record says when it went.
    assert [v["drive"] for v in _export(db, "vehicles")] == ["FWD"]
    assert len(_export(db, "fitments")) == 2
    every = _export(db, "vehicles", include_gone=True)
    assert [(v["drive"], v["gone_crawl"]) for v in every] == [
        ("AWD", second.crawl_id),
        ("FWD", None),
    ]
    assert {r["gone_crawl"] for r in _export(db, "fitments", include_gone=True)} == {
        None,
        second.crawl_id,
    }
    status = crawl_status(db)
    assert status["stages"]["vehicles"]["gone"] == 1
    assert status["stages"]["fitments"]["gone"] == 2
    assert {(g["stage"], g["crawl"], g["count"]) for g in status["gone"]} == {
        ("vehicles", second.crawl_id, 1),
        ("fitments", second.crawl_id, 2),
    }
    assert any("in crawl" in line for line in status_lines(status))

    # Crawl 3 (full): gone items stay gone, not re-opened.
    third = _begin(f)
    assert _marks(db)["items"][b_key] == ("gone", second.crawl_id)
    assert f.stage_counts()["vehicle"] == {"pending": 1, "gone": 1}

    # The listing names B again: it comes back, is fetched, and its fitments with it.
    counters = Counters()
    w = _writer(db, third, counters)
    _answer(f, w, "drives", lambda item: _listing(item.id, A, B))
    assert _marks(db)["items"][b_key] == ("pending", None)
    assert counters.get("items/returned") == 1
    _answer(f, w, "vehicle", _vehicle_done)
    _answer(f, w, "options", _options_done)
    _answer(f, w, "fitment", _fitment_done)
    w.stop()
    marks = _marks(db)
    assert marks["vehicles"] == {"FWD": None, "AWD": None}
    assert marks["fitments"] == [("AWD", None)] * 2 + [("FWD", None)] * 2
    assert _fitment_keys_of(marks, "done") == 4
    assert len(_export(db, "fitments")) == 4


def _not_found(item: Any) -> Outcome:
    return Outcome(
        item.id, item.kind, "failed", error="PermanentFetchError: HTTP 404", code="http_404"
    )


def test_a_404_on_a_url_that_worked_marks_it_gone_not_failed(any_db) -> None:
    db = any_db
    f = _first_crawl(db)
    b_key = vehicle_item(B, []).key
    second = _begin(f)  # full: vehicles and fitments are fetched again
    counters = Counters()
    w = _writer(db, second, counters)
    # B's vehicle URL answers 404; A's still works. A never-seen vehicle answers 404 too.
    with db.begin() as conn:
        conn.execute(
            db.insert_ignore(frontier),
            [vehicle_item(VehicleId(2021, "N", "E", "W", "X"), []).row(0.0)],
        )
    _answer(
        f,
        w,
        "vehicle",
        lambda item: (
            _not_found(item) if item.params["drive"] in ("AWD", "X") else _vehicle_done(item)
        ),
    )
    w.stop()
    marks = _marks(db)
    assert marks["items"][b_key] == ("gone", second.crawl_id)
    assert marks["vehicles"]["AWD"] == second.crawl_id and marks["vehicles"]["FWD"] is None
    assert marks["fitments"] == [("AWD", second.crawl_id)] * 2 + [("FWD", None)] * 2
    # The URL that never worked is a failure, with its code.
    never = vehicle_item(VehicleId(2021, "N", "E", "W", "X"), []).key
    assert marks["items"][never] == ("failed", None)
    summary = f.failure_summary()
    assert summary.total == 1 and summary.groups[0].code == "http_404"
    assert counters.get("items/gone/vehicle") == 1
    assert counters.get("items/failed/vehicle") == 1
    # Only A's fitment items are fetched again in this crawl.
    with db.read() as conn:
        a_id = conn.execute(select(vehicles.c.id).where(vehicles.c.drive == "FWD")).scalar_one()
    assert {i.vehicle_id for i in f.claim(["fitment"], 100, ItemFilter())} == {a_id}


def test_a_child_the_run_filters_out_is_still_listed_not_gone(any_db) -> None:
    db = any_db
    f = _first_crawl(db)
    second = _begin(f, skip_existing=True)
    w = _writer(db, second, Counters())
    # A run with a filter keeps A only, but the site still lists B (ItemHandler._listing).
    both = _listing(0, A, B)
    _answer(
        f,
        w,
        "drives",
        lambda item: Outcome(
            item.id, "drives", "done", children=both.children[:1], listed=both.listed
        ),
    )
    w.stop()
    marks = _marks(db)
    assert marks["vehicles"] == {"FWD": None, "AWD": None}
    assert "gone" not in {status for status, _ in marks["items"].values()}


def test_a_gone_listing_takes_what_it_listed(any_db) -> None:
    db = any_db
    f = _first_crawl(db)
    second = _begin(f, skip_existing=True)
    counters = Counters()
    w = _writer(db, second, counters)
    # The listing itself answers 404 now: it and both vehicles below it go.
    _answer(f, w, "drives", _not_found)
    w.stop()
    marks = _marks(db)
    assert marks["items"]["drives/x"] == ("gone", second.crawl_id)
    assert marks["vehicles"] == {"FWD": second.crawl_id, "AWD": second.crawl_id}
    assert counters.get("items/gone/drives") == 1 and counters.get("items/gone/vehicle") == 2
    assert f.failure_summary().total == 0


def test_listings_written_in_one_batch_each_keep_their_children(any_db) -> None:
    """Several listings in one writer batch (one set of statements for all of them).

    A child row without a parent (older than the column) named by two
    listings goes to the lower listing id; a child one listing stops naming
    goes; a gone child another listing names again comes back.
    """
    db = any_db
    f = Frontier(db, owner="me", lease_seconds=60)
    C = VehicleId(2021, "Acme", "Coupe", "Base", "RWD")
    D = VehicleId(2022, "Acme", "Coupe", "Base", "RWD")
    E = VehicleId(2023, "Acme", "Coupe", "Base", "RWD")
    key = {v: vehicle_item(v, []).key for v in (A, B, C, D, E)}
    p1, p2 = NewItem("drives/p1", "drives", {}), NewItem("drives/p2", "drives", {})

    def answer_listings(state: CrawlState, names: dict[str, tuple[VehicleId, ...]]) -> Counters:
        """Answer every pending listing in one writer batch; the root lists p1 and p2."""
        counters = Counters()
        w = BatchWriter(
            db, owner="me", crawl_id=state.crawl_id, counters=counters,
            batch_size=50, flush_interval=60.0,
        )  # fmt: skip
        w.start()
        for item in f.claim(["drives"], 100, ItemFilter()):
            if item.key == ROOT.key:
                listed = frozenset({p1.key, p2.key})
                w.submit(Outcome(item.id, "drives", "done", children=[p1, p2], listed=listed))
            else:
                w.submit(_listing(item.id, *names[item.key]))
        w.drain()  # one batch: flushed together
        w.stop()
        return counters

    first = _begin(f)
    answer_listings(first, {})
    answer_listings(first, {"drives/p1": (A, B, E), "drives/p2": (C,)})
    with db.read() as conn:
        ids = dict(conn.execute(select(frontier.c.key, frontier.c.id)).all())
    assert ids["drives/p1"] < ids["drives/p2"]
    # The listings due again; C as a row from before parent_id existed; B gone earlier.
    with db.engine.begin() as conn:
        conn.execute(
            frontier.update()
            .where(frontier.c.key.in_(["drives/p1", "drives/p2"]))
            .values(status="pending")
        )
        conn.execute(frontier.update().where(frontier.c.key == key[C]).values(parent_id=None))
        conn.execute(
            frontier.update()
            .where(frontier.c.key == key[B])
            .values(status="gone", gone_crawl=first.crawl_id)
        )

    # p1 names A and C (not B nor E), p2 names B again, D (new) and C: C goes to p1.
    counters = answer_listings(_begin(f), {"drives/p1": (A, C), "drives/p2": (B, C, D)})
    with db.read() as conn:
        rows = {
            r.key: (r.parent_id, r.status, r.gone_crawl)
            for r in conn.execute(
                select(
                    frontier.c.key, frontier.c.parent_id, frontier.c.status, frontier.c.gone_crawl
                )
            )
        }
    assert rows[key[A]] == (ids["drives/p1"], "pending", None)
    assert rows[key[C]] == (ids["drives/p1"], "pending", None)
    assert rows[key[B]] == (ids["drives/p1"], "pending", None)  # back: named by p2
    assert rows[key[D]] == (ids["drives/p2"], "pending", None)
    assert rows[key[E]] == (ids["drives/p1"], "gone", first.crawl_id)
    assert counters.get("items/returned") == 1
    assert counters.get("items/gone/vehicle") == 1
