"""`cwo scrape`: run (or resume) a crawl into the database."""

from __future__ import annotations

import logging
import os
import signal
import threading
from typing import TYPE_CHECKING, Any

import click

from custom_wheel_offset.cli.options import db_option, parse_duration, settings_from
from custom_wheel_offset.cpus import CPU_CHOICES
from custom_wheel_offset.errors import EXIT_SIGINT, EXIT_SIGTERM
from custom_wheel_offset.settings import SANDBOX_SIZES

if TYPE_CHECKING:
    from custom_wheel_offset.crawl.workflow_v3 import RunResult, StopRequest

__all__ = ["StopOnSignals", "scrape"]

log = logging.getLogger(__name__)


class StopOnSignals:
    """First SIGINT/SIGTERM: ask the run to stop cleanly. Second SIGINT: leave now.

    The command's, not the library's: ``workflow_v3.run`` only watches its stop
    event, so a test, a notebook or a service calling it keeps its own handlers.
    Installed only on the main thread (Python's rule); the previous handlers
    come back on exit.
    """

    def __init__(self, stop: StopRequest) -> None:
        self.stop = stop
        self.received: int | None = None
        self._previous: dict[int, Any] = {}

    def __enter__(self) -> StopOnSignals:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._previous[sig] = signal.signal(sig, self._handle)
        return self

    def _handle(self, signum: int, _frame: object) -> None:
        if self.received is not None and signum == signal.SIGINT:
            # Every batch is one transaction: leaving mid-way loses only what
            # was in flight, which the next run redoes.
            os._exit(EXIT_SIGINT)
        self.received = signum
        log.warning(
            "%s received: finishing in-flight work, then stopping", signal.Signals(signum).name
        )
        self.stop.request(EXIT_SIGTERM if signum == signal.SIGTERM else EXIT_SIGINT)

    def __exit__(self, *exc: object) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)


@click.command()
@click.option(
    "--workers", type=int, default=None, help="Worker threads (default 10). Env: CWO_WORKERS."
)
@click.option(
    "--skip-existing/--no-skip-existing",
    default=None,
    help="Re-walk the listings to find new vehicles, but fetch no vehicle or fitment page "
    "already stored. Without it a new crawl fetches everything again and updates it.",
)
@click.option(
    "--refresh-older-than",
    default=None,
    metavar="AGE",
    help="Rolling refresh: besides finding new vehicles (as --skip-existing), fetch again the "
    "vehicle and fitment pages last confirmed longer ago than AGE (30d, 12h, 0s), oldest "
    "first. See docs/history.md. Env: CWO_REFRESH_OLDER_THAN.",
)
@click.option(
    "--refresh-budget",
    type=int,
    default=None,
    metavar="N",
    help="With --refresh-older-than: at most N such pages in this run (default: all). "
    "Env: CWO_REFRESH_BUDGET.",
)
@click.option(
    "--retry-failed",
    is_flag=True,
    default=None,
    help="Retry failed items without starting a new crawl.",
)
@click.option("--api-base", default=None, metavar="URL", help="Fitment API base URL.")
@click.option("--store-base", default=None, metavar="URL", help="Store base URL.")
@db_option
@click.option(
    "--sandbox",
    is_flag=True,
    default=None,
    help="Start the built-in sandbox on a free loopback port and crawl it "
    "(database data/sandbox.db unless --db is given; no rate limit unless --rate is given).",
)
@click.option(
    "--sandbox-size",
    type=click.Choice(SANDBOX_SIZES),
    default=None,
    help="Catalogue size of --sandbox (default tiny).",
)
@click.option(
    "--sandbox-seed", type=int, default=None, help="Catalogue seed of --sandbox (default 1)."
)
@click.option(
    "--years", default=None, metavar="RANGE", help="Only these years, e.g. 2015-2026 or 2024."
)
@click.option("--makes", default=None, metavar="LIST", help="Only these makes, comma-separated.")
@click.option("--models", default=None, metavar="LIST", help="Only these models, comma-separated.")
@click.option(
    "--stages",
    default=None,
    metavar="LIST",
    help="Which stages to work on: tree,vehicles,preferences,fitments (default all).",
)
@click.option(
    "--limit", type=int, default=None, help="Stop after claiming N work items (a sample run)."
)
@click.option(
    "--rate",
    type=float,
    default=None,
    help="Requests per second per host, never exceeded in any second (default 2; 0 = unlimited; "
    "the sandbox defaults to 0).",
)
@click.option(
    "--host-concurrency",
    type=int,
    default=None,
    help="In-flight requests per host (default: --workers).",
)
@click.option(
    "--max-attempts",
    type=int,
    default=None,
    help="Attempts per request before the item is retried later (default 6).",
)
@click.option(
    "--item-attempts",
    type=int,
    default=None,
    help="Times an item is tried in a run before it is marked failed, and runs in which it "
    "may fail before new runs stop retrying it (--retry-failed still does; default 3).",
)
@click.option(
    "--backoff-base", type=float, default=None, help="First retry delay in seconds (default 0.5)."
)
@click.option(
    "--backoff-max", type=float, default=None, help="Longest retry delay in seconds (default 60)."
)
@click.option(
    "--connect-timeout", type=float, default=None, help="Seconds to connect (default 10)."
)
@click.option(
    "--read-timeout",
    type=float,
    default=None,
    help="Seconds to wait for an answer, and again for its body (default 30).",
)
@click.option(
    "--total-timeout",
    type=float,
    default=None,
    help="Seconds for one whole exchange: connect, answer and body (default 120).",
)
@click.option(
    "--max-body-bytes",
    type=int,
    default=None,
    help="Abort a response larger than this many bytes (default 10485760).",
)
@click.option(
    "--batch-size", type=int, default=None, help="Outcomes per write transaction (default 500)."
)
@click.option(
    "--flush-interval",
    type=float,
    default=None,
    help="Longest wait before a partial batch is written, seconds (default 0.5).",
)
@click.option("--user-agent", default=None, help="User-Agent header (default identifies cwo).")
@click.option(
    "--ignore-robots",
    "ignore_robots",
    is_flag=True,
    default=None,
    help="Do not honour the store's robots.txt. Your responsibility: see docs/politeness.md.",
)
@click.option(
    "--cookies",
    default=None,
    metavar="FILE",
    help="Cookies from your own browser (Netscape cookies.txt or JSON).",
)
@click.option(
    "--proxy", default=None, metavar="URL", help="HTTP(S) proxy URL (credentials are never logged)."
)
@click.option(
    "--max-blocked",
    default=None,
    metavar="DURATION",
    help="Stop (exit 5) when the store's bot challenge lasts longer than this (default 15m).",
)
@click.option(
    "--wait",
    is_flag=True,
    default=None,
    help="Wait for a running crawl of this database instead of exiting 4.",
)
@click.option(
    "--worker-name",
    default=None,
    help="PostgreSQL: this process's name; one run per name at a time (default: host name).",
)
@click.option(
    "--lease-seconds",
    type=float,
    default=None,
    help="How long a claimed item stays ours without renewal (default 300).",
)
@click.option(
    "--fast",
    is_flag=True,
    default=None,
    help="Bigger write batches and synchronous=NORMAL: faster; a power loss may lose "
    "the last second of work.",
)
@click.option(
    "--cpus",
    type=click.Choice(CPU_CHOICES),
    default=None,
    help="one (default): run the crawl's threads on one CPU core, where the GIL changes "
    "hands without waking another core (about a quarter less CPU); all: any core.",
)
@click.option(
    "--progress",
    type=click.Choice(["auto", "rich", "plain", "off"]),
    default=None,
    help="Progress display (default auto: rich on a terminal, log lines otherwise).",
)
@click.option(
    "--quiet", "-q", is_flag=True, default=None, help="Only warnings, errors and the final summary."
)
@click.option("--log-file", default=None, metavar="FILE", help="Also write log lines to FILE.")
@click.option(
    "--log-format", type=click.Choice(["text", "json"]), default=None, help="Log line format."
)
@click.pass_context
def scrape(
    ctx: click.Context, ignore_robots: bool | None, max_blocked: str | None, **options: object
) -> None:
    """Crawl the site (or resume the unfinished crawl) into the database.

    Stages: the vehicle tree (years, makes, models, trims, drives), each
    vehicle's specifications, each vehicle type's preference options, and one
    fitment page per vehicle and preference set. Interrupted runs resume where
    they stopped; a finished crawl is followed by a new one.

    Exit codes: 0 complete, 3 finished with failed items, 2 usage or
    configuration error, 4 another run holds the database, 5 blocked by the
    bot challenge, 6 a --years/--makes/--models value matched nothing,
    130/143 interrupted (SIGINT/SIGTERM), 1 internal error.

    Process-wide, this command (not the library's run) handles SIGINT and
    SIGTERM: the first finishes in-flight items and stops cleanly, a second
    SIGINT exits at once (every batch is one transaction). It also asks glibc
    for at most two malloc arenas before the worker threads start, unless
    MALLOC_ARENA_MAX is set (a crawl's many threads otherwise fragment memory),
    and keeps the run's threads on one CPU core unless --cpus all.

    Example:

        cwo scrape --sandbox --workers 10

        cwo scrape --workers 10 --skip-existing --years 2020-2026 --makes Toyota,Ford
    """
    from custom_wheel_offset.allocator import limit_malloc_arenas
    from custom_wheel_offset.cpus import one_cpu
    from custom_wheel_offset.crawl import workflow_v3
    from custom_wheel_offset.logsetup import configure_logging
    from custom_wheel_offset.storage.access import check_for_writing

    settings = settings_from(
        ctx,
        obey_robots=None if ignore_robots is None else not ignore_robots,
        max_blocked=parse_duration(max_blocked),
        **options,
    )
    configure_logging(
        quiet=settings.quiet,
        debug=settings.debug,
        log_file=settings.log_file,
        log_format=settings.log_format,
    )
    check_for_writing(settings)
    # Before any thread of the run exists: arenas already created stay, and a
    # thread takes its CPU affinity from the thread that starts it.
    limit_malloc_arenas()
    stop = workflow_v3.StopRequest()
    with StopOnSignals(stop), one_cpu(settings.cpus):
        result = workflow_v3.run(settings, stop=stop)
    _echo_summary(result, settings.log_format)
    ctx.exit(result.exit_code)


def _echo_summary(result: RunResult, log_format: str) -> None:
    """The closing lines on stderr: counts, gone records, what the user needs to know."""
    from custom_wheel_offset.logsetup import summary_line
    from custom_wheel_offset.metrics.report import gone_line, summary_lines

    line = "; ".join(summary_lines(result.report)[:3])
    fields = {"run_id": result.run_id, "outcome": result.outcome, "exit_code": result.exit_code}
    click.echo(summary_line(line, log_format, summary=True, **fields), err=True)
    gone = gone_line(result.report)
    if gone:
        click.echo(summary_line(gone, log_format, **fields), err=True)
    if result.message:
        click.echo(summary_line(result.message, log_format, **fields), err=True)
