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

__all__ = ["sandbox"]

logger = logging.getLogger(__name__)

SIZE_CHOICES = ("tiny", "small", "medium", "large")


def _common_options(func: Callable[..., Any]) -> Callable[..., Any]:
    func = click.option(
        "--seed",
        type=int,
        default=1,
        show_default=True,
        help="Seed of the catalogue (and of the faults); the same seed always gives the same data.",
    )(func)
    func = click.option(
        "--size",
        type=click.Choice(SIZE_CHOICES),
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
@click.option(
    "--latency-ms",
    type=click.FloatRange(min=0),
    default=0.0,
    show_default=True,
    help="Delay added to every request, in milliseconds.",
)
@click.option(
    "--jitter-ms",
    type=click.FloatRange(min=0),
    default=0.0,
    show_default=True,
    help="Extra random delay per request, uniform in [0, JITTER] milliseconds.",
)
@click.option(
    "--error-rate",
    type=click.FloatRange(0, 1),
    default=0.0,
    show_default=True,
    help="Probability of answering 500, 502, 503 or 504.",
)
@click.option(
    "--rate-429",
    "rate_429",
    type=click.FloatRange(0, 1),
    default=0.0,
    show_default=True,
    help="Probability of answering 429 Too Many Requests with Retry-After.",
)
@click.option(
    "--retry-after",
    type=click.IntRange(min=0),
    default=1,
    show_default=True,
    help="Seconds sent in the Retry-After header of --rate-429 answers.",
)
@click.option(
    "--hold-rate",
    type=click.FloatRange(0, 1),
    default=0.0,
    show_default=True,
    help="Probability of holding a request --hold-seconds before answering it.",
)
@click.option(
    "--hold-seconds",
    type=click.FloatRange(min=0),
    default=60.0,
    show_default=True,
    help="How long a held request waits (long enough to outlast a client timeout).",
)
@click.option(
    "--reset-rate",
    type=click.FloatRange(0, 1),
    default=0.0,
    show_default=True,
    help="Probability of resetting the connection (TCP RST) without an answer.",
)
@click.option(
    "--truncate-rate",
    type=click.FloatRange(0, 1),
    default=0.0,
    show_default=True,
    help="Probability of cutting a JSON or HTML body short.",
)
@click.option(
    "--challenge-rate",
    type=click.FloatRange(0, 1),
    default=0.0,
    show_default=True,
    help="Probability that a store request gets the Human Verification page.",
)
@click.option(
    "--challenge-after",
    type=click.FloatRange(min=0),
    default=None,
    help="Open a challenge window this many seconds after start: every store "
    "request is challenged while it lasts.",
)
@click.option(
    "--challenge-for",
    type=click.FloatRange(min=0),
    default=60.0,
    show_default=True,
    help="How long the challenge window lasts, in seconds.",
)
@click.option(
    "--max-rps",
    type=click.FloatRange(min=0),
    default=0.0,
    show_default=True,
    help="Server-side limit on requests in any 1 s window (all hosts); above it "
    "answer 429 with Retry-After: 1. 0 = no limit.",
)
@click.option(
    "--p-forbidden",
    "forbidden_rate",
    type=click.FloatRange(0, 1),
    default=0.0,
    show_default=True,
    help='Probability that a fitment-API request gets 403 {"message":"Forbidden"}.',
)
@click.option(
    "--forbidden-after",
    type=click.IntRange(min=0),
    default=None,
    help="After this many fitment-API requests, answer every API request "
    "Forbidden (403) for --forbidden-for seconds.",
)
@click.option(
    "--forbidden-for",
    type=click.FloatRange(min=0),
    default=60.0,
    show_default=True,
    help="How long the Forbidden window lasts, in seconds.",
)
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
    latency_ms: float,
    jitter_ms: float,
    error_rate: float,
    rate_429: float,
    retry_after: int,
    hold_rate: float,
    hold_seconds: float,
    reset_rate: float,
    truncate_rate: float,
    challenge_rate: float,
    challenge_after: float | None,
    challenge_for: float,
    max_rps: float,
    forbidden_rate: float,
    forbidden_after: int | None,
    forbidden_for: float,
    robots_disallow: tuple[str, ...],
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
        faults = FaultConfig(
            latency_ms=latency_ms,
            jitter_ms=jitter_ms,
            error_rate=error_rate,
            rate_429=rate_429,
            retry_after=retry_after,
            hold_rate=hold_rate,
            hold_seconds=hold_seconds,
            reset_rate=reset_rate,
            truncate_rate=truncate_rate,
            challenge_rate=challenge_rate,
            challenge_after=challenge_after,
            challenge_for=challenge_for,
            max_rps=max_rps,
            forbidden_rate=forbidden_rate,
            forbidden_after=forbidden_after,
            forbidden_for=forbidden_for,
        )
        config = SandboxConfig(
            size=size,
            seed=seed,
            page_kb=page_kb,
            faults=faults,
            robots_disallow=robots_disallow,
            remove_vehicles=remove_vehicles,
            edition=edition,
        )
        running = start_sandbox(config, host=host, port=port)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {host}:{port}: {exc}") from exc

    stop = threading.Event()
    previous = None
    if threading.current_thread() is threading.main_thread():
        previous = signal.signal(signal.SIGTERM, lambda signum, frame: stop.set())
    with running:
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
        logger.info("sandbox %s seed %s serving; Ctrl-C to stop", size, seed)
        try:
            while not stop.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
        finally:
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)
        logger.info("sandbox stopping after %d requests", running.counters()["total_requests"])


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
    "--size", type=click.Choice(SIZE_CHOICES), default="tiny", show_default=True, help="Size."
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
