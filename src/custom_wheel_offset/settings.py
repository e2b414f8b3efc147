"""All settings of cwo in one frozen object, resolved once.

Precedence, highest first: command-line flag > ``CWO_*`` environment variable >
config file (TOML, ``--config`` / ``CWO_CONFIG`` / ``config/cwo.toml``) > default.

Every field below is a setting; its environment variable is ``CWO_`` plus the
field name in upper case (``CWO_WORKERS``, ``CWO_SKIP_EXISTING``, ...) and its
config-file key is the field name. Nothing here reads the environment or a
file until :func:`resolve_settings` is called.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Any

from custom_wheel_offset.cpus import CPU_CHOICES
from custom_wheel_offset.errors import ConfigError
from custom_wheel_offset.redact import mask_url

__all__ = [
    "DEFAULT_API_BASE",
    "DEFAULT_STORE_BASE",
    "SANDBOX_SIZES",
    "STAGES",
    "Settings",
    "resolve_settings",
]

DEFAULT_API_BASE = "https://www.enthusiastenterprises.us/fitment/vehicle/co"
DEFAULT_STORE_BASE = "https://www.customwheeloffset.com"
DEFAULT_DB_URL = "sqlite:///data/cwo.db"
SANDBOX_DB_URL = "sqlite:///data/sandbox.db"
STAGES = ("tree", "vehicles", "preferences", "fitments")
#: The sandbox's catalogue sizes, smallest first (``--sandbox-size``, ``sandbox --size``).
SANDBOX_SIZES: tuple[str, ...] = ("tiny", "small", "medium", "large")
DEFAULT_CONFIG_FILE = Path("config/cwo.toml")


@dataclass(frozen=True, slots=True)
class Settings:
    """One run's configuration. Build it with :func:`resolve_settings`."""

    # where
    api_base: str = DEFAULT_API_BASE
    store_base: str = DEFAULT_STORE_BASE
    db: str = DEFAULT_DB_URL
    # what
    skip_existing: bool = False
    retry_failed: bool = False
    # Rolling refresh (docs/history.md): re-fetch the vehicle and fitment pages last
    # confirmed longer ago than this many seconds, oldest first, at most
    # refresh_budget of them per run (None: all of them).
    refresh_older_than: float | None = None
    refresh_budget: int | None = None
    # `cwo status`: records not confirmed within this many seconds are past the window.
    freshness_window: float = 30 * 86400.0
    years: tuple[int, int] | None = None
    makes: tuple[str, ...] = ()
    models: tuple[str, ...] = ()
    stages: tuple[str, ...] = STAGES
    limit: int | None = None
    # how fast
    workers: int = 10
    multithreading: bool = True
    fast: bool = False
    rate: float = 2.0  # requests per second per host; 0 = unlimited
    host_concurrency: int = 0  # in-flight requests per host; 0 = as many as workers
    cpus: str = "one"  # one: the crawl's threads on one core (cpus.py); all: any core
    # how politely and robustly
    max_attempts: int = 6
    backoff_base: float = 0.5
    backoff_max: float = 60.0
    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    total_timeout: float = 120.0  # one whole exchange: connect, headers and body
    max_body_bytes: int = 10 * 1024 * 1024
    user_agent: str = ""
    obey_robots: bool = True
    cookies: str | None = None
    proxy: str | None = None
    max_blocked: float = 15 * 60.0
    item_attempts: int = 3
    lease_seconds: float = 300.0
    wait: bool = False
    worker_name: str | None = None  # PostgreSQL: one run per name at a time (default: host)
    # database pool (server databases) and writer
    pool_size: int = 20
    max_overflow: int = 30
    pool_timeout: float = 30.0
    pool_recycle: int = 3600
    batch_size: int = 500
    flush_interval: float = 0.5
    cache_ttl: float = 3600.0
    # sandbox
    sandbox: bool = False
    sandbox_size: str = "tiny"
    sandbox_seed: int = 1
    # output
    progress: str = "auto"  # auto | rich | plain | off
    quiet: bool = False
    log_file: str | None = None
    log_format: str = "text"  # text | json
    debug: bool = False
    csv_raw: bool = False  # export: keep formula-looking CSV text cells unprefixed

    def public_dict(self) -> dict[str, Any]:
        """The settings with secrets masked, for logs, metrics and reports."""
        out = dataclasses.asdict(self)
        for name in ("api_base", "store_base", "db"):
            out[name] = mask_url(out[name])
        out["proxy"] = mask_url(self.proxy) if self.proxy else None
        out["cookies"] = "(file given)" if self.cookies else None
        # What was sent, not the empty default that means "cwo's own".
        out["user_agent"] = self.effective_user_agent
        for key, value in out.items():
            if isinstance(value, tuple):
                out[key] = list(value)
        return out

    @property
    def effective_user_agent(self) -> str:
        from custom_wheel_offset import __version__

        return self.user_agent or (
            f"cwo/{__version__} (+https://pypi.org/project/custom-wheel-offset/; fitment crawler)"
        )


# -- parsing of values given as text (environment, flags) --------------------------------

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _parse_bool(name: str, raw: Any) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ConfigError(f"{name}: expected true or false, got {raw!r}")


def _parse_years(name: str, raw: Any) -> tuple[int, int] | None:
    if raw is None:
        return None
    if str(raw).strip() == "":
        raise ConfigError(f"{name}: empty; give a year or a range like 2015-2026, or leave it out")
    if isinstance(raw, (list, tuple)) and len(raw) == 2:
        lo, hi = int(raw[0]), int(raw[1])
    else:
        text = str(raw).strip()
        try:
            if "-" in text:
                a, b = text.split("-", 1)
                lo, hi = int(a), int(b)
            else:
                lo = hi = int(text)
        except ValueError:
            raise ConfigError(
                f"{name}: expected a year or a range like 2015-2026, got {raw!r}"
            ) from None
    if lo > hi:
        raise ConfigError(f"{name}: range {lo}-{hi} is empty (first year after last)")
    return (lo, hi)


def _parse_list(name: str, raw: Any) -> tuple[str, ...]:
    if raw is None:
        return ()
    if isinstance(raw, (list, tuple)):
        names = tuple(str(x) for x in raw)
    else:
        # Commas separate names on the command line; a name that contains a comma
        # is given through the config file as a TOML list.
        names = tuple(part for part in (p.strip() for p in str(raw).split(",")) if part)
    if not names:
        # An empty filter would silently mean "everything": say so instead.
        raise ConfigError(
            f"{name}: empty; name at least one (the site's spelling, e.g. Honda), "
            "or leave the option out for all"
        )
    return names


def _parse_stages(name: str, raw: Any) -> tuple[str, ...]:
    stages = _parse_list(name, raw)
    unknown = [s for s in stages if s not in STAGES]
    if unknown:
        raise ConfigError(
            f"{name}: unknown stage(s) {', '.join(unknown)}; choose from {', '.join(STAGES)}"
        )
    if not stages:
        raise ConfigError(f"{name}: name at least one stage")
    return tuple(s for s in STAGES if s in stages)


_AGE = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def _parse_age(name: str, raw: Any) -> float | None:
    """An age: seconds as a number, or a number with a unit: ``90s``, ``15m``, ``12h``, ``30d``."""
    if raw is None:
        return None
    if isinstance(raw, (int, float)) and not isinstance(raw, bool):
        value = float(raw)
    else:
        text = str(raw).strip().lower()
        unit = text[-1:] if text[-1:] in _AGE else "s"
        try:
            value = float(text[:-1] if text[-1:] in _AGE else text) * _AGE[unit]
        except ValueError:
            raise ConfigError(
                f"{name}: expected an age like 30d, 12h, 15m, 90s or seconds, got {raw!r}"
            ) from None
    if value < 0:
        raise ConfigError(f"{name}: an age cannot be negative, got {raw!r}")
    return value


_CHOICES = {
    "cpus": CPU_CHOICES,
    "progress": ("auto", "rich", "plain", "off"),
    "log_format": ("text", "json"),
    "sandbox_size": SANDBOX_SIZES,
}
_SPECIAL = {
    "years": _parse_years,
    "makes": _parse_list,
    "models": _parse_list,
    "stages": _parse_stages,
    "refresh_older_than": _parse_age,
    "freshness_window": _parse_age,
}


def _coerce(f: dataclasses.Field[Any], raw: Any, source: str) -> Any:
    name = f"{f.name} (from {source})"
    if f.name in _SPECIAL:
        return _SPECIAL[f.name](name, raw)
    kind = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
    if raw is None:
        if "None" in kind:
            return None
        raise ConfigError(f"{name}: a value is required")
    try:
        if kind == "bool":
            return _parse_bool(name, raw)
        if kind.startswith("int"):
            if isinstance(raw, bool):
                raise ValueError
            value: Any = int(str(raw).strip())
        elif kind.startswith("float"):
            value = float(str(raw).strip())
        else:
            value = str(raw)
    except ValueError:
        raise ConfigError(f"{name}: expected {kind.split(' ')[0]}, got {raw!r}") from None
    if f.name in _CHOICES and value not in _CHOICES[f.name]:
        raise ConfigError(f"{name}: expected one of {', '.join(_CHOICES[f.name])}, got {raw!r}")
    return value


def _validate(s: Settings) -> None:
    if not 1 <= s.workers <= 512:
        raise ConfigError(f"workers must be between 1 and 512, got {s.workers}")
    if s.rate < 0:
        raise ConfigError(f"rate must be 0 (unlimited) or positive, got {s.rate}")
    if s.max_attempts < 1 or s.item_attempts < 1:
        raise ConfigError("max_attempts and item_attempts must be at least 1")
    if s.refresh_budget is not None and s.refresh_budget < 1:
        raise ConfigError(
            f"refresh_budget must be a positive number of pages, got {s.refresh_budget}"
        )
    if s.freshness_window <= 0:
        raise ConfigError(f"freshness_window must be positive, got {s.freshness_window}")
    if s.limit is not None and s.limit < 1:
        raise ConfigError(f"limit must be a positive number of items, got {s.limit}")
    if s.batch_size < 1 or s.flush_interval <= 0:
        raise ConfigError("batch_size must be >= 1 and flush_interval > 0")
    if min(s.connect_timeout, s.read_timeout, s.total_timeout) <= 0:
        raise ConfigError("connect_timeout, read_timeout and total_timeout must be positive")
    if s.max_body_bytes < 1024:
        raise ConfigError("max_body_bytes must be at least 1024")
    for base_name in ("api_base", "store_base"):
        base = getattr(s, base_name)
        if not base.startswith(("http://", "https://")):
            raise ConfigError(f"{base_name} must be an http(s) URL, got {mask_url(base)!r}")


def load_config_file(path: Path) -> dict[str, Any]:
    import tomllib

    try:
        with path.open("rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"config file {path} does not exist") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"config file {path} is not valid TOML: {exc}") from exc
    # Accept either top-level keys or a [cwo] table.
    table = data.get("cwo", data)
    if not isinstance(table, dict):
        raise ConfigError(f"config file {path}: [cwo] must be a table")
    return table


def resolve_settings(
    cli: Mapping[str, Any] | None = None,
    *,
    env: Mapping[str, str] | None = None,
    config_file: str | Path | None = None,
) -> Settings:
    """Merge flag > environment > file > default into one validated :class:`Settings`.

    ``cli`` holds only the flags the user actually gave (``None`` values are
    ignored). ``env`` defaults to ``os.environ``. ``config_file`` defaults to
    ``CWO_CONFIG`` or, if present, ``config/cwo.toml``.
    """
    cli = {k: v for k, v in (cli or {}).items() if v is not None}
    env = os.environ if env is None else env
    known = {f.name: f for f in fields(Settings)}

    path: Path | None
    if config_file is not None:
        path = Path(config_file)
    elif env.get("CWO_CONFIG"):
        path = Path(env["CWO_CONFIG"])
    else:
        path = DEFAULT_CONFIG_FILE if DEFAULT_CONFIG_FILE.is_file() else None
    file_values = load_config_file(path) if path is not None else {}
    unknown = sorted(set(file_values) - set(known))
    if unknown:
        raise ConfigError(f"config file {path}: unknown setting(s) {', '.join(unknown)}")

    values: dict[str, Any] = {}
    given: set[str] = set()
    for name, f in known.items():
        env_key = f"CWO_{name.upper()}"
        if name in cli:
            values[name] = _coerce(f, cli[name], "command line")
            given.add(name)
        elif env_key in env:
            values[name] = _coerce(f, env[env_key], f"environment {env_key}")
            given.add(name)
        elif name in file_values:
            values[name] = _coerce(f, file_values[name], f"config file {path}")
            given.add(name)
    unknown_cli = sorted(set(cli) - set(known))
    if unknown_cli:
        raise ConfigError(f"unknown setting(s) {', '.join(unknown_cli)}")

    # The sandbox is a local imitation: its own database and no politeness limit,
    # unless the user said otherwise.
    if values.get("sandbox"):
        values.setdefault("db", SANDBOX_DB_URL)
        if "rate" not in given:
            values["rate"] = 0.0
    if values.get("fast") and "rate" not in given and values.get("sandbox"):
        values["rate"] = 0.0
    settings = Settings(**values)
    _validate(settings)
    return settings


def replace(settings: Settings, **changes: Any) -> Settings:
    """A copy with some fields changed (used to point a run at the embedded sandbox)."""
    updated = dataclasses.replace(settings, **changes)
    _validate(updated)
    return updated
