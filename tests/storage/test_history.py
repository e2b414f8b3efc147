"""Record history through the real writer, on SQLite and PostgreSQL (issue 14 items 1, 2, 4, 7).

The small catalogue of tests/storage/test_gone.py: one drives listing naming two
vehicles of one type with two preference sets.
"""

from __future__ import annotations

import io
import json
from dataclasses import replace
from typing import Any

import pytest
from sqlalchemy import select, update
from test_gone import (
    PAGE,
    ROOT,
    SPEC,
    A,
    B,
    _answer,
    _begin,
    _first_crawl,
    _fitment_done,
    _listing,
    _options_done,
    _writer,
)

from custom_wheel_offset.errors import ConfigError
from custom_wheel_offset.exporting.export import diff, export
from custom_wheel_offset.metrics.counters import Counters
from custom_wheel_offset.protocol.records import PreferenceOptions
from custom_wheel_offset.storage.frontier import Frontier, Refresh
from custom_wheel_offset.storage.schema import (
    fitments,
    frontier,
    history,
    preference_sets,
    vehicles,
)
from custom_wheel_offset.storage.writer import OptionsResult, Outcome, VehicleResult


def _history(db: Any) -> list[tuple[str, str, int, str | None]]:
    with db.read() as conn:
        rows = conn.execute(
            select(history.c.what, history.c.change, history.c.crawl_id, history.c.fields).order_by(
                history.c.id
            )
        ).all()
    return [tuple(r) for r in rows]


def _crawl(
    db: Any,
    f: Frontier,
    counters: Counters,
    *,
    spec: Any = SPEC,
    page: Any = PAGE,
    listed: tuple = (A, B),
) -> int:
    """A full crawl answering every item; the crawl id."""
    state = _begin(f)
    w = _writer(db, state, counters)

    def vehicle_done(item: Any) -> Outcome:
        from custom_wheel_offset.protocol.records import VehicleId

        p = item.params
        v = VehicleId(p["year"], p["make"], p["model"], p["trim"], p["drive"])
        return Outcome(item.id, "vehicle", "done", VehicleResult(v, spec))

    def fitment_done(item: Any) -> Outcome:
        out = _fitment_done(item)
        assert out.result is not None
        return replace(out, result=replace(out.result, page=page))

    _answer(f, w, "fitment", fitment_done)
    _answer(f, w, "options", _options_done)
    _answer(f, w, "vehicle", vehicle_done)
    _answer(f, w, "drives", lambda item: _listing(item.id, *listed))
    _answer(f, w, "vehicle", vehicle_done)
    _answer(f, w, "fitment", fitment_done)
    w.stop()
    assert f.finish_crawl_if_complete(state.crawl_id)
    return state.crawl_id


def test_unchanged_changed_gone_and_returned_records(any_db: Any) -> None:
    db = any_db
    f = _first_crawl(db)
    assert [(w, c) for w, c, _, _ in _history(db)] == [("vehicle", "added")] * 2 + [
        ("fitment", "added")
    ] * 4
    with db.read() as conn:
        first = conn.execute(select(vehicles.c.first_seen, vehicles.c.last_seen)).all()

    counters = Counters()
    crawl = _crawl(db, f, counters)  # the same answers: only last_seen moves
    assert len(_history(db)) == 6
    assert counters.get("records/unchanged/vehicle") == 2
    assert counters.get("records/unchanged/fitment") == 4
    with db.read() as conn:
        again = conn.execute(
            select(vehicles.c.first_seen, vehicles.c.last_seen, vehicles.c.seen_crawl)
        ).all()
    assert [r[0] for r in again] == [r[0] for r in first]
    assert all(r[1] > old[1] and r[2] == crawl for r, old in zip(again, first, strict=True))

    wider = replace(SPEC, hub_bore_mm=66.6)
    crawl = _crawl(db, f, Counters(), spec=wider)
    changed = [r for r in _history(db) if r[1] == "changed"]
    assert [(w, c) for w, _, c, _ in changed] == [("vehicle", crawl)] * 2
    assert json.loads(changed[0][3]) == {"hub_bore_mm": {"old": 64.1, "new": 66.6}}

    crawl = _crawl(db, f, Counters(), spec=wider, listed=(A,))  # B no longer listed
    gone = [r for r in _history(db) if r[1] == "gone"]
    assert sorted(w for w, *_ in gone) == ["fitment", "fitment", "vehicle"]
    assert {r[2] for r in gone} == {crawl}

    _crawl(db, f, Counters(), spec=wider)  # B is listed again
    returned = [r for r in _history(db) if r[1] == "returned"]
    assert sorted(w for w, *_ in returned) == ["fitment", "fitment", "vehicle"]
    out = io.StringIO()
    assert diff(db, out=out, since=str(crawl), plain=True) == 3
    assert [json.loads(line)["change"] for line in out.getvalue().splitlines()] == ["returned"] * 3
    table = io.StringIO(newline="")
    assert diff(db, out=table, since=str(crawl), what="vehicles", fmt="csv") == 1
    header, row = table.getvalue().split("\r\n")[:2]
    assert header == (
        "change,what,year,make,model,trim,drive,suspension,modification,rubbing,crawl,at,fields"
    )
    assert row.startswith("returned,vehicle,2020,Acme,Roadster,Base,AWD,,,,") and row.endswith("Z,")


def test_a_preference_set_no_longer_offered_takes_its_fitments(any_db: Any) -> None:
    db = any_db
    f = _first_crawl(db)
    state = _begin(f)
    w = _writer(db, state, Counters())
    fewer = PreferenceOptions(("Stock",), ("None",), ("No rub",))
    _answer(
        f,
        w,
        "options",
        lambda item: Outcome(item.id, "options", "done", OptionsResult("Car", fewer)),
    )
    w.stop()
    with db.read() as conn:
        rows = conn.execute(select(preference_sets.c.suspension, preference_sets.c.gone_crawl))
        sets = {r.suspension: r.gone_crawl for r in rows}
        marks = conn.execute(select(fitments.c.gone_crawl)).scalars().all()
    assert sets == {"Stock": None, "Lifted": state.crawl_id}
    assert sorted(marks, key=str) == [state.crawl_id] * 2 + [None] * 2
    assert [c for w_, c, _, _ in _history(db) if c == "gone"] == ["gone", "gone"]
    # The new crawl re-opened the fitment items; the two of the dropped set went.
    assert f.stage_counts()["fitment"] == {"pending": 2, "gone": 2}
    every = io.StringIO()
    export(db, what="fitments", fmt="jsonl", out=every, include_gone=True)
    marks = [json.loads(line)["gone_crawl"] for line in every.getvalue().splitlines()]
    assert sorted(marks, key=str) == [state.crawl_id] * 2 + [None] * 2
    present = io.StringIO()
    assert export(db, what="fitments", fmt="jsonl", out=present) == 2
    # Offered again (the options fetched once more): its fitment items are fetched
    # again and the records return.
    with db.begin() as conn:
        conn.execute(update(frontier).where(frontier.c.kind == "options").values(status="pending"))
    w = _writer(db, state, Counters())
    _answer(f, w, "options", _options_done)
    assert f.stage_counts()["fitment"] == {"pending": 4}
    _answer(f, w, "fitment", _fitment_done)
    w.stop()
    assert [c for _, c, _, _ in _history(db)].count("returned") == 2


def test_refresh_reopens_the_oldest_confirmed_items_once(any_db: Any) -> None:
    db = any_db
    f = _first_crawl(db)
    # Confirmation times set by hand: fitment items the oldest, newest id first.
    with db.begin() as conn:
        ordered = conn.execute(
            select(frontier.c.id, frontier.c.key)
            .where(frontier.c.kind.in_(["vehicle", "fitment"]))
            .order_by(frontier.c.kind, frontier.c.id.desc())
        ).all()
        for i, row in enumerate(ordered):
            conn.execute(
                update(frontier).where(frontier.c.id == row.id).values(updated_at=1000.0 + i)
            )
    oldest = [row.key for row in ordered[:3]]
    assert all(key.startswith("fitment/") for key in oldest)
    state = f.begin_run(
        skip_existing=False, retry_failed=False, root=ROOT, refresh=Refresh(60.0, 3)
    )
    assert state.refreshed == 3 and not state.resumed
    with db.read() as conn:
        pending = (
            conn.execute(
                select(frontier.c.key).where(
                    frontier.c.status == "pending", frontier.c.kind.in_(["vehicle", "fitment"])
                )
            )
            .scalars()
            .all()
        )
    assert sorted(pending) == sorted(oldest)
    # Another process starting now resumes that crawl and re-opens nothing more.
    other = Frontier(db, owner="other", lease_seconds=60)
    second = other.begin_run(
        skip_existing=False, retry_failed=False, root=ROOT, refresh=Refresh(60.0, 3)
    )
    assert second.resumed and second.refreshed == 0


def test_diff_bounds_must_be_a_crawl_or_a_date(any_db: Any) -> None:
    with pytest.raises(ConfigError, match="--since"):
        diff(any_db, out=io.StringIO(), since="yesterday")
    assert diff(any_db, out=io.StringIO(), since="2026-01-01", until="2026-01-02") == 0
