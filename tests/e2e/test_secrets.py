"""Issue 4, secrets: cookie values, proxy credentials and database passwords never show.

Real `cwo` processes use a cookie file with a distinctive value and a proxy
URL with a password (a forward proxy of our own that relays to the sandbox
and records what it was sent, so we know both were really used); then
everything a user or a log collector can see is searched for each secret:
stdout and stderr (with ``--debug``), the log file, `cwo report` (JSON and
summary), `cwo status` (text and JSON), the database file itself, and the
error messages of runs that fail (an unreachable proxy, a broken cookie file,
an unreachable PostgreSQL server with a password in its URL).
"""

from __future__ import annotations

import base64
import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from custom_wheel_offset.errors import EXIT_FAILED_ITEMS, EXIT_OK, EXIT_USAGE

from .conftest import cwo_run, export_matches_truth, scrape_args, sqlite_file

pytestmark = pytest.mark.slow

COOKIE_VALUE = "c00kieV4lue-9f8e7d6c5b4a"
PROXY_USER = "crawler"
PROXY_PASSWORD = "s3cr3tPr0xy-Pa55"
DB_PASSWORD = "Pg-p4ssw0rd-S3cret"
PROXY_BASIC = base64.b64encode(f"{PROXY_USER}:{PROXY_PASSWORD}".encode()).decode()
SECRETS = (COOKIE_VALUE, PROXY_PASSWORD, DB_PASSWORD, PROXY_BASIC)


def _assert_clean(where: str, content: str | bytes) -> None:
    raw = content.encode("utf-8") if isinstance(content, str) else content
    leaked = [s for s in SECRETS if s.encode() in raw]
    assert not leaked, f"{leaked} found in {where}"


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # nothing listens there once closed


def _netscape_cookies(path: Path) -> Path:
    path.write_text(
        "# Netscape HTTP Cookie File\n"
        f"127.0.0.1\tFALSE\t/\tFALSE\t2147483647\tconsent\t{COOKIE_VALUE}\n",
        encoding="utf-8",
    )
    return path


def _everything_visible(db_url: str, tmp_path: Path) -> dict[str, bytes]:
    """What `cwo report` and `cwo status` show, and the database files themselves."""
    seen: dict[str, bytes] = {}
    report_file = tmp_path / "report.json"
    proc = cwo_run(["report", "--db", db_url, "--out", str(report_file)])
    assert proc.returncode == 0, proc.stderr
    seen["report summary"] = proc.stdout + proc.stderr
    seen["report JSON"] = report_file.read_bytes()
    json.loads(seen["report JSON"])
    proc = cwo_run(["report", "--db", db_url])
    seen["report to stdout"] = proc.stdout + proc.stderr
    for args in (["status"], ["status", "--json"]):
        proc = cwo_run([*args, "--db", db_url])
        assert proc.returncode == 0, proc.stderr
        seen[" ".join(args)] = proc.stdout + proc.stderr
    for suffix in ("", "-wal", "-shm", ".lock"):
        file = Path(sqlite_file(db_url) + suffix)
        if file.exists():
            seen[f"database file {file.name}"] = file.read_bytes()
    return seen


def test_a_run_through_an_authenticating_proxy_with_cookies_shows_no_secret(
    sandbox, forwarder, truth_dir, tmp_db: str, tmp_path: Path
) -> None:
    cookies = _netscape_cookies(tmp_path / "cookies.txt")
    log_file = tmp_path / "cwo.log"
    proxy = forwarder()
    proxy_url = proxy.url.replace("://", f"://{PROXY_USER}:{PROXY_PASSWORD}@")
    with sandbox("tiny", error_rate=0.05, challenge_rate=0.01) as sb:
        args = [
            "--debug",
            *scrape_args(sb, tmp_db, "--workers", "4"),
            "--cookies", str(cookies),
            "--proxy", proxy_url,
            "--log-file", str(log_file),
        ]  # fmt: skip
        proc = cwo_run(args, timeout=240)
    assert proc.returncode == EXIT_OK, proc.stderr[-3000:]
    # Both secrets were really used: the proxy saw its credentials and the cookie.
    assert proxy.seen, "no request went through the proxy"
    auth = {h.get("Proxy-Authorization") for _, h in proxy.seen}
    assert auth == {f"Basic {PROXY_BASIC}"}, auth
    assert any(COOKIE_VALUE in h.get("Cookie", "") for _, h in proxy.seen)
    export_matches_truth(tmp_db, truth_dir("tiny"), tmp_path)

    _assert_clean("stdout", proc.stdout)
    _assert_clean("stderr (--debug)", proc.stderr)
    assert b"DEBUG" in log_file.read_bytes()
    _assert_clean("the log file", log_file.read_bytes())
    for where, content in _everything_visible(tmp_db, tmp_path).items():
        _assert_clean(where, content)
    # The report says a proxy and a cookie file were used, masked.
    report = json.loads((tmp_path / "report.json").read_text(encoding="utf-8"))
    assert report["config"]["proxy"] == f"http://{PROXY_USER}:***@127.0.0.1:{proxy.port}"
    assert report["config"]["cookies"] == "(file given)"


def test_a_run_whose_proxy_is_unreachable_fails_without_showing_a_secret(
    sandbox, tmp_db: str, tmp_path: Path
) -> None:
    cookies = _netscape_cookies(tmp_path / "cookies.txt")
    log_file = tmp_path / "cwo.log"
    proxy_url = f"http://{PROXY_USER}:{PROXY_PASSWORD}@127.0.0.1:{_closed_port()}"
    with sandbox("tiny") as sb:
        args = [
            "--debug",
            *scrape_args(sb, tmp_db, "--max-attempts", "2", "--item-attempts", "1"),
            "--cookies", str(cookies),
            "--proxy", proxy_url,
            "--log-file", str(log_file),
        ]  # fmt: skip
        proc = cwo_run(args, timeout=120)
        assert sb.counters()["total_requests"] == 0
    assert proc.returncode == EXIT_FAILED_ITEMS, proc.stderr[-3000:]
    _assert_clean("stdout", proc.stdout)
    _assert_clean("stderr (--debug)", proc.stderr)
    _assert_clean("the log file", log_file.read_bytes())
    seen = _everything_visible(tmp_db, tmp_path)
    for where, content in seen.items():
        _assert_clean(where, content)
    # The failure is there, and says what went wrong, with the password masked.
    status = seen["status"].decode()
    assert "failed items by reason" in status and "127.0.0.1" in status, status
    assert "proxy failed" in proc.stderr.decode(), proc.stderr[-2000:]


@pytest.mark.parametrize("fmt", ["netscape", "json"])
def test_a_broken_cookie_file_is_reported_without_its_values(
    fmt: str, tmp_db: str, tmp_path: Path
) -> None:
    cookies = tmp_path / f"cookies.{fmt}"
    if fmt == "netscape":
        cookies.write_text(
            f"127.0.0.1\tFALSE\t/\tFALSE\t2147483647\tgood\t{COOKIE_VALUE}\n"
            f"127.0.0.1\tFALSE\t/\tnot-a-bool\tsoon\tbad\t{COOKIE_VALUE}\n",
            encoding="utf-8",
        )
    else:
        cookies.write_text(
            json.dumps([{"name": "bad", "value": COOKIE_VALUE, "domain": 5, "expires": "soon"}]),
            encoding="utf-8",
        )
    proc = cwo_run(
        ["--debug", "scrape", "--db", tmp_db, "--cookies", str(cookies), "--progress", "off"]
    )
    assert proc.returncode == EXIT_USAGE, proc.stderr[-2000:]
    assert str(cookies) in proc.stderr.decode(), proc.stderr
    _assert_clean("stdout", proc.stdout)
    _assert_clean("stderr (--debug)", proc.stderr)


@pytest.mark.parametrize(
    "form",
    [
        pytest.param("userinfo", id="user:password@host"),
        pytest.param("query", id="?password="),
    ],
)
def test_database_password_is_masked_in_settings_and_errors(form: str, tmp_path: Path) -> None:
    from custom_wheel_offset.settings import resolve_settings

    port = _closed_port()
    url = (
        f"postgresql+psycopg://crawler:{DB_PASSWORD}@127.0.0.1:{port}/cwo"
        if form == "userinfo"
        else f"postgresql+psycopg://crawler@127.0.0.1:{port}/cwo?password={DB_PASSWORD}"
    )
    settings = resolve_settings({"db": url}, env={})
    public = settings.public_dict()
    _assert_clean("Settings.public_dict()", json.dumps(public))
    assert f"127.0.0.1:{port}/cwo" in public["db"]
    # A run that cannot reach the server: its error (with --debug, its traceback) is clean.
    for debug in ([], ["--debug"]):
        proc = cwo_run(
            [*debug, "scrape", "--db", url, "--progress", "off", "--log-file", str(tmp_path / "l")],
            env={"PGCONNECT_TIMEOUT": "2"},
        )
        assert proc.returncode not in (EXIT_OK, EXIT_FAILED_ITEMS), proc.stderr[-2000:]
        _assert_clean(f"stderr {debug}", proc.stderr)
        _assert_clean(f"stdout {debug}", proc.stdout)
        _assert_clean("the log file", (tmp_path / "l").read_bytes())


SECRET_POSTGRES_ENV = "CWO_TEST_POSTGRES_SECRET_URL"


@pytest.fixture
def password_postgres_url(request: pytest.FixtureRequest) -> Iterator[str]:
    """A PostgreSQL URL with a password, its tables in a fresh schema owned by its role.

    ``CWO_TEST_POSTGRES_SECRET_URL`` names a role with a password (``.ci/run``
    creates one); the schema is made by the admin connection of
    ``CWO_TEST_POSTGRES_URL``. Without it, ``CWO_TEST_POSTGRES_URL`` itself is
    used, and the test skips unless that URL has a password.
    """
    import uuid

    import psycopg
    from sqlalchemy.engine import make_url

    secret_url = os.environ.get(SECRET_POSTGRES_ENV)
    if not secret_url:
        yield request.getfixturevalue("postgres_url")
        return
    # libpq's form of the admin URL (postgresql+psycopg:// -> postgresql://).
    admin = (
        make_url(request.getfixturevalue("postgres_base_url"))
        .set(drivername="postgresql")
        .render_as_string(hide_password=False)
    )
    url = make_url(secret_url)
    schema = f"cwo_t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}" AUTHORIZATION "{url.username}"')
    try:
        with_schema = url.update_query_dict({"options": f"-csearch_path={schema}"})
        yield with_schema.render_as_string(hide_password=False)
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def test_database_password_of_a_real_postgres_run_shows_nowhere(
    password_postgres_url: str, sandbox, tmp_path: Path
) -> None:
    """Only with a PostgreSQL URL that carries a password (see ``password_postgres_url``)."""
    from sqlalchemy.engine import make_url

    postgres_url = password_postgres_url
    password = make_url(postgres_url).password
    if not password:
        pytest.skip(
            f"CWO_TEST_POSTGRES_URL has no password to look for and {SECRET_POSTGRES_ENV} "
            "is not set (.ci/run sets it)"
        )
    log_file = tmp_path / "cwo.log"
    with sandbox("tiny") as sb:
        args = scrape_args(sb, postgres_url, "--workers", "4")
        proc = cwo_run(["--debug", *args, "--log-file", str(log_file)], timeout=240)
    assert proc.returncode == EXIT_OK, proc.stderr[-3000:]
    outputs = {"stdout": proc.stdout, "stderr": proc.stderr, "log": log_file.read_bytes()}
    for args in (["report"], ["status"], ["status", "--json"]):
        done = cwo_run([*args, "--db", postgres_url])
        outputs[" ".join(args)] = done.stdout + done.stderr
    for where, content in outputs.items():
        assert password.encode() not in content, f"the database password is in {where}"
