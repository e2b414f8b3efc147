"""The frontier on a real SQLite file: claims, leases, releases, crawl generations."""

from __future__ import annotations

import time

from sqlalchemy import select, update

from custom_wheel_offset.storage.frontier import Frontier, ItemFilter, NewItem
from custom_wheel_offset.storage.schema import crawls, frontier


def _item(
    key: str, kind: str = "makes", year: int | None = None, make: str | None = None
) -> NewItem:
    return NewItem(key=key, kind=kind, params={"k": key}, year=year, make=make)


def _insert(db, items) -> None:
    with db.begin() as conn:
        conn.execute(db.insert_ignore(frontier), [i.row(time.time()) for i in items])


def _statuses(db) -> dict[str, str]:
    with db.read() as conn:
        return {r.key: r.status for r in conn.execute(select(frontier.c.key, frontier.c.status))}


def test_claim_takes_deepest_kind_first_and_leases(db) -> None:
    f = Frontier(db, owner="me", lease_seconds=60)
    _insert(db, [_item("y", "years"), _item("v1", "vehicle"), _item("m1", "makes")])
    got = f.claim(["years", "makes", "vehicle"], 2, ItemFilter())
    assert [i.key for i in got] == ["v1", "m1"]
    assert _statuses(db) == {"y": "pending", "v1": "leased", "m1": "leased"}
    # A second claim does not see leased rows.
    assert [i.key for i in f.claim(["years", "makes", "vehicle"], 5, ItemFilter())] == ["y"]
    assert f.claim(["years", "makes", "vehicle"], 5, ItemFilter()) == []


def test_inserting_an_existing_key_does_nothing(db) -> None:
    _insert(db, [_item("a")])
    f = Frontier(db, owner="me", lease_seconds=60)
    f.claim(["makes"], 1, ItemFilter())
    _insert(db, [_item("a"), _item("b")])
    assert _statuses(db) == {"a": "leased", "b": "pending"}


def test_filter_applies_at_claim(db) -> None:
    _insert(db, [_item("2019", year=2019), _item("2021", year=2021), _item("none")])
    f = Frontier(db, owner="me", lease_seconds=60)
    got = f.claim(["makes"], 10, ItemFilter(years=(2020, 2026)))
    assert sorted(i.key for i in got) == ["2021", "none"]


def test_not_before_delays_a_claim(db) -> None:
    _insert(db, [_item("later")])
    with db.begin() as conn:
        conn.execute(update(frontier).values(not_before=time.time() + 3600))
    f = Frontier(db, owner="me", lease_seconds=60)
    assert f.claim(["makes"], 10, ItemFilter()) == []
    ready, waiting, next_at = f.open_counts(["makes"], ItemFilter())
    assert (ready, waiting) == (0, 1) and next_at is not None and next_at > time.time()


def test_release_and_expired_leases_return_to_pending(db) -> None:
    _insert(db, [_item("a"), _item("b")])
    mine = Frontier(db, owner="me", lease_seconds=60)
    mine.claim(["makes"], 1, ItemFilter())
    assert mine.release_owned() == 1
    dead = Frontier(db, owner="dead", lease_seconds=-1)  # its leases are expired at once
    dead.claim(["makes"], 2, ItemFilter())
    assert set(_statuses(db).values()) == {"leased"}
    assert mine.reap_expired() == 2
    assert set(_statuses(db).values()) == {"pending"}


def test_new_crawl_reopens_listings_but_not_records_with_skip_existing(db) -> None:
    f = Frontier(db, owner="me", lease_seconds=60)
    root = _item("years", "years")
    first = f.begin_run(skip_existing=False, retry_failed=False, root=root)
    assert not first.resumed
    _insert(db, [_item("v", "vehicle"), _item("m", "makes")])
    with db.begin() as conn:
        conn.execute(update(frontier).values(status="done"))
    assert f.finish_crawl_if_complete(first.crawl_id)
    second = f.begin_run(skip_existing=True, retry_failed=False, root=root)
    assert not second.resumed and second.crawl_id != first.crawl_id
    assert second.skipped_vehicles == 1
    assert _statuses(db) == {"years": "pending", "m": "pending", "v": "done"}


def test_unfinished_crawl_is_resumed_and_dead_leases_reopened(db) -> None:
    f = Frontier(db, owner="run1", lease_seconds=600)
    state = f.begin_run(skip_existing=False, retry_failed=False, root=_item("years", "years"))
    f.claim(["years"], 1, ItemFilter())  # run1 dies holding this lease (SQLite: one owner)
    again = Frontier(db, owner="run2", lease_seconds=600).begin_run(
        skip_existing=False, retry_failed=False, root=_item("years", "years")
    )
    assert again.resumed and again.crawl_id == state.crawl_id
    assert _statuses(db) == {"years": "pending"}
    with db.read() as conn:
        assert conn.execute(select(crawls.c.id)).scalars().all() == [state.crawl_id]


def test_failed_items_are_reopened_by_the_next_run(db) -> None:
    f = Frontier(db, owner="me", lease_seconds=60)
    f.begin_run(skip_existing=False, retry_failed=False, root=_item("years", "years"))
    with db.begin() as conn:
        conn.execute(update(frontier).values(status="failed", attempts=3, last_error="boom"))
    summary = f.failure_summary()
    assert summary.total == 1 and [g.example for g in summary.groups] == ["boom"]
    f.begin_run(skip_existing=False, retry_failed=True, root=_item("years", "years"))
    assert _statuses(db) == {"years": "pending"}
