"""The `cwo` command line: thin adapters that parse options and call the library.

Errors are handled once, here: a :class:`~custom_wheel_offset.errors.CwoError`
becomes its message on stderr and its class's exit code; anything else is an
internal error (exit 1). Tracebacks are shown only with ``--debug``. Nothing
heavy is imported until a command runs, so ``cwo --help`` is instant.
"""

from __future__ import annotations

import logging
import os
import sys
import traceback
from typing import Any

import click

from custom_wheel_offset import __version__
from custom_wheel_offset.errors import (
    EXIT_INTERNAL,
    EXIT_SIGINT,
    EXIT_SIGPIPE,
    EXIT_SIGTERM,
    CwoError,
)
from custom_wheel_offset.redact import safe_text

__all__ = ["cli", "main"]


def _print_traceback() -> None:
    """The current exception's traceback on stderr, each line masked and escaped."""
    lines = traceback.format_exc().splitlines()
    click.echo("\n".join(safe_text(line) for line in lines), err=True)


class CwoGroup(click.Group):
    """A group that turns library errors into messages and exit codes."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except CwoError as exc:
            debug = bool(ctx.obj and ctx.obj.get("debug"))
            if debug:
                _print_traceback()
            # One line saying what is wrong, one saying what to do (each escaped on its own,
            # so the line break between them stays a line break).
            click.echo(f"cwo: error: {safe_text(exc.message)}", err=True)
            if exc.hint:
                click.echo(f"hint: {safe_text(exc.hint)}", err=True)
            ctx.exit(exc.exit_code)
        except BrokenPipeError:
            # The reader stopped reading (`cwo export | head`): nothing to report.
            # What is still buffered for stdout goes nowhere, so the flush at exit
            # does not fail a second time.
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)
            ctx.exit(EXIT_SIGPIPE)


@click.group(cls=CwoGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="cwo")
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False),
    default=None,
    envvar="CWO_CONFIG",
    help="TOML config file (default: $CWO_CONFIG, else config/cwo.toml if present); "
    "accepted before or after the command.",
)
@click.option(
    "--debug",
    is_flag=True,
    envvar="CWO_DEBUG",
    help="Verbose logs and tracebacks on errors; accepted before or after the command. "
    "Env: CWO_DEBUG.",
)
@click.pass_context
def cli(ctx: click.Context, config_file: str | None, debug: bool) -> None:
    """cwo: build a complete, fresh database of wheel fitment data.

    Crawls the Custom Wheel Offset site (or its built-in sandbox): every
    vehicle's specifications and, for every suspension x trimming x rubbing
    preference, the wheel diameter, width and offset ranges that fit.

    Example:

        cwo scrape --sandbox --workers 10

        cwo export --what fitments --format csv --out fitments.csv
    """
    ctx.ensure_object(dict)
    ctx.obj["config_file"] = config_file
    ctx.obj["debug"] = debug


def _root_obj(ctx: click.Context) -> dict[str, Any]:
    root = ctx.find_root()
    root.ensure_object(dict)
    return root.obj  # type: ignore[no-any-return]


def _set_config(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    if value is not None:
        _root_obj(ctx)["config_file"] = value


def _set_debug(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value:
        _root_obj(ctx)["debug"] = True


def _global_options() -> list[click.Option]:
    """``--config`` and ``--debug`` for every command, so they work after the command too.

    Their callbacks store into the root context, which the group filled first
    (a subcommand's options are parsed after the group's callback ran).
    """
    return [
        click.Option(
            ["--config", "config_file"],
            type=click.Path(dir_okay=False),
            expose_value=False,
            callback=_set_config,
            help="TOML config file (as `cwo --config FILE`).",
        ),
        click.Option(
            ["--debug"],
            is_flag=True,
            default=None,
            expose_value=False,
            callback=_set_debug,
            help="Verbose logs and tracebacks on errors (as `cwo --debug`). Env: CWO_DEBUG.",
        ),
    ]


def _leaves(group: click.Group) -> list[click.Command]:
    out: list[click.Command] = []
    for command in group.commands.values():
        out.extend(_leaves(command) if isinstance(command, click.Group) else [command])
    return out


def _register() -> None:
    from custom_wheel_offset.cli.audit_cmd import audit_cmd
    from custom_wheel_offset.cli.completion_cmd import completion_cmd
    from custom_wheel_offset.cli.data_cmds import diff_cmd, export_cmd, report_cmd, status_cmd
    from custom_wheel_offset.cli.db_cmd import db_group
    from custom_wheel_offset.cli.query_cmds import fits_cmd, lookup_cmd, options_cmd
    from custom_wheel_offset.cli.sandbox_cmd import sandbox
    from custom_wheel_offset.cli.scrape_cmd import scrape

    commands = (
        scrape,
        export_cmd,
        diff_cmd,
        report_cmd,
        status_cmd,
        audit_cmd,
        options_cmd,
        lookup_cmd,
        fits_cmd,
        db_group,
        sandbox,
        completion_cmd,
    )
    for command in commands:
        cli.add_command(command)
    for leaf in _leaves(cli):
        leaf.params.extend(_global_options())


def _debug_asked(args: list[str]) -> bool:
    return "--debug" in args or os.environ.get("CWO_DEBUG", "").strip().lower() in (
        "1",
        "true",
        "yes",
        "on",
    )


_register()


def main(argv: list[str] | None = None) -> None:
    """The console entry point."""
    args = sys.argv[1:] if argv is None else argv
    try:
        code = cli.main(args=args, prog_name="cwo", standalone_mode=False)
    except click.exceptions.Abort:
        code = EXIT_SIGINT
    except click.ClickException as exc:
        exc.show()
        code = exc.exit_code
    except click.exceptions.Exit as exc:
        code = exc.exit_code
    except KeyboardInterrupt:
        code = EXIT_SIGINT
    except Exception:  # noqa: BLE001 - the one place that turns a bug into an exit code
        if _debug_asked(args):
            _print_traceback()
        else:
            click.echo(
                f"cwo: internal error: {safe_text(repr(sys.exc_info()[1]))} "
                "(run again with --debug for the traceback)",
                err=True,
            )
        code = EXIT_INTERNAL
    code = code if isinstance(code, int) else 0
    if code in (EXIT_SIGINT, EXIT_SIGTERM):
        # Worker threads may still be waiting on a held request; the database is
        # consistent already, so leave without joining them.
        logging.shutdown()
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    sys.exit(code)
