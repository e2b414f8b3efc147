"""Alembic's environment for cwo: run the migrations on the connection cwo hands over.

cwo never runs Alembic from an ``alembic.ini``: ``storage.migrations`` builds
the configuration in code and passes an open connection, inside its own
transaction, as ``config.attributes["connection"]``. Logging is left to the
caller (no ``fileConfig``). On SQLite, operations run in batch mode (copy,
alter, swap), since SQLite's ALTER TABLE is limited.
"""

from __future__ import annotations

from alembic import context

from custom_wheel_offset.storage.schema import metadata

config = context.config
connection = config.attributes.get("connection")
if connection is None:
    raise RuntimeError(
        "cwo's migrations run through `cwo db upgrade` (or storage.migrations.upgrade_to_head), "
        "which passes the database connection; there is no alembic.ini"
    )

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
