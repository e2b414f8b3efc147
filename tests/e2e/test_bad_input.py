"""Issue 4, bad input: a site of our own that answers wrong, and hostile names.

``BadSite`` is a tiny imitation of both hosts (one ``ThreadingHTTPServer`` on
127.0.0.1) whose catalogue holds one good vehicle, one vehicle with hostile
names, and one item for each kind of bad answer: malformed JSON, an object
where a list belongs, ``"abc"`` as a diameter, a 400-inch wheel (in the
vehicle JSON and on a fitment page), a broken block and a missing block on a
fitment page, non-UTF-8 bodies, bodies over the size cap (declared and
streamed), and a redirect to another host. Each bad item must fail with a
precise reason (frontier ``last_error``, ``cwo status``), leave no data
behind, and the run must go on and finish with exit code 3. The hostile
names must travel percent-encoded (the server keeps every raw request
target), be stored verbatim, and come back exactly from JSONL and CSV exports.
"""

from __future__ import annotations

import csv
import json
import sqlite3
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import pytest

from custom_wheel_offset.errors import EXIT_FAILED_ITEMS

from .conftest import cwo_run, invoke, invoke_env, sqlite_file, status_json

pytestmark = pytest.mark.slow

API = "/fitment/vehicle/co"
YEAR = 2024
MAX_BODY = 65536  # CWO_MAX_BODY_BYTES for the run: the big answers are over it

# Hostile names: quotes, an SQL fragment, ../ and URL syntax, control characters.
H_MAKE = 'O\'Brien "Q" & Sons; DELETE FROM frontier'
H_MODEL = "'; DROP TABLE vehicles; --"
H_TRIM = "../../etc/passwd?x=1#frag %2F"
H_DRIVE = "4WD\x01\x1b[31m\t\r\nEnd\x7f"
H_SUSPENSION = 'Lifted 2-4" / 50% & <up>'
H_TRIMMING = 'Cut, "trimmed"\nand welded'
H_RUBBING = "Rub;\x1b[0m lots"

OPTIONS = {
    "Car": (["Stock Suspension"], ["No Modification"], ["No rubbing or scrubbing"]),
    "Truck": ([H_SUSPENSION], [H_TRIMMING], [H_RUBBING]),
}

# model of make Acme -> (what the vehicle answer is, what its fitment page is)
ACME = {
    "Fine": ("ok", "ok"),
    "Abc": ("abc_diameter", None),
    "Huge": ("huge_wheel", None),
    "Latin": ("latin1", None),
    "Big": ("too_big", None),
    "Stream": ("too_big_streamed", None),
    "BrokenBlock": ("ok", "nested_div"),
    "MissingBlock": ("ok", "front_only"),
    "HugeWheel": ("ok", "huge_wheel"),
    "Latin1Page": ("ok", "latin1"),
    "BigPage": ("ok", "too_big"),
}

# (kind, make, model) of each item that must fail -> words its reason must contain
EXPECTED_FAILURES: dict[tuple[str, str, str | None], tuple[str, ...]] = {
    ("models", "Malformed", None): ("not valid JSON", "delimiter"),
    ("models", "Objecty", None): ("expected a JSON list", "got an object"),
    ("vehicle", "Acme", "Abc"): ("stockWheelDiameter", "'abc'", "not a number"),
    ("vehicle", "Acme", "Huge"): ("wheelDiameterMax", "400", "outside 8..40"),
    ("vehicle", "Acme", "Latin"): ("not UTF-8",),
    ("vehicle", "Acme", "Big"): (f"larger than {MAX_BODY} bytes", "Content-Length"),
    ("vehicle", "Acme", "Stream"): (f"larger than {MAX_BODY} bytes",),
    ("fitment", "Acme", "BrokenBlock"): ("nested <div>",),
    ("fitment", "Acme", "MissingBlock"): ("other axle is unknown",),
    ("fitment", "Acme", "HugeWheel"): ("diameter", "400", "outside 8..40"),
    ("fitment", "Acme", "Latin1Page"): ("not UTF-8",),
    ("fitment", "Acme", "BigPage"): (f"larger than {MAX_BODY} bytes",),
}
DOT_MODELS = ("..", ".")  # path segments a URL normaliser would resolve away
GOOD_VEHICLES = {("Acme", m, "Base", "FWD") for m, (v, _) in ACME.items() if v == "ok"} | {
    (H_MAKE, H_MODEL, H_TRIM, H_DRIVE)
}
GOOD_FITMENTS = {("Acme", "Fine", "Base", "FWD"), (H_MAKE, H_MODEL, H_TRIM, H_DRIVE)}


def _vehicle_json(vehicle_type: str, **override: Any) -> dict[str, Any]:
    spec = {
        "vehicleType": vehicle_type,
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
    spec.update(override)
    return spec


BLOCK = (
    '<div class="store-ymm-fitrange full-size"><nobr>Front &amp; Rear</nobr>'
    '<span class="store-conf-range">Diameter: <b>{dia}</b></span>'
    '<span class="store-conf-range">Width: <b>7" to 9.5"</b></span>'
    '<span class="store-conf-range">Offset: <b>-12mm to +35mm</b></span>{inner}</div>'
)


def _page(variant: str) -> bytes:
    head = (
        "<!DOCTYPE html><html><head><title>Wheels | Shop</title></head><body>"
        '<section id="ymm-fitment">'
    )
    bolt = (
        '<div class="store-bp" data-bp="5x4.5,5x114.3">Bolt Pattern: 5x114.3mm (5x4.5&quot;)</div>'
    )
    block = BLOCK.format(dia='17" to 20"', inner="")
    if variant == "nested_div":
        block = BLOCK.format(dia='17" to 20"', inner="<div>promo</div>")
    elif variant == "front_only":
        block = block.replace(" full-size", "").replace("Front &amp; Rear", "Front")
    elif variant == "huge_wheel":
        block = BLOCK.format(dia='17" to 400"', inner="")
    body = f"{head}{block}{bolt}</section>"
    if variant == "too_big":
        body += "<p>" + "padding " * (MAX_BODY // 4) + "</p>"
    page = (body + "</body></html>").encode("utf-8")
    if variant == "latin1":
        page = page.replace(b"Wheels | Shop", "Räder | Shop".encode("latin-1"))
    return page


class BadSite:
    """Both hosts of a small, misbehaving site on one port; keeps every raw request target."""

    def __init__(
        self, elsewhere: str, acme: dict[str, tuple[str, str | None]], dots: bool = False
    ) -> None:
        self.targets: list[str] = []
        self.acme = acme
        self.dots = dots  # serve make "Dots" with the models "." and ".."
        self.healed = False  # True: every Acme vehicle and page answers well
        site = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass  # quiet

            def do_GET(self) -> None:
                site.targets.append(self.path)
                site.answer(self)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self._server.server_address[1]}"
        self.api_base = self.base + API
        self.elsewhere = elsewhere
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    # -- answers --------------------------------------------------------------------------------

    @staticmethod
    def send(
        h: BaseHTTPRequestHandler, status: int, body: bytes, ctype: str, **headers: str
    ) -> None:
        h.send_response(status)
        h.send_header("Content-Type", ctype)
        for k, v in headers.items():
            h.send_header(k.replace("_", "-"), v)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    def json(self, h: BaseHTTPRequestHandler, data: Any) -> None:
        self.send(h, 200, json.dumps(data).encode(), "application/json")

    def answer(self, h: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(h.path)
        if parts.path.startswith(API):
            # Decode each segment separately: an encoded "/" stays inside its segment.
            segs = [unquote(s) for s in parts.path[len(API) :].split("/")[1:]]
            return self.api(h, segs)
        query = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        if parts.path == "/api/ymm-temp.php":
            return self.options(h, query)
        if parts.path == "/store/wheels":
            return self.fitment(h, query)
        self.send(h, 404, b"not found", "text/plain")

    def api(self, h: BaseHTTPRequestHandler, segs: list[str]) -> None:
        if segs == [""]:
            return self.json(h, [YEAR])
        if segs[:1] == ["offsetguide"]:  # offsetguide/year/make/model/trim/<trim>/drives
            if len(segs) != 7 or segs[4] != "trim" or segs[6] != "drives":
                return self.send(h, 404, b"[]", "application/json")
            _, _, make, model, _, trim, _ = segs
            if make == H_MAKE and model == H_MODEL and trim == H_TRIM:
                return self.json(h, [H_DRIVE])
            if make == "Acme" and model in self.acme and trim == "Base":
                return self.json(h, ["FWD"])
            if make == "Dots" and self.dots and model in DOT_MODELS and trim == "Base":
                return self.json(h, ["FWD"])
            return self.send(h, 404, b"[]", "application/json")
        if segs[0] != str(YEAR):
            return self.send(h, 404, b"[]", "application/json")
        rest = segs[1:]
        if len(rest) == 0:
            if self.dots:
                return self.json(h, ["Dots"])
            return self.json(h, ["Acme", "Malformed", "Objecty", H_MAKE])
        make = rest[0]
        if len(rest) == 1:
            if make == "Malformed":
                return self.send(h, 200, b'["One" "Two"]', "application/json")
            if make == "Objecty":
                return self.json(h, {"models": ["One"]})
            if make == "Acme":
                return self.json(h, list(self.acme))
            if make == H_MAKE:
                return self.json(h, [H_MODEL])
            if make == "Dots" and self.dots:
                return self.json(h, list(DOT_MODELS))
        elif len(rest) == 2:
            if make == "Acme" and rest[1] in self.acme:
                return self.json(h, {"vehicleType": "Car", "trim": ["Base"], "drive": ["FWD"]})
            if make == "Dots" and self.dots and rest[1] in DOT_MODELS:
                return self.json(h, {"vehicleType": "Car", "trim": ["Base"], "drive": "FWD"})
            if make == H_MAKE and rest[1] == H_MODEL:
                return self.json(h, {"vehicleType": "Truck", "trim": [H_TRIM]})
        elif len(rest) == 4:
            return self.vehicle(h, tuple(rest))
        self.send(h, 404, b"[]", "application/json")

    def vehicle(self, h: BaseHTTPRequestHandler, ident: tuple[str, ...]) -> None:
        make, model, trim, drive = ident
        if (make, model, trim, drive) == (H_MAKE, H_MODEL, H_TRIM, H_DRIVE):
            return self.json(h, _vehicle_json("Truck", notes=H_MODEL))
        dots = self.dots and make == "Dots" and model in DOT_MODELS
        if dots and (trim, drive) == ("Base", "FWD"):
            return self.json(h, _vehicle_json("Car"))
        if make != "Acme" or model not in self.acme or (trim, drive) != ("Base", "FWD"):
            return self.send(h, 404, b"{}", "application/json")
        kind = "ok" if self.healed else self.acme[model][0]
        if kind == "ok":
            return self.json(h, _vehicle_json("Car"))
        if kind == "abc_diameter":
            return self.json(h, _vehicle_json("Car", stockWheelDiameter="abc"))
        if kind == "huge_wheel":
            return self.json(h, _vehicle_json("Car", wheelDiameterMax=400))
        if kind == "latin1":
            body = json.dumps(_vehicle_json("Car", marketingName="Citroën C4"), ensure_ascii=False)
            return self.send(h, 200, body.encode("latin-1"), "application/json")
        if kind == "too_big":
            return self.json(h, _vehicle_json("Car", notes="x" * (2 * MAX_BODY)))
        if kind == "too_big_streamed":
            # No Content-Length: the body ends when the connection closes.
            h.send_response(200)
            h.send_header("Content-Type", "application/json")
            h.send_header("Connection", "close")
            h.end_headers()
            h.close_connection = True
            chunk = b" " * 8192
            try:
                h.wfile.write(b'{"notes": "')
                for _ in range(4 * MAX_BODY // len(chunk)):
                    h.wfile.write(chunk)
                h.wfile.write(b'"}')
            except OSError:
                pass  # the client hung up past its cap: as it should
            return None
        if kind == "always_503":
            return self.send(h, 503, b"<html>busy</html>", "text/html")
        if kind == "gone":
            return self.send(h, 404, b"{}", "application/json")
        if kind in ("redirect", "same_host_redirect"):
            path = f"{API}/{YEAR}/Acme/Fine/Base/FWD"
            where = self.elsewhere if kind == "redirect" else self.base
            return self.send(h, 302, b"", "text/plain", Location=f"{where}{path}")
        raise AssertionError(kind)

    def options(self, h: BaseHTTPRequestHandler, q: dict[str, str]) -> None:
        vtype = q.get("vehicle_type", "")
        if vtype not in OPTIONS:
            return self.send(h, 404, b"[]", "application/json")
        for i, flag in enumerate(("getSuspension", "getTrimming", "getRubbing")):
            if q.get(flag) == "true":
                return self.json(h, OPTIONS[vtype][i])
        return self.send(h, 200, b"{}", "application/json", Set_Cookie="PHPSESSID=bad1; Path=/")

    def fitment(self, h: BaseHTTPRequestHandler, q: dict[str, str]) -> None:
        ident = (q.get("make"), q.get("model"), q.get("trim"), q.get("drive"))
        if ident == (H_MAKE, H_MODEL, H_TRIM, H_DRIVE):
            prefs = (q.get("suspension"), q.get("modification"), q.get("rubbing"))
            ok = prefs == (H_SUSPENSION, H_TRIMMING, H_RUBBING) and q.get("vehicle_type") == "Truck"
            return self.send(h, 200, _page("ok" if ok else "none"), "text/html; charset=utf-8")
        if self.dots and ident[0] == "Dots" and ident[1] in DOT_MODELS:
            return self.send(h, 200, _page("ok"), "text/html; charset=utf-8")
        if ident[0] == "Acme" and ident[1] in self.acme:
            variant = "ok" if self.healed else self.acme[ident[1]][1] or "none"
            return self.send(h, 200, _page(variant), "text/html; charset=utf-8")
        self.send(h, 200, _page("none"), "text/html; charset=utf-8")


@pytest.fixture
def bad_site(forwarder) -> Iterator[Any]:  # type: ignore[no-untyped-def]
    """``bad_site(acme)`` -> (the site, the other host its redirect points to, which logs hits)."""
    started: list[BadSite] = []

    def start(acme: dict[str, tuple[str, str | None]], dots: bool = False) -> tuple[BadSite, Any]:
        elsewhere = forwarder(upstream="http://127.0.0.1:9")  # nothing listens behind it
        started.append(BadSite(elsewhere.url.replace("127.0.0.1", "localhost"), acme, dots))
        return started[-1], elsewhere

    yield start
    for site in started:
        site.stop()


def _frontier(db_url: str) -> list[dict[str, Any]]:
    with sqlite3.connect(sqlite_file(db_url)) as conn:
        conn.row_factory = sqlite3.Row
        return [dict(r) for r in conn.execute("SELECT * FROM frontier")]


def _item_key(row: dict[str, Any]) -> tuple[str, str, str | None]:
    params = json.loads(row["params"]) if row["params"] else {}
    make = row["make"] or params.get("make")
    model = row["model"] if row["kind"] != "models" else None
    return row["kind"], make, model


def _scrape(site: BadSite, db_url: str, env: dict[str, str] | None = None, *extra: str) -> Any:
    return invoke_env(
        {"CWO_MAX_BODY_BYTES": str(MAX_BODY), **(env or {})},
        "scrape",
        "--api-base", site.api_base,
        "--store-base", site.base,
        "--db", db_url,
        "--progress", "off",
        "--rate", "0",
        "--workers", "4",
        *extra,
    )  # fmt: skip


def test_each_bad_answer_fails_its_item_with_a_precise_reason_and_the_run_goes_on(
    bad_site, tmp_db: str
) -> None:
    site, elsewhere = bad_site(ACME)
    result = _scrape(site, tmp_db)
    assert result.exit_code == EXIT_FAILED_ITEMS, result.output[-3000:]

    rows = _frontier(tmp_db)
    failed = {_item_key(r): r["last_error"] for r in rows if r["status"] == "failed"}
    assert set(failed) == set(EXPECTED_FAILURES), failed
    for key, words in EXPECTED_FAILURES.items():
        for word in words:
            assert word in failed[key], (key, word, failed[key])
    # The run went on: everything else is done, nothing is left open.
    assert {r["status"] for r in rows} == {"done", "failed"}
    assert sum(r["status"] == "done" for r in rows) > len(EXPECTED_FAILURES)

    # Each failure is stored with its reason code, apart from the message.
    codes = {_item_key(r): r["failure_code"] for r in rows if r["status"] == "failed"}
    too_large = {k for k, words in EXPECTED_FAILURES.items() if "larger than" in words[0]}
    assert codes == {k: "too_large" if k in too_large else "parse_error" for k in failed}

    # `cwo status` says how many failed and why: grouped by code, one example each.
    status = status_json(tmp_db)
    assert sum(s["failed"] for s in status["stages"].values()) == len(EXPECTED_FAILURES)
    assert status["failed_total"] == len(EXPECTED_FAILURES)
    by_code = {f["code"]: f["count"] for f in status["failures"]}
    assert by_code == {"parse_error": len(failed) - len(too_large), "too_large": len(too_large)}
    assert {f["example"] for f in status["failures"]} <= set(failed.values())
    text = invoke("status", "--db", tmp_db).output
    assert f"failed items by reason ({len(EXPECTED_FAILURES)} in all)" in text
    assert sum(f"e.g. {reason}" in text for reason in failed.values()) == 2

    # Nothing is stored as data for a failed item.
    with sqlite3.connect(sqlite_file(tmp_db)) as conn:
        stored_vehicles = set(conn.execute("SELECT make, model, trim, drive FROM vehicles"))
        stored_fitments = set(
            conn.execute(
                "SELECT v.make, v.model, v.trim, v.drive FROM fitments f "
                "JOIN vehicles v ON v.id = f.vehicle_id"
            )
        )
        statuses = {r[0] for r in conn.execute("SELECT status FROM fitments")}
    assert stored_vehicles == GOOD_VEHICLES
    assert stored_fitments == GOOD_FITMENTS
    assert statuses == {"ok"}
    assert elsewhere.seen == []


def test_hostile_names_travel_encoded_are_stored_verbatim_and_exported_escaped(
    bad_site, tmp_db: str, tmp_path: Path
) -> None:
    site, _ = bad_site(ACME)
    result = _scrape(site, tmp_db)
    assert result.exit_code == EXIT_FAILED_ITEMS, result.output[-3000:]

    # On the wire: every name percent-encoded with nothing left safe.
    seen = "\n".join(site.targets)
    for encoded in (
        "O%27Brien%20%22Q%22%20%26%20Sons%3B%20DELETE%20FROM%20frontier",
        "%27%3B%20DROP%20TABLE%20vehicles%3B%20--",
        "..%2F..%2Fetc%2Fpasswd%3Fx%3D1%23frag%20%252F",
        "4WD%01%1B%5B31m%09%0D%0AEnd%7F",
        "Lifted%202-4%22%20%2F%2050%25%20%26%20%3Cup%3E",
    ):
        assert encoded in seen, encoded
    hostile_paths = [t for t in site.targets if "DROP" in t and t.startswith(API)]
    assert hostile_paths and all("/etc/" not in t and "'" not in t for t in hostile_paths)

    # In the database: verbatim (and the tables an injection would have dropped are there).
    with sqlite3.connect(sqlite_file(tmp_db)) as conn:
        row = conn.execute(
            "SELECT make, model, trim, drive, vehicle_type FROM vehicles WHERE make = ?", (H_MAKE,)
        ).fetchone()
        sets = set(conn.execute("SELECT suspension, modification, rubbing FROM preference_sets"))
        assert conn.execute("SELECT count(*) FROM frontier").fetchone()[0] > 0
    assert row == (H_MAKE, H_MODEL, H_TRIM, H_DRIVE, "Truck")
    assert (H_SUSPENSION, H_TRIMMING, H_RUBBING) in sets

    # In the exports: JSONL parsed back with json, CSV with the csv module.
    hostile_identity = {
        "year": YEAR, "make": H_MAKE, "model": H_MODEL, "trim": H_TRIM, "drive": H_DRIVE,
    }  # fmt: skip
    hostile_prefs = {"suspension": H_SUSPENSION, "modification": H_TRIMMING, "rubbing": H_RUBBING}
    for what in ("vehicles", "fitments"):
        jsonl, csv_file = tmp_path / f"{what}.jsonl", tmp_path / f"{what}.csv"
        for fmt, out in (("jsonl", jsonl), ("csv", csv_file)):
            done = invoke(
                "export", "--what", what, "--format", fmt, "--db", tmp_db, "--out", str(out)
            )
            assert done.exit_code == 0, done.output
        raw = jsonl.read_bytes()
        assert raw.count(b"\n") == len(raw.splitlines()), "a name broke a JSONL line"
        records = [json.loads(line) for line in raw.decode("utf-8").splitlines()]
        with csv_file.open(encoding="utf-8", newline="") as fh:
            rows = list(csv.DictReader(fh))
        assert len(rows) == len(records)
        expected = hostile_identity if what == "vehicles" else {**hostile_identity, **hostile_prefs}
        mine = [r for r in records if r["make"] == H_MAKE]
        assert len(mine) == 1 and {k: mine[0][k] for k in expected} == expected, mine
        mine_csv = [r for r in rows if r["make"] == H_MAKE]
        assert len(mine_csv) == 1
        assert {k: mine_csv[0][k] for k in expected} == {k: str(v) for k, v in expected.items()}
        if what == "fitments":
            assert mine[0]["status"] == "ok" and mine[0]["front"]["diameter_max"] == 20.0
            assert mine_csv[0]["front_diameter_max"] == "20.0"


@pytest.mark.parametrize(
    "env",
    [
        pytest.param({}, id="plain"),
        # NO_PROXY alone routes nothing through a proxy: the direct path is used.
        pytest.param({"NO_PROXY": "127.0.0.1,localhost"}, id="no-proxy-only"),
        # A proxy variable (exempted here) once sent requests through requests,
        # whose URL handling resolved "." and "..": one transport, one URL.
        pytest.param(
            {"HTTP_PROXY": "http://127.0.0.1:9", "NO_PROXY": "127.0.0.1,localhost"},
            id="proxy-env",
        ),
    ],
)
def test_names_that_are_dot_segments_reach_their_own_url(
    bad_site, tmp_db: str, env: dict[str, str]
) -> None:
    """Models named ``..`` and ``.``: each must be requested as itself, never resolved away."""
    site, _ = bad_site({}, dots=True)
    result = _scrape(site, tmp_db, env)
    assert result.exit_code == 0, result.output[-3000:]
    for model in DOT_MODELS:
        assert f"{API}/{YEAR}/Dots/{model}/Base/FWD" in site.targets or (
            f"{API}/{YEAR}/Dots/{model.replace('.', '%2E')}/Base/FWD" in site.targets
        ), site.targets
    with sqlite3.connect(sqlite_file(tmp_db)) as conn:
        models = {r[0] for r in conn.execute("SELECT model FROM vehicles")}
        fitments = conn.execute("SELECT count(*) FROM fitments").fetchone()[0]
    assert models == set(DOT_MODELS) and fitments == 2


def test_redirect_to_another_host_fails_its_item_and_same_host_redirects_are_followed(
    bad_site, tmp_db: str
) -> None:
    acme = {
        "Fine": ("ok", "ok"),
        "Redir": ("redirect", None),
        "SameRedir": ("same_host_redirect", "ok"),
    }
    site, elsewhere = bad_site(acme)
    proc = cwo_run(
        [
            "scrape", "--api-base", site.api_base, "--store-base", site.base, "--db", tmp_db,
            "--progress", "off", "--rate", "0", "--workers", "4", "--makes", "Acme",
        ],
        env={"CWO_MAX_BODY_BYTES": str(MAX_BODY)},
    )  # fmt: skip
    out = proc.stderr.decode("utf-8", "replace")
    assert proc.returncode == EXIT_FAILED_ITEMS, out[-3000:]
    failed = {_item_key(r): r["last_error"] for r in _frontier(tmp_db) if r["status"] == "failed"}
    assert list(failed) == [("vehicle", "Acme", "Redir")], failed
    reason = failed[("vehicle", "Acme", "Redir")]
    assert "redirect" in reason and "another host" in reason and "refused" in reason, reason
    assert elsewhere.seen == [], "the redirect to another host was followed"
    with sqlite3.connect(sqlite_file(tmp_db)) as conn:
        models = {r[0] for r in conn.execute("SELECT model FROM vehicles")}
    assert models == {"Fine", "SameRedir"}


def test_5xx_exhausts_its_attempts_4xx_is_not_retried_and_retry_failed_fetches_them_again(
    bad_site, tmp_db: str
) -> None:
    """A 503 that never ends: retried max-attempts times, then the item fails saying so.

    A 404 is not retried at all. When the site is well again, `--retry-failed`
    fetches exactly the failed items and the crawl completes.
    """
    acme = {"Fine": ("ok", "ok"), "Down": ("always_503", None), "Gone": ("gone", None)}
    site, _ = bad_site(acme)
    # Short backoff, one item attempt: the documented knobs, so the test takes a second.
    env = {"CWO_BACKOFF_BASE": "0.05"}
    result = _scrape(site, tmp_db, env, "--max-attempts", "3", "--item-attempts", "1",
                     "--makes", "Acme")  # fmt: skip
    assert result.exit_code == EXIT_FAILED_ITEMS, result.output[-3000:]
    failed = {_item_key(r): r["last_error"] for r in _frontier(tmp_db) if r["status"] == "failed"}
    assert set(failed) == {("vehicle", "Acme", "Down"), ("vehicle", "Acme", "Gone")}, failed
    down = failed[("vehicle", "Acme", "Down")]
    assert "gave up after 3 attempts" in down and "HTTP 503" in down, down
    assert "HTTP 404" in failed[("vehicle", "Acme", "Gone")]
    hits = {m: sum(t.endswith(f"/Acme/{m}/Base/FWD") for t in site.targets) for m in acme}
    assert hits == {"Fine": 1, "Down": 3, "Gone": 1}, hits

    site.healed = True
    site.targets.clear()
    again = _scrape(site, tmp_db, env, "--retry-failed")
    assert again.exit_code == 0, again.output[-3000:]
    vehicle_hits = [t for t in site.targets if t.startswith(f"{API}/{YEAR}/Acme/")]
    expected = [f"{API}/{YEAR}/Acme/{m}/Base/FWD" for m in ("Down", "Gone")]
    assert sorted(vehicle_hits) == expected, vehicle_hits
    assert {r["status"] for r in _frontier(tmp_db)} == {"done"}
    with sqlite3.connect(sqlite_file(tmp_db)) as conn:
        assert {r[0] for r in conn.execute("SELECT model FROM vehicles")} == set(acme)
