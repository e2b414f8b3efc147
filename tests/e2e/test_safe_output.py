"""Issue 11 item 6: what a hostile server says, and the secrets of URL settings, show nowhere raw.

A real `cwo scrape` process talks over loopback to a small server whose API
answers with a status line holding a terminal escape sequence (``ESC ] 0 ;
... BEL`` retitles a terminal). The API base carries a token as its userinfo
and an ``api_key`` parameter. The run fails the item; then its log, its
output, the stored error, `cwo status` (text and JSON) and `cwo report` are
searched for the raw sequence and for both secrets.
"""

from __future__ import annotations

import json
import socketserver
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from custom_wheel_offset.errors import EXIT_FAILED_ITEMS

from .conftest import cwo_run, sqlite_file

pytestmark = pytest.mark.slow

TOKEN = "tok3nUserinfo"
API_KEY = "K3yQueryS3cret"
TITLE = "\x1b]0;pwned\x07"  # OSC 0: set the terminal's title
ESCAPED = "\\x1b]0;pwned\\x07"
RAW = ("\x1b", "\x07")


class _Hostile(socketserver.StreamRequestHandler):
    """robots.txt: 404 (crawl allowed); anything else: a status line with an escape sequence."""

    def handle(self) -> None:
        request_line = self.rfile.readline()
        while self.rfile.readline() not in (b"\r\n", b"\n", b""):
            pass
        if b" /robots.txt " in request_line:
            # One request per connection, and said so: the client must not reuse it.
            self.wfile.write(
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            )
        else:
            status = f"XTTP/1.1 200 {TITLE} OK\r\nContent-Length: 0\r\n\r\n"
            self.wfile.write(status.encode("latin-1"))


class _Server(socketserver.ThreadingTCPServer):
    daemon_threads = True


@pytest.fixture
def hostile_port() -> Iterator[int]:
    server = _Server(("127.0.0.1", 0), _Hostile)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


def _assert_safe(where: str, content: str | bytes) -> None:
    text = content.decode("utf-8", "replace") if isinstance(content, bytes) else content
    assert not [c for c in RAW if c in text], f"a raw control character in {where}: {text!r}"
    leaked = [s for s in (TOKEN, API_KEY) if s in text]
    assert not leaked, f"{leaked} in {where}: {text[-2000:]}"


def test_a_hostile_status_line_and_url_secrets_reach_no_output_raw(
    hostile_port: int, tmp_path: Path
) -> None:
    db_url = f"sqlite:///{tmp_path / 'crawl.db'}"
    log_file = tmp_path / "cwo.log"
    base = f"http://127.0.0.1:{hostile_port}"
    api_base = f"http://{TOKEN}@127.0.0.1:{hostile_port}/fitment/vehicle/co?api_key={API_KEY}"
    args = [
        "--debug",
        "scrape", "--db", db_url, "--api-base", api_base, "--store-base", base,
        "--max-attempts", "1", "--item-attempts", "1", "--rate", "0",
        "--progress", "off", "--log-file", str(log_file),
    ]  # fmt: skip
    proc = cwo_run(args)
    assert proc.returncode == EXIT_FAILED_ITEMS, proc.stderr[-3000:]
    seen: dict[str, str | bytes] = {
        "stdout": proc.stdout,
        "stderr (--debug)": proc.stderr,
        "log file": log_file.read_bytes(),
    }
    # The failure was logged, with the server's text escaped, not dropped.
    log_text = log_file.read_text(encoding="utf-8")
    assert ESCAPED in log_text, f"log:\n{log_text}\nstderr:\n{proc.stderr.decode()[-4000:]}"

    with sqlite3.connect(sqlite_file(db_url)) as conn:
        (stored,) = conn.execute("SELECT last_error FROM frontier WHERE status='failed'").fetchone()
        (settings_json,) = conn.execute("SELECT settings_json FROM runs").fetchone()
    seen["stored error"] = stored
    seen["stored settings"] = settings_json
    assert "BadStatusLine" in stored and ESCAPED in stored, stored

    status = cwo_run(["status", "--db", db_url])
    status_js = cwo_run(["status", "--json", "--db", db_url])
    report = cwo_run(["report", "--db", db_url])
    for name, done in (("status", status), ("status --json", status_js), ("report", report)):
        assert done.returncode == 0, done.stderr
        seen[name] = done.stdout + done.stderr
    assert ESCAPED in status.stdout.decode()
    reasons = [f["example"] for f in json.loads(status_js.stdout)["failures"]]
    assert len(reasons) == 1 and ESCAPED in reasons[0], reasons
    config = json.loads(report.stdout)["config"]
    assert config["api_base"] == (
        f"http://***@127.0.0.1:{hostile_port}/fitment/vehicle/co?api_key=***"
    )
    assert config["store_base"] == base
    for where, content in seen.items():
        _assert_safe(where, content)


@pytest.mark.parametrize(
    "db",
    [
        pytest.param("crawler:{pw}@db.example/cwo", id="scheme-less user:pw@host/db"),
        pytest.param("{pw}@db.example/cwo", id="scheme-less token@host/db"),
        pytest.param("mysql://crawler:{pw}@db.example/cwo", id="unsupported scheme"),
    ],
)
def test_an_unusable_database_url_is_reported_without_its_password(db: str) -> None:
    password = "Pw-in-a-schemeless-url"
    for args in (["status"], ["--debug", "status"], ["--debug", "scrape", "--progress", "off"]):
        # Only the position of --db differs: a group option comes before the command.
        proc = cwo_run([*args, "--db", db.format(pw=password)])
        assert proc.returncode not in (0, 1), proc.stderr[-2000:]
        err = proc.stderr.decode()
        assert "database URL" in err, err
        assert password not in err and password not in proc.stdout.decode(), err
