"""Shared fixtures: real SQLite files in a temporary folder, and PostgreSQL when configured."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# No test asserts wall-clock time, so hypothesis' per-example deadline is off: on a
# busy machine it failed correct code. Locally every run explores new examples; CI
# (.ci/run sets HYPOTHESIS_PROFILE=ci) replays the same derandomized ones, so a
# submission never fails on a never-seen example; bugs found locally become tests.
settings.register_profile("dev", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("ci", settings.get_profile("dev"), derandomize=True, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


@pytest.fixture(autouse=True)
def _isolated_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests never read the developer's config/cwo.toml or CWO_* variables, nor write to data/.

    ``CWO_TEST_*`` variables are the test suite's own (which servers to use), not cwo settings.
    """
    monkeypatch.chdir(tmp_path)
    for key in list(os.environ):
        if key.startswith("CWO_") and not key.startswith("CWO_TEST_"):
            monkeypatch.delenv(key)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'cwo-test.db'}"


@pytest.fixture
def db(sqlite_url: str) -> Iterator[object]:
    from custom_wheel_offset.storage.database import OptimizedDatabaseManager

    manager = OptimizedDatabaseManager(sqlite_url)
    manager.ensure_schema()
    yield manager
    manager.dispose()


# -- PostgreSQL: one fresh schema per test ------------------------------------------------------

POSTGRES_ENV = "CWO_TEST_POSTGRES_URL"


def _postgres_admin_dsn(url: str) -> str:
    """The libpq form of a SQLAlchemy URL (``postgresql+psycopg://`` -> ``postgresql://``)."""
    from sqlalchemy.engine import make_url

    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


@pytest.fixture(scope="session")
def postgres_base_url() -> str:
    """The server named by CWO_TEST_POSTGRES_URL, or a skip that says why it is not used."""
    url = os.environ.get(POSTGRES_ENV)
    if not url:
        pytest.skip(
            f"{POSTGRES_ENV} is not set (e.g. postgresql+psycopg://postgres@127.0.0.1:5432/test); "
            ".ci/run sets it"
        )
    import psycopg

    try:
        with psycopg.connect(_postgres_admin_dsn(url), connect_timeout=3) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        pytest.skip(f"PostgreSQL at {POSTGRES_ENV} is unreachable: {str(exc).splitlines()[0]}")
    return url


@pytest.fixture
def postgres_schemas(postgres_base_url: str) -> Iterator[Callable[[], str]]:
    """A factory of database URLs, each in a new schema ``cwo_t_<random>``; all dropped afterwards.

    The schema is chosen with libpq's ``options=-csearch_path=...``, so every
    connection of every process given the URL (the CLI in subprocesses too)
    works inside it, and concurrent test runs never see each other's tables.
    """
    import uuid

    import psycopg
    from sqlalchemy.engine import make_url

    admin = _postgres_admin_dsn(postgres_base_url)
    created: list[str] = []

    def new_schema() -> str:
        schema = f"cwo_t_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{schema}"')
        created.append(schema)
        url = make_url(postgres_base_url).update_query_dict({"options": f"-csearch_path={schema}"})
        return url.render_as_string(hide_password=False)

    try:
        yield new_schema
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            for schema in created:
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


@pytest.fixture
def postgres_url(postgres_schemas: Callable[[], str]) -> str:
    """A PostgreSQL URL whose tables land in a fresh schema (see ``postgres_schemas``)."""
    return postgres_schemas()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def any_db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[object]:
    """The same storage test on a SQLite file and, when configured, on PostgreSQL."""
    from custom_wheel_offset.storage.database import OptimizedDatabaseManager

    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'cwo-any.db'}"
    else:
        url = request.getfixturevalue("postgres_url")
    manager = OptimizedDatabaseManager(url)
    manager.ensure_schema()
    yield manager
    manager.dispose()
