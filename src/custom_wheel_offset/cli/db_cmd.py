"""`cwo db`: schema management."""

from __future__ import annotations

import click

from custom_wheel_offset.cli.options import db_option, settings_from

__all__ = ["db_group"]


@click.group("db")
def db_group() -> None:
    """Database schema management (migrations).

    Example:

        cwo db upgrade --db postgresql+psycopg://crawler@dbhost/cwo
    """


@db_group.command("upgrade")
@db_option
@click.pass_context
def upgrade(ctx: click.Context, db: str | None) -> None:
    """Bring the database schema to the current version (keeps every row).

    Example:

        cwo db upgrade --db sqlite:///data/cwo.db
    """
    from custom_wheel_offset.storage.access import check_for_writing
    from custom_wheel_offset.storage.database import OptimizedDatabaseManager

    settings = settings_from(ctx, db=db)
    check_for_writing(settings)
    manager = OptimizedDatabaseManager.from_settings(settings)
    try:
        manager.ensure_schema()
        click.echo(f"schema at {manager.schema_version() or 'current'}")
    finally:
        manager.dispose()


@db_group.command("current")
@db_option
@click.pass_context
def current(ctx: click.Context, db: str | None) -> None:
    """Print the database's schema version.

    Example:

        cwo db current
    """
    from custom_wheel_offset.storage.access import open_for_reading

    manager = open_for_reading(settings_from(ctx, db=db), check=False)
    try:
        click.echo(manager.schema_version() or "(empty database)")
    finally:
        manager.dispose()
