"""`cwo options`, `cwo lookup`, `cwo fits`: answer questions from the stored crawl.

Adapters only: each command turns its options into a query object, opens the
database read-only and calls one function of ``custom_wheel_offset.query``.
An empty answer is exit 0 with a message on stderr; bad input is exit 2.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import click

from custom_wheel_offset.cli.options import db_option, settings_from

__all__ = ["fits_cmd", "lookup_cmd", "options_cmd"]

F = Callable[..., Any]

NO_FIT = "the wheel fits no stored vehicle with these preferences"


def _preference_options(f: F) -> F:
    for name, what in (
        ("rubbing", "rubbing tolerance"),
        ("trimming", "trimming (modification)"),
        ("suspension", "suspension"),
    ):
        f = click.option(
            f"--{name}",
            default=None,
            metavar="TEXT",
            help=f"Only this {what}, spelled as `cwo options` lists it (default: every one).",
        )(f)
    return f


def _json_option(f: F) -> F:
    return click.option(
        "--json",
        "as_json",
        is_flag=True,
        envvar="CWO_JSON",
        help="Machine-readable output (schema: docs/querying.md). Env: CWO_JSON.",
    )(f)


def _emit_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, ensure_ascii=False))


def _emit_lines(lines: list[str]) -> None:
    from custom_wheel_offset.redact import safe_text

    # Names are the site's text: a control character in one must not reach the terminal.
    for line in lines:
        click.echo(safe_text(line))


def _say(message: str) -> None:
    from custom_wheel_offset.redact import safe_text

    click.echo(f"cwo: {safe_text(message)}", err=True)


def _open(ctx: click.Context, db: str | None) -> Any:
    from custom_wheel_offset.storage.access import open_for_reading

    return open_for_reading(settings_from(ctx, db=db))


def _prefs(suspension: str | None, trimming: str | None, rubbing: str | None) -> Any:
    from custom_wheel_offset.query.options import PreferenceFilter

    return PreferenceFilter(suspension, trimming, rubbing)


@click.command("options")
@click.option("--year", type=int, default=None, help="List the makes stored for this year.")
@click.option("--make", default=None, help="List the models stored for this make.")
@_json_option
@db_option
@click.pass_context
def options_cmd(
    ctx: click.Context, year: int | None, make: str | None, as_json: bool, db: str | None
) -> None:
    """List the values a query may name: preference options per vehicle type,
    the years stored, the makes (of --year) and the models (of --make).

    Example:

        cwo options

        cwo options --year 2022 --make Toyota --json
    """
    from custom_wheel_offset.query.options import stored_options
    from custom_wheel_offset.query.render import options_lines

    manager = _open(ctx, db)
    try:
        stored = stored_options(manager, year=year, make=make).as_json()
    finally:
        manager.dispose()
    if as_json:
        _emit_json(stored)
    else:
        _emit_lines(options_lines(stored))


@click.command("lookup")
@click.argument("year", type=int)
@click.argument("make")
@click.argument("model")
@click.option("--trim", default=None, help="Only this trim (exact spelling).")
@click.option("--drive", default=None, help="Only this drive (exact spelling).")
@_preference_options
@_json_option
@db_option
@click.pass_context
def lookup_cmd(
    ctx: click.Context,
    year: int,
    make: str,
    model: str,
    trim: str | None,
    drive: str | None,
    suspension: str | None,
    trimming: str | None,
    rubbing: str | None,
    as_json: bool,
    db: str | None,
) -> None:
    """What fits my car: the vehicle(s) with their specifications and the
    diameter, width and offset ranges (front and rear) per preference set.

    Names match exactly; when nothing matches, the closest stored spellings
    are suggested on stderr (exit 0, empty result).

    Example:

        cwo lookup 2022 Toyota Tacoma --suspension "Leveling Kit"

        cwo lookup 2020 Škoda Kodiaq --trim RS --json
    """
    from custom_wheel_offset.query.lookup import LookupQuery, lookup
    from custom_wheel_offset.query.render import lookup_lines

    query = LookupQuery(year, make, model, trim, drive, _prefs(suspension, trimming, rubbing))
    manager = _open(ctx, db)
    try:
        result = lookup(manager, query)
    finally:
        manager.dispose()
    if as_json:
        _emit_json(result.as_json())
    else:
        _emit_lines(lookup_lines(result.vehicles))
    if result.message:
        _say(result.message)


def _size(name: str, help_text: str) -> F:
    return click.option(name, type=float, default=None, metavar="N", help=help_text)


@click.command("fits")
@click.option(
    "--bolt-pattern",
    required=True,
    metavar="LUGSxPCD",
    help="The wheel's bolt pattern, in mm (5x114.3) or inches (5x4.5).",
)
@_size("--center-bore", "The wheel's centre bore in mm: at least the vehicle's hub bore.")
@_size("--diameter", "Wheel diameter in inches (both axles).")
@_size("--width", "Wheel width in inches (front; rear too unless --rear-width).")
@_size("--offset", "Offset in mm, signed (front; rear too unless --rear-offset).")
@_size("--rear-width", "Rear wheel width in inches (a staggered set).")
@_size("--rear-offset", "Rear offset in mm (a staggered set).")
@_preference_options
@click.option(
    "--years",
    "fit_years",
    default=None,
    metavar="RANGE",
    help="Only these years: 2024 or 2018-2024.",
)
@click.option(
    "--makes", "fit_makes", default=None, metavar="NAMES", help="Only these makes, comma-separated."
)
@click.option(
    "--explain",
    nargs=3,
    type=(int, str, str),
    default=None,
    metavar="YEAR MAKE MODEL",
    help="Instead of searching: for this vehicle, which condition fails per preference set.",
)
@_json_option
@click.option("--csv", "as_csv", is_flag=True, help="CSV output (one row per fit).")
@db_option
@click.pass_context
def fits_cmd(ctx: click.Context, **options: Any) -> None:
    """Which cars does this wheel fit: every vehicle and preference set with the
    same bolt pattern (either unit), a hub bore the centre bore clears, and
    each given size inside that axle's range.

    Example:

        cwo fits --bolt-pattern 5x114.3 --center-bore 64.1 --diameter 18 --width 8 --offset 35

        cwo fits --bolt-pattern 5x4.5 --diameter 18 --years 2020-2024 --makes Honda,Toyota --csv

        cwo fits --bolt-pattern 5x114.3 --width 8 --offset 35 --explain 2022 Honda CR-V
    """
    from custom_wheel_offset.query.fits import fits, make_wheel

    if options["as_json"] and options["as_csv"]:
        raise click.UsageError("give --json or --csv, not both")
    wheel = make_wheel(
        options["bolt_pattern"],
        **{k: options[k] for k in ("center_bore", "diameter", "width", "offset")},
        **{k: options[k] for k in ("rear_width", "rear_offset")},
    )
    prefs = _prefs(options["suspension"], options["trimming"], options["rubbing"])
    manager = _open(ctx, options["db"])
    try:
        if options["explain"] is not None:
            _explain(manager, wheel, prefs, options["explain"], as_json=options["as_json"])
            return
        query = _fits_query(wheel, prefs, options["fit_years"], options["fit_makes"])
        rows = fits(manager, query)
    finally:
        manager.dispose()
    if options["as_json"]:
        message = None if rows else NO_FIT
        _emit_json({"query": query.as_json(), "fits": rows, "message": message})
    elif options["as_csv"]:
        click.echo(_fits_csv(ctx, rows), nl=False)
    else:
        from custom_wheel_offset.query.render import fits_lines

        _emit_lines(fits_lines(rows))
    if not rows:
        _say(NO_FIT)


def _fits_query(wheel: Any, prefs: Any, years: str | None, makes: str | None) -> Any:
    from custom_wheel_offset.query.fits import FitsQuery
    from custom_wheel_offset.settings import _parse_list, _parse_years

    return FitsQuery(
        wheel,
        prefs,
        _parse_years("--years", years),
        _parse_list("--makes", makes) if makes is not None else (),
    )


def _fits_csv(ctx: click.Context, rows: list[dict[str, Any]]) -> str:
    from custom_wheel_offset.query.render import fits_csv

    return fits_csv(rows, raw=settings_from(ctx).csv_raw)


def _explain(
    manager: Any, wheel: Any, prefs: Any, vehicle: tuple[int, str, str], *, as_json: bool
) -> None:
    from custom_wheel_offset.query.fits import explain
    from custom_wheel_offset.query.lookup import LookupQuery
    from custom_wheel_offset.query.render import explain_lines

    answer = explain(manager, wheel, LookupQuery(*vehicle, prefs=prefs))
    found = answer["lookup"]
    if as_json:
        _emit_json({**found.as_json(), "wheel": wheel.as_json(), "vehicles": answer["vehicles"]})
    else:
        _emit_lines(explain_lines(answer["vehicles"]))
    if found.message:
        _say(found.message)
