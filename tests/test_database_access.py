"""Read-only commands never write; a database the user named wrongly is exit 2 with a hint.

Real SQLite files through the real CLI (CliRunner, or a subprocess where the
process's own user matters); PostgreSQL where the point is PostgreSQL.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from custom_wheel_offset.cli import cli
from custom_wheel_offset.storage.database import OptimizedDatabaseManager

READ_COMMANDS = [
    ["status"],
    ["export", "--what", "vehicles"],
    ["report"],
]


def _run(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(cli, list(args))


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _tables(path: Path) -> list[str]:
    with sqlite3.connect(path) as conn:
        rows = conn.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")
        return [name for (name,) in rows]


def _lines(result) -> list[str]:  # type: ignore[no-untyped-def]
    return [line for line in result.stderr.splitlines() if line.strip()]


def _assert_error_and_hint(result, *needles: str) -> None:  # type: ignore[no-untyped-def]
    assert result.exit_code == 2, result.output
    lines = _lines(result)
    assert lines[0].startswith("cwo: error: "), lines
    assert lines[1].startswith("hint: "), lines
    for needle in needles:
        assert needle in result.stderr, (needle, result.stderr)


@pytest.mark.parametrize("command", READ_COMMANDS, ids=lambda c: c[0])
def test_missing_default_database_is_an_error_and_creates_nothing(
    command: list[str], tmp_path: Path
) -> None:
    result = _run(*command)
    _assert_error_and_hint(result, "data/cwo.db", "does not exist")
    assert not (tmp_path / "data").exists()


def test_missing_database_suggests_the_sandbox_database_when_it_exists(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    sandbox = OptimizedDatabaseManager(f"sqlite:///{tmp_path / 'data' / 'sandbox.db'}")
    sandbox.ensure_schema()
    sandbox.dispose()
    result = _run("status")
    _assert_error_and_hint(result, "data/cwo.db", "--db sqlite:///data/sandbox.db")
    assert not (tmp_path / "data" / "cwo.db").exists()


@pytest.mark.parametrize("command", READ_COMMANDS, ids=lambda c: c[0])
def test_a_database_that_is_not_cwos_is_refused_and_untouched(
    command: list[str], tmp_path: Path
) -> None:
    other = tmp_path / "notes.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE notes (body TEXT)")
        conn.execute("INSERT INTO notes VALUES ('keep me')")
    before = _digest(other)
    result = _run(*command, "--db", f"sqlite:///{other}")
    _assert_error_and_hint(result, "not a cwo database", "notes")
    assert _digest(other) == before
    assert _tables(other) == ["notes"]


def test_an_empty_file_is_not_given_cwos_tables(tmp_path: Path) -> None:
    empty = tmp_path / "empty.db"
    empty.touch()
    result = _run("status", "--db", f"sqlite:///{empty}")
    _assert_error_and_hint(result, "empty", "cwo scrape")
    assert empty.stat().st_size == 0


@pytest.mark.parametrize("command", READ_COMMANDS, ids=lambda c: c[0])
def test_an_older_schema_asks_for_db_upgrade_and_is_not_migrated(
    command: list[str], tmp_path: Path
) -> None:
    from custom_wheel_offset.storage.migrations import upgrade_to

    path = tmp_path / "old.db"
    old = OptimizedDatabaseManager(f"sqlite:///{path}")
    upgrade_to(old, "0002")
    old.dispose()
    before = _digest(path)
    result = _run(*command, "--db", f"sqlite:///{path}")
    _assert_error_and_hint(result, "older cwo schema", "cwo db upgrade")
    assert _digest(path) == before
    # ... and `cwo db upgrade` is what brings it forward.
    assert _run("db", "upgrade", "--db", f"sqlite:///{path}").exit_code == 0
    assert _run("status", "--db", f"sqlite:///{path}").exit_code == 0


def test_status_and_export_leave_a_crawled_database_byte_identical(tmp_path: Path) -> None:
    path = tmp_path / "data" / "sandbox.db"
    scraped = _run("scrape", "--sandbox", "--workers", "2", "--progress", "off", "-q")
    assert scraped.exit_code == 0, scraped.output
    before = _digest(path)
    for command in (["status"], ["export", "--what", "fitments"], ["report"], ["db", "current"]):
        result = _run(*command, "--db", "sqlite:///data/sandbox.db")
        assert result.exit_code == 0, (command, result.output)
    assert _digest(path) == before


@pytest.mark.parametrize(
    ("command", "needles"),
    [
        (["status", "--db", "sqlite:////missing/dir/x.db"], ["/missing/dir/x.db"]),
        (["scrape", "--db", "sqlite:////missing/dir/x.db"], ["/missing/dir", "mkdir -p"]),
        (["db", "upgrade", "--db", "sqlite:////missing/dir/x.db"], ["/missing/dir"]),
        (["status", "--db", "sqlite://x.db"], ["sqlite://x.db", "sqlite:///x.db"]),
        (["scrape", "--db", "sqlite://x.db"], ["sqlite:///x.db"]),
        (["status", "--db", "mysql://u@h/db"], ["mysql"]),
    ],
)
def test_database_url_mistakes_are_usage_errors_with_a_hint(
    command: list[str], needles: list[str]
) -> None:
    result = _run(*command)
    _assert_error_and_hint(result, *needles)
    assert not Path("/missing").exists()


@pytest.mark.parametrize("command", [["status"], ["scrape"]], ids=lambda c: c[0])
def test_a_refused_postgresql_connection_names_the_masked_url(command: list[str]) -> None:
    import socket

    with socket.socket() as s:  # a port on which nothing listens
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"postgresql+psycopg://crawler:S3cretPw@127.0.0.1:{port}/cwo"
    result = _run(*command, "--db", url)
    _assert_error_and_hint(result, f"127.0.0.1:{port}", "server is running")
    assert "S3cretPw" not in result.output
    assert "internal error" not in result.output


@pytest.mark.parametrize("command", [["export", "--what", "vehicles"], ["report"]])
def test_out_into_a_missing_directory_is_a_usage_error(command: list[str], tmp_path: Path) -> None:
    assert _run("scrape", "--sandbox", "--workers", "2", "--progress", "off", "-q").exit_code == 0
    out = tmp_path / "no" / "such" / "file.out"
    result = _run(*command, "--db", "sqlite:///data/sandbox.db", "--out", str(out))
    _assert_error_and_hint(result, str(out), "--out")


def _make_read_only(path: Path) -> bool:
    """Read-only even for root (which writes any 0444 file): the immutable attribute."""
    path.chmod(0o444)
    if os.geteuid() != 0:
        return True
    chattr = shutil.which("chattr")
    return chattr is not None and subprocess.run([chattr, "+i", str(path)]).returncode == 0


def test_a_read_only_database_given_to_scrape_is_exit_2_not_an_internal_error(
    tmp_path: Path,
) -> None:
    path = tmp_path / "ro.db"
    manager = OptimizedDatabaseManager(f"sqlite:///{path}")
    manager.ensure_schema()
    manager.dispose()
    if not _make_read_only(path):
        pytest.skip("running as root where chattr +i is not allowed: no file is read-only")
    try:
        before = _digest(path)
        proc = subprocess.run(
            [sys.executable, "-m", "custom_wheel_offset", "scrape", "--db", f"sqlite:///{path}"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert proc.returncode == 2, proc.stderr
        assert f"database {path} is read-only" in proc.stderr
        assert "hint: " in proc.stderr
        assert "internal error" not in proc.stderr
        assert _digest(path) == before
        # The read-only commands still read it.
        assert _run("status", "--db", f"sqlite:///{path}").exit_code == 0
    finally:
        if os.geteuid() == 0:
            subprocess.run(["chattr", "-i", str(path)], check=False)


@pytest.mark.postgres
def test_postgresql_status_creates_no_table_in_an_empty_database(postgres_url: str) -> None:
    from sqlalchemy import create_engine, inspect

    result = _run("status", "--db", postgres_url)
    _assert_error_and_hint(result, "empty", "cwo scrape")
    engine = create_engine(postgres_url)
    try:
        with engine.connect() as conn:
            assert inspect(conn).get_table_names() == []
    finally:
        engine.dispose()
    # After `db upgrade` the same command reads it (and still writes nothing).
    assert _run("db", "upgrade", "--db", postgres_url).exit_code == 0
    assert _run("status", "--db", postgres_url).exit_code == 0


@pytest.mark.postgres
def test_postgresql_read_only_sessions_refuse_writes(postgres_url: str) -> None:
    from custom_wheel_offset.errors import DatabaseError
    from custom_wheel_offset.settings import resolve_settings
    from custom_wheel_offset.storage.access import open_for_reading

    writer = OptimizedDatabaseManager(postgres_url)
    writer.ensure_schema()
    writer.dispose()
    reader = open_for_reading(resolve_settings({"db": postgres_url}, env={}))
    try:
        with pytest.raises(DatabaseError, match="read-only"), reader.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE intruder (x int)")
    finally:
        reader.dispose()
