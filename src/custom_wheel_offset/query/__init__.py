"""Answers to the questions people bring to fitment data, from the stored crawl.

::

    lookup.py   "what fits my car?": a vehicle's specs and its ranges per preference set
    fits.py     "which cars does this wheel fit?": every vehicle and preference set, and why not
    options.py  the names stored (years, makes, models) and the preference options per type
    views.py    the browsing views ``vehicle_specs`` and ``fitment_ranges`` (SQL text)
    export.py   the views' rows as Parquet or a clean SQLite file; the Datasette metadata

Every function takes an :class:`~custom_wheel_offset.storage.database.OptimizedDatabaseManager`
(SQLite or PostgreSQL) and only reads. The CLI (``cli/query_cmds.py``) is an adapter.
"""
