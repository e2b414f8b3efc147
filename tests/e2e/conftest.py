"""End-to-end fixtures: the real sandbox over loopback HTTP, real SQLite files, the real CLI."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from custom_wheel_offset.cli import cli


@pytest.fixture(scope="session")
def truth_dir(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """Truth files per (size, seed), written once per test session."""
    from custom_wheel_offset.sandbox import SandboxConfig
    from custom_wheel_offset.sandbox.truth import write_truth

    cache: dict[tuple[str, int, int, int], Path] = {}

    def get(size: str = "tiny", seed: int = 1, remove_vehicles: int = 0, edition: int = 1) -> Path:
        key = (size, seed, remove_vehicles, edition)
        if key not in cache:
            out = tmp_path_factory.mktemp(f"truth-{size}-{seed}-{remove_vehicles}-{edition}")
            config = SandboxConfig(
                size=size, seed=seed, remove_vehicles=remove_vehicles, edition=edition
            )
            write_truth(config, out)
            cache[key] = out
        return cache[key]

    return get


@pytest.fixture
def sandbox() -> Any:
    """Start a sandbox: ``with sandbox("tiny", latency_ms=5, error_rate=0.1) as sb``.

    Keyword arguments are fault settings (``FaultConfig`` fields); ``remove_vehicles``
    withdraws that many vehicles, chosen by the seed (``sandbox.removal``).
    """
    from custom_wheel_offset.sandbox import FaultConfig, SandboxConfig, start_sandbox

    def start(
        size: str = "tiny",
        seed: int = 1,
        robots_disallow: tuple[str, ...] = (),
        remove_vehicles: int = 0,
        edition: int = 1,
        **faults: Any,
    ) -> Any:
        config = SandboxConfig(
            size=size,
            seed=seed,
            faults=FaultConfig(**faults),
            robots_disallow=robots_disallow,
            remove_vehicles=remove_vehicles,
            edition=edition,
        )
        return start_sandbox(config)

    return start


def invoke(*args: str) -> Result:
    """Run a cwo command through click's CliRunner (in this process)."""
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


def scrape_args(sb: Any, db_url: str, *extra: str) -> list[str]:
    return [
        "scrape",
        "--api-base",
        sb.api_base,
        "--store-base",
        sb.store_base,
        "--db",
        db_url,
        "--progress",
        "off",
        "--rate",
        "0",  # the sandbox needs no politeness; the live-site default is 2/s
        *extra,
    ]


def export_matches_truth(db_url: str, truth: Path, tmp: Path) -> None:
    """`cwo export` of both record kinds is byte-identical to the sandbox's truth files."""
    for what in ("vehicles", "fitments"):
        out = tmp / f"export-{what}.jsonl"
        result = invoke(
            "export", "--what", what, "--format", "jsonl", "--db", db_url, "--out", str(out)
        )
        assert result.exit_code == 0, result.output
        expected = (truth / f"{what}.jsonl").read_bytes()
        got = out.read_bytes()
        if got != expected:
            got_lines, exp_lines = got.splitlines(), expected.splitlines()
            missing = [x for x in exp_lines if x not in set(got_lines)][:3]
            extra = [x for x in got_lines if x not in set(exp_lines)][:3]
            pytest.fail(
                f"{what}: export differs from truth ({len(got_lines)} vs {len(exp_lines)} lines)\n"
                f"missing: {missing}\nunexpected: {extra}"
            )


def cwo_subprocess(args: Sequence[str], **kwargs: Any) -> subprocess.Popen[bytes]:
    """The real `cwo` command in its own process (for signals and SIGKILL)."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-m", "custom_wheel_offset", *args],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        **kwargs,
    )


@pytest.fixture
def tmp_db(tmp_path: Path) -> Iterator[str]:
    yield f"sqlite:///{tmp_path / 'crawl.db'}"


# -- added for issue 4 (resilience, bad input, secrets) -----------------------------------------


def invoke_env(env: dict[str, str], *args: str) -> Result:
    """Like :func:`invoke`, with extra environment variables (e.g. ``CWO_READ_TIMEOUT``)."""
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


def export_matches_truth_where(
    db_url: str, truth: Path, tmp: Path, keep: Callable[[dict[str, Any]], bool]
) -> None:
    """:func:`export_matches_truth` for a filtered crawl (``--makes``, ``--years``).

    The truth is cut down to the records ``keep`` admits, and must still hold some.
    """
    import json

    cut = tmp / "truth-cut"
    cut.mkdir(exist_ok=True)
    for what in ("vehicles", "fitments"):
        lines = (truth / f"{what}.jsonl").read_bytes().splitlines(keepends=True)
        kept = [line for line in lines if keep(json.loads(line))]
        assert kept, f"the filter keeps no {what} of the truth"
        (cut / f"{what}.jsonl").write_bytes(b"".join(kept))
    export_matches_truth(db_url, cut, tmp)


def sqlite_file(db_url: str) -> str:
    return db_url.removeprefix("sqlite:///")


def frontier_totals(db_url: str) -> dict[str, int]:
    """{status: items} over the whole frontier of a SQLite crawl."""
    import sqlite3

    with sqlite3.connect(sqlite_file(db_url)) as conn:
        rows = conn.execute("SELECT status, count(*) FROM frontier GROUP BY status").fetchall()
    return {status: n for status, n in rows}


def status_json(db_url: str) -> dict[str, Any]:
    """`cwo status --json`, parsed."""
    import json

    result = invoke("status", "--json", "--db", db_url)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def two_hosts(sb: Any) -> tuple[str, str]:
    """(api_base, store_base) of one sandbox under two host names, as on the live site.

    The sandbox serves both hosts on one port; reaching the API as ``localhost``
    and the store as ``127.0.0.1`` makes them two hosts for cwo's per-host
    limiter and challenge gate.
    """
    return sb.api_base.replace("//127.0.0.1:", "//localhost:"), sb.store_base


def scrape_args_split(sb: Any, db_url: str, *extra: str) -> list[str]:
    """:func:`scrape_args` with the API and the store as two hosts (see :func:`two_hosts`)."""
    api_base, store_base = two_hosts(sb)
    args = scrape_args(sb, db_url, *extra)
    args[args.index("--api-base") + 1] = api_base
    args[args.index("--store-base") + 1] = store_base
    return args


def wait_until(predicate: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll ``predicate`` every 20 ms; fail the test naming ``what`` after ``timeout`` s."""
    import time

    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(0.02)


class Forwarder:
    """A small HTTP forwarder of our own on 127.0.0.1, in a thread.

    Without ``upstream`` it is a forward proxy: requests carry an absolute URI
    (``GET http://host:port/path``) and are sent there. With ``upstream`` it is a
    reverse proxy in front of that base URL (another host, as far as cwo can
    tell). ``delay`` seconds are added before each answer. Every request line
    and its headers are kept in ``seen`` (e.g. to check ``Proxy-Authorization``).
    """

    def __init__(self, upstream: str | None = None, delay: float = 0.0) -> None:
        import http.client
        import threading
        import time
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
        from urllib.parse import urlsplit

        self.seen: list[tuple[str, dict[str, str]]] = []
        forwarder = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass  # quiet

            def do_GET(self) -> None:
                forwarder.seen.append((self.path, dict(self.headers.items())))
                target = self.path if upstream is None else upstream.rstrip("/") + self.path
                parts = urlsplit(target)
                path = parts.path + (f"?{parts.query}" if parts.query else "")
                headers = {
                    k: v
                    for k, v in self.headers.items()
                    if k.lower() not in ("host", "proxy-authorization", "proxy-connection")
                }
                if delay:
                    time.sleep(delay)
                conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
                try:
                    conn.request("GET", path, headers=headers)
                    resp = conn.getresponse()
                    body = resp.read()
                    self.send_response(resp.status)
                    for k, v in resp.getheaders():
                        if k.lower() not in ("content-length", "connection", "transfer-encoding"):
                            self.send_header(k, v)
                except (OSError, http.client.HTTPException):
                    body = b"upstream failed"
                    self.send_response(502)
                finally:
                    conn.close()
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)


@pytest.fixture
def forwarder() -> Iterator[Callable[..., Forwarder]]:
    """``forwarder(upstream=None, delay=0.0)`` starts a :class:`Forwarder`; all stop afterwards."""
    started: list[Forwarder] = []

    def start(upstream: str | None = None, delay: float = 0.0) -> Forwarder:
        started.append(Forwarder(upstream, delay))
        return started[-1]

    yield start
    for f in started:
        f.stop()


def cwo_run(
    args: Sequence[str], *, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[bytes]:
    """The real `cwo` in its own process, stdout and stderr as two pipes (no TTY), to the end."""
    return subprocess.run(
        [sys.executable, "-m", "custom_wheel_offset", *args],
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=timeout,
        check=False,
    )
