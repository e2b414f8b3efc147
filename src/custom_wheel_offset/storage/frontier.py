"""The crawl frontier: every unit of work is a row with a unique key and a status.

Status moves ``pending -> leased -> done | failed`` (or back to ``pending`` for a
retry or a release). Claims take pending rows of one kind in id order through a
partial index, so finding work costs the same among a million done rows as
among ten; on PostgreSQL they use ``FOR UPDATE SKIP LOCKED`` so several
processes share one crawl. A lease names its owner and expires; an expired lease
is reaped back to pending. Completion (in ``storage.writer``) is conditional on
still owning the lease.

A crawl is a generation of work: it ends when no row is pending or leased. A run
that finds the latest crawl unfinished resumes it (only what was in flight is
redone); otherwise it starts a new crawl, which re-opens the listings and the
preference options (to discover what is new) and, without ``--skip-existing``,
every vehicle and fitment page too.

The fitment fan-out (one fitment item per vehicle and current preference set of
its type) lives here too; the writer calls it, never the other way round.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import String as SAString
from sqlalchemy import and_, bindparam, case, cast, func, literal, or_, select, true, update

from custom_wheel_offset.errors import DatabaseError
from custom_wheel_offset.storage.database import sorted_chunks
from custom_wheel_offset.storage.schema import (
    crawls,
    frontier,
    preference_sets,
    runs,
    vehicles,
)
from custom_wheel_offset.storage.targets import PreferenceSetCache, fill_fitment_targets

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection

    from custom_wheel_offset.metrics.counters import Counters
    from custom_wheel_offset.storage.database import OptimizedDatabaseManager
    from custom_wheel_offset.work import FitmentTarget

__all__ = [
    "KIND_PRIORITY",
    "LISTING_KINDS",
    "RECORD_KINDS",
    "STAGE_KINDS",
    "STORE_KINDS",
    "CrawlState",
    "FailureGroup",
    "FailureSummary",
    "Frontier",
    "ItemFilter",
    "NewItem",
    "Refresh",
    "WorkItem",
    "fan_out_fitments",
]

log = logging.getLogger(__name__)

# Deeper kinds first: a crawl that finishes what it has discovered before it
# discovers more keeps the pending set, and so the frontier's hot part, small.
KIND_PRIORITY: dict[str, int] = {
    "fitment": 7,
    "options": 6,
    "vehicle": 5,
    "drives": 4,
    "model_info": 3,
    "models": 2,
    "makes": 1,
    "years": 0,
}
LISTING_KINDS = ("years", "makes", "models", "model_info", "drives")
RECORD_KINDS = ("vehicle", "fitment")
STORE_KINDS = frozenset({"options", "fitment"})
STAGE_KINDS: dict[str, tuple[str, ...]] = {
    "tree": LISTING_KINDS,
    "vehicles": ("vehicle",),
    "preferences": ("options",),
    "fitments": ("fitment",),
}
OPEN_STATUSES = ("pending", "leased")
CLAIM_REAP_INTERVAL = 1.0  # seconds between reaps of expired leases at claim time (PostgreSQL)


@dataclass(frozen=True, slots=True)
class NewItem:
    """A child discovered by parsing; inserting it when its key exists does nothing."""

    key: str
    kind: str
    params: dict[str, Any]
    year: int | None = None
    make: str | None = None
    model: str | None = None

    def row(self, now: float) -> dict[str, Any]:
        return {
            "key": self.key,
            "kind": self.kind,
            "params": json.dumps(self.params, ensure_ascii=False),
            "vehicle_id": None,
            "prefset_id": None,
            "year": self.year,
            "make": self.make,
            "model": self.model,
            "status": "pending",
            "attempts": 0,
            "not_before": 0.0,
            "updated_at": now,
            "parent_id": None,  # the writer sets the listing's id
        }


@dataclass(slots=True)
class WorkItem:
    """A claimed row. A fitment item also carries its target, read by the claim."""

    id: int
    key: str
    kind: str
    params: dict[str, Any]
    attempts: int
    vehicle_id: int | None = None
    prefset_id: int | None = None
    target: FitmentTarget | None = None


@dataclass(frozen=True, slots=True)
class ItemFilter:
    """Which part of the catalogue a run works on (``--years``, ``--makes``, ``--models``)."""

    years: tuple[int, int] | None = None
    makes: tuple[str, ...] = ()
    models: tuple[str, ...] = ()

    def admits(self, year: int | None, make: str | None, model: str | None) -> bool:
        if self.years and year is not None and not self.years[0] <= year <= self.years[1]:
            return False
        if self.makes and make is not None and make not in self.makes:
            return False
        return not (self.models and model is not None and model not in self.models)

    def clauses(self) -> list[Any]:
        out: list[Any] = []
        if self.years:
            out.append(or_(frontier.c.year.is_(None), frontier.c.year.between(*self.years)))
        if self.makes:
            out.append(or_(frontier.c.make.is_(None), frontier.c.make.in_(self.makes)))
        if self.models:
            out.append(or_(frontier.c.model.is_(None), frontier.c.model.in_(self.models)))
        return out


@dataclass(frozen=True, slots=True)
class Refresh:
    """Rolling refresh: re-open done vehicle and fitment items confirmed longer ago than
    ``older_than`` seconds, oldest first, at most ``budget`` (None: all) per new crawl."""

    older_than: float
    budget: int | None = None


@dataclass(frozen=True, slots=True)
class CrawlState:
    crawl_id: int
    resumed: bool
    skipped_vehicles: int
    skipped_fitments: int
    started_at: float = 0.0  # when this run began: its failures are the rows failed since
    retired: int = 0  # failed items not re-opened: they failed in --item-attempts runs
    refreshed: int = 0  # vehicle and fitment items re-opened by the rolling refresh


@dataclass(frozen=True, slots=True)
class FailureGroup:
    code: str
    count: int
    example: str  # one stored message of this code


@dataclass(frozen=True, slots=True)
class FailureSummary:
    total: int  # every failed item (COUNT, not the sum of a capped list)
    past_limit: int  # failed in --item-attempts runs: no longer retried automatically
    groups: list[FailureGroup]  # by code, most frequent first (capped)


class Frontier:
    """Claims, leases, releases and crawl generations over the ``frontier`` table."""

    def __init__(
        self,
        db: OptimizedDatabaseManager,
        owner: str,
        lease_seconds: float,
        *,
        cache_ttl: float | None = 3600.0,
    ) -> None:
        self.db = db
        self.owner = owner
        self.lease_seconds = lease_seconds
        self._next_claim_reap = 0.0
        #: the preference sets every claim names (see storage/targets.py); stats in metrics
        self.preference_sets = PreferenceSetCache(max_size=4096, ttl=cache_ttl)
        # One claim statement per (kind, filter), with bound parameters: building and
        # keying a statement cost the dispatcher more CPU than running it (about half
        # of its time on a crawl: docs/performance.md, session 5).
        self._claim_statements: dict[tuple[str, ItemFilter], Any] = {}

    # -- run start --------------------------------------------------------------------------

    def begin_run(
        self,
        *,
        skip_existing: bool,
        retry_failed: bool,
        root: NewItem,
        item_attempts: int | None = None,
        refresh: Refresh | None = None,
    ) -> CrawlState:
        """Reap dead leases, re-open failed items, and resume or start a crawl.

        A failed item is re-opened unless it has failed in ``item_attempts``
        runs already (None: no limit); ``retry_failed`` re-opens every one.
        A new crawl with ``refresh`` works as ``skip_existing`` and also re-opens
        the oldest-confirmed vehicle and fitment items (:class:`Refresh`).
        """
        now = time.time()
        limit = None if retry_failed else item_attempts
        state = self.db.transaction(
            lambda conn: self._begin_run(
                conn, now, skip_existing, retry_failed, root, limit, refresh
            ),
            what="starting the run",
        )
        if state.refreshed:
            log.info(
                "rolling refresh: %d vehicle or fitment page(s) last confirmed longest ago "
                "are fetched again",
                state.refreshed,
            )
        if state.retired:
            log.info(
                "%d failed item(s) are not retried: they failed in %s run(s) "
                "(--item-attempts); --retry-failed takes them",
                state.retired,
                item_attempts,
            )
        log.info(
            "%s crawl %d (%s)",
            "resuming" if state.resumed else "starting",
            state.crawl_id,
            "skip existing" if skip_existing else "fetch everything",
        )
        return state

    def _begin_run(
        self,
        conn: Connection,
        now: float,
        skip_existing: bool,
        retry_failed: bool,
        root: NewItem,
        failed_runs_limit: int | None,
        refresh: Refresh | None = None,
    ) -> CrawlState:
        if not self.db.is_sqlite:
            # Two processes starting at once must not both open a new crawl.
            conn.exec_driver_sql("SELECT pg_advisory_xact_lock(7714201)")
        self._reap(conn, now, everything=self.db.is_sqlite)
        failed = frontier.c.status == "failed"
        if failed_runs_limit is not None:
            failed = and_(failed, frontier.c.failed_runs < failed_runs_limit)
        # The reason, its code and the failed runs stay: status shows them until it is done.
        conn.execute(
            update(frontier)
            .where(failed)
            .values(status="pending", attempts=0, not_before=0.0, updated_at=now)
        )
        retired = self._count_failed(conn)
        latest = conn.execute(
            select(crawls.c.id, crawls.c.finished_at).order_by(crawls.c.id.desc()).limit(1)
        ).first()
        resumed = latest is not None and (latest.finished_at is None or retry_failed)
        skipped_v = skipped_f = refreshed = 0
        if resumed:
            assert latest is not None
            crawl_id = latest.id
        else:
            skip_existing = skip_existing or refresh is not None
            mode = "refresh" if refresh else "skip_existing" if skip_existing else "full"
            crawl_id = conn.execute(
                crawls.insert().values(started_at=now, mode=mode).returning(crawls.c.id)
            ).scalar_one()
            reopen: tuple[str, ...] = (*LISTING_KINDS, "options")
            if not skip_existing:
                reopen = (*reopen, *RECORD_KINDS)
            conn.execute(
                update(frontier)
                .where(frontier.c.kind.in_(reopen), frontier.c.status == "done")
                .values(status="pending", attempts=0, not_before=0.0, updated_at=now)
            )
            if refresh is not None:
                refreshed = self._reopen_oldest(conn, now, refresh)
            if skip_existing:
                skipped_v, skipped_f = (
                    self._count(conn, "vehicle", "done"),
                    self._count(conn, "fitment", "done"),
                )
        conn.execute(self.db.insert_ignore(frontier), [root.row(now)])
        return CrawlState(crawl_id, resumed, skipped_v, skipped_f, now, retired, refreshed)

    def _reopen_oldest(self, conn: Connection, now: float, refresh: Refresh) -> int:
        """Re-open the done vehicle and fitment items confirmed longest ago (rolling refresh).

        A done item's ``updated_at`` is when its page was last stored: the writer
        marks it done in the transaction that stores its record, with the same
        time as the record's ``last_seen``. Oldest first, ties by id, so repeated
        runs cycle through every record before any is fetched twice. On
        PostgreSQL the rows are locked and locked ones skipped: two processes
        never re-open the same item (begin_run is serialised as well).
        """
        pick = (
            select(frontier.c.id)
            .where(
                frontier.c.kind.in_(RECORD_KINDS),
                frontier.c.status == "done",
                frontier.c.updated_at < now - refresh.older_than,
            )
            .order_by(frontier.c.updated_at, frontier.c.id)
        )
        if refresh.budget is not None:
            pick = pick.limit(refresh.budget)
        if not self.db.is_sqlite:
            pick = pick.with_for_update(skip_locked=True)
        ids = list(conn.execute(pick).scalars())
        for chunk in sorted_chunks(ids):
            conn.execute(
                update(frontier)
                .where(frontier.c.id.in_(chunk))
                .values(status="pending", attempts=0, not_before=0.0, updated_at=now)
            )
        return len(ids)

    @staticmethod
    def _count_failed(conn: Connection, *extra: Any) -> int:
        return conn.execute(
            select(func.count()).select_from(frontier).where(frontier.c.status == "failed", *extra)
        ).scalar_one()

    def _reap(self, conn: Connection, now: float, *, everything: bool) -> int:
        """Leased rows whose owner is gone become pending again."""
        cond = frontier.c.status == "leased"
        if not everything:
            cond = and_(cond, frontier.c.lease_expires < now)
            if not self.db.is_sqlite:
                # Skip rows another transaction holds (a completion, a renewal,
                # another reaper): never wait, never deadlock; next time they count.
                locked = select(frontier.c.id).where(cond).with_for_update(skip_locked=True)
                cond = frontier.c.id.in_(locked.scalar_subquery())
        result = conn.execute(
            update(frontier)
            .where(cond)
            .values(status="pending", lease_owner=None, lease_expires=None, updated_at=now)
        )
        if result.rowcount:
            log.info("re-opened %d item(s) leased by a run that is gone", result.rowcount)
        return result.rowcount or 0

    def reap_expired(self) -> int:
        return self.db.transaction(
            lambda conn: self._reap(conn, time.time(), everything=False),
            what="re-opening expired leases",
        )

    @staticmethod
    def _count(conn: Connection, kind: str, status: str) -> int:
        return conn.execute(
            select(func.count())
            .select_from(frontier)
            .where(frontier.c.kind == kind, frontier.c.status == status)
        ).scalar_one()

    # -- claims -----------------------------------------------------------------------------

    def claim(self, kinds: Iterable[str], limit: int, item_filter: ItemFilter) -> list[WorkItem]:
        """Lease up to ``limit`` pending items, deepest kind first."""
        if limit <= 0:
            return []
        now = time.time()
        ordered = sorted(kinds, key=lambda k: -KIND_PRIORITY[k])
        return self.db.transaction(
            lambda conn: fill_fitment_targets(
                conn, self._claim(conn, ordered, limit, item_filter, now), self.preference_sets
            ),
            durable=not self.db.is_sqlite,
            what="claiming items",
        )

    def _claim(
        self,
        conn: Connection,
        ordered: list[str],
        limit: int,
        item_filter: ItemFilter,
        now: float,
    ) -> list[WorkItem]:
        expires = now + self.lease_seconds
        claimed: list[WorkItem] = []
        if not self.db.is_sqlite and now >= self._next_claim_reap:
            # An expired lease is claimable again. Reaping here too (at most
            # once a second) lets a process with nothing left of its own take
            # over the work of one that died, instead of waiting for it.
            self._next_claim_reap = now + CLAIM_REAP_INTERVAL
            self._reap(conn, now, everything=False)
        for kind in ordered:
            want = limit - len(claimed)
            if want <= 0:
                break
            claimed += self._claim_kind(conn, kind, want, item_filter, now, expires)
        return claimed

    def _claim_kind(
        self,
        conn: Connection,
        kind: str,
        want: int,
        item_filter: ItemFilter,
        now: float,
        expires: float,
    ) -> list[WorkItem]:
        """Lease up to ``want`` pending items of one kind, in id order."""
        statement = self._claim_statement(kind, item_filter)
        params = {"claim_now": now, "claim_want": want, "claim_expires": expires}
        rows = conn.execute(statement, params).all()
        return [
            WorkItem(
                id=row.id,
                key=row.key,
                kind=row.kind,
                params=json.loads(row.params) if row.params else {},
                attempts=row.attempts,
                vehicle_id=row.vehicle_id,
                prefset_id=row.prefset_id,
            )
            for row in sorted(rows, key=lambda r: r.id)
        ]

    def _claim_statement(self, kind: str, item_filter: ItemFilter) -> Any:
        """UPDATE ... RETURNING that leases up to ``:claim_want`` pending ``kind`` items."""
        key = (kind, item_filter)
        statement = self._claim_statements.get(key)
        if statement is not None:
            return statement
        now: Any = bindparam("claim_now")
        candidates = (
            select(frontier.c.id)
            .where(
                frontier.c.status == "pending",
                frontier.c.kind == kind,
                frontier.c.not_before <= now,
                *item_filter.clauses(),
            )
            .order_by(frontier.c.id)
            .limit(bindparam("claim_want"))
        )
        if not self.db.is_sqlite:
            candidates = candidates.with_for_update(skip_locked=True)
        statement = (
            update(frontier)
            .where(frontier.c.id.in_(candidates.scalar_subquery()))
            .values(
                status="leased",
                lease_owner=self.owner,
                lease_expires=bindparam("claim_expires"),
                updated_at=now,
            )
            .returning(
                frontier.c.id,
                frontier.c.key,
                frontier.c.kind,
                frontier.c.params,
                frontier.c.attempts,
                frontier.c.vehicle_id,
                frontier.c.prefset_id,
            )
        )
        self._claim_statements[key] = statement
        return statement

    def renew(self, ids: Sequence[int]) -> int:
        """Extend the leases this owner holds (the owner is alive and working)."""
        if not ids:
            return 0
        now = time.time()

        def extend(conn: Connection) -> int:
            renewed = 0
            for chunk in sorted_chunks(ids):
                mine = and_(
                    frontier.c.id.in_(chunk),
                    frontier.c.status == "leased",
                    frontier.c.lease_owner == self.owner,
                )
                if not self.db.is_sqlite:
                    # A row the writer holds is being completed: no lease to extend.
                    free = select(frontier.c.id).where(mine).with_for_update(skip_locked=True)
                    mine = frontier.c.id.in_(free.scalar_subquery())
                result = conn.execute(
                    update(frontier).where(mine).values(lease_expires=now + self.lease_seconds)
                )
                renewed += result.rowcount or 0
            return renewed

        return self.db.transaction(extend, what="renewing leases")

    def release_owned(self) -> int:
        """Give back every item this owner still holds (interrupted run)."""
        now = time.time()
        return self.db.transaction(
            lambda conn: (
                conn.execute(
                    update(frontier)
                    .where(frontier.c.status == "leased", frontier.c.lease_owner == self.owner)
                    .values(status="pending", lease_owner=None, lease_expires=None, updated_at=now)
                ).rowcount
                or 0
            ),
            what="giving back items",
        )

    def sweep_fitments(self) -> int:
        """Add every missing (vehicle x current preference set) fitment item."""
        now = time.time()
        added = self.db.transaction(
            lambda conn: fan_out_fitments(self.db, conn, true(), now),
            what="sweeping for missing fitment items",
        )
        if added:
            log.info("end-of-crawl sweep added %d fitment item(s)", added)
        return added

    # -- state ------------------------------------------------------------------------------

    def open_counts(
        self, kinds: Iterable[str], item_filter: ItemFilter
    ) -> tuple[int, int, float | None]:
        """(pending claimable now, leased or waiting, earliest not_before in the future)."""
        now = time.time()
        kinds = list(kinds)
        with self.db.read() as conn:
            base = [frontier.c.kind.in_(kinds), *item_filter.clauses()]
            pending = frontier.c.status == "pending"
            later = and_(pending, frontier.c.not_before > now)
            # One statement, so one snapshot: on PostgreSQL (READ COMMITTED) three
            # statements could miss an item of another process moving from leased
            # to done while its children appear, and see an empty frontier mid-crawl.
            ready, waiting, next_at, leased = conn.execute(
                select(
                    func.count(case((and_(pending, frontier.c.not_before <= now), 1))),
                    func.count(case((later, 1))),
                    func.min(case((later, frontier.c.not_before))),
                    func.count(case((frontier.c.status == "leased", 1))),
                )
                .select_from(frontier)
                .where(frontier.c.status.in_(OPEN_STATUSES), *base)
            ).one()
        return ready, leased + waiting, next_at

    def finish_crawl_if_complete(self, crawl_id: int) -> bool:
        now = time.time()

        def finish(conn: Connection) -> bool:
            still_open = conn.execute(
                select(func.count())
                .select_from(frontier)
                .where(frontier.c.status.in_(OPEN_STATUSES))
            ).scalar_one()
            if still_open:
                return False
            conn.execute(
                update(crawls)
                .where(crawls.c.id == crawl_id, crawls.c.finished_at.is_(None))
                .values(finished_at=now)
            )
            return True

        return self.db.transaction(finish, what="closing the crawl")

    def stage_counts(self) -> dict[str, dict[str, int]]:
        """{kind: {status: count}} over the whole frontier."""
        with self.db.read() as conn:
            rows = conn.execute(
                select(frontier.c.kind, frontier.c.status, func.count()).group_by(
                    frontier.c.kind, frontier.c.status
                )
            ).all()
        out: dict[str, dict[str, int]] = {}
        for kind, status, count in rows:
            out.setdefault(kind, {})[status] = count
        return out

    def gone_counts(self) -> dict[str, dict[int, int]]:
        """{stage: {crawl in which they went: items}} of the items marked gone."""
        kind_stage = {kind: stage for stage, kinds in STAGE_KINDS.items() for kind in kinds}
        with self.db.read() as conn:
            rows = conn.execute(
                select(frontier.c.kind, frontier.c.gone_crawl, func.count())
                .where(frontier.c.status == "gone")
                .group_by(frontier.c.kind, frontier.c.gone_crawl)
            ).all()
        out: dict[str, dict[int, int]] = {}
        for kind, crawl, count in rows:
            by_crawl = out.setdefault(kind_stage.get(kind, kind), {})
            by_crawl[crawl] = by_crawl.get(crawl, 0) + count
        return out

    def failure_summary(
        self, *, item_attempts: int | None = None, groups: int = 20
    ) -> FailureSummary:
        """Failed items: the total, how many are past ``item_attempts``, and the codes."""
        code = func.coalesce(frontier.c.failure_code, "unknown")
        with self.db.read() as conn:
            total = self._count_failed(conn)
            past = 0
            if item_attempts is not None:
                past = self._count_failed(conn, frontier.c.failed_runs >= item_attempts)
            rows = conn.execute(
                select(
                    code.label("code"),
                    func.count().label("n"),
                    func.min(frontier.c.last_error).label("example"),
                )
                .where(frontier.c.status == "failed")
                .group_by(code)
                .order_by(func.count().desc(), code)
                .limit(groups)
            ).all()
        found = [FailureGroup(r.code, r.n, r.example or "") for r in rows]
        return FailureSummary(total, past, found)

    def failed_in_run(self, state: CrawlState, item_attempts: int | None) -> int:
        """Failed items that count against this run: all but those it did not re-open
        (failed in ``item_attempts`` runs) and nobody touched since it began."""
        with self.db.read() as conn:
            if item_attempts is None:
                return self._count_failed(conn)
            return self._count_failed(
                conn,
                or_(
                    frontier.c.updated_at >= state.started_at,
                    frontier.c.failed_runs < item_attempts,
                ),
            )


def fan_out_fitments(
    db: OptimizedDatabaseManager,
    conn: Connection,
    vehicle_condition: Any,
    now: float,
    counters: Counters | None = None,
) -> int:
    """INSERT ... SELECT the fitment items of matching vehicles; existing keys are kept."""
    v, p = vehicles.alias("v"), preference_sets.alias("p")
    key = literal("fitment/") + cast(v.c.id, SAString) + literal("/") + cast(p.c.id, SAString)
    source = (
        select(
            key,
            literal("fitment"),
            literal("pending"),
            v.c.id,
            p.c.id,
            v.c.year,
            v.c.make,
            v.c.model,
            literal(0),
            literal(0.0),
            literal(now),
        )
        .select_from(v.join(p, and_(p.c.vehicle_type == v.c.vehicle_type, p.c.current == true())))
        .where(_rebind(vehicle_condition, v), v.c.gone_crawl.is_(None))
        # Key order, like every other insert of items: the fan-outs of a vehicle
        # and of its type's options may insert the same keys at the same time.
        .order_by(key)
    )
    stmt = db.insert_from_select_ignore(
        frontier,
        [
            "key",
            "kind",
            "status",
            "vehicle_id",
            "prefset_id",
            "year",
            "make",
            "model",
            "attempts",
            "not_before",
            "updated_at",
        ],
        source,
    )
    inserted = conn.execute(stmt).rowcount
    if inserted < 0:
        # The end-of-crawl sweep decides whether work remains from this count.
        raise DatabaseError("the database did not report how many fitment items it added")
    if counters is not None and inserted > 0:
        counters.incr("items/discovered/fitment", inserted)
    return inserted


def _rebind(condition: Any, alias: Any) -> Any:
    """Point a condition written against ``vehicles`` at the alias used in the fan-out."""
    from sqlalchemy.sql.util import ClauseAdapter

    return ClauseAdapter(alias).traverse(condition)


def start_run_row(
    conn: Connection, *, crawl_id: int, host: str, pid: int, settings_json: str
) -> int:
    return conn.execute(
        runs.insert()
        .values(
            crawl_id=crawl_id,
            started_at=time.time(),
            host=host,
            pid=pid,
            settings_json=settings_json,
        )
        .returning(runs.c.id)
    ).scalar_one()
