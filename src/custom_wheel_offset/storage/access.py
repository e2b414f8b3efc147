"""Which database a command may use, checked before anything is written.

Only `cwo scrape` and `cwo db upgrade` create or migrate a database. The
read-only commands (`status`, `export`, `report`, `db current`) go through
:func:`open_for_reading`: the database must exist, be cwo's and be at the
current schema; it is opened so that nothing can change it (SQLite
``mode=ro``, PostgreSQL read-only sessions). :func:`check_for_writing` is the
writing commands' check of the target: the directory exists, the file is
writable, the server answers. Every refusal is a
:class:`~custom_wheel_offset.errors.DatabaseAccessError` (exit 2) naming the
path or the masked URL, with a hint saying what to do.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from custom_wheel_offset.errors import ConfigError, DatabaseAccessError
from custom_wheel_offset.redact import mask_url

if TYPE_CHECKING:
    from custom_wheel_offset.storage.database import OptimizedDatabaseManager

__all__ = ["check_for_writing", "open_for_reading"]

# Directories that cwo creates itself: those of its default databases.
_DEFAULT_URLS = ("sqlite:///data/cwo.db", "sqlite:///data/sandbox.db")
_LIKELY = Path("data/sandbox.db")


def _sqlite_file(url: str) -> Path | None:
    """The file of a SQLite URL; a URL that names none by mistake is a usage error."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    from custom_wheel_offset.storage.database import sqlite_path

    if not url.startswith("sqlite"):
        return None
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ConfigError(
            f"--db {mask_url(url)!r} is not a database URL",
            hint="use sqlite:///path/to/file.db or postgresql+psycopg://user@host/db",
        ) from exc
    if parsed.host:
        parts = (parsed.host, parsed.database)
        # sqlite://x.db: SQLAlchemy reads "x.db" as a host name.
        raise ConfigError(
            f"--db {url!r}: a SQLite URL has no host part",
            hint=f"a relative file is sqlite:///{'/'.join(filter(None, parts))} (three "
            "slashes); an absolute one sqlite:////abs/path.db (four)",
        )
    return sqlite_path(url)


def _cannot_connect(db: OptimizedDatabaseManager, exc: BaseException) -> DatabaseAccessError:
    from custom_wheel_offset.storage.database import _describe

    return DatabaseAccessError(
        f"cannot connect to database {mask_url(db.url)}: {_describe(exc)}",
        hint="check that the server is running and accepts connections at that host and "
        "port, or give another --db (env CWO_DB)",
    )


def _probe(db: OptimizedDatabaseManager) -> None:
    """Connect once, so an unreachable server is a clear error before any work starts."""
    from sqlalchemy.exc import OperationalError

    try:
        with db.engine.connect():
            pass
    except OperationalError as exc:
        raise _cannot_connect(db, exc) from exc


def _missing_hint(path: Path) -> str:
    if path != _LIKELY and _LIKELY.is_file():
        return (
            f"{_LIKELY} exists (the sandbox crawl's database): add --db sqlite:///{_LIKELY}, "
            "or set CWO_DB"
        )
    return "give the database of an earlier crawl with --db (env CWO_DB), or run `cwo scrape` first"


def open_for_reading(settings: Any, *, check: bool = True) -> OptimizedDatabaseManager:
    """A read-only manager of an existing database (``check``: cwo's, at the current schema)."""
    from custom_wheel_offset.storage.database import OptimizedDatabaseManager

    path = _sqlite_file(settings.db)
    if path is not None and not path.exists():
        raise DatabaseAccessError(f"database {path} does not exist", hint=_missing_hint(path))
    if path is not None and not path.is_file():
        raise DatabaseAccessError(
            f"database {path} is not a file", hint="give a SQLite file with --db (env CWO_DB)"
        )
    db = OptimizedDatabaseManager.from_settings(settings, readonly=True)
    try:
        _probe(db)
        if check:
            from custom_wheel_offset.storage.migrations import check_schema

            check_schema(db)
    except BaseException:
        db.dispose()
        raise
    return db


def check_for_writing(settings: Any) -> None:
    """Fail before a run starts when its database cannot be created or written."""
    path = _sqlite_file(settings.db)
    if path is None:
        if not settings.db.startswith("sqlite"):
            from custom_wheel_offset.storage.database import OptimizedDatabaseManager

            db = OptimizedDatabaseManager.from_settings(settings)
            try:
                _probe(db)
            finally:
                db.dispose()
        return
    parent = path.parent
    if not parent.exists():
        if settings.db in _DEFAULT_URLS:
            return  # cwo creates its own data/ directory
        raise DatabaseAccessError(
            f"directory {parent} of database {path} does not exist",
            hint=f"create it first (mkdir -p {parent}) or give another --db",
        )
    if path.exists() and not os.access(path, os.R_OK | os.W_OK):
        raise DatabaseAccessError(
            f"database {path} is read-only",
            hint=f"make it writable (chmod u+w {path}) or crawl into another --db; "
            "`cwo status` and `cwo export` read it as it is",
        )
    if not os.access(parent, os.W_OK | os.X_OK):
        raise DatabaseAccessError(
            f"directory {parent} is not writable (SQLite keeps its journal and cwo its run "
            f"lock next to {path.name})",
            hint="make the directory writable or give a --db in a writable directory",
        )
