"""Alembic migrations on SQLite and PostgreSQL: the schema they build, and upgrades that keep rows.

Every test runs on a fresh SQLite file and on a fresh PostgreSQL schema (the
PostgreSQL case skips, saying why, when ``CWO_TEST_POSTGRES_URL`` is unset or
unreachable).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import inspect, select

from custom_wheel_offset.errors import DatabaseError
from custom_wheel_offset.storage.database import OptimizedDatabaseManager
from custom_wheel_offset.storage.migrations import (
    FIRST_REVISION,
    HEAD_REVISION,
    KNOWN_REVISIONS,
    alembic_config,
    current_revision,
    upgrade_to,
    upgrade_to_head,
)
from custom_wheel_offset.storage.schema import (
    crawls,
    fitments,
    frontier,
    history,
    metadata,
    preference_options,
    preference_sets,
    runs,
    vehicles,
    workers,
)

FIRST_TABLES = (crawls, runs, frontier, vehicles, preference_options, preference_sets, fitments)


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, sqlite_url: str) -> str:
    """A URL of an empty database: a SQLite file, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        return sqlite_url
    request.applymarker(pytest.mark.postgres)
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def manager(url: str) -> Iterator[OptimizedDatabaseManager]:
    db = OptimizedDatabaseManager(url)
    yield db
    db.dispose()


def _rows_of_first_release() -> dict[str, list[dict[str, Any]]]:
    """Rows for every table of revision 0001, with awkward values (unicode, nulls, floats)."""
    return {
        "crawls": [
            {"id": 1, "started_at": 1.5, "finished_at": 2.5, "mode": "full"},
            {"id": 2, "started_at": 3.25, "finished_at": None, "mode": "skip_existing"},
        ],
        "runs": [
            {
                "id": 7,
                "crawl_id": 2,
                "started_at": 3.25,
                "ended_at": None,
                "outcome": "running",
                "exit_code": None,
                "host": "hôte-1",
                "pid": 4242,
                "settings_json": '{"workers": 8}',
                "metrics_json": None,
            }
        ],
        "frontier": [
            {
                "id": 10,
                "key": "years",
                "kind": "years",
                "params": "{}",
                "vehicle_id": None,
                "prefset_id": None,
                "year": None,
                "make": None,
                "model": None,
                "status": "done",
                "attempts": 1,
                "last_error": None,
                "not_before": 0.0,
                "lease_owner": None,
                "lease_expires": None,
                "crawl_id": 2,
                "updated_at": 3.5,
            },
            {
                "id": 11,
                "key": "fitment/1/1",
                "kind": "fitment",
                "params": None,
                "vehicle_id": 1,
                "prefset_id": 1,
                "year": 2024,
                "make": "Citroën",
                "model": "C5 Aircross",
                "status": "leased",
                "attempts": 2,
                "last_error": "HTTP 503",
                "not_before": 12.75,
                "lease_owner": "host:1:abcd",
                "lease_expires": 99.5,
                "crawl_id": 2,
                "updated_at": 4.0,
            },
        ],
        "vehicles": [
            {
                "id": 1,
                "year": 2024,
                "make": "Citroën",
                "model": "C5 Aircross",
                "trim": 'Shine 1.2 "PureTech"',
                "drive": "FWD",
                "vehicle_type": "car",
                "chassis_id": "C84",
                "bolt_pattern_mm": "4x108",
                "bolt_pattern_in": "4x4.25",
                "hub_bore_mm": 65.1,
                "lug_type": "bolt",
                "lug_size": "M12 x 1.25",
                **{
                    f"{axle}_{name}": value
                    for axle in ("front", "rear")
                    for name, value in (
                        ("stock_diameter", 18.0),
                        ("stock_width", 7.5),
                        ("stock_offset", -3.5),
                        ("stock_tire", "225/55R18"),
                        ("diameter_min", 16.0),
                        ("diameter_max", 20.0),
                        ("width_min", 6.5),
                        ("width_max", 8.5),
                    )
                },
                "raw_json": '{"name": "C5 Aircross — Shine"}',
                "fetched_at": 3.75,
                "crawl_id": 2,
            }
        ],
        "preference_options": [
            {
                "vehicle_type": "car",
                "suspension": '["Stock"]',
                "trimming": '["None"]',
                "rubbing": '["No rubbing or scrubbing"]',
                "fetched_at": 3.5,
            }
        ],
        "preference_sets": [
            {
                "id": 1,
                "vehicle_type": "car",
                "suspension": "Stock",
                "modification": "None",
                "rubbing": "No rubbing or scrubbing",
                "current": True,
            },
            {
                "id": 2,
                "vehicle_type": "car",
                "suspension": 'Lowered 1-2"',
                "modification": "None",
                "rubbing": "Slight rubbing",
                "current": False,
            },
        ],
        "fitments": [
            {
                "id": 5,
                "vehicle_id": 1,
                "prefset_id": 1,
                "status": "ok",
                "bolt_pattern_mm": "4x108",
                "bolt_pattern_in": "4x4.25",
                **{
                    f"{axle}_{name}": value
                    for axle in ("front", "rear")
                    for name, value in (
                        ("diameter_min", 16.0),
                        ("diameter_max", 20.0),
                        ("width_min", 6.5),
                        ("width_max", 8.5),
                        ("offset_min", -10.0),
                        ("offset_max", 45.0),
                    )
                },
                "raw_block": "<div class='fit'>16–20″</div>",
                "fetched_at": 3.75,
                "crawl_id": 2,
            },
            {
                "id": 6,
                "vehicle_id": 1,
                "prefset_id": 2,
                "status": "no_data",
                "bolt_pattern_mm": None,
                "bolt_pattern_in": None,
                **{
                    f"{axle}_{name}": None
                    for axle in ("front", "rear")
                    for name in (
                        "diameter_min",
                        "diameter_max",
                        "width_min",
                        "width_max",
                        "offset_min",
                        "offset_max",
                    )
                },
                "raw_block": "",
                "fetched_at": 3.8,
                "crawl_id": 2,
            },
        ],
    }


def _insert_first_release_rows(db: OptimizedDatabaseManager) -> dict[str, list[dict[str, Any]]]:
    rows = _rows_of_first_release()
    with db.begin() as conn:
        for table in FIRST_TABLES:
            conn.execute(table.insert(), rows[table.name])
    return rows


# Columns later revisions added to the tables of the first release (0003 to 0006).
ADDED_LATER = {
    "failure_code",
    "failed_runs",
    "gone_crawl",
    "parent_id",
    "lug_count",
    "pcd_mm",
    "thread_diameter_mm",
    "thread_pitch_mm",
    "spec_notes",
    "first_seen",
    "last_seen",
    "last_changed",
    "first_crawl",
    "seen_crawl",
    "changed_crawl",
    "content_hash",
}


def _read_rows(db: OptimizedDatabaseManager) -> dict[str, list[dict[str, Any]]]:
    """Every row of the first release's tables, in the first release's columns."""
    out: dict[str, list[dict[str, Any]]] = {}
    with db.read() as conn:
        for table in FIRST_TABLES:
            order = list(table.primary_key.columns)
            columns = [c for c in table.c if c.name not in ADDED_LATER]
            out[table.name] = [
                dict(r._mapping) for r in conn.execute(select(*columns).order_by(*order))
            ]
    return out


def _tables(db: OptimizedDatabaseManager) -> set[str]:
    with db.read() as conn:
        return set(inspect(conn).get_table_names())


def test_head_revision_is_the_newest_script() -> None:
    from alembic.script import ScriptDirectory

    script = ScriptDirectory.from_config(alembic_config())
    assert script.get_heads() == [HEAD_REVISION]
    assert [r.revision for r in script.walk_revisions()][-1] == FIRST_REVISION
    assert sorted(r.revision for r in script.walk_revisions()) == list(KNOWN_REVISIONS)


def test_migrations_build_exactly_the_schema_of_schema_py(
    manager: OptimizedDatabaseManager,
) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    assert current_revision(manager) is None
    upgrade_to_head(manager)
    assert current_revision(manager) == HEAD_REVISION
    with manager.read() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, metadata) == []
    assert _tables(manager) == {*metadata.tables, "alembic_version"}


def test_upgrade_from_the_first_version_keeps_every_row(manager: OptimizedDatabaseManager) -> None:
    upgrade_to(manager, FIRST_REVISION)
    assert current_revision(manager) == FIRST_REVISION
    assert "workers" not in _tables(manager)
    before = _insert_first_release_rows(manager)
    assert _read_rows(manager) == before  # what went in reads back the same

    manager.ensure_schema()

    assert current_revision(manager) == HEAD_REVISION
    assert _read_rows(manager) == before
    # The new table works, with its server defaults.
    with manager.begin() as conn:
        conn.execute(
            workers.insert().values(
                owner="h:1:r", host="h", pid=1, run_id=7, started_at=1.0, heartbeat_at=2.0
            )
        )
    with manager.read() as conn:
        row = conn.execute(select(workers.c.items_done, workers.c.rate)).one()
    assert (row.items_done, row.rate) == (0, 0.0)


def test_upgrade_to_failure_codes_back_fills_failed_rows(manager: OptimizedDatabaseManager) -> None:
    """0003: failed rows get a code from their stored wording (else 'legacy') and one failed run."""
    upgrade_to(manager, "0002")
    messages = {
        1: ("failed", "PermanentFetchError: HTTP 404 from https://x/api/2024/Acme"),
        2: (
            "failed",
            "TransientFetchError: gave up after 6 attempts; last: timed out reading "
            "from https://x/a: ReadTimeout",
        ),
        3: ("failed", "ParseError: vehicle JSON is not valid JSON"),
        4: ("failed", "PermanentFetchError: response larger than 10 bytes from https://x/"),
        5: ("failed", "something nobody wrote down"),
        6: ("pending", "TransientFetchError: HTTP 503 from https://x/"),
        7: ("done", None),
    }
    with manager.begin() as conn:
        conn.execute(
            frontier.insert(),
            [
                {"id": i, "key": f"k{i}", "kind": "vehicle", "status": st, "last_error": msg}
                for i, (st, msg) in messages.items()
            ],
        )
    upgrade_to_head(manager)
    with manager.read() as conn:
        rows = conn.execute(
            select(frontier.c.id, frontier.c.failure_code, frontier.c.failed_runs).order_by(
                frontier.c.id
            )
        ).all()
    assert [tuple(r) for r in rows] == [
        (1, "http_404", 1),
        (2, "timeout", 1),
        (3, "parse_error", 1),
        (4, "too_large", 1),
        (5, "legacy", 1),
        (6, None, 0),
        (7, None, 0),
    ]


def test_upgrade_to_gone_marks_links_listed_rows_to_their_listing(
    manager: OptimizedDatabaseManager,
) -> None:
    """0004: gone_crawl columns (NULL: present) and parent_id back-filled from the keys."""
    upgrade_to(manager, "0003")
    rows = {
        1: ("years", "years"),
        2: ("makes/2020", "makes"),
        3: ("models/2020/Ford", "models"),
        4: ("model_info/2020/Ford/F%2F150", "model_info"),
        5: ("drives/2020/Ford/F%2F150/XL", "drives"),
        6: ("vehicle/2020/Ford/F%2F150/XL/4WD", "vehicle"),
        7: ("vehicle/2021/Ford/Ranger/XL/4WD", "vehicle"),  # its listing is not stored
        8: ("options/Truck", "options"),
        9: ("fitment/1/2", "fitment"),
    }
    with manager.begin() as conn:
        conn.execute(
            frontier.insert(),
            [{"id": i, "key": k, "kind": kind, "status": "done"} for i, (k, kind) in rows.items()],
        )
    upgrade_to_head(manager)
    with manager.read() as conn:
        got = conn.execute(
            select(frontier.c.id, frontier.c.parent_id, frontier.c.gone_crawl).order_by(
                frontier.c.id
            )
        ).all()
        assert conn.execute(select(vehicles.c.gone_crawl)).all() == []
    assert [tuple(r) for r in got] == [
        (1, None, None),
        (2, 1, None),
        (3, 2, None),
        (4, 3, None),
        (5, 4, None),
        (6, 5, None),
        (7, None, None),
        (8, None, None),
        (9, None, None),
    ]


def test_upgrade_to_history_back_fills_seen_times_from_the_fetch_times(
    manager: OptimizedDatabaseManager,
) -> None:
    """0006: first_seen/last_seen/last_changed from fetched_at, the crawls from crawl_id."""
    upgrade_to(manager, "0004")
    rows = _insert_first_release_rows(manager)
    upgrade_to_head(manager)
    assert current_revision(manager) == HEAD_REVISION
    with manager.read() as conn:
        for table in (vehicles, fitments):
            got = conn.execute(
                select(
                    table.c.first_seen,
                    table.c.last_seen,
                    table.c.last_changed,
                    table.c.first_crawl,
                    table.c.seen_crawl,
                    table.c.changed_crawl,
                    table.c.content_hash,
                ).order_by(table.c.id)
            ).all()
            expected = [
                (r["fetched_at"],) * 3 + (r.get("crawl_id"),) * 3 + (None,)
                for r in sorted(rows[table.name], key=lambda r: r["id"])
            ]
            assert [tuple(g) for g in got] == expected
            assert got
        assert conn.execute(select(history)).all() == []
        assert conn.execute(select(preference_sets.c.gone_crawl)).scalars().all() == [None] * len(
            rows["preference_sets"]
        )


@pytest.mark.parametrize("with_workers", [False, True], ids=["first-release", "with-workers"])
def test_database_created_before_migrations_is_stamped_and_upgraded(
    manager: OptimizedDatabaseManager, with_workers: bool
) -> None:
    tables = [*FIRST_TABLES, workers] if with_workers else list(FIRST_TABLES)
    metadata.create_all(manager.engine, tables=tables)
    before = _insert_first_release_rows(manager)
    assert current_revision(manager) == "unversioned"

    upgrade_to_head(manager)

    assert current_revision(manager) == HEAD_REVISION
    assert _read_rows(manager) == before
    assert "workers" in _tables(manager)


def test_concurrent_first_use_creates_the_schema_once(url: str) -> None:
    """Three processes starting at once on an empty database: one migrates, all succeed."""
    managers = [OptimizedDatabaseManager(url) for _ in range(3)]
    errors: list[BaseException] = []
    barrier = threading.Barrier(len(managers))

    def start(db: OptimizedDatabaseManager) -> None:
        try:
            barrier.wait()
            db.ensure_schema()
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=start, args=(m,)) for m in managers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    try:
        assert errors == []
        assert [current_revision(m) for m in managers] == [HEAD_REVISION] * 3
        with managers[0].read() as conn:
            versions = conn.exec_driver_sql("SELECT version_num FROM alembic_version").all()
        assert [v[0] for v in versions] == [HEAD_REVISION]
    finally:
        for m in managers:
            m.dispose()


def test_db_commands_upgrade_and_report_the_revision(url: str) -> None:
    from custom_wheel_offset.cli import cli
    from custom_wheel_offset.storage.database import sqlite_path

    runner = CliRunner()
    path = sqlite_path(url)
    if path is not None:
        # A read-only command never creates the file: a missing one is an error (exit 2).
        result = runner.invoke(cli, ["db", "current", "--db", url], catch_exceptions=False)
        assert result.exit_code == 2 and "does not exist" in result.output
        assert not path.exists()
        path.touch()
    result = runner.invoke(cli, ["db", "current", "--db", url], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "(empty database)"
    result = runner.invoke(cli, ["db", "upgrade", "--db", url], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert HEAD_REVISION in result.output
    result = runner.invoke(cli, ["db", "current", "--db", url], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert result.output.strip() == HEAD_REVISION


def test_a_database_from_a_newer_cwo_is_refused_untouched(
    manager: OptimizedDatabaseManager,
) -> None:
    upgrade_to_head(manager)
    with manager.begin() as conn:
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '0099'")
    with pytest.raises(DatabaseError, match="revision 0099, newer than this cwo"):
        manager.ensure_schema()
    assert current_revision(manager) == "0099"


def _vehicle(vid: int, raw: dict[str, Any] | str, **texts: Any) -> dict[str, Any]:
    """A vehicle row as revision 0004 stored it: texts as columns, the served JSON as text."""
    row: dict[str, Any] = {
        "id": vid,
        "year": 2020,
        "make": "Škoda",
        "model": f"Model {vid}",
        "trim": "Base",
        "drive": "FWD",
        "raw_json": raw if isinstance(raw, str) else json.dumps(raw, ensure_ascii=False),
        "fetched_at": 1.0,
        "bolt_pattern_mm": None,
        "lug_size": None,
        "hub_bore_mm": None,
    }
    return {**row, **texts}


def test_upgrade_to_typed_fields_back_fills_them_from_the_raw_json(
    manager: OptimizedDatabaseManager,
) -> None:
    """0005: lug count, PCD (either unit), thread; a null's reason in spec_notes; no fetching."""
    upgrade_to(manager, "0004")
    full = {"boltpattern": "5x114.3", "boltpatternInches": "5x4.5", "hub": 64.1}
    rows = [
        _vehicle(1, {**full, "lugSize": "M12 x 1.5"}, hub_bore_mm=64.1),
        _vehicle(
            2, {"boltpatternInches": "6x5.5", "lugSize": '1/2"-20', "hub": "78.1"}, hub_bore_mm=78.1
        ),
        _vehicle(3, {"boltpattern": "5-lug", "lugSize": "Ø12", "hub": None}),
        _vehicle(4, {}),
        # Not JSON the parser accepts: the stored texts are read instead.
        _vehicle(5, "{not json", bolt_pattern_mm="4x100", lug_size="M12 x 1.25", hub_bore_mm=56.1),
    ]
    with manager.begin() as conn:
        conn.execute(vehicles.insert(), rows)
    upgrade_to_head(manager)
    typed = [vehicles.c.id, vehicles.c.lug_count, vehicles.c.pcd_mm]
    typed += [vehicles.c.thread_diameter_mm, vehicles.c.thread_pitch_mm, vehicles.c.spec_notes]
    with manager.read() as conn:
        got = [tuple(r) for r in conn.execute(select(*typed).order_by(vehicles.c.id))]
        texts = conn.execute(select(vehicles.c.bolt_pattern_mm).order_by(vehicles.c.id)).all()
    assert got == [
        (1, 5, 114.3, 12.0, 1.5, None),
        (2, 6, 139.7, 12.7, 1.27, None),
        (
            3,
            None,
            None,
            None,
            None,
            json.dumps(
                {
                    "hub_bore_mm": "missing",
                    "lug_count": "unreadable bolt pattern '5-lug'",
                    "pcd_mm": "unreadable bolt pattern '5-lug'",
                    "thread_diameter_mm": "unreadable lug size 'Ø12'",
                    "thread_pitch_mm": "unreadable lug size 'Ø12'",
                },
                ensure_ascii=False,
            ),
        ),
        (
            4,
            None,
            None,
            None,
            None,
            json.dumps(
                {
                    "hub_bore_mm": "missing",
                    "lug_count": "missing",
                    "pcd_mm": "missing",
                    "thread_diameter_mm": "missing",
                    "thread_pitch_mm": "missing",
                }
            ),
        ),
        (5, 4, 100.0, 12.0, 1.25, None),
    ]
    # The texts keep their meaning: the migration only adds beside them.
    assert [t[0] for t in texts] == [None, None, None, None, "4x100"]


def test_the_views_are_the_frozen_copy_in_the_migration(manager: OptimizedDatabaseManager) -> None:
    """Migration 0005 creates query.views' views; gone rows and retired sets are left out."""
    import importlib

    from custom_wheel_offset.query.views import VIEWS

    migration = importlib.import_module(
        "custom_wheel_offset.storage.migrations.versions.0005_typed_fields"
    )
    assert migration.VIEWS == VIEWS
    upgrade_to_head(manager)
    before = _insert_first_release_rows(manager)
    with manager.begin() as conn:
        assert set(inspect(conn).get_view_names()) == set(VIEWS)
        specs = conn.exec_driver_sql("SELECT vehicle_id, make FROM vehicle_specs").all()
        ranges = conn.exec_driver_sql("SELECT vehicle_id, status FROM fitment_ranges").all()
        assert [tuple(r) for r in specs] == [(1, before["vehicles"][0]["make"])]
        assert [tuple(r) for r in ranges] == [(1, "ok")]  # set 2 is no longer current
        conn.execute(vehicles.update().values(gone_crawl=2))
        assert conn.exec_driver_sql("SELECT count(*) FROM vehicle_specs").scalar() == 0
        assert conn.exec_driver_sql("SELECT count(*) FROM fitment_ranges").scalar() == 0


def test_typed_fields_downgrade_and_upgrade_again_keep_the_rows(
    manager: OptimizedDatabaseManager,
) -> None:
    """0005 down (views, index, columns gone; fitments still reference vehicles) and up again."""
    from alembic import command

    upgrade_to_head(manager)
    before = _insert_first_release_rows(manager)
    with manager.begin() as conn:
        command.downgrade(alembic_config(conn), "0004")
    assert current_revision(manager) == "0004"
    with manager.read() as conn:
        assert inspect(conn).get_view_names() == []
        assert "lug_count" not in {c["name"] for c in inspect(conn).get_columns("vehicles")}
    upgrade_to_head(manager)
    assert _read_rows(manager) == before
    with manager.read() as conn:
        typed = conn.execute(select(vehicles.c.lug_count, vehicles.c.pcd_mm)).all()
    # The raw JSON of that row holds no bolt pattern: the typed fields say so.
    assert [tuple(t) for t in typed] == [(None, None)]
