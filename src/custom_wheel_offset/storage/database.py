"""`OptimizedDatabaseManager`: every database access of cwo goes through here.

- A pooled SQLAlchemy engine, created on first use: QueuePool with
  ``pool_pre_ping`` and ``pool_recycle`` for server databases; SQLite in WAL mode
  with a busy timeout and ``synchronous=FULL`` (a committed batch survives a power
  loss), write transactions opened with ``BEGIN IMMEDIATE`` so that two writers
  queue on the busy timeout instead of failing on a lock upgrade.
- ``transaction(work)``: a write transaction run again from the start when
  PostgreSQL aborts it to break a deadlock or a serialization conflict; the
  writers of several processes meet on the same keys, and the server picks one
  of them to abort rather than let both wait forever.
- Dialect-neutral helpers for the two statements the crawl lives on: insert a row
  unless its key exists, and insert-or-update a record by its natural key.
- Pool statistics for the run's metrics.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from custom_wheel_offset.errors import ConfigError, DatabaseError
from custom_wheel_offset.redact import mask_text, mask_url

if TYPE_CHECKING:
    from sqlalchemy import Table
    from sqlalchemy.engine import Connection, Engine

__all__ = ["IN_LIST_SIZE", "OptimizedDatabaseManager", "sorted_chunks", "sqlite_path"]

log = logging.getLogger(__name__)

SQLITE_BUSY_TIMEOUT_MS = 30_000
# Prepared statements the sqlite3 module keeps per connection (its default is
# 128). An IN list renders one placeholder per value, so batches of different
# sizes are different statements; 128 of them, some with hundreds of
# placeholders, made RSS climb for minutes (docs/performance.md, memory). The
# statements run over and over (claims, counts) stay cached at 16.
SQLITE_CACHED_STATEMENTS = 16

# SQLSTATEs with which PostgreSQL aborts a transaction that would succeed if
# run again: it chose this one to break a deadlock, or a serializable snapshot
# conflicted. Nothing of the transaction was kept.
RETRYABLE_SQLSTATES = {"40P01": "deadlock", "40001": "serialization failure"}
TRANSACTION_ATTEMPTS = 6

T = TypeVar("T")

# Values per IN (...) list: far below SQLite's and PostgreSQL's parameter limits,
# and one size, so the statement cache above holds one statement per query.
IN_LIST_SIZE = 500


def sorted_chunks(values: Iterable[Any], size: int = IN_LIST_SIZE) -> list[list[Any]]:
    """``values`` sorted and cut into lists of at most ``size`` (one IN list each).

    Sorted, so two transactions touching the same rows lock them in one order.
    """
    ordered = sorted(values)
    return [ordered[i : i + size] for i in range(0, len(ordered), size)]


def sqlite_path(url: str) -> Path | None:
    """The file of a ``sqlite:///`` URL, or None for other databases and in-memory SQLite."""
    if not url.startswith("sqlite"):
        return None
    from sqlalchemy.engine import make_url

    database = make_url(url).database
    if not database or database == ":memory:":
        return None
    return Path(database)


class OptimizedDatabaseManager:
    """Engine, pool, schema and the set-based statements of the crawl."""

    def __init__(
        self,
        url: str,
        *,
        pool_size: int = 20,
        max_overflow: int = 30,
        pool_timeout: float = 30.0,
        pool_recycle: int = 3600,
        synchronous_full: bool = True,
        readonly: bool = False,
    ) -> None:
        self.url = url
        # Read-only commands (status, export, report) open the database so that
        # nothing they do can change it: SQLite through a mode=ro URI, PostgreSQL
        # with read-only transactions; no schema is created or migrated.
        self.readonly = readonly
        self._pool_args = {
            "pool_size": pool_size,
            "max_overflow": max_overflow,
            "pool_timeout": pool_timeout,
            "pool_recycle": pool_recycle,
        }
        self._synchronous = "FULL" if synchronous_full else "NORMAL"
        self._engine: Engine | None = None
        self._lock = threading.Lock()

    @classmethod
    def from_settings(cls, settings: Any, *, readonly: bool = False) -> OptimizedDatabaseManager:
        return cls(
            settings.db,
            pool_size=settings.pool_size,
            max_overflow=settings.max_overflow,
            pool_timeout=settings.pool_timeout,
            pool_recycle=settings.pool_recycle,
            synchronous_full=not settings.fast,
            readonly=readonly,
        )

    # -- engine ---------------------------------------------------------------------------

    @property
    def is_sqlite(self) -> bool:
        return self.url.startswith("sqlite")

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            with self._lock:
                if self._engine is None:
                    self._engine = self._create_engine()
        return self._engine

    def _create_engine(self) -> Engine:
        from sqlalchemy import create_engine, event
        from sqlalchemy.exc import ArgumentError, NoSuchModuleError

        try:
            if self.is_sqlite:
                path = sqlite_path(self.url)
                connect_args = {
                    "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000,
                    "check_same_thread": False,
                    "cached_statements": SQLITE_CACHED_STATEMENTS,
                }
                if self.readonly and path is not None:
                    engine = create_engine(
                        "sqlite://", creator=_readonly_sqlite_creator(path, connect_args)
                    )
                else:
                    if path is not None:
                        path.parent.mkdir(parents=True, exist_ok=True)
                    engine = create_engine(self.url, pool_pre_ping=False, connect_args=connect_args)
                self._install_sqlite_events(engine, event)
            else:
                if not self.url.startswith("postgresql"):
                    raise ConfigError(
                        # Without "://" the whole URL is the "scheme": mask it first.
                        f"unsupported database URL scheme in {mask_url(self.url).split('://')[0]!r}",
                        hint="use sqlite:///path/to/file.db or postgresql+psycopg://user@host/db",
                    )
                pg_args: dict[str, Any] = {}
                if self.readonly:
                    # The server itself refuses any write of these sessions; options
                    # already in the URL (a search_path) are kept.
                    from sqlalchemy.engine import make_url

                    given = make_url(self.url).query.get("options") or ""
                    given = given if isinstance(given, str) else " ".join(given)
                    pg_args["options"] = f"{given} -c default_transaction_read_only=on".strip()
                engine = create_engine(
                    self.url, pool_pre_ping=True, connect_args=pg_args, **self._pool_args
                )
        except (ArgumentError, NoSuchModuleError) as exc:
            raise ConfigError(
                f"cannot use database URL {mask_url(self.url)!r}: {_describe(exc)}",
                hint="a SQLite file is sqlite:///relative/path.db (three slashes) or "
                "sqlite:////absolute/path.db (four); a server is "
                "postgresql+psycopg://user@host/db",
            ) from exc
        return engine

    def _install_sqlite_events(self, engine: Engine, event: Any) -> None:
        synchronous = self._synchronous
        readonly = self.readonly

        @event.listens_for(engine, "connect")
        def _on_connect(dbapi_connection: Any, _record: Any) -> None:
            # Let SQLAlchemy, not the driver, decide when transactions begin.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            if not readonly:  # the journal mode is stored in the file: a write
                _enable_wal(cursor)
                cursor.execute(f"PRAGMA synchronous={synchronous}")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _on_begin(conn: Connection) -> None:
            options = conn.get_execution_options()
            # A read-only transaction must not take the write lock (an export
            # would stall the crawl's writer); every other one takes it at once.
            if readonly or options.get("cwo_readonly"):
                conn.exec_driver_sql("BEGIN")
                return
            # synchronous is per connection and pooled connections serve both
            # kinds of transaction, so every write transaction sets its own.
            durable = options.get("cwo_durable", True)
            conn.exec_driver_sql(f"PRAGMA synchronous={synchronous if durable else 'NORMAL'}")
            conn.exec_driver_sql("BEGIN IMMEDIATE")

    @contextmanager
    def begin(self, *, durable: bool = True) -> Iterator[Connection]:
        """A write transaction, committed on success, rolled back on error.

        ``durable=False`` (SQLite): the commit survives the process dying but
        not a power cut, and costs no fsync. For state that a crash makes
        meaningless anyway, such as leases of a crawl that one process owns.
        """
        from sqlalchemy.exc import SQLAlchemyError

        try:
            with self.engine.connect() as conn:
                if not durable:
                    conn = conn.execution_options(cwo_durable=False)
                with conn.begin():
                    yield conn
        except SQLAlchemyError as exc:
            raise DatabaseError(f"database write failed: {_describe(exc)}") from exc

    def transaction(
        self, work: Callable[[Connection], T], *, durable: bool = True, what: str = "write"
    ) -> T:
        """``work(conn)`` in a write transaction, run again if the server aborted it.

        ``work`` must touch nothing but the connection (no counters, no
        in-memory state) until it returns, since a retry runs it from the start.
        """
        from tenacity import (
            Retrying,
            retry_if_exception,
            stop_after_attempt,
            wait_random_exponential,
        )

        def log_retry(state: Any) -> None:
            exc = state.outcome.exception()
            log.info(
                "%s: %s, attempt %d of %d, running it again",
                what,
                RETRYABLE_SQLSTATES.get(retryable_sqlstate(exc) or "", "conflict"),
                state.attempt_number,
                TRANSACTION_ATTEMPTS,
            )

        for attempt in Retrying(
            retry=retry_if_exception(lambda exc: retryable_sqlstate(exc) is not None),
            stop=stop_after_attempt(TRANSACTION_ATTEMPTS),
            # Jittered, so the two transactions that collided do not collide again.
            wait=wait_random_exponential(multiplier=0.02, max=1.0),
            before_sleep=log_retry,
            reraise=True,
        ):
            with attempt, self.begin(durable=durable) as conn:
                return work(conn)
        raise AssertionError("unreachable: Retrying re-raises the last error")

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A read-only transaction (on SQLite it does not block the writer)."""
        from sqlalchemy.exc import SQLAlchemyError

        try:
            with self.engine.connect() as conn:
                conn = conn.execution_options(cwo_readonly=True)
                with conn.begin():
                    yield conn
        except SQLAlchemyError as exc:
            raise DatabaseError(f"database read failed: {_describe(exc)}") from exc

    def dispose(self) -> None:
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    # -- schema ---------------------------------------------------------------------------

    def ensure_schema(self) -> None:
        """Bring the schema to the current version (creating it in an empty database).

        A read-only manager changes nothing: it checks that the database is
        cwo's and at the current version, and says what to run when it is not.
        """
        if self.readonly:
            from custom_wheel_offset.storage.migrations import check_schema

            check_schema(self)
            return
        from custom_wheel_offset.storage.migrations import upgrade_to_head

        upgrade_to_head(self)

    def schema_version(self) -> str | None:
        """The migration revision the database is at (None for an empty database)."""
        from custom_wheel_offset.storage.migrations import current_revision

        return current_revision(self)

    # -- dialect-neutral statements ---------------------------------------------------------

    def _dialect_insert(self) -> Any:
        """The dialect's ``insert``, which knows ``ON CONFLICT``."""
        if self.is_sqlite:
            from sqlalchemy.dialects.sqlite import insert as sqlite_insert

            return sqlite_insert
        from sqlalchemy.dialects.postgresql import insert as pg_insert

        return pg_insert

    def insert_ignore(self, table: Table) -> Any:
        """``INSERT`` that does nothing for a row whose unique key already exists."""
        insert = self._dialect_insert()
        return insert(table).on_conflict_do_nothing()

    def upsert(
        self, table: Table, key_columns: Sequence[str], update_columns: Sequence[str]
    ) -> Any:
        """``INSERT ... ON CONFLICT (key) DO UPDATE`` of ``update_columns``."""
        insert = self._dialect_insert()
        stmt = insert(table)
        return stmt.on_conflict_do_update(
            index_elements=list(key_columns),
            set_={name: stmt.excluded[name] for name in update_columns},
        )

    def insert_from_select_ignore(self, table: Table, columns: Sequence[str], select: Any) -> Any:
        """``INSERT ... SELECT`` skipping existing keys; its ``rowcount`` is the rows added.

        SQLAlchemy keeps the driver's rowcount of an INSERT only when asked
        (``preserve_rowcount``); without it PostgreSQL's count reads -1.
        """
        insert = self._dialect_insert()
        stmt = insert(table).from_select(list(columns), select).on_conflict_do_nothing()
        return stmt.execution_options(preserve_rowcount=True)

    # -- statistics -------------------------------------------------------------------------

    def pool_stats(self) -> dict[str, Any]:
        if self._engine is None:
            return {"created": False}
        pool = self._engine.pool
        stats: dict[str, Any] = {
            "created": True,
            "class": type(pool).__name__,
            "status": pool.status(),
        }
        for name in ("size", "checkedin", "checkedout", "overflow"):
            fn = getattr(pool, name, None)
            if callable(fn):
                stats[name] = fn()
        return stats


def _readonly_sqlite_creator(path: Path, connect_args: dict[str, Any]) -> Callable[[], Any]:
    """A connection factory opening ``path`` with ``mode=ro``: SQLite refuses every write."""
    import sqlite3
    from urllib.parse import quote

    uri = f"file:{quote(str(path.resolve()))}?mode=ro"

    def connect() -> Any:
        return sqlite3.connect(uri, uri=True, **connect_args)

    return connect


def _describe(exc: BaseException) -> str:
    """The database's own message, without the statement and its parameters (names)."""
    orig = getattr(exc, "orig", None)
    return mask_text(f"{type(orig or exc).__name__}: {orig or exc}".splitlines()[0])[:300]


def _enable_wal(cursor: Any) -> None:
    """Switch the file to WAL (a setting stored in the file, so once per database).

    SQLite answers "database is locked" at once, without its busy handler, to a
    connection asking for WAL while another one is switching the same new file:
    several processes opening an empty database together. The other's switch
    is what this one wanted, so it asks again until the file is in WAL mode.
    """
    import sqlite3

    deadline = time.monotonic() + SQLITE_BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
            time.sleep(0.01)


def retryable_sqlstate(exc: BaseException | None) -> str | None:
    """The SQLSTATE of a server abort that a new attempt may survive, else None."""
    for _ in range(8):  # a short chain: our error, SQLAlchemy's, the driver's
        if exc is None:
            break
        sqlstate = getattr(exc, "sqlstate", None) or getattr(exc, "pgcode", None)
        if sqlstate in RETRYABLE_SQLSTATES:
            return str(sqlstate)
        orig = getattr(exc, "orig", None)
        exc = orig if orig is not None else exc.__cause__
    return None
