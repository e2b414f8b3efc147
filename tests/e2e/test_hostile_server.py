"""Issue 11, first "done when": a hostile server fails one item each, never the run.

``HostileSite`` imitates both hosts of the site on one loopback port: one
year, one make, and one model per hostile answer, served on that model's
vehicle request (the deep block on its fitment page), plus a good model
``Fine``. Where the answer cannot be said with ``http.server`` (bytes that are
not text in a header, a reason phrase with control characters, a chunked body
that never ends) the handler writes the whole response to the socket itself.

One crawl (a real ``cwo`` process, ``--item-attempts 1``) is shared by the
assertions: it ends with exit 3, never 1; each hostile item is failed with its
reason code and every other item is done; ``Fine`` is exported exactly as
served; the server text with escape sequences shows nowhere raw; and a second
crawl with the same options exits 0 without sending one request for a failed
item. The trickling body through a real proxy (proxy.py) is a test of its own.
"""

from __future__ import annotations

import json
import os
import sqlite3
import struct
import threading
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from custom_wheel_offset.errors import EXIT_FAILED_ITEMS, EXIT_OK
from proxy_helper import LocalProxy

from .conftest import cwo_run, invoke, sqlite_file, status_json

pytestmark = pytest.mark.slow

API = "/fitment/vehicle/co"
YEAR = 2024
MAKE = "Acme"
MiB = 1 << 20
ENDLESS_LINE_BYTES = 10_000_000  # "10 MB": under the default body cap (10 MiB), so it is parsed
ESC = "\x1b"
CONTROL_REASON = "Forbidden \x1b]0;pwned\x07"  # OSC 0 retitles a terminal

# model -> (the kind of its item that fails, the reason codes accepted), for each hostile answer.
HOSTILE: dict[str, tuple[str, frozenset[str]]] = {
    "LocationBytes": ("vehicle", frozenset({"invalid_header"})),
    "LocationIPv6": ("vehicle", frozenset({"invalid_header"})),
    "LengthSuperscript": ("vehicle", frozenset({"invalid_header"})),
    "EndlessLine": ("vehicle", frozenset({"parse_error"})),
    "GzipBomb": ("vehicle", frozenset({"too_large"})),
    "ControlChars": ("vehicle", frozenset({"http_403"})),
    "EndlessChunks": ("vehicle", frozenset({"too_large"})),
    # libxml2 refuses nesting past its depth limit: a ParseError, no recursion.
    "DeepBlock": ("fitment", frozenset({"parse_error"})),
}
DEEP = 5000


def _vehicle_json() -> dict[str, Any]:
    return {
        "vehicleType": "Car",
        "drchassisid": 4711,
        "boltpattern": "5x114.3",
        "boltpatternInches": "5x4.5",
        "hub": "64.1",
        "lugType": "Lug Nut",
        "lugSize": "M12 x 1.5",
        "stockWheelDiameter": "17",
        "stockWheelWidth": "7.5",
        "stockOffset": "+45",
        "stockTireSize": "225/45R17",
        "wheelDiameterMin": 16,
        "wheelDiameterMax": 19,
        "wheelWidthMin": 6.5,
        "wheelWidthMax": 8.5,
    }


def _page(depth: int = 0) -> bytes:
    """A fitment page; with ``depth``, the block's ranges sit inside that many nested spans."""
    ranges = (
        '<span class="store-conf-range">Diameter: <b>17" to 20"</b></span>'
        '<span class="store-conf-range">Width: <b>7" to 9.5"</b></span>'
        '<span class="store-conf-range">Offset: <b>-12mm to +35mm</b></span>'
    )
    ranges = "<span>" * depth + ranges + "</span>" * depth
    return (
        "<!DOCTYPE html><html><head><title>Wheels | Shop</title></head><body>"
        '<section id="ymm-fitment">'
        f'<div class="store-ymm-fitrange full-size"><nobr>Front &amp; Rear</nobr>{ranges}</div>'
        '<div class="store-bp" data-bp="5x4.5,5x114.3">Bolt Pattern: 5x114.3mm (5x4.5&quot;)</div>'
        "</section></body></html>"
    ).encode()


def _gzip_bomb(decoded: int = 1024 * MiB) -> bytes:
    """A gzip body of about 1 MB that decodes to ``decoded`` zero bytes, built without holding them.

    Each MiB of zeros is compressed after a full flush, so its deflate blocks
    are byte-aligned and the same every time: compressed once, repeated.
    """
    zeros = bytes(MiB)
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)  # raw deflate; the gzip frame is ours
    piece = deflate.compress(zeros) + deflate.flush(zlib.Z_FULL_FLUSH)
    crc = 0
    for _ in range(decoded // MiB):
        crc = zlib.crc32(zeros, crc)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff"
    trailer = struct.pack("<II", crc, decoded & 0xFFFFFFFF)
    return header + piece * (decoded // MiB) + deflate.flush() + trailer


def _raw(h: BaseHTTPRequestHandler, head: bytes, body: bytes = b"") -> None:
    """Write a whole response of our own making to the socket, and hang up after it."""
    h.close_connection = True
    h.wfile.write(head + b"Connection: close\r\n\r\n" + body)


class HostileSite:
    """Both hosts of a small site on one loopback port; ``answers`` maps a model to its answer.

    Every request target is kept in ``targets``; in ``vias``, the ``Via`` header of the first
    request on its connection (proxy.py names itself there, not on later requests).
    """

    def __init__(self, answers: dict[str, str]) -> None:
        self.answers = answers
        self.targets: list[str] = []
        self.vias: list[str | None] = []
        self._bomb: bytes | None = None
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            via: str | None  # set by the first request of the connection

            def log_message(self, format: str, *args: Any) -> None:
                pass  # quiet

            def do_GET(self) -> None:
                site.targets.append(self.path)
                if not hasattr(self, "via"):  # one handler per connection
                    self.via = self.headers.get("Via")
                site.vias.append(self.via)
                try:
                    site.answer(self)
                except OSError:
                    self.close_connection = True  # the client hung up mid-answer: as it should

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self._server.server_address[1]}"
        self.api_base = self.base + API
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    @staticmethod
    def send(h: BaseHTTPRequestHandler, status: int, body: bytes, ctype: str) -> None:
        h.send_response(status)
        h.send_header("Content-Type", ctype)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    def json(self, h: BaseHTTPRequestHandler, data: Any) -> None:
        self.send(h, 200, json.dumps(data).encode(), "application/json")

    def answer(self, h: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(h.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        if parts.path.startswith(API):
            segs = [unquote(s) for s in parts.path[len(API) :].split("/")[1:]]
            return self.api(h, segs)
        if parts.path == "/api/ymm-temp.php":
            for flag, values in (
                ("getSuspension", ["Stock Suspension"]),
                ("getTrimming", ["No Modification"]),
                ("getRubbing", ["No rubbing or scrubbing"]),
            ):
                if query.get(flag) == "true":
                    return self.json(h, values)
            return self.json(h, {})
        if parts.path == "/store/wheels" and query.get("model") in self.answers:
            depth = DEEP if self.answers[query["model"]] == "deep_block" else 0
            return self.send(h, 200, _page(depth), "text/html; charset=utf-8")
        return self.send(h, 404, b"not found", "text/plain")

    def api(self, h: BaseHTTPRequestHandler, segs: list[str]) -> None:
        if segs == [""]:
            return self.json(h, [YEAR])
        if segs == [str(YEAR)]:
            return self.json(h, [MAKE])
        if segs == [str(YEAR), MAKE]:
            return self.json(h, list(self.answers))
        if segs[:3] == ["offsetguide", str(YEAR), MAKE] and segs[4:] == ["trim", "Base", "drives"]:
            return self.json(h, ["FWD"])
        if len(segs) == 3 and segs[:2] == [str(YEAR), MAKE] and segs[2] in self.answers:
            return self.json(h, {"vehicleType": "Car", "trim": ["Base"], "drive": ["FWD"]})
        if len(segs) == 5 and segs[:2] == [str(YEAR), MAKE] and segs[3:] == ["Base", "FWD"]:
            answer = self.answers.get(segs[2])
            if answer is not None:
                return self.vehicle(h, answer)
        return self.send(h, 404, b"[]", "application/json")

    def vehicle(self, h: BaseHTTPRequestHandler, answer: str) -> None:
        if answer in ("ok", "deep_block"):
            return self.json(h, _vehicle_json())
        raw_answers: dict[str, Callable[[BaseHTTPRequestHandler], None]] = {
            "location_bytes": lambda h: _raw(
                h, b"HTTP/1.1 302 Found\r\nLocation: \xff\xfe/x\r\nContent-Length: 0\r\n"
            ),
            "location_ipv6": lambda h: _raw(
                h, b"HTTP/1.1 302 Found\r\nLocation: http://[::1/x\r\nContent-Length: 0\r\n"
            ),
            "length_superscript": lambda h: _raw(
                h,
                b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                b"Content-Length: \xc2\xb2\r\n",
                json.dumps(_vehicle_json()).encode(),
            ),
            "control_chars": lambda h: _raw(
                h,
                f"HTTP/1.1 403 {CONTROL_REASON}\r\nX-Note: {ESC}[31mred\r\n"
                "Content-Type: text/plain\r\nContent-Length: 9\r\n".encode("latin-1"),
                b"forbidden",
            ),
            "endless_line": self.endless_line,
            "gzip_bomb": self.gzip_bomb,
            "endless_chunks": self.endless_chunks,
            "trickle": self.trickle,
        }
        raw_answers[answer](h)

    @staticmethod
    def endless_line(h: BaseHTTPRequestHandler) -> None:
        """A 10 MB body that is one line of ``x``: no newline, not JSON."""
        head = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
        _raw(h, f"{head}Content-Length: {ENDLESS_LINE_BYTES}\r\n".encode())
        piece = b"x" * MiB
        for start in range(0, ENDLESS_LINE_BYTES, MiB):
            h.wfile.write(piece[: ENDLESS_LINE_BYTES - start])

    def gzip_bomb(self, h: BaseHTTPRequestHandler) -> None:
        if self._bomb is None:
            self._bomb = _gzip_bomb()
        head = (
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\n"
            f"Content-Length: {len(self._bomb)}\r\n"
        )
        _raw(h, head.encode(), self._bomb)

    @staticmethod
    def endless_chunks(h: BaseHTTPRequestHandler) -> None:
        """Chunks until the client hangs up (after 1 GiB: a hang-up without the last chunk)."""
        _raw(
            h,
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n",
        )
        chunk = b"%x\r\n%s\r\n" % (64 * 1024, b" " * 64 * 1024)
        for _ in range(1024 * MiB // (64 * 1024)):
            h.wfile.write(chunk)

    @staticmethod
    def trickle(h: BaseHTTPRequestHandler) -> None:
        """A 200 KB body in 2 KB pieces every 0.3 s (30 s in all, if anyone waited)."""
        body = b" " * (200 * 1024)
        head = (
            f"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        )
        _raw(h, head.encode())
        h.wfile.flush()
        for start in range(0, len(body), 2048):
            time.sleep(0.3)
            h.wfile.write(body[start : start + 2048])
            h.wfile.flush()


# -- running cwo ---------------------------------------------------------------------------------


@dataclass
class Crawl:
    """What one `cwo scrape` process did: exit code, output, and the server's requests."""

    returncode: int
    output: str
    targets: list[str]
    vias: list[str | None]


def _scrape(
    site: HostileSite, db_url: str, *extra: str, env: dict[str, str] | None = None
) -> Crawl:
    site.targets.clear()
    site.vias.clear()
    proc = cwo_run(
        [
            "scrape", "--api-base", site.api_base, "--store-base", site.base, "--db", db_url,
            "--progress", "off", "--rate", "0", "--workers", "4", "--item-attempts", "1",
            *extra,
        ],
        env={"NO_PROXY": "127.0.0.1,localhost", **(env or {})},
    )  # fmt: skip
    output = (proc.stdout + proc.stderr).decode("utf-8", "replace")
    return Crawl(proc.returncode, output, list(site.targets), list(site.vias))


def _frontier(db_url: str) -> list[dict[str, Any]]:
    with sqlite3.connect(sqlite_file(db_url)) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(r) for r in conn.execute("SELECT * FROM frontier")]


def _failed(db_url: str) -> dict[tuple[str, str], dict[str, Any]]:
    """(kind, model) -> frontier row, of each failed item."""
    return {(r["kind"], r["model"]): r for r in _frontier(db_url) if r["status"] == "failed"}


def _cwo(*args: str) -> str:
    proc = cwo_run(list(args))
    assert proc.returncode == 0, proc.stderr.decode("utf-8", "replace")[-2000:]
    return proc.stdout.decode("utf-8")


ANSWERS = {
    "Fine": "ok",
    "LocationBytes": "location_bytes",
    "LocationIPv6": "location_ipv6",
    "LengthSuperscript": "length_superscript",
    "EndlessLine": "endless_line",
    "GzipBomb": "gzip_bomb",
    "ControlChars": "control_chars",
    "EndlessChunks": "endless_chunks",
    "DeepBlock": "deep_block",
}


@dataclass
class Crawled:
    site: HostileSite
    db_url: str
    first: Crawl
    second: Crawl


@contextmanager
def _clean_environment(folder: Path) -> Iterator[None]:
    """In ``folder``, without the developer's CWO_* settings or proxies (as tests/conftest.py)."""
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(folder)
        for key in list(os.environ):
            if (key.startswith("CWO_") and not key.startswith("CWO_TEST_")) or key.lower() in (
                "http_proxy", "https_proxy", "all_proxy",
            ):  # fmt: skip
                mp.delenv(key)
        yield


@pytest.fixture(scope="module")
def crawled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Crawled]:
    """Two crawls of the hostile site with the same options, shared by this module's tests."""
    folder = tmp_path_factory.mktemp("hostile")
    site = HostileSite(ANSWERS)
    try:
        with _clean_environment(folder):
            db_url = f"sqlite:///{folder / 'crawl.db'}"
            first = _scrape(site, db_url)
            failed_after_first = _failed(db_url)
            second = _scrape(site, db_url)
            # The second run changed nothing about them.
            assert _failed(db_url) == failed_after_first
            yield Crawled(site, db_url, first, second)
    finally:
        site.stop()


def test_each_hostile_answer_fails_its_item_with_its_code_and_only_that_item(
    crawled: Crawled,
) -> None:
    first = crawled.first
    assert first.returncode == EXIT_FAILED_ITEMS, first.output[-4000:]
    assert "internal error" not in first.output.lower(), first.output[-4000:]
    failed = _failed(crawled.db_url)
    codes = {key: row["failure_code"] for key, row in failed.items()}
    assert set(codes) == {(kind, model) for model, (kind, _) in HOSTILE.items()}, codes
    wrong = {
        model: codes[(kind, model)]
        for model, (kind, accepted) in HOSTILE.items()
        if codes[(kind, model)] not in accepted
    }
    assert not wrong, wrong
    # Every other item is done; nothing is left open.
    rows = _frontier(crawled.db_url)
    assert {r["status"] for r in rows} == {"done", "failed"}
    assert all(r["failed_runs"] == 1 for r in failed.values()), failed


def _requests_of_failed_item(targets: list[str], kind: str, model: str) -> int:
    """Requests the item (kind, model) sends: its vehicle's, or its fitment page's."""
    if kind == "vehicle":
        return targets.count(f"{API}/{YEAR}/{MAKE}/{model}/Base/FWD")
    return sum(t.startswith("/store/wheels?") and f"&model={model}&" in t for t in targets)


def test_the_next_run_exits_0_and_sends_no_request_for_the_failed_items(
    crawled: Crawled,
) -> None:
    second = crawled.second
    assert second.returncode == EXIT_OK, second.output[-4000:]
    assert "internal error" not in second.output.lower(), second.output[-4000:]
    for model, (kind, _) in HOSTILE.items():
        # Asked once by the first run (the count sees them), never by the second.
        assert _requests_of_failed_item(crawled.first.targets, kind, model) == 1, model
        assert _requests_of_failed_item(crawled.second.targets, kind, model) == 0, model
    # The second run did crawl: the good vehicles were fetched again.
    assert _requests_of_failed_item(crawled.second.targets, "vehicle", "Fine") == 1
    assert "8 failed item(s) are not retried" in second.output, second.output[-4000:]


VEHICLE_AXLE = {
    "stock_diameter": 17.0, "stock_width": 7.5, "stock_offset": 45.0, "stock_tire": "225/45R17",
    "diameter_min": 16.0, "diameter_max": 19.0, "width_min": 6.5, "width_max": 8.5,
}  # fmt: skip
FITMENT_AXLE = {
    "diameter_min": 17.0, "diameter_max": 20.0, "width_min": 7.0, "width_max": 9.5,
    "offset_min": -12.0, "offset_max": 35.0,
}  # fmt: skip


def _identity(model: str) -> dict[str, Any]:
    return {"year": YEAR, "make": MAKE, "model": model, "trim": "Base", "drive": "FWD"}


def _vehicle_record(model: str) -> dict[str, Any]:
    """The export of a vehicle served as :func:`_vehicle_json` says."""
    return {
        **_identity(model), "vehicle_type": "Car", "chassis_id": "4711",
        "bolt_pattern_mm": "5x114.3", "bolt_pattern_in": "5x4.5", "hub_bore_mm": 64.1,
        "lug_type": "Lug Nut", "lug_size": "M12 x 1.5", "lug_count": 5, "pcd_mm": 114.3,
        "thread_diameter_mm": 12.0, "thread_pitch_mm": 1.5, "spec_notes": None,
        "front": VEHICLE_AXLE, "rear": VEHICLE_AXLE,
    }  # fmt: skip


def _fitment_record(model: str) -> dict[str, Any]:
    """The export of the fitment page :func:`_page` serves."""
    return {
        **_identity(model), "suspension": "Stock Suspension", "modification": "No Modification",
        "rubbing": "No rubbing or scrubbing", "status": "ok", "bolt_pattern_mm": "5x114.3",
        "bolt_pattern_in": "5x4.5", "front": FITMENT_AXLE, "rear": FITMENT_AXLE,
    }  # fmt: skip


def _exported(db_url: str, what: str, out: Path) -> list[dict[str, Any]]:
    result = invoke(
        "export", "--what", what, "--format", "jsonl", "--db", db_url, "--out", str(out)
    )
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]


def assert_exported_exactly(
    db_url: str, folder: Path, vehicles: list[str], fitments: list[str]
) -> None:
    """The exports hold exactly these models' records, each exactly as the site served it."""
    got = sorted(_exported(db_url, "vehicles", folder / "v.jsonl"), key=lambda r: r["model"])
    assert got == [_vehicle_record(m) for m in sorted(vehicles)]
    got = sorted(_exported(db_url, "fitments", folder / "f.jsonl"), key=lambda r: r["model"])
    assert got == [_fitment_record(m) for m in sorted(fitments)]


def test_every_other_item_is_exact(crawled: Crawled, tmp_path: Path) -> None:
    # DeepBlock's vehicle answer is good: only its fitment page is hostile.
    assert_exported_exactly(crawled.db_url, tmp_path, ["Fine", "DeepBlock"], ["Fine"])


def test_status_groups_the_failures_by_code(crawled: Crawled) -> None:
    status = status_json(crawled.db_url)
    expected = Counter(row["failure_code"] for row in _failed(crawled.db_url).values())
    assert status["failed_total"] == len(HOSTILE)
    assert {f["code"]: f["count"] for f in status["failures"]} == dict(expected)
    assert expected["invalid_header"] == 3 and expected["too_large"] == 2


def test_control_characters_from_the_server_show_nowhere_raw(crawled: Crawled) -> None:
    """Status line and headers with escape sequences: not in the stored error, status or output."""
    failed = _failed(crawled.db_url)
    stored = failed[("vehicle", "ControlChars")]["last_error"]
    assert "HTTP 403" in stored, stored
    seen = {
        "stored errors": "\n".join(row["last_error"] for row in failed.values()),
        "status": invoke("status", "--db", crawled.db_url).output,
        "status --json": invoke("status", "--json", "--db", crawled.db_url).output,
        "first run's output": crawled.first.output,
        "second run's output": crawled.second.output,
    }
    for where, text in seen.items():
        raw = sorted({c for c in text if c in (ESC, "\x07")})
        assert not raw, f"raw control character(s) {raw} in {where}: {text[-2000:]!r}"


# -- through a real proxy ------------------------------------------------------------------------


@pytest.fixture
def proxy(tmp_path: Path) -> Iterator[LocalProxy]:
    started = LocalProxy(str(tmp_path / "proxy-port"))
    try:
        yield started
    finally:
        started.close()


def test_a_trickling_body_through_a_real_proxy_times_out_its_item_only(
    proxy: LocalProxy, tmp_path: Path
) -> None:
    """2 KB every 0.3 s, through proxy.py: each attempt ends within its deadlines, a timeout."""
    site = HostileSite({"Fine": "ok", "Trickle": "trickle"})
    db_url = f"sqlite:///{tmp_path / 'crawl.db'}"
    options = ("--proxy", proxy.url(), "--read-timeout", "1", "--total-timeout", "2",
               "--max-attempts", "2")  # fmt: skip
    env = {"CWO_BACKOFF_BASE": "0.05"}
    try:
        first = _scrape(site, db_url, *options, env=env)
        assert first.returncode == EXIT_FAILED_ITEMS, first.output[-4000:]
        assert "internal error" not in first.output.lower(), first.output[-4000:]
        failed = _failed(db_url)
        assert {k: r["failure_code"] for k, r in failed.items()} == {
            ("vehicle", "Trickle"): "timeout"
        }, failed
        reason = failed[("vehicle", "Trickle")]["last_error"]
        # A page-sized body is one piece for the read timeout (docs/politeness.md): the
        # 1 s read timeout ends the trickle first; the 2 s total timeout bounds it anyway.
        assert "gave up after 2 attempts" in reason and "timeout (" in reason, reason
        # Both attempts reached the server; every request came through proxy.py.
        assert _requests_of_failed_item(first.targets, "vehicle", "Trickle") == 2
        assert {via and "proxy.py" in via for via in first.vias} == {True}, first.vias
        assert_exported_exactly(db_url, tmp_path, ["Fine"], ["Fine"])

        second = _scrape(site, db_url, *options, env=env)
        assert second.returncode == EXIT_OK, second.output[-4000:]
        assert _requests_of_failed_item(second.targets, "vehicle", "Trickle") == 0
        assert _requests_of_failed_item(second.targets, "vehicle", "Fine") == 1
    finally:
        site.stop()
