"""Options shared by several commands, defined once."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import click

__all__ = ["db_option", "parse_duration", "settings_from"]

F = Callable[..., Any]


def db_option(f: F) -> F:
    return click.option(
        "--db",
        default=None,
        metavar="URL",
        help="Database URL: sqlite:///path.db (default sqlite:///data/cwo.db) or "
        "postgresql+psycopg://user@host/db. Env: CWO_DB.",
    )(f)


_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smh]?)\s*$")


def parse_duration(value: str | float | None) -> float | None:
    """'900', '90s', '15m', '1.5h' -> seconds."""
    if value is None or isinstance(value, (int, float)):
        return value
    m = _DURATION.match(value)
    if not m:
        raise click.BadParameter(f"expected a duration like 900, 90s, 15m or 1h, got {value!r}")
    number, unit = float(m.group(1)), m.group(2) or "s"
    return number * {"s": 1, "m": 60, "h": 3600}[unit]


def settings_from(ctx: click.Context, **given: Any) -> Any:
    """Resolve settings once: the flags the user gave > CWO_* > config file > defaults."""
    from custom_wheel_offset.settings import resolve_settings

    root = ctx.find_root()
    obj = root.obj or {}
    flags = {k: v for k, v in given.items() if v is not None}
    if obj.get("debug"):
        flags.setdefault("debug", True)
    return resolve_settings(flags, config_file=obj.get("config_file"))
