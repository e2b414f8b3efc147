"""`cwo sandbox serve|truth|changes`: the built-in imitation of the site, as commands.

Thin adapters over :mod:`custom_wheel_offset.sandbox`: each command parses
its options, makes one library call and turns known library errors into
``click.ClickException``.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from custom_wheel_offset.errors import ConfigError
from custom_wheel_offset.settings import SANDBOX_SIZES

__all__ = ["sandbox"]

logger = logging.getLogger(__name__)


def _common_options(func: Callable[..., Any]) -> Callable[..., Any]:
    from custom_wheel_offset.sandbox.config import SIZES

    func = click.option(
        "--seed",
        type=int,
        default=1,
        show_default=True,
        help="Seed of the catalogue (and of the faults); the same seed always gives the same data.",
    )(func)
    func = click.option(
        "--size",
        type=click.Choice(SIZES),
        default="tiny",
        show_default=True,
        help="Catalogue size: tiny ~20 vehicles, small ~250, medium ~3,000, large ~30,000.",
    )(func)
    func = click.option(
        "--remove-vehicles",
        type=click.IntRange(min=0),
        default=0,
        show_default=True,
        metavar="N",
        help="Withdraw N vehicles (chosen by --seed) from the catalogue: their drives listing "
        "omits them, their vehicle URL answers 404, their fitment pages carry no data, and the "
        "truth leaves them out.",
    )(func)
    func = click.option(
        "--edition",
        type=click.IntRange(min=1),
        default=1,
        show_default=True,
        metavar="N",
        help="Edition of the catalogue: 1 is the original; each later one has about 2% "
        "vehicles added, 1% gone, 1% of vehicle specs and 3% of fitment ranges changed "
        "(docs/history.md).",
    )(func)
    return func


_RATE = click.FloatRange(0, 1)
_SECONDS = click.FloatRange(min=0)
_COUNT = click.IntRange(min=0)

# One row per fault option of `serve`: flag, FaultConfig field, type, default, help.
# Each field arrives under its FaultConfig name, so the command passes them on whole.
_FAULT_OPTIONS: tuple[tuple[str, str, click.ParamType, float | None, str], ...] = (
    ("--latency-ms", "latency_ms", _SECONDS, 0.0, "Delay added to every request, in milliseconds."),
    (
        "--jitter-ms",
        "jitter_ms",
        _SECONDS,
        0.0,
        "Extra random delay per request, uniform in [0, JITTER] milliseconds.",
    ),
    ("--error-rate", "error_rate", _RATE, 0.0, "Probability of answering 500, 502, 503 or 504."),
    (
        "--rate-429",
        "rate_429",
        _RATE,
        0.0,
        "Probability of answering 429 Too Many Requests with Retry-After.",
    ),
    (
        "--retry-after",
        "retry_after",
        _COUNT,
        1,
        "Seconds sent in the Retry-After header of --rate-429 answers.",
    ),
    (
        "--hold-rate",
        "hold_rate",
        _RATE,
        0.0,
        "Probability of holding a request --hold-seconds before answering it.",
    ),
    (
        "--hold-seconds",
        "hold_seconds",
        _SECONDS,
        60.0,
        "How long a held request waits (long enough to outlast a client timeout).",
    ),
    (
        "--reset-rate",
        "reset_rate",
        _RATE,
        0.0,
        "Probability of resetting the connection (TCP RST) without an answer.",
    ),
    (
        "--truncate-rate",
        "truncate_rate",
        _RATE,
        0.0,
        "Probability of cutting a JSON or HTML body short.",
    ),
    (
        "--challenge-rate",
        "challenge_rate",
        _RATE,
        0.0,
        "Probability that a store request gets the Human Verification page.",
    ),
    (
        "--challenge-after",
        "challenge_after",
        _SECONDS,
        None,
        "Open a challenge window this many seconds after start: every store "
        "request is challenged while it lasts.",
    ),
    (
        "--challenge-for",
        "challenge_for",
        _SECONDS,
        60.0,
        "How long the challenge window lasts, in seconds.",
    ),
    (
        "--max-rps",
        "max_rps",
        _SECONDS,
        0.0,
        "Server-side limit on requests in any 1 s window (all hosts); above it "
        "answer 429 with Retry-After: 1. 0 = no limit.",
    ),
    (
        "--p-forbidden",
        "forbidden_rate",
        _RATE,
        0.0,
        'Probability that a fitment-API request gets 403 {"message":"Forbidden"}.',
    ),
    (
        "--forbidden-after",
        "forbidden_after",
        _COUNT,
        None,
        "After this many fitment-API requests, answer every API request "
        "Forbidden (403) for --forbidden-for seconds.",
    ),
    (
        "--forbidden-for",
        "forbidden_for",
        _SECONDS,
        60.0,
        "How long the Forbidden window lasts, in seconds.",
    ),
)


def _fault_options(func: Callable[..., Any]) -> Callable[..., Any]:
    # Applied last row first, so --help lists them in the table's order.
    for flag, field, kind, default, text in reversed(_FAULT_OPTIONS):
        func = click.option(
            flag, field, type=kind, default=default, show_default=default is not None, help=text
        )(func)
    return func


@click.group(name="sandbox")
def sandbox() -> None:
    """The built-in imitation of the site: serve it, write its ground truth or its changes.

    The sandbox serves both hosts (the fitment API and the store) on one port,
    from a deterministic catalogue fixed by --size and --seed, optionally with
    faults; `truth` writes what a correct crawl of that catalogue must export;
    `changes` what `cwo diff` must say between two editions (--edition).

    Example:

    \b
        cwo sandbox serve --size small --seed 7 --error-rate 0.05
        cwo sandbox truth --size small --seed 7 --out truth/
    """


@sandbox.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=0,
    show_default=True,
    help="Port to listen on; 0 picks a free port.",
)
@_common_options
@click.option(
    "--page-kb",
    type=click.IntRange(min=1),
    default=100,
    show_default=True,
    help="Approximate size of a fitment page in KB (padding of realistic markup).",
)
@_fault_options
@click.option(
    "--robots-disallow",
    multiple=True,
    metavar="PREFIX",
    help="Path prefix that /robots.txt disallows (repeat for several).",
)
def serve(
    host: str,
    port: int,
    seed: int,
    size: str,
    remove_vehicles: int,
    edition: int,
    page_kb: int,
    robots_disallow: tuple[str, ...],
    **faults: Any,
) -> None:
    """Serve the sandbox until Ctrl-C.

    The first three lines of output are the base URLs to give the scraper
    and the counters endpoint:

    \b
        api_base=http://127.0.0.1:PORT/fitment/vehicle/co
        store_base=http://127.0.0.1:PORT
        counters=http://127.0.0.1:PORT/__sandbox__/counters

    POST {store_base}/__sandbox__/reset zeroes the counters. Every fault is
    off by default, seeded by --seed and deterministic in request order.

    Example:

    The fourth line, scrape=..., is the exact command that crawls it (both
    base URLs, --rate 0, into data/sandbox.db).

    \b
        cwo sandbox serve --size small --port 8765 --error-rate 0.05 --rate-429 0.02
        cwo scrape --api-base http://127.0.0.1:8765/fitment/vehicle/co \\
            --store-base http://127.0.0.1:8765 --rate 0 --db sqlite:///data/sandbox.db
    """
    from custom_wheel_offset.sandbox.config import FaultConfig, SandboxConfig
    from custom_wheel_offset.sandbox.server import start_sandbox

    try:
        config = SandboxConfig(
            size=size,
            seed=seed,
            page_kb=page_kb,
            faults=FaultConfig(**faults),
            robots_disallow=robots_disallow,
            remove_vehicles=remove_vehicles,
            edition=edition,
        )
        running = start_sandbox(config, host=host, port=port)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc}") from exc
    with running:
        _announce(running)
        logger.info("sandbox %s seed %s serving; Ctrl-C to stop", size, seed)
        _wait_for_ctrl_c_or_sigterm()
        logger.info("sandbox stopping after %d requests", running.counters()["total_requests"])


def _announce(running: Any) -> None:
    """The first four lines of output: both bases, the counters, the scrape command."""
    click.echo(f"api_base={running.api_base}")
    click.echo(f"store_base={running.store_base}")
    click.echo(f"counters={running.counters_url}", nl=True)
    # The exact command to crawl it: both bases, and --rate 0 (the live-site
    # default of 2 requests/s would apply otherwise, without a word).
    click.echo(
        f"scrape=cwo scrape --api-base {running.api_base} --store-base {running.store_base} "
        "--rate 0 --db sqlite:///data/sandbox.db"
    )
    click.get_text_stream("stdout").flush()


def _wait_for_ctrl_c_or_sigterm() -> None:
    stop = threading.Event()
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        if previous is not None:
            signal.signal(signal.SIGTERM, previous)


@sandbox.command("truth")
@_common_options
@click.option(
    "--out",
    "out_dir",
    required=True,
    type=click.Path(file_okay=False, writable=True, path_type=Path),
    help="Directory to write vehicles.jsonl and fitments.jsonl into (created if missing).",
)
def truth(seed: int, size: str, remove_vehicles: int, edition: int, out_dir: Path) -> None:
    """Write the ground truth of a sandbox catalogue in the export format.

    OUT/vehicles.jsonl and OUT/fitments.jsonl hold exactly what a correct
    crawl of `cwo sandbox serve --size SIZE --seed SEED` exports with
    `cwo export --format jsonl` (UTF-8, one object per line, sorted by
    identity), so the two can be compared byte for byte.

    Example:

    \b
        cwo sandbox truth --size tiny --seed 1 --out truth/
        cmp truth/fitments.jsonl <(cwo export --what fitments --format jsonl)
    """
    from custom_wheel_offset.sandbox.config import SandboxConfig
    from custom_wheel_offset.sandbox.truth import write_truth

    try:
        config = SandboxConfig(
            size=size, seed=seed, remove_vehicles=remove_vehicles, edition=edition
        )
        written = write_truth(config, out_dir)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    except OSError as exc:
        raise click.ClickException(f"cannot write the truth into {out_dir}: {exc}") from exc
    click.echo(f"{written.vehicles_path}: {written.vehicles} vehicles")
    click.echo(f"{written.fitments_path}: {written.fitments} fitments")


@sandbox.command("changes")
@click.option("--seed", type=int, default=1, show_default=True, help="Seed of the catalogue.")
@click.option(
    "--size", type=click.Choice(SANDBOX_SIZES), default="tiny", show_default=True, help="Size."
)
@click.option(
    "--from",
    "first",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="The edition crawled first.",
)
@click.option(
    "--to",
    "last",
    type=click.IntRange(min=1),
    required=True,
    help="The edition crawled last (every edition between crawled in full).",
)
@click.option(
    "--what",
    type=click.Choice(("vehicles", "fitments")),
    default=None,
    help="Only vehicle or only fitment changes (default: both).",
)
@click.option(
    "--out",
    "out_file",
    required=True,
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="File to write the change lines into.",
)
def changes(seed: int, size: str, first: int, last: int, what: str | None, out_file: Path) -> None:
    """Write the exact `cwo diff --plain` lines of crawling editions FROM..TO.

    Computed from the catalogue model, not by crawling: crawl edition FROM,
    then each later edition in full, and `cwo diff --plain --since CRAWL`
    (CRAWL: the crawl of edition FROM) prints exactly these lines.

    Example:

    \b
        cwo sandbox changes --size small --from 1 --to 2 --out expected.jsonl
        cwo diff --plain --since 1 --out got.jsonl && cmp expected.jsonl got.jsonl
    """
    from custom_wheel_offset.sandbox.editions import edition_changes, write_changes

    kind = None if what is None else what.removesuffix("s")
    try:
        found = edition_changes(size, seed, first, last, kind)
        count = write_changes(out_file, found)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    except OSError as exc:
        raise click.ClickException(f"cannot write {out_file}: {exc}") from exc
    click.echo(f"{out_file}: {count} changes from edition {first} to {last}")
