"""Schema management: an Alembic environment driven from code (no ``alembic.ini``).

::

    env.py                  runs the migrations on the connection handed over in
                            ``config.attributes["connection"]`` (batch mode on SQLite)
    script.py.mako          template of a new revision
    versions/0001_initial   the first released schema (everything but ``workers``)
    versions/0002_workers   the ``workers`` table (several machines on PostgreSQL)
    versions/0003_failure_codes  ``frontier.failure_code`` and ``failed_runs``
    versions/0004_gone      gone marks and ``frontier.parent_id``
    versions/0005_typed_fields  typed specification fields on ``vehicles`` (back-filled
                            from ``raw_json``) and the views ``vehicle_specs``,
                            ``fitment_ranges``
    versions/0006_history   record history (``history``, first/last seen, content hash)

:func:`upgrade_to_head` brings any cwo database to the current revision in one
transaction:

- an empty database is created by running every migration;
- a database created by ``metadata.create_all`` before migrations existed
  (tables but no ``alembic_version``) is stamped with the revision its tables
  match, then upgraded, so its rows are kept;
- a database already at head costs one small query (the fast path every
  command takes).

On PostgreSQL several processes often start at once (cron on many hosts), so
the upgrade transaction first takes a transaction-level advisory lock: one
process migrates, the others wait, then find the schema at head. On SQLite the
write transaction (``BEGIN IMMEDIATE``) already serialises them.

A new revision: copy the newest file of ``versions/``, give it the next number
as ``revision`` and the previous one as ``down_revision``, write its
``upgrade``/``downgrade`` with ``op`` (batch operations on SQLite), update
``HEAD_REVISION`` below and the table in ``schema.py``; the tests check that
the migrated schema equals ``schema.metadata``. On SQLite, cwo's connections
enforce foreign keys and a migration runs inside a transaction, where SQLite
cannot switch them off: a batch operation that recreates a table other tables
reference (``vehicles``, ``preference_sets``) needs that handled explicitly.
Views exist only through migrations (0005 creates them; ``metadata`` holds
tables only), so fresh and stamped databases both get them; a batch operation
that recreates a table a view reads must drop the view first and re-create it.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from alembic.config import Config
    from sqlalchemy.engine import Connection

    from custom_wheel_offset.storage.database import OptimizedDatabaseManager

__all__ = [
    "FIRST_REVISION",
    "HEAD_REVISION",
    "KNOWN_REVISIONS",
    "alembic_config",
    "check_schema",
    "current_revision",
    "upgrade_to",
    "upgrade_to_head",
]

log = logging.getLogger(__name__)

FIRST_REVISION = "0001"
HEAD_REVISION = "0006"
"""The newest revision in ``versions/`` (a test checks it against the scripts)."""
KNOWN_REVISIONS = ("0001", "0002", "0003", "0004", "0005", "0006")

UNVERSIONED = "unversioned"
"""What :func:`current_revision` reports for tables created before migrations existed."""

# cwo's revisions are four-digit numbers (versions/NNNN_*.py).
_CWO_REVISION = re.compile(r"^\d{4}$")

MIGRATIONS_DIR = Path(__file__).resolve().parent

# Any fixed 64-bit number; it only has to differ from cwo's other advisory locks
# (frontier.begin_run uses 7714201, the worker locks use CRC32 values).
_PG_UPGRADE_LOCK = 7714202


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic configuration pointing at this package, sharing ``connection`` if given."""
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def _version_of(conn: Connection) -> str | None:
    """The revision stored in ``alembic_version``, ``UNVERSIONED`` or None (empty database)."""
    from sqlalchemy import inspect

    # Read alembic_version directly: a MigrationContext would log at INFO on
    # every command, and this runs at the start of every command.
    inspector = inspect(conn)
    if inspector.has_table("alembic_version"):
        revision = conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar()
        if revision is not None:
            return str(revision)
    return UNVERSIONED if inspector.has_table("frontier") else None


def current_revision(db: OptimizedDatabaseManager) -> str | None:
    """The revision the database is at: ``"0002"``, ``"unversioned"``, or None when empty."""
    with db.read() as conn:
        return _version_of(conn)


def upgrade_to_head(db: OptimizedDatabaseManager) -> None:
    """Bring the schema to :data:`HEAD_REVISION`, creating it in an empty database."""
    if current_revision(db) == HEAD_REVISION:
        return
    upgrade_to(db, "head")


def upgrade_to(db: OptimizedDatabaseManager, revision: str) -> None:
    """Upgrade (or create) the schema up to ``revision``, in one transaction.

    Tables without ``alembic_version`` (created by ``metadata.create_all``
    before migrations existed) are stamped first: with 0002 when they include
    ``workers``, else with 0001.
    """
    from alembic import command
    from alembic.util import CommandError
    from sqlalchemy import inspect

    from custom_wheel_offset.errors import DatabaseError

    with db.begin() as conn:
        if not db.is_sqlite:
            conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_PG_UPGRADE_LOCK})")
        config = alembic_config(conn)
        target = HEAD_REVISION if revision == "head" else revision
        found = _version_of(conn)
        if found not in (None, UNVERSIONED, *KNOWN_REVISIONS):
            raise DatabaseError(
                f"the database's schema is at revision {found}, newer than this cwo knows "
                f"(up to {HEAD_REVISION})",
                hint="upgrade cwo on this machine to the version that wrote the database",
            )
        try:
            if found == UNVERSIONED:
                stamp = "0002" if inspect(conn).has_table("workers") else FIRST_REVISION
                log.info("database created before migrations: stamping revision %s", stamp)
                command.stamp(config, stamp)
            if found != target:
                command.upgrade(config, target)
                log.info("schema upgraded from %s to %s", found or "an empty database", target)
        except CommandError as exc:
            raise DatabaseError(f"cannot migrate the database schema: {exc}") from exc


def check_schema(db: OptimizedDatabaseManager) -> None:
    """Refuse a database that is not cwo's, or whose schema is older or newer than this cwo."""
    from sqlalchemy import inspect

    from custom_wheel_offset.errors import DatabaseAccessError
    from custom_wheel_offset.redact import mask_url

    where = mask_url(db.url)
    with db.read() as conn:
        found = _version_of(conn)
        tables = sorted(inspect(conn).get_table_names()) if found is None else []
    if found == HEAD_REVISION:
        return
    if found is None and not tables:
        raise DatabaseAccessError(
            f"database {where} is empty: no crawl has written to it",
            hint="run `cwo scrape` with this --db first, or give the database of an earlier crawl",
        )
    if found is None or (not _CWO_REVISION.match(found) and found != UNVERSIONED):
        shown = ", ".join(tables[:5]) if tables else f"alembic revision {found}"
        raise DatabaseAccessError(
            f"database {where} is not a cwo database ({shown}); it was left untouched",
            hint="check --db (env CWO_DB): cwo reads and changes only databases it created",
        )
    if found != UNVERSIONED and found > HEAD_REVISION:
        raise DatabaseAccessError(
            f"database {where} is at schema {found}, newer than this cwo knows ({HEAD_REVISION})",
            hint="upgrade cwo on this machine to the version that wrote the database",
        )
    raise DatabaseAccessError(
        f"database {where} has an older cwo schema ({found}; this cwo needs {HEAD_REVISION})",
        hint=f"run `cwo db upgrade --db {where}` (or `cwo scrape`, which upgrades it), "
        "then run this command again",
    )
