"""The fitment API refusing cwo (``{"message":"Forbidden"}``), end to end.

A gatekeeper of our own stands in front of the sandbox's fitment API (so the
API is its own host, as on the live site) and, once shut, answers every
request with ``403 {"message":"Forbidden"}``, as AWS API Gateway does. The
run must pause that host, store nothing from the refusal, stop with exit
code 5 once the block outlasts ``--max-blocked``, and the next run (gate
open again) must resume and end equal to the sandbox's truth.
"""

from __future__ import annotations

import http.client
import sqlite3
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from custom_wheel_offset.errors import EXIT_BLOCKED, EXIT_OK

from .conftest import (
    export_matches_truth,
    frontier_totals,
    invoke,
    scrape_args,
    sqlite_file,
    status_json,
)

pytestmark = pytest.mark.slow

FORBIDDEN = b'{"message":"Forbidden"}'


class Gatekeeper:
    """A reverse proxy to ``upstream`` that refuses everything after ``shut_at`` (monotonic)."""

    def __init__(self, upstream: str) -> None:
        self.shut_at: float | None = None
        self.refused = 0
        keeper = self
        origin = urlsplit(upstream)

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                if keeper.shut_at is not None and time.monotonic() >= keeper.shut_at:
                    keeper.refused += 1
                    status, body, kind = 403, FORBIDDEN, "application/json"
                else:
                    conn = http.client.HTTPConnection(origin.hostname, origin.port, timeout=30)
                    try:
                        conn.request("GET", self.path)
                        resp = conn.getresponse()
                        status, body = resp.status, resp.read()
                        kind = resp.getheader("Content-Type", "application/json")
                    finally:
                        conn.close()
                self.send_response(status)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def gatekeeper() -> Iterator[Any]:
    started: list[Gatekeeper] = []

    def start(upstream: str) -> Gatekeeper:
        started.append(Gatekeeper(upstream))
        return started[-1]

    yield start
    for keeper in started:
        keeper.close()


def test_api_refusal_past_max_blocked_exits_5_and_the_next_run_completes(
    sandbox: Any, gatekeeper: Any, truth_dir: Any, tmp_db: str, tmp_path: Path
) -> None:
    with sandbox("tiny", latency_ms=10) as sb:
        keeper = gatekeeper(sb.api_base)
        api_base = keeper.url + urlsplit(sb.api_base).path
        args = scrape_args(sb, tmp_db, "--workers", "4")
        args[args.index("--api-base") + 1] = api_base
        keeper.shut_at = time.monotonic() + 0.5  # some of the tree first, then refused
        result = invoke(*args, "--max-blocked", "3s")
        assert result.exit_code == EXIT_BLOCKED, result.output[-3000:]
        message = result.stderr
        api_host = urlsplit(keeper.url).netloc
        assert f'{api_host} has answered only the refusal {{"message":"Forbidden"}}' in message
        assert "--max-blocked" in message and "run the same command again" in message, message
        assert keeper.refused > 0
        runs = status_json(tmp_db)["runs"]
        assert runs[0]["outcome"] == "blocked" and runs[0]["exit_code"] == EXIT_BLOCKED
        totals = frontier_totals(tmp_db)
        assert totals.get("leased", 0) == 0 and totals.get("failed", 0) == 0, totals
        with sqlite3.connect(sqlite_file(tmp_db)) as conn:
            stored = conn.execute(
                "SELECT count(*) FROM vehicles WHERE raw_json LIKE '%Forbidden%'"
            ).fetchone()[0]
        assert stored == 0

        keeper.shut_at = None  # the API lets us in again
        again = invoke(*args)
    assert again.exit_code == EXIT_OK, again.output[-3000:]
    export_matches_truth(tmp_db, truth_dir("tiny"), tmp_path)
    assert frontier_totals(tmp_db).keys() == {"done"}
