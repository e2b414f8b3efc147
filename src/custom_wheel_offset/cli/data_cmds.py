"""`cwo export`, `cwo diff`, `cwo report`, `cwo status`: read what crawls stored."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Any

import click

from custom_wheel_offset.cli.options import db_option, settings_from
from custom_wheel_offset.errors import ConfigError

__all__ = ["diff_cmd", "export_cmd", "report_cmd", "status_cmd"]

logger = logging.getLogger(__name__)


def open_database(ctx: click.Context, db: str | None):  # type: ignore[no-untyped-def]
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


@click.command("diff")
@click.option(
    "--since",
    default=None,
    metavar="CRAWL_ID|DATE",
    envvar="CWO_SINCE",
    help="Changes after this crawl (its id: those of later crawls) or from this ISO 8601 "
    "date or time (UTC unless it says otherwise). Default: all. Env: CWO_SINCE.",
)
@click.option(
    "--until",
    default=None,
    metavar="CRAWL_ID|DATE",
    envvar="CWO_UNTIL",
    help="Changes up to and including this crawl, or before this date or time. Env: CWO_UNTIL.",
)
@click.option(
    "--what",
    type=click.Choice(["vehicles", "fitments"]),
    default=None,
    help="Only vehicle or only fitment changes (default: both, vehicles first). "
    "Env: CWO_DIFF_WHAT.",
    envvar="CWO_DIFF_WHAT",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["jsonl", "csv"]),
    default="jsonl",
    show_default=True,
    envvar="CWO_FORMAT",
    help="Output format. Env: CWO_FORMAT.",
)
@click.option(
    "--plain",
    is_flag=True,
    envvar="CWO_DIFF_PLAIN",
    help="Leave out crawl and at: the lines `cwo sandbox changes` writes. Env: CWO_DIFF_PLAIN.",
)
@click.option("--out", default="-", metavar="FILE", help="Output file (default: standard output).")
@db_option
@click.pass_context
def diff_cmd(
    ctx: click.Context,
    since: str | None,
    until: str | None,
    what: str | None,
    fmt: str,
    plain: bool,
    out: str,
    db: str | None,
) -> None:
    """Say what changed: one line per record added, changed, gone or returned.

    Lines are sorted by kind and identity and byte-stable; a changed record
    lists its changed fields with old and new values. Format and examples in
    docs/history.md.

    Example:

        cwo diff --since 3

        cwo diff --since 2026-12-01 --what fitments --format csv --out changes.csv
    """
    from custom_wheel_offset.exporting.export import diff

    manager = open_database(ctx, db)

    def write(fh: Any) -> int:
        return diff(manager, out=fh, since=since, until=until, what=what, fmt=fmt, plain=plain)

    try:
        if out == "-":
            count = write(sys.stdout)
        else:
            with _open_out(out, newline="") as fh:
                count = write(fh)
    finally:
        manager.dispose()
    click.echo(f"cwo: {count} change(s)", err=True)


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
    default=None,
    metavar="FILE",
    help="Write the metrics JSON here (default: standard output, unless --html is given).",
)
@click.option(
    "--html",
    "html_out",
    default=None,
    metavar="FILE",
    help="Also write a self-contained HTML page: summary, charts over time, latency, "
    "data coverage and the data audit (needs matplotlib: pip install "
    "'custom-wheel-offset[report]').",
)
@db_option
@click.pass_context
def report_cmd(
    ctx: click.Context, run_id: int | None, out: str | None, html_out: str | None, db: str | None
) -> None:
    """Write a run's metrics JSON (and an HTML page) and print a summary.

    The JSON holds the run's configuration (secrets masked), timing statistics
    per operation, per-thread throughput, request/retry/record counters,
    writer batches, cache and pool statistics, memory samples with a trend
    verdict and the per-interval time series (docs/metrics.md). --html FILE
    writes one HTML file that reads offline: charts drawn as SVG, the
    catalogue's coverage and the data audit (docs/audit.md).

    Example:

        cwo report --out run.json

        cwo report --run 3 --db sqlite:///data/sandbox.db

        cwo report --html run.html
    """
    from custom_wheel_offset.metrics.report import summary_lines, validate_report
    from custom_wheel_offset.redact import sanitize
    from custom_wheel_offset.storage.runs import load_run_report

    if html_out is not None:
        _require_matplotlib()
    manager = open_database(ctx, db)
    try:
        # Reports stored by older versions were neither masked nor escaped.
        report = sanitize(load_run_report(manager, run_id))
        if missing := validate_report(report):
            # A report stored by an older cwo, or by a run killed mid-write.
            logger.warning("this run's report lacks %s; shown as stored", ", ".join(missing))
        page = _html_page(manager, report) if html_out is not None else None
    finally:
        manager.dispose()
    json_out = out if out is not None else (None if html_out is not None else "-")
    _write_json(report, json_out)
    if html_out is not None and page is not None:
        with _open_out(html_out) as fh:
            fh.write(page)
    for line in summary_lines(report):
        click.echo(line, err=json_out == "-")


def _write_json(report: dict[str, Any], out: str | None) -> None:
    if out is None:
        return
    text = json.dumps(report, indent=2, ensure_ascii=False) + "\n"
    if out == "-":
        sys.stdout.write(text)
    else:
        with _open_out(out) as fh:
            fh.write(text)


def _html_page(manager: Any, report: dict[str, Any]) -> str:
    """The page of ``report`` with the coverage and the audit of the database."""
    from custom_wheel_offset.audit import audit_database
    from custom_wheel_offset.metrics.html import render_html
    from custom_wheel_offset.storage.coverage import coverage

    return render_html(report, coverage=coverage(manager), audit=audit_database(manager))


def _require_matplotlib() -> None:
    import importlib.util

    from custom_wheel_offset.errors import ConfigError

    if importlib.util.find_spec("matplotlib") is None:
        raise ConfigError(
            "--html needs matplotlib, which is not installed",
            hint="pip install 'custom-wheel-offset[report]' (or: pip install matplotlib)",
        )


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
@click.option(
    "--freshness-window",
    default=None,
    metavar="AGE",
    help="Count records not confirmed within AGE (30d, 12h; default 30d). "
    "Env: CWO_FRESHNESS_WINDOW.",
)
@db_option
@click.pass_context
def status_cmd(
    ctx: click.Context,
    as_json: bool,
    item_attempts: int | None,
    freshness_window: str | None,
    db: str | None,
) -> None:
    """Show per stage what is done, pending and failed, why, how fresh, and the last runs.

    Freshness: the age of the stored records (median, 90th percentile,
    oldest), how many are older than --freshness-window, the last complete
    crawl, and how long a full refresh takes at the observed request rate and
    the configured --refresh-budget (docs/history.md).

    Failed items are grouped by their reason code (docs/resilience.md), with a
    count and one example message each; items that failed in --item-attempts
    runs (from the config file or CWO_ITEM_ATTEMPTS) are counted apart.

    Example:

        cwo status

        cwo status --json --db sqlite:///data/sandbox.db
    """
    from custom_wheel_offset.status import crawl_status, status_lines

    settings = settings_from(
        ctx, db=db, item_attempts=item_attempts, freshness_window=freshness_window
    )
    manager = open_database(ctx, db)
    try:
        status = crawl_status(
            manager,
            item_attempts=settings.item_attempts,
            window=settings.freshness_window,
            budget=settings.refresh_budget,
        )
    finally:
        manager.dispose()
    if as_json:
        click.echo(json.dumps(status, indent=2, ensure_ascii=False, default=str))
    else:
        for line in status_lines(status):
            click.echo(line)
