"""`cwo export`, `cwo report`, `cwo status`: read what crawls stored."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from custom_wheel_offset.cli.options import db_option, settings_from
from custom_wheel_offset.errors import ConfigError

__all__ = ["export_cmd", "report_cmd", "status_cmd"]


def _database(ctx: click.Context, db: str | None):  # type: ignore[no-untyped-def]
    """The existing database, opened read-only: these commands never create or migrate."""
    from custom_wheel_offset.storage.access import open_for_reading

    return open_for_reading(settings_from(ctx, db=db))


def _open_out(out: str, *, newline: str | None = None):  # type: ignore[no-untyped-def]
    """``--out FILE`` opened for writing; a missing directory or no permission is a usage error."""
    from custom_wheel_offset.errors import ConfigError

    try:
        return open(out, "w", encoding="utf-8", newline=newline)
    except OSError as exc:
        raise ConfigError(
            f"cannot write --out {out}: {exc.strerror or exc}",
            hint="give a file in an existing, writable directory (or --out - for standard output)",
        ) from exc


@click.command("export")
@click.option(
    "--what",
    type=click.Choice(["vehicles", "fitments"]),
    default=None,
    envvar="CWO_WHAT",
    help="Which records (needed but for --format sqlite). Env: CWO_WHAT.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["jsonl", "csv", "parquet", "sqlite"]),
    default="jsonl",
    show_default=True,
    envvar="CWO_FORMAT",
    help="Output format. parquet: the view vehicle_specs or fitment_ranges (extra "
    "cwo[parquet]); sqlite: a new file holding both views' rows. Both need --out FILE. "
    "Env: CWO_FORMAT.",
)
@click.option("--out", default="-", metavar="FILE", help="Output file (default: standard output).")
@click.option(
    "--csv-raw",
    is_flag=True,
    default=None,
    help="CSV: write text cells exactly as stored. By default a cell starting with "
    "= + - @ tab or CR gets a ' in front so a spreadsheet shows it instead of running it "
    "as a formula. Env: CWO_CSV_RAW.",
)
@click.option(
    "--include-gone",
    is_flag=True,
    envvar="CWO_INCLUDE_GONE",
    help="Also export vehicles and fitments the site no longer has (marked gone by a "
    "crawl), each record with a gone_crawl field (null when present). Env: CWO_INCLUDE_GONE.",
)
@click.option(
    "--datasette-metadata",
    "datasette_file",
    default=None,
    metavar="FILE",
    help="Instead of exporting: write the Datasette metadata shipped with cwo (column "
    "descriptions, canned queries lookup and fits) for this --db, then stop.",
)
@db_option
@click.pass_context
def export_cmd(
    ctx: click.Context,
    what: str | None,
    fmt: str,
    out: str,
    csv_raw: bool | None,
    include_gone: bool,
    datasette_file: str | None,
    db: str | None,
) -> None:
    """Export vehicles or fitments in the documented, stable format.

    Records are sorted by identity (strings by code point), so two exports of
    the same data are byte-identical. CSV flattens front/rear into prefixed
    columns, and puts a ' before text that a spreadsheet would run as a
    formula (unless --csv-raw). Records the site no longer has are left out
    unless --include-gone. See README.md for the schema.

    Example:

        cwo export --what vehicles --format jsonl --out vehicles.jsonl

        cwo export --what fitments --format csv --db sqlite:///data/sandbox.db

        cwo export --format sqlite --out fitment-views.db

        cwo export --datasette-metadata metadata.json --db sqlite:///data/cwo.db
    """
    from custom_wheel_offset.exporting.export import export
    from custom_wheel_offset.storage.access import open_for_reading

    settings = settings_from(ctx, db=db, csv_raw=csv_raw)
    if datasette_file is not None or fmt in ("parquet", "sqlite"):
        _export_browsing(settings, what, fmt, out, datasette_file)
        return
    if what is None:
        raise ConfigError("--what is missing", hint="give --what vehicles or --what fitments")
    manager = open_for_reading(settings)
    raw = settings.csv_raw
    try:
        if out == "-":
            count = export(
                manager, what=what, fmt=fmt, out=sys.stdout, csv_raw=raw, include_gone=include_gone
            )
        else:
            # newline="" lets the csv module write its own line endings untranslated.
            with _open_out(out, newline="") as fh:
                count = export(
                    manager, what=what, fmt=fmt, out=fh, csv_raw=raw, include_gone=include_gone
                )
    finally:
        manager.dispose()
    click.echo(f"cwo: exported {count} {what}", err=True)


def _export_browsing(
    settings: Any, what: str | None, fmt: str, out: str, datasette_file: str | None
) -> None:
    """``--datasette-metadata``, ``--format parquet`` and ``--format sqlite``."""
    from custom_wheel_offset.query import browse
    from custom_wheel_offset.storage.access import open_for_reading

    if datasette_file is not None:
        browse.write_datasette_metadata(Path(datasette_file), browse.database_name(settings.db))
        click.echo(f"cwo: wrote the Datasette metadata to {datasette_file}", err=True)
        return
    if out == "-":
        raise ConfigError(f"--format {fmt} writes a file", hint=f"give --out FILE.{fmt}")
    if fmt == "parquet" and what is None:
        raise ConfigError("--what is missing", hint="give --what vehicles or --what fitments")
    manager = open_for_reading(settings)
    try:
        if fmt == "parquet":
            count = browse.export_parquet(manager, what or "", Path(out))
            done = f"{count} {what}"
        else:
            counts = browse.export_sqlite(manager, Path(out))
            done = ", ".join(f"{n} {view} rows" for view, n in counts.items())
    finally:
        manager.dispose()
    click.echo(f"cwo: exported {done} to {out}", err=True)


@click.command("report")
@click.option("--run", "run_id", type=int, default=None, help="Run id (default: the latest run).")
@click.option(
    "--out",
    default="-",
    metavar="FILE",
    help="Write the metrics JSON here (default: standard output).",
)
@db_option
@click.pass_context
def report_cmd(ctx: click.Context, run_id: int | None, out: str, db: str | None) -> None:
    """Write a run's metrics JSON and print a summary.

    The JSON holds the run's configuration (secrets masked), timing statistics
    per operation, per-thread throughput, request/retry/record counters,
    writer batches, cache and pool statistics, and memory samples with a trend
    verdict (docs/metrics.md).

    Example:

        cwo report --out run.json

        cwo report --run 3 --db sqlite:///data/sandbox.db
    """
    from custom_wheel_offset.metrics.report import summary_lines
    from custom_wheel_offset.redact import sanitize
    from custom_wheel_offset.storage.runs import load_run_report

    manager = _database(ctx, db)
    try:
        # Reports stored by older versions were neither masked nor escaped.
        report = sanitize(load_run_report(manager, run_id))
    finally:
        manager.dispose()
    text = json.dumps(report, indent=2, ensure_ascii=False) + "\n"
    if out == "-":
        sys.stdout.write(text)
    else:
        with _open_out(out) as fh:
            fh.write(text)
    for line in summary_lines(report):
        click.echo(line, err=out == "-")


@click.command("status")
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    envvar="CWO_JSON",
    help="Machine-readable output. Env: CWO_JSON.",
)
@click.option(
    "--item-attempts",
    type=int,
    default=None,
    help="Count failed items that failed in this many runs apart (default: as `cwo scrape`, 3).",
)
@db_option
@click.pass_context
def status_cmd(
    ctx: click.Context, as_json: bool, item_attempts: int | None, db: str | None
) -> None:
    """Show per stage what is done, pending and failed, why, and the last runs.

    Failed items are grouped by their reason code (docs/resilience.md), with a
    count and one example message each; items that failed in --item-attempts
    runs (from the config file or CWO_ITEM_ATTEMPTS) are counted apart.

    Example:

        cwo status

        cwo status --json --db sqlite:///data/sandbox.db
    """
    from custom_wheel_offset.status import crawl_status, status_lines

    settings = settings_from(ctx, db=db, item_attempts=item_attempts)
    manager = _database(ctx, db)
    try:
        status = crawl_status(manager, item_attempts=settings.item_attempts)
    finally:
        manager.dispose()
    if as_json:
        click.echo(json.dumps(status, indent=2, ensure_ascii=False, default=str))
    else:
        for line in status_lines(status):
            click.echo(line)
