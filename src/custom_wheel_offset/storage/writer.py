"""The single writer: one thread, one transaction per batch of outcomes.

Workers never touch the database; they hand an :class:`Outcome` to the writer's
queue. The writer commits a batch when it holds ``batch_size`` outcomes or when
``flush_interval`` has passed since the first one arrived, whichever comes
first. In one transaction it:

1. marks ``done`` the items this owner still leases (a lease lost to another
   worker means the result is dropped, never written over another's);
2. inserts the children they discovered (a key that exists does nothing);
3. upserts vehicles, preference options and fitments, comparing each record
   with the stored one (one set-based query per table): added, changed (a
   history row with the old and new values), unchanged (only ``last_seen``
   moves) or returned (``storage.history``);
4. fans out fitment items for new vehicles and new preference sets
   (``storage.frontier.fan_out_fitments``); preference sets no longer offered
   go, with their fitments;
5. records retries, failures and releases.

A batch that fails to commit stops the run (``DatabaseError``); its items are
still leased, so the next run does them again: nothing half-written survives.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import deque
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, select, tuple_, update

from custom_wheel_offset.errors import DatabaseError
from custom_wheel_offset.exporting.format import flatten, vehicle_record
from custom_wheel_offset.metrics.counters import Counters
from custom_wheel_offset.protocol.records import VehicleId
from custom_wheel_offset.redact import safe_text
from custom_wheel_offset.storage import gone
from custom_wheel_offset.storage.database import sorted_chunks
from custom_wheel_offset.storage.frontier import NewItem, fan_out_fitments
from custom_wheel_offset.storage.history import (
    FITMENT_CONTENT,
    VEHICLE_CONTENT,
    Change,
    insert_changes,
    judge,
)
from custom_wheel_offset.storage.schema import (
    AXLE_RANGE_FIELDS,
    fitments,
    frontier,
    preference_options,
    preference_sets,
    vehicles,
)
from custom_wheel_offset.work import FitmentResult, OptionsResult, Outcome, VehicleResult

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from custom_wheel_offset.metrics.tracker import MetricTracker
    from custom_wheel_offset.storage.database import OptimizedDatabaseManager

__all__ = ["BatchWriter", "FitmentResult", "OptionsResult", "Outcome", "VehicleResult"]

log = logging.getLogger(__name__)


class BatchWriter:
    """Owns all crawl writes; call :meth:`submit` from any thread."""

    def __init__(
        self,
        db: OptimizedDatabaseManager,
        *,
        owner: str,
        crawl_id: int,
        counters: Counters,
        batch_size: int = 500,
        flush_interval: float = 0.5,
        tracker: MetricTracker | None = None,
        max_backlog: int | None = None,
    ) -> None:
        self.db = db
        self.owner = owner
        self.crawl_id = crawl_id
        self.counters = counters
        self.batch_size = batch_size
        self.flush_interval = flush_interval
        if tracker is None:
            from custom_wheel_offset.metrics.tracker import MetricTracker

            tracker = MetricTracker(counters)
        self._tracker = tracker
        self._items: deque[Outcome] = deque()  # append/popleft are thread-safe
        self._wake = threading.Event()
        self._stopping = False
        self._drainers = 0
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self._idle = threading.Condition()
        self._pending = 0  # submitted but not yet committed
        # The bound on that backlog: a worker submitting past it waits for the
        # writer (a slow database once let thousands of outcomes pile up). Two
        # batches: one being committed while the next fills.
        self.max_backlog = max_backlog or 2 * batch_size
        self.max_backlog_seen = 0
        self.submit_waits = 0  # submits that had to wait for the writer
        self._stopped = False
        self.batches = 0
        self.rows = 0
        self.outcomes = 0
        self.flush_reasons: dict[str, int] = {"size": 0, "time": 0, "drain": 0}

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="cwo-writer", daemon=True)
        self._thread.start()

    def submit(self, outcome: Outcome) -> None:
        """Hand over one outcome. Wakes the writer only when a batch is full: a
        wake-up per item would cost a thread switch (and the GIL) per page.

        While :attr:`max_backlog` outcomes wait, the caller waits too (the
        dispatcher stops claiming earlier, see :attr:`behind`).
        """
        with self._idle:
            if self._pending >= self.max_backlog and not self._stopped:
                self.submit_waits += 1
                self._wake.set()  # whatever waits is worth a batch now
                while self._pending >= self.max_backlog and not self._stopped:
                    if self._error is not None:
                        break
                    self._idle.wait(0.5)
            if self._error is not None:
                raise DatabaseError(f"the writer stopped: {self._error}") from self._error
            self._pending += 1
            self.max_backlog_seen = max(self.max_backlog_seen, self._pending)
        self._items.append(outcome)
        if len(self._items) >= self.batch_size:
            self._wake.set()

    @property
    def behind(self) -> bool:
        """A full batch waits to be committed: time to stop claiming new work."""
        return self._pending >= min(self.batch_size, self.max_backlog // 2)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def drain(self, timeout: float | None = None) -> bool:
        """Wait until everything submitted so far is committed. False on timeout."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._idle:
            self._drainers += 1
        self._wake.set()
        try:
            with self._idle:
                while self._pending and self._error is None:
                    remaining = None if deadline is None else deadline - time.monotonic()
                    if remaining is not None and remaining <= 0:
                        return False
                    self._idle.wait(min(remaining, 0.5) if remaining is not None else 0.5)
        finally:
            with self._idle:
                self._drainers -= 1
        self.raise_if_failed()
        return True

    def stop(self, timeout: float | None = None) -> None:
        if self._thread is None:
            return
        self._stopping = True
        self._wake.set()
        self._thread.join(timeout)
        self.raise_if_failed()

    def raise_if_failed(self) -> None:
        if self._error is not None:
            if isinstance(self._error, DatabaseError):
                raise self._error
            raise DatabaseError(f"the writer stopped: {self._error}") from self._error

    @property
    def backlog(self) -> int:
        return self._pending

    def stats(self) -> dict[str, Any]:
        return {
            "batches": self.batches,
            "outcomes": self.outcomes,
            "rows": self.rows,
            "rows_per_transaction": round(self.rows / self.batches, 2) if self.batches else 0.0,
            "outcomes_per_transaction": (
                round(self.outcomes / self.batches, 2) if self.batches else 0.0
            ),
            "transactions_saved_pct": (
                round(100.0 * (1 - self.batches / self.outcomes), 2) if self.outcomes else 0.0
            ),
            "flush_reasons": dict(self.flush_reasons),
            "batch_size": self.batch_size,
            "flush_interval_seconds": self.flush_interval,
            "max_backlog": self.max_backlog,
            "max_backlog_seen": self.max_backlog_seen,
            "submit_waits": self.submit_waits,
        }

    # -- the loop ---------------------------------------------------------------------------

    def _loop(self) -> None:
        try:
            self._run_loop()
        finally:
            with self._idle:
                # Nobody commits from here on: a submit waiting for room must not wait forever.
                self._stopped = True
                self._idle.notify_all()

    def _run_loop(self) -> None:
        batch: list[Outcome] = []
        first_at = 0.0
        while True:
            timeout = self.flush_interval
            if batch:
                timeout = max(0.0, first_at + self.flush_interval - time.monotonic())
            self._wake.wait(timeout)
            self._wake.clear()
            stopping = self._stopping  # read before taking items: none submitted later is lost
            while self._items:
                if not batch:
                    first_at = time.monotonic()
                batch.append(self._items.popleft())
                if len(batch) >= self.batch_size:
                    if not self._flush(batch, "size"):
                        return
                    batch = []
            if batch:
                if stopping or self._drainers:
                    reason = "drain"
                elif time.monotonic() - first_at >= self.flush_interval:
                    reason = "time"
                else:
                    continue
                if not self._flush(batch, reason):
                    return
                batch = []
            if stopping:
                return

    def _flush(self, batch: list[Outcome], reason: str) -> bool:
        """Commit one batch; False when the writer has failed and must stop."""
        try:
            self._commit(batch)
        except BaseException as exc:  # noqa: BLE001 - handed to the run, which stops
            log.error("writer failed: %s", exc)
            self._error = exc
            with self._idle:
                self._idle.notify_all()
            return False
        self.flush_reasons[reason] += 1
        with self._idle:
            self._pending -= len(batch)
            self._idle.notify_all()
        return True

    def _commit(self, batch: Sequence[Outcome]) -> None:
        # Counted into a tally that is kept only once the transaction commits:
        # a transaction aborted by the server (deadlock) runs again from the start.
        def write(conn: Connection) -> tuple[int, Counters]:
            tally = Counters()
            return self._write(conn, batch, tally), tally

        with self._tracker.track("write_batch"):
            rows, tally = self.db.transaction(write, what="writing a batch")
        for name, n in tally.snapshot().items():
            self.counters.incr(name, n)
        self.batches += 1
        self.outcomes += len(batch)
        self.rows += rows
        self.counters.incr("writer/batches")
        self.counters.incr("writer/rows", rows)

    # -- one transaction --------------------------------------------------------------------

    def _write(self, conn: Connection, batch: Sequence[Outcome], tally: Counters) -> int:
        now = time.time()
        kept, rows = self._complete(conn, [o for o in batch if o.status == "done"], now, tally)
        rows += self._insert_children(conn, kept, now, tally)
        rows += self._write_records(conn, kept, now, tally)
        # After the records: a record stored in this batch must not clear a mark set here.
        rows += self._write_listed(conn, [o for o in kept if o.listed is not None], now, tally)
        gone_ids = self._write_gone_urls(conn, batch, now, tally)
        rows += len(gone_ids)
        rest = [o for o in batch if o.item_id not in gone_ids]
        return rows + self._write_others(conn, rest, now, tally)

    def _complete(
        self, conn: Connection, done: list[Outcome], now: float, tally: Counters
    ) -> tuple[list[Outcome], int]:
        """Mark done the items this owner still leases; (their outcomes, rows)."""
        owned: set[int] = set()
        if not done:
            return [], 0
        # Rows are locked in key order everywhere the writers of several
        # processes may meet, so two of them wait for each other in turn
        # instead of each holding what the other needs.
        for chunk in sorted_chunks(o.item_id for o in done):
            owned.update(
                conn.execute(
                    update(frontier)
                    .where(
                        frontier.c.id.in_(chunk),
                        frontier.c.status == "leased",
                        frontier.c.lease_owner == self.owner,
                    )
                    .values(
                        status="done",
                        lease_owner=None,
                        lease_expires=None,
                        last_error=None,
                        failure_code=None,
                        failed_runs=0,
                        crawl_id=self.crawl_id,
                        updated_at=now,
                    )
                    .returning(frontier.c.id)
                ).scalars()
            )
        lost = len(done) - len(owned)
        if lost:
            tally.incr("writer/lease_lost", lost)
            log.warning("dropped %d result(s) whose lease had passed to another worker", lost)
        kept = [o for o in done if o.item_id in owned]
        for o in kept:
            tally.incr(f"items/done/{o.kind}")
        return kept, len(owned)

    def _insert_children(
        self, conn: Connection, kept: list[Outcome], now: float, tally: Counters
    ) -> int:
        """Insert the children the kept outcomes discovered (existing keys do nothing)."""
        rows = 0
        parent_of = {c.key: o.item_id for o in kept if o.listed is not None for c in o.children}
        by_kind: dict[str, list[dict[str, Any]]] = {}
        for child in _unique([child for o in kept for child in o.children]):
            row = child.row(now)
            row["parent_id"] = parent_of.get(child.key)
            by_kind.setdefault(child.kind, []).append(row)
        for kind, kind_rows in by_kind.items():
            # RETURNING counts the new rows on both databases: for a many-row
            # INSERT on PostgreSQL the driver's rowcount reads -1.
            inserted = len(
                conn.execute(
                    self.db.insert_ignore(frontier).returning(frontier.c.id), kind_rows
                ).all()
            )
            if inserted > 0:
                rows += inserted
                tally.incr(f"items/discovered/{kind}", inserted)
        return rows

    def _write_records(
        self, conn: Connection, kept: list[Outcome], now: float, tally: Counters
    ) -> int:
        rows = 0
        vehicle_results = [o.result for o in kept if isinstance(o.result, VehicleResult)]
        options_results = [o.result for o in kept if isinstance(o.result, OptionsResult)]
        fitment_results = [o.result for o in kept if isinstance(o.result, FitmentResult)]
        if vehicle_results:
            rows += self._write_vehicles(conn, vehicle_results, now, tally)
        for result in options_results:
            rows += self._write_options(conn, result, now, tally)
        if fitment_results:
            rows += self._write_fitments(conn, fitment_results, now, tally)
        return rows

    def _write_others(
        self, conn: Connection, batch: list[Outcome], now: float, tally: Counters
    ) -> int:
        """Retries, failures and releases of items this owner still leases."""
        rows = 0
        others = [o for o in batch if o.status != "done"]
        if not others:
            return 0
        # An item a listing marked gone in this or an earlier batch (or whose
        # lease passed to another worker) is no longer this owner's: its retry,
        # failure or release changes nothing and is not counted as one.
        mine: set[int] = set()
        for chunk in sorted_chunks(o.item_id for o in others):
            mine.update(
                conn.execute(
                    select(frontier.c.id).where(
                        frontier.c.id.in_(chunk),
                        frontier.c.status == "leased",
                        frontier.c.lease_owner == self.owner,
                    )
                ).scalars()
            )
        if len(mine) < len(others):
            tally.incr("writer/outcomes_not_leased", len(others) - len(mine))
        # A failed item keeps its code and counts one more failed run; a release
        # (run stopping, bot challenge) is no fault of the item: its code stays.
        coded: dict[str, Any] = {"failure_code": bindparam("b_code")}
        for status, values in (
            ("retry", {"status": "pending", **coded}),
            ("failed", {"status": "failed", **coded, "failed_runs": frontier.c.failed_runs + 1}),
            ("release", {"status": "pending"}),
        ):
            group = [o for o in others if o.status == status and o.item_id in mine]
            if group:
                rows += self._write_group(conn, status, values, group, now, tally)
        return rows

    def _write_group(
        self,
        conn: Connection,
        status: str,
        values: dict[str, Any],
        group: list[Outcome],
        now: float,
        tally: Counters,
    ) -> int:
        """One kind of non-done outcome (retry, failed or release) of leased items."""
        stmt = (
            update(frontier)
            .where(
                frontier.c.id == bindparam("b_id"),
                frontier.c.status == "leased",
                frontier.c.lease_owner == self.owner,
            )
            .values(
                **values,
                attempts=frontier.c.attempts + (0 if status == "release" else 1),
                last_error=bindparam("b_error"),
                not_before=bindparam("b_not_before"),
                lease_owner=None,
                lease_expires=None,
                updated_at=now,
            )
        )
        conn.execute(
            stmt,
            [
                # An error can quote the server: stored masked and without controls.
                {
                    "b_id": o.item_id,
                    "b_error": o.error and safe_text(o.error),
                    "b_not_before": o.not_before,
                    "b_code": o.code,
                }
                for o in group
            ],
        )
        for o in group:
            tally.incr(f"items/{status}/{o.kind}")
            if status == "failed":
                if o.code in gone.GONE_CODES:
                    # Said at info by the handler, which cannot know it never worked.
                    log.warning("%s item failed [%s]: %s", o.kind, o.code, o.error)
                # Beside items/failed/<kind>: codes never equal a kind's name.
                tally.incr(f"items/failed/{o.code or 'unknown'}")
        return len(group)

    def _write_listed(
        self, conn: Connection, listings: list[Outcome], now: float, tally: Counters
    ) -> int:
        """Children listed again come back; children no longer listed go (storage.gone).

        A few statements for the whole batch, not a few per listing: in the
        tree's stages most outcomes are listings.
        """
        if not listings:
            return 0
        listed: dict[int, frozenset[str]] = {}
        for o in listings:
            assert o.listed is not None
            listed[o.item_id] = o.listed
        gone.link_children(conn, listed)
        back = gone.come_back(conn, set().union(*listed.values()), now)
        if back:
            tally.incr("items/returned", back)
        rows = back
        missing = gone.unlisted(conn, listed)
        if missing:
            rows += self._mark_gone(conn, missing, now, tally)
        return rows

    def _write_gone_urls(
        self, conn: Connection, batch: Sequence[Outcome], now: float, tally: Counters
    ) -> set[int]:
        """404/410 on a URL whose item was done in an earlier crawl: gone, not failed."""
        candidates = {
            o.item_id: o for o in batch if o.status == "failed" and o.code in gone.GONE_CODES
        }
        if not candidates:
            return set()
        found = gone.gone_after_404(conn, list(candidates), self.owner)
        if not found:
            return found
        conn.execute(
            update(frontier)
            .where(frontier.c.id == bindparam("b_id"))
            .values(last_error=bindparam("b_error"), failure_code=bindparam("b_code")),
            [
                {
                    "b_id": i,
                    "b_error": candidates[i].error and safe_text(candidates[i].error or ""),
                    "b_code": candidates[i].code,
                }
                for i in sorted(found)
            ],
        )
        self._mark_gone(conn, found, now, tally)
        return found

    def _mark_gone(self, conn: Connection, ids: Any, now: float, tally: Counters) -> int:
        """Mark items gone with what hangs below (storage.gone); count items and records."""
        records: dict[str, int] = {}
        marked = gone.mark_gone(conn, ids, self.crawl_id, now, records)
        for kind, n in marked.items():
            tally.incr(f"items/gone/{kind}", n)
        for what, n in records.items():
            if n and what.endswith("/undone"):
                # Counted changed in an earlier batch of this crawl: net, it went.
                tally.incr(f"records/changed/{what.removesuffix('/undone')}", -n)
            elif n:
                tally.incr(f"records/gone/{what}", n)
        return sum(marked.values())

    def _write_vehicles(
        self, conn: Connection, results: list[VehicleResult], now: float, tally: Counters
    ) -> int:
        by_identity = dict(sorted({_identity(r.vehicle): r for r in results}.items()))
        identity_cols = tuple(vehicles.c[k] for k in IDENTITY)
        stored = {
            tuple(row[k] for k in IDENTITY): row
            for row in conn.execute(
                select(
                    *identity_cols,
                    *_state_cols(vehicles),
                    *_content_cols(vehicles, VEHICLE_CONTENT),
                ).where(tuple_(*identity_cols).in_(list(by_identity)))
            ).mappings()
        }
        rows: list[dict[str, Any]] = []
        changes: dict[tuple[Any, ...], list[Change]] = {}
        for ident, r in by_identity.items():
            row = _vehicle_row(r, now, self.crawl_id)
            changes[ident] = judge(row, stored.get(ident), VEHICLE_CONTENT, now, self.crawl_id)
            rows.append(row)
        conn.execute(
            self.db.upsert(vehicles, list(IDENTITY), _update_cols(rows[0], IDENTITY)), rows
        )
        _tally_records(tally, "vehicle", changes.values())
        id_of = {
            tuple(row[1:]): row[0]
            for row in conn.execute(
                select(vehicles.c.id, *identity_cols).where(
                    tuple_(*identity_cols).in_(list(by_identity))
                )
            )
        }
        by_id = {id_of[ident]: found for ident, found in changes.items()}
        insert_changes(conn, "vehicle", by_id, self.crawl_id, now)
        ids = sorted(id_of.values())
        # A vehicle that came back: its fitment items are fetched again too.
        conn.execute(
            update(frontier)
            .where(frontier.c.vehicle_id.in_(ids), frontier.c.status == "gone")
            .values(status="pending", gone_crawl=None, attempts=0, not_before=0.0, updated_at=now)
        )
        return len(rows) + self._fan_out(conn, vehicles.c.id.in_(ids), now, tally)

    def _write_options(
        self, conn: Connection, result: OptionsResult, now: float, tally: Counters
    ) -> int:
        vtype, options = result.vehicle_type, result.options
        # Looked up before the upsert: a first crawl's options are added, not updated.
        po = preference_options.c
        known = conn.execute(
            select(po.suspension, po.trimming, po.rubbing).where(po.vehicle_type == vtype)
        ).first()
        lists = {
            name: json.dumps(list(getattr(options, name)), ensure_ascii=False)
            for name in ("suspension", "trimming", "rubbing")
        }
        conn.execute(
            self.db.upsert(
                preference_options,
                ["vehicle_type"],
                ["suspension", "trimming", "rubbing", "fetched_at"],
            ),
            [{"vehicle_type": vtype, **lists, "fetched_at": now}],
        )
        sets = options.preference_sets()
        rows = self._write_sets(conn, vtype, sets, now, tally)
        outcome = "added" if known is None else "changed"
        if known is not None and tuple(known) == tuple(lists.values()):
            outcome = "unchanged"
        tally.incr(f"records/{outcome}/preference_options")
        return 1 + rows + self._fan_out(conn, vehicles.c.vehicle_type == vtype, now, tally)

    def _write_sets(
        self, conn: Connection, vtype: str, sets: list[Any], now: float, tally: Counters
    ) -> int:
        """The type's preference sets: those no longer offered go with their fitments,
        those offered again come back (their gone fitment items are fetched again)."""
        p = preference_sets.c
        offered = {(s.suspension, s.modification, s.rubbing) for s in sets}
        before = conn.execute(
            select(p.id, p.suspension, p.modification, p.rubbing, p.gone_crawl).where(
                p.vehicle_type == vtype
            )
        ).all()
        dropped = [r.id for r in before if r.gone_crawl is None and tuple(r[1:4]) not in offered]
        back = [r.id for r in before if r.gone_crawl is not None and tuple(r[1:4]) in offered]
        conn.execute(update(preference_sets).where(p.vehicle_type == vtype).values(current=False))
        if sets:
            conn.execute(
                self.db.upsert(
                    preference_sets,
                    ["vehicle_type", "suspension", "modification", "rubbing"],
                    ["current", "gone_crawl"],
                ),
                [
                    {
                        "vehicle_type": vtype,
                        "suspension": s.suspension,
                        "modification": s.modification,
                        "rubbing": s.rubbing,
                        "current": True,
                        "gone_crawl": None,
                    }
                    for s in sets
                ],
            )
        if back:
            conn.execute(
                update(frontier)
                .where(frontier.c.prefset_id.in_(back), frontier.c.status == "gone")
                .values(status="pending", gone_crawl=None, attempts=0, not_before=0.0)
            )
        if dropped:
            conn.execute(
                update(preference_sets).where(p.id.in_(dropped)).values(gone_crawl=self.crawl_id)
            )
            items = (
                conn.execute(
                    select(frontier.c.id).where(
                        frontier.c.prefset_id.in_(dropped), frontier.c.gone_crawl.is_(None)
                    )
                )
                .scalars()
                .all()
            )
            self._mark_gone(conn, items, now, tally)
            tally.incr("records/gone/preference_set", len(dropped))
        return len(sets) + len(dropped)

    def _fan_out(
        self, conn: Connection, vehicle_condition: Any, now: float, tally: Counters
    ) -> int:
        """Insert a fitment item for every (vehicle, current preference set of its type)."""
        return fan_out_fitments(self.db, conn, vehicle_condition, now, tally)

    def _write_fitments(
        self, conn: Connection, results: list[FitmentResult], now: float, tally: Counters
    ) -> int:
        keys = sorted({(r.vehicle_id, r.prefset_id): r for r in results}.items())
        # By vehicle, then in Python: a batch spans a few vehicles, and the index
        # on (vehicle_id, prefset_id) answers a plain IN on its first column at
        # once, where a row-value IN degrades as the table grows.
        wanted = {k for k, _ in keys}
        stored: dict[tuple[int, int], Any] = {}
        columns = (fitments.c.id, fitments.c.vehicle_id, fitments.c.prefset_id)
        for chunk in sorted_chunks({v for v, _ in wanted}):
            for found in conn.execute(
                select(
                    *columns, *_state_cols(fitments), *_content_cols(fitments, FITMENT_CONTENT)
                ).where(fitments.c.vehicle_id.in_(chunk))
            ).mappings():
                if (found["vehicle_id"], found["prefset_id"]) in wanted:
                    stored[(found["vehicle_id"], found["prefset_id"])] = found
        rows: list[dict[str, Any]] = []
        changes: dict[tuple[int, int], list[Change]] = {}
        for key, r in keys:
            new_row = _fitment_row(r, now, self.crawl_id)
            changes[key] = judge(new_row, stored.get(key), FITMENT_CONTENT, now, self.crawl_id)
            rows.append(new_row)
        pair = ("vehicle_id", "prefset_id")
        conn.execute(self.db.upsert(fitments, list(pair), _update_cols(rows[0], pair)), rows)
        _tally_records(tally, "fitment", changes.values())
        new = {k for k in changes if k not in stored}
        id_of = {k: found["id"] for k, found in stored.items()}
        # The ids of the added ones: by vehicle again, as above.
        for chunk in sorted_chunks({v for v, _ in new}):
            for row in conn.execute(select(*columns).where(fitments.c.vehicle_id.in_(chunk))):
                if (row.vehicle_id, row.prefset_id) in new:
                    id_of[(row.vehicle_id, row.prefset_id)] = row.id
        by_id = {id_of[k]: found for k, found in changes.items() if found}
        insert_changes(conn, "fitment", by_id, self.crawl_id, now)
        return len(rows)


IDENTITY = ("year", "make", "model", "trim", "drive")
# Kept as first stored by an upsert of a record seen again.
_FIRST_COLS = ("first_seen", "first_crawl")


def _state_cols(table: Any) -> tuple[Any, ...]:
    return (table.c.gone_crawl, table.c.last_changed, table.c.changed_crawl)


def _content_cols(table: Any, names: tuple[str, ...]) -> tuple[Any, ...]:
    """The columns of a record's exported fields (storage.history.*_CONTENT)."""
    return tuple(table.c[n] for n in names)


def _update_cols(row: dict[str, Any], key: tuple[str, ...]) -> list[str]:
    return [k for k in row if k not in key and k not in _FIRST_COLS]


def _tally_records(tally: Counters, what: str, found: Any) -> None:
    """records/{added,changed,unchanged,returned}/<what>: each record once in the first three."""
    for changes in found:
        names = {c.change for c in changes}
        if "returned" in names:
            tally.incr(f"records/returned/{what}")
        if "added" in names:
            tally.incr(f"records/added/{what}")
        elif "changed" in names:
            tally.incr(f"records/changed/{what}")
        else:
            tally.incr(f"records/unchanged/{what}")


def _identity(v: VehicleId) -> tuple[int, str, str, str, str]:
    return (v.year, v.make, v.model, v.trim, v.drive)


def _vehicle_row(r: VehicleResult, now: float, crawl_id: int) -> dict[str, Any]:
    # The columns are the export record's keys, front/rear flattened.
    row = flatten(vehicle_record(r.vehicle, r.spec))
    row["raw_json"] = json.dumps(r.spec.raw, ensure_ascii=False)
    row["fetched_at"] = now
    row["crawl_id"] = crawl_id
    row["gone_crawl"] = None  # fetched: present (again)
    return row


def _fitment_row(r: FitmentResult, now: float, crawl_id: int) -> dict[str, Any]:
    page = r.page
    row: dict[str, Any] = {
        "vehicle_id": r.vehicle_id,
        "prefset_id": r.prefset_id,
        "status": page.status,
        "bolt_pattern_mm": page.bolt_pattern_mm,
        "bolt_pattern_in": page.bolt_pattern_in,
    }
    for axle_name, axle in (("front", page.front), ("rear", page.rear)):
        for name in AXLE_RANGE_FIELDS:
            row[f"{axle_name}_{name}"] = getattr(axle, name)
    row["raw_block"] = page.raw_block
    row["fetched_at"] = now
    row["crawl_id"] = crawl_id
    row["gone_crawl"] = None  # fetched: present (again)
    return row


def _unique(children: list[NewItem]) -> list[NewItem]:
    """One item per key, in key order (the order in which their rows get locked)."""
    seen: dict[str, NewItem] = {}
    for c in children:
        seen.setdefault(c.key, c)
    return [seen[key] for key in sorted(seen)]
