"""The run lock: two `cwo scrape` runs must never crawl the same SQLite database at once.

SQLite has one process owning its crawl, so the lock is an advisory ``flock``
on ``<database>.lock`` next to the database file; the kernel releases it when
the process dies, even on SIGKILL, so a stale lock cannot block cron. The file
records who holds it, for the message the second run prints.

On PostgreSQL any number of processes share the crawl; there the lock is
per worker identity (``--worker-name``, default: this host), taken as a
session-level advisory lock on a dedicated connection.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import time
import zlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from custom_wheel_offset.errors import LockedError

if TYPE_CHECKING:
    from custom_wheel_offset.storage.database import OptimizedDatabaseManager

__all__ = ["RunLock", "acquire_run_lock"]


class RunLock:
    """Held until :meth:`release` (or process exit)."""

    def __init__(self, release: Any, description: str) -> None:
        self._release = release
        self.description = description

    def release(self) -> None:
        if self._release is not None:
            self._release()
            self._release = None

    def __enter__(self) -> RunLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _holder_info() -> dict[str, Any]:
    return {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "since": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


def _file_lock(path: Path, wait: bool) -> RunLock:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
    except BlockingIOError:
        try:
            holder = json.loads(os.pread(fd, 4096, 0).decode() or "{}")
        except (ValueError, OSError):
            holder = {}
        os.close(fd)
        who = (
            f"pid {holder.get('pid', '?')} on {holder.get('host', '?')} "
            f"since {holder.get('since', '?')}"
            if holder
            else "another process"
        )
        raise LockedError(
            f"another cwo run is crawling this database ({who}); lock file {path}",
            hint="let it finish, or run with --wait to queue behind it",
        ) from None
    os.ftruncate(fd, 0)
    os.pwrite(fd, json.dumps(_holder_info()).encode(), 0)

    def release() -> None:
        try:
            os.ftruncate(fd, 0)
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    return RunLock(release, f"file lock {path}")


def _postgres_lock(db: OptimizedDatabaseManager, identity: str, wait: bool) -> RunLock:
    conn = db.engine.connect()
    try:
        # Advisory locks are per database: name the schema too, so crawls kept in
        # different schemas of one database do not lock each other's workers.
        schema = conn.exec_driver_sql("SELECT current_schema()").scalar()
        key = zlib.crc32(f"cwo-worker:{schema}:{identity}".encode())
        if wait:
            conn.exec_driver_sql(f"SELECT pg_advisory_lock({key})")
            got = True
        else:
            got = bool(conn.exec_driver_sql(f"SELECT pg_try_advisory_lock({key})").scalar())
        conn.commit()
    except BaseException:
        conn.close()
        raise
    if not got:
        conn.close()
        raise LockedError(
            f"another cwo run with worker name {identity!r} is running against this database",
            hint="give each concurrent process its own --worker-name, or run with --wait",
        )

    def release() -> None:
        try:
            conn.exec_driver_sql(f"SELECT pg_advisory_unlock({key})")
            conn.commit()
        finally:
            conn.close()

    return RunLock(release, f"advisory lock {identity}")


def acquire_run_lock(
    db: OptimizedDatabaseManager, *, wait: bool, worker_name: str | None
) -> RunLock:
    from custom_wheel_offset.storage.database import sqlite_path

    if db.is_sqlite:
        path = sqlite_path(db.url)
        if path is None:  # in-memory: nothing to share
            return RunLock(None, "in-memory database")
        return _file_lock(path.with_name(path.name + ".lock"), wait)
    return _postgres_lock(db, worker_name or socket.gethostname(), wait)
