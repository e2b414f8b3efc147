"""`cwo lookup` and `cwo fits` on a real crawl, checked against the sandbox's truth files.

The small sandbox is crawled once (over loopback HTTP, into a SQLite file) for
the whole module. Every expected answer is computed here, in plain Python,
from ``cwo sandbox truth``'s JSONL files: the bolt patterns are read by this
module's own few lines, not by cwo's parser. Queries are drawn with a fixed
seed, and the draws are checked to include staggered cars, no-data pages and
names with odd characters.
"""

from __future__ import annotations

import contextlib
import json
import random
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from tests.e2e.conftest import scrape_args

from custom_wheel_offset.cli import cli

AXLE_KEYS = ("diameter_min", "diameter_max", "width_min", "width_max", "offset_min", "offset_max")
PREFS = ("suspension", "modification", "rubbing")
IDENTITY = ("year", "make", "model", "trim", "drive")
N_QUERIES = 24

pytestmark = pytest.mark.slow


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture(scope="module")
def crawled(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The small sandbox (seed 1) crawled once into a SQLite file; its URL."""
    from custom_wheel_offset.sandbox import SandboxConfig, start_sandbox

    url = f"sqlite:///{tmp_path_factory.mktemp('query') / 'small.db'}"
    with start_sandbox(SandboxConfig(size="small", seed=1)) as sb:
        result = run(*scrape_args(sb, url, "--workers", "4", "-q"))
    assert result.exit_code == 0, result.output
    yield url


@pytest.fixture(scope="module")
def truth(tmp_path_factory: pytest.TempPathFactory) -> dict[str, list[dict[str, Any]]]:
    from custom_wheel_offset.sandbox import SandboxConfig
    from custom_wheel_offset.sandbox.truth import write_truth

    out = tmp_path_factory.mktemp("truth-small")
    write_truth(SandboxConfig(size="small", seed=1), out)
    return load_truth(out)


def load_truth(folder: Path) -> dict[str, list[dict[str, Any]]]:
    read = (folder / "vehicles.jsonl", folder / "fitments.jsonl")
    vehicles, fitments = ([json.loads(x) for x in p.read_text("utf-8").splitlines()] for p in read)
    return {"vehicles": vehicles, "fitments": fitments}


# -- the expected answers, from the truth files alone ------------------------------


def bolt(text: str | None) -> tuple[int, float] | None:
    """``5x114.3`` or ``5x4.5`` -> (lugs, PCD in mm); the site's forms only."""
    if not text:
        return None
    lugs, pcd = text.lower().split("x")
    mm = float(pcd) * 25.4 if float(pcd) < 20 else float(pcd)
    return int(lugs), mm


def vehicle_bolt(v: dict[str, Any]) -> tuple[int, float] | None:
    return bolt(v["bolt_pattern_mm"]) or bolt(v["bolt_pattern_in"])


def ident(r: dict[str, Any]) -> tuple[Any, ...]:
    return tuple(r[k] for k in IDENTITY)


def expected_lookup(truth: dict[str, Any], q: dict[str, Any]) -> dict[tuple[Any, ...], Any]:
    """Identity -> sorted (preferences, status, front, rear) of the vehicles ``q`` names."""
    keys = [k for k in IDENTITY if q.get(k) is not None]
    names = {ident(v) for v in truth["vehicles"] if all(v[k] == q[k] for k in keys)}
    wanted = {k: q.get(k) for k in PREFS if q.get(k) is not None}
    out: dict[tuple[Any, ...], list[Any]] = {n: [] for n in names}
    for f in truth["fitments"]:
        if ident(f) in names and all(f[k] == v for k, v in wanted.items()):
            out[ident(f)].append(range_key(f))
    return {n: sorted(rows, key=repr) for n, rows in out.items()}


def range_key(f: dict[str, Any]) -> tuple[Any, ...]:
    return (*(f[k] for k in PREFS), f["status"], f["front"], f["rear"])


def wheel_fits(w: dict[str, Any], v: dict[str, Any], f: dict[str, Any]) -> bool:
    pattern = vehicle_bolt(v)
    if pattern is None or f["status"] != "ok":
        return False
    if pattern[0] != w["lugs"] or abs(pattern[1] - w["pcd"]) >= 0.6:
        return False
    if w.get("center_bore") is not None and (
        v["hub_bore_mm"] is None or w["center_bore"] < v["hub_bore_mm"]
    ):
        return False
    sizes = {
        "front": {k: w.get(k) for k in ("diameter", "width", "offset")},
        "rear": {
            "diameter": w.get("diameter"),
            "width": w.get("rear_width", w.get("width")),
            "offset": w.get("rear_offset", w.get("offset")),
        },
    }
    for axle, given in sizes.items():
        for name, size in given.items():
            lo, hi = f[axle][f"{name}_min"], f[axle][f"{name}_max"]
            if size is not None and (lo is None or hi is None or not lo <= size <= hi):
                return False
    return True


def expected_fits(truth: dict[str, Any], w: dict[str, Any]) -> list[tuple[Any, ...]]:
    by_id = {ident(v): v for v in truth["vehicles"]}
    out = []
    for f in truth["fitments"]:
        v = by_id[ident(f)]
        if any(w.get(k) is not None and f[k] != w[k] for k in PREFS):
            continue
        if w.get("makes") and v["make"] not in w["makes"]:
            continue
        if w.get("years") and not w["years"][0] <= v["year"] <= w["years"][1]:
            continue
        if wheel_fits(w, v, f):
            out.append((*ident(f), *(f[k] for k in PREFS)))
    return sorted(out)


# -- drawing queries ------------------------------------------------------------


def is_odd(v: dict[str, Any]) -> bool:
    text = v["make"] + v["model"] + v["trim"]
    return not text.isascii() or any(c in text for c in "\"'#%&/?,+")


def is_staggered(f: dict[str, Any]) -> bool:
    return f["status"] == "ok" and f["front"] != f["rear"]


def draw_lookups(truth: dict[str, Any], rng: random.Random) -> list[dict[str, Any]]:
    """Random vehicles, a third of them from each kind that must be covered."""
    vehicles = truth["vehicles"]
    no_data = {ident(f) for f in truth["fitments"] if f["status"] == "no_data"}
    staggered = {ident(f) for f in truth["fitments"] if is_staggered(f)}
    pools = [
        [v for v in vehicles if ident(v) in no_data],
        [v for v in vehicles if ident(v) in staggered],
        [v for v in vehicles if is_odd(v)],
        vehicles,
    ]
    queries = []
    for i in range(N_QUERIES):
        v = rng.choice(pools[i % len(pools)])
        q: dict[str, Any] = {k: v[k] for k in ("year", "make", "model")}
        if rng.random() < 0.4:
            q["trim"] = v["trim"]
        if rng.random() < 0.3:
            q["drive"] = v["drive"]
        fits_of_v = [f for f in truth["fitments"] if ident(f) == ident(v)]
        if fits_of_v and rng.random() < 0.5:
            pref = rng.choice(PREFS)
            q[pref] = rng.choice(fits_of_v)[pref]
        queries.append(q)
    return queries


def _size_near(lo: float | None, hi: float | None, rng: random.Random) -> float | None:
    if lo is None or hi is None:
        return None
    return rng.choice([lo, hi, (lo + hi) / 2])


def draw_wheels(truth: dict[str, Any], rng: random.Random) -> list[dict[str, Any]]:
    """Wheels made to fit a random fitment (some of them staggered), with some sizes left out."""
    by_id = {ident(v): v for v in truth["vehicles"]}
    ok = [f for f in truth["fitments"] if f["status"] == "ok" and vehicle_bolt(by_id[ident(f)])]
    staggered = [f for f in ok if is_staggered(f)]
    wheels = []
    for i in range(N_QUERIES):
        f = rng.choice(staggered if i % 3 == 0 else ok)
        v = by_id[ident(f)]
        lugs = vehicle_bolt(v)[0]  # type: ignore[index]
        forms = (v["bolt_pattern_mm"], v["bolt_pattern_in"])
        text = next(t for t in (forms if i % 2 else forms[::-1]) if t)
        w: dict[str, Any] = {"bolt_pattern": text, "lugs": lugs, "pcd": bolt(text)[1]}  # type: ignore[index]
        if v["hub_bore_mm"] is not None and rng.random() < 0.6:
            w["center_bore"] = round(v["hub_bore_mm"] + rng.choice([0, 0.5, 6.0]), 1)
        # The diameter goes on both axles: pick it where the two ranges overlap.
        bounds = [f[a][f"diameter_{m}"] for a in ("front", "rear") for m in ("min", "max")]
        if None not in bounds and rng.random() < 0.7:
            lo, hi = max(bounds[0], bounds[2]), min(bounds[1], bounds[3])
            w["diameter"] = _size_near(lo, hi, rng) if lo <= hi else None
        for name in ("width", "offset"):
            if rng.random() < 0.7:
                w[name] = _size_near(f["front"][f"{name}_min"], f["front"][f"{name}_max"], rng)
                if f["front"] != f["rear"]:  # a staggered set
                    w[f"rear_{name}"] = _size_near(
                        f["rear"][f"{name}_min"], f["rear"][f"{name}_max"], rng
                    )
        if i % 4 == 1:
            pref = rng.choice(PREFS)
            w[pref] = f[pref]
        if i % 5 == 2:
            w["years"] = (v["year"], v["year"] + 1)
            w["makes"] = [v["make"]]
        wheels.append({k: x for k, x in w.items() if x is not None})
    return wheels


def fits_args(w: dict[str, Any]) -> list[str]:
    args = ["fits", "--bolt-pattern", w["bolt_pattern"]]
    for key in ("center_bore", "diameter", "width", "offset", "rear_width", "rear_offset"):
        if key in w:
            args += [f"--{key.replace('_', '-')}", f"{w[key]:g}"]
    for key, flag in (("suspension", "--suspension"), ("modification", "--trimming")):
        if key in w:
            args += [flag, w[key]]
    if "rubbing" in w:
        args += ["--rubbing", w["rubbing"]]
    if "years" in w:
        args += ["--years", "{}-{}".format(*w["years"]), "--makes", ",".join(w["makes"])]
    return args


def lookup_args(q: dict[str, Any]) -> list[str]:
    args = ["lookup", str(q["year"]), q["make"], q["model"]]
    for key, flag in (
        ("trim", "--trim"),
        ("drive", "--drive"),
        ("suspension", "--suspension"),
        ("modification", "--trimming"),
        ("rubbing", "--rubbing"),
    ):
        if key in q:
            args += [flag, q[key]]
    return args


# -- the tests ------------------------------------------------------------


def test_lookup_answers_equal_the_truth(crawled: str, truth: dict[str, Any]) -> None:
    queries = draw_lookups(truth, random.Random(13))
    vehicles = {ident(v): v for v in truth["vehicles"]}
    drawn = [
        v
        for v in truth["vehicles"]
        if any(all(v[k] == q[k] for k in ("year", "make", "model")) for q in queries)
    ]
    no_data = {ident(f) for f in truth["fitments"] if f["status"] == "no_data"}
    assert any(is_odd(v) for v in drawn) and any(ident(v) in no_data for v in drawn)
    assert any(is_staggered(f) for f in truth["fitments"] if ident(f) in {ident(v) for v in drawn})
    for q in queries:
        result = run(*lookup_args(q), "--json", "--db", crawled)
        assert result.exit_code == 0, (q, result.output)
        answer = json.loads(result.stdout)
        got = {
            ident(v): sorted((range_key(r) for r in v["ranges"]), key=repr)
            for v in answer["vehicles"]
        }
        assert got == expected_lookup(truth, q), q
        assert got, q  # every query names a stored vehicle
        for record in answer["vehicles"]:
            expected = vehicles[ident(record)]
            assert {k: x for k, x in record.items() if k != "ranges"} == expected
            lugs_pcd = vehicle_bolt(expected)
            if lugs_pcd is not None:
                assert (record["lug_count"], record["pcd_mm"]) == (
                    lugs_pcd[0],
                    round(lugs_pcd[1], 2),
                )
        assert answer["message"] is None and answer["suggestions"] == []


def test_fits_answers_equal_the_truth(crawled: str, truth: dict[str, Any]) -> None:
    wheels = draw_wheels(truth, random.Random(15))
    assert sum("rear_width" in w for w in wheels) >= 3  # staggered sets
    assert any(float(w["bolt_pattern"].split("x")[1]) < 20 for w in wheels)  # inch forms too
    for w in wheels:
        result = run(*fits_args(w), "--json", "--db", crawled)
        assert result.exit_code == 0, (w, result.output)
        answer = json.loads(result.stdout)
        got = sorted((*ident(r), *(r[k] for k in PREFS)) for r in answer["fits"])
        expected = expected_fits(truth, w)
        assert expected, w  # each wheel was made to fit one fitment at least
        assert got == expected, w


def test_explain_says_which_condition_fails_per_preference_set(
    crawled: str, truth: dict[str, Any]
) -> None:
    by_id = {ident(v): v for v in truth["vehicles"]}
    fitments = {(*ident(f), *(f[k] for k in PREFS)): f for f in truth["fitments"]}
    wheels = draw_wheels(truth, random.Random(17))[:4]
    for w in wheels:
        plain = {k: x for k, x in w.items() if k not in ("years", "makes", *PREFS)}
        target = expected_fits(truth, w)[0]
        args = [*fits_args(plain), "--explain", str(target[0]), target[1], target[2]]
        result = run(*args, "--json", "--db", crawled)
        assert result.exit_code == 0, result.output
        answer = json.loads(result.stdout)
        assert answer["vehicles"]
        for v in answer["vehicles"]:
            for r in v["ranges"]:
                f = fitments[(*ident(v), *(r[k] for k in PREFS))]
                assert r["fits"] == wheel_fits(plain, by_id[ident(v)], f), (w, r)
                assert r["fits"] == (r["failures"] == [])
        text = run(*args, "--db", crawled)
        assert "fits" in text.stdout and text.exit_code == 0


def test_empty_answers_exit_0_with_a_message_and_suggestions(crawled: str) -> None:
    result = run("lookup", "2023", "Skoda", "Kodiaq", "--json", "--db", crawled)
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert answer["vehicles"] == [] and answer["suggestions"][0] == "Škoda"
    assert "no make 'Skoda' is stored for 2023; did you mean 'Škoda'" in result.stderr
    assert answer["message"] in result.stderr
    result = run("lookup", "2023", "Škoda", "Kodiak", "--db", crawled)
    assert (result.exit_code, result.stdout) == (0, "")
    assert "did you mean 'Kodiaq'?" in result.stderr
    result = run("lookup", "1999", "Ford", "F-150", "--db", crawled)
    assert result.exit_code == 0 and "no vehicle of 1999 is stored" in result.stderr
    result = run("fits", "--bolt-pattern", "7x99", "--json", "--db", crawled)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["fits"] == []
    assert "fits no stored vehicle" in result.stderr


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["fits", "--bolt-pattern", "5-lug"], "unreadable bolt pattern '5-lug'"),
        (
            ["fits", "--bolt-pattern", "5x114.3", "--suspension", "leveling kit"],
            "did you mean 'Leveling Kit'?",
        ),
        (
            ["lookup", "2023", "Ford", "F-150", "--rubbing", "slight rub"],
            "did you mean 'Slight rub at full turn'?",
        ),
        (["fits", "--bolt-pattern", "5x114.3", "--years", "2024-2020"], "range 2024-2020 is empty"),
    ],
    ids=["bolt-pattern", "suspension", "rubbing", "years"],
)
def test_bad_input_exits_2_with_a_hint(crawled: str, args: list[str], expected: str) -> None:
    result = run(*args, "--db", crawled)
    assert result.exit_code == 2, result.output
    assert expected in result.stderr


def test_options_list_what_a_query_may_name(crawled: str, truth: dict[str, Any]) -> None:
    result = run("options", "--year", "2023", "--make", "Škoda", "--json", "--db", crawled)
    assert result.exit_code == 0, result.output
    stored = json.loads(result.stdout)
    vehicles = truth["vehicles"]
    assert stored["years"] == sorted({v["year"] for v in vehicles})
    assert stored["makes"] == sorted({v["make"] for v in vehicles if v["year"] == 2023})
    assert stored["models"] == sorted(
        {v["model"] for v in vehicles if v["year"] == 2023 and v["make"] == "Škoda"}
    )
    type_of = {ident(v): v["vehicle_type"] for v in vehicles}
    assert set(stored["preferences"]) == set(type_of.values())
    for vtype, options in stored["preferences"].items():
        sets = {tuple(f[k] for k in PREFS) for f in truth["fitments"] if type_of[ident(f)] == vtype}
        assert {s[0] for s in sets} == set(options["suspension"])
        assert {s[1] for s in sets} == set(options["trimming"])
        assert {s[2] for s in sets} == set(options["rubbing"])


@pytest.mark.postgres
def test_the_same_library_functions_on_postgresql(
    postgres_url: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The tiny sandbox crawled into PostgreSQL: every vehicle looked up, drawn wheels searched."""
    from custom_wheel_offset.query.fits import FitsQuery, fits, make_wheel
    from custom_wheel_offset.query.lookup import LookupQuery, lookup
    from custom_wheel_offset.query.options import PreferenceFilter
    from custom_wheel_offset.sandbox import SandboxConfig, start_sandbox
    from custom_wheel_offset.sandbox.truth import write_truth
    from custom_wheel_offset.storage.database import OptimizedDatabaseManager

    folder = tmp_path_factory.mktemp("truth-tiny")
    write_truth(SandboxConfig(size="tiny", seed=1), folder)
    tiny = load_truth(folder)
    with start_sandbox(SandboxConfig(size="tiny", seed=1)) as sb:
        result = run(*scrape_args(sb, postgres_url, "-q"))
    assert result.exit_code == 0, result.output
    db = OptimizedDatabaseManager(postgres_url, readonly=True)
    try:
        names = sorted({(v["year"], v["make"], v["model"]) for v in tiny["vehicles"]})
        for year, make, model in names:
            answer = lookup(db, LookupQuery(year, make, model))
            got = {
                ident(v): sorted((range_key(r) for r in v["ranges"]), key=repr)
                for v in answer.vehicles
            }
            assert got == expected_lookup(tiny, {"year": year, "make": make, "model": model})
        for w in draw_wheels(tiny, random.Random(19))[:10]:
            sizes = ("center_bore", "diameter", "width", "offset", "rear_width", "rear_offset")
            wheel = make_wheel(w["bolt_pattern"], **{k: w.get(k) for k in sizes})
            prefs = PreferenceFilter(w.get("suspension"), w.get("modification"), w.get("rubbing"))
            q = FitsQuery(wheel, prefs, w.get("years"), tuple(w.get("makes", ())))
            got_fits = [(*ident(r), *(r[k] for k in PREFS)) for r in fits(db, q)]
            assert got_fits == expected_fits(tiny, w), w
    finally:
        db.dispose()


# -- browsing: views, Parquet and SQLite exports, Datasette ---------------------------------------


def _sqlite_rows(path: str, sql: str) -> list[tuple[Any, ...]]:
    import sqlite3

    with contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True)) as conn:
        return conn.execute(sql).fetchall()


def test_the_views_hold_the_truth_without_gone_rows(crawled: str, truth: dict[str, Any]) -> None:
    path = crawled.removeprefix("sqlite:///")
    ranges = ", ".join(f"{a}_{k}" for a in ("front", "rear") for k in AXLE_KEYS)
    got = _sqlite_rows(
        path,
        "SELECT year, make, model, trim, drive, suspension, modification, rubbing, status, "
        f"{ranges} FROM fitment_ranges",
    )
    expected = [
        (
            *ident(f),
            *(f[k] for k in PREFS),
            f["status"],
            *(f[a][k] for a in ("front", "rear") for k in AXLE_KEYS),
        )
        for f in truth["fitments"]
    ]
    assert sorted(got, key=repr) == sorted(expected, key=repr)
    specs = _sqlite_rows(
        path, "SELECT year, make, model, trim, drive, lug_count FROM vehicle_specs"
    )
    assert sorted(specs) == sorted(
        (*ident(v), (vehicle_bolt(v) or (None,))[0]) for v in truth["vehicles"]
    )


def test_parquet_and_sqlite_exports_hold_the_views_rows(crawled: str, tmp_path: Path) -> None:
    import pyarrow.parquet as pq

    from custom_wheel_offset.query.views import FITMENT_RANGE_COLUMNS, VEHICLE_SPEC_COLUMNS

    path = crawled.removeprefix("sqlite:///")
    views = {"vehicle_specs": VEHICLE_SPEC_COLUMNS, "fitment_ranges": FITMENT_RANGE_COLUMNS}
    stored = {v: sorted(_sqlite_rows(path, f"SELECT * FROM {v}"), key=repr) for v in views}
    for what, view in (("vehicles", "vehicle_specs"), ("fitments", "fitment_ranges")):
        out = tmp_path / f"{what}.parquet"
        result = run(
            "export", "--format", "parquet", "--what", what, "--out", str(out), "--db", crawled
        )
        assert result.exit_code == 0, result.output
        table = pq.read_table(out)
        assert tuple(table.column_names) == views[view]
        rows = [tuple(r.values()) for r in table.to_pylist()]
        assert sorted(rows, key=repr) == stored[view]
    copy = tmp_path / "copy.db"
    result = run("export", "--format", "sqlite", "--out", str(copy), "--db", crawled)
    assert result.exit_code == 0, result.output
    tables = _sqlite_rows(str(copy), "SELECT name FROM sqlite_master WHERE type = 'table'")
    assert sorted(t[0] for t in tables) == sorted(views)
    for view, columns in views.items():
        got = _sqlite_rows(str(copy), f"SELECT {', '.join(columns)} FROM {view}")
        assert sorted(got, key=repr) == stored[view]
    again = run("export", "--format", "sqlite", "--out", str(copy), "--db", crawled)
    assert again.exit_code == 2 and "exists" in again.stderr


def _free_port() -> int:
    with contextlib.closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.loads(response.read())


@pytest.fixture(scope="module")
def datasette(crawled: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``datasette serve`` on the crawled file with the shipped metadata; its database URL."""
    folder = tmp_path_factory.mktemp("datasette")
    metadata = folder / "metadata.json"
    result = run("export", "--datasette-metadata", str(metadata), "--db", crawled)
    assert result.exit_code == 0, result.output
    port = _free_port()
    command = [sys.executable, "-m", "datasette", "serve", crawled.removeprefix("sqlite:///")]
    command += ["--metadata", str(metadata), "--host", "127.0.0.1", "--port", str(port)]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                _get_json(f"{base}/-/versions.json")
                break
            except OSError:
                assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
                time.sleep(0.1)
        yield f"{base}/small"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_datasette_serves_the_canned_queries(crawled: str, datasette: str) -> None:
    from custom_wheel_offset.query.fits import FitsQuery, fits, make_wheel
    from custom_wheel_offset.query.lookup import LookupQuery, lookup
    from custom_wheel_offset.storage.database import OptimizedDatabaseManager

    meta = _get_json(f"{datasette.rsplit('/', 1)[0]}/-/metadata.json")
    assert meta["title"] and meta["license"] and meta["source"]
    assert "pcd_mm" in meta["databases"]["small"]["tables"]["vehicle_specs"]["columns"]
    query = urllib.parse.urlencode({"year": 2023, "make": "Škoda", "model": "Kodiaq"})
    rows = _get_json(f"{datasette}/lookup.json?{query}&_shape=array")
    wheel = {"center_bore": 57.1, "diameter": 18.0, "width": 8.0, "offset": 40.0}
    args = urllib.parse.urlencode({"lug_count": 5, "pcd_mm": 112, **wheel})
    fit_rows = _get_json(f"{datasette}/fits.json?{args}&_shape=array")
    db = OptimizedDatabaseManager(crawled, readonly=True)
    try:
        answer = lookup(db, LookupQuery(2023, "Škoda", "Kodiaq"))
        expected_fits = fits(db, FitsQuery(make_wheel("5x112", **wheel)))
    finally:
        db.dispose()
    expected = sorted(
        (v["trim"], v["drive"], *(r[k] for k in PREFS), r["status"], r["front"]["offset_min"])
        for v in answer.vehicles
        for r in v["ranges"]
    )
    got = sorted(
        (*(r[k] for k in ("trim", "drive", *PREFS, "status")), r["front_offset_min"]) for r in rows
    )
    assert got == expected and len(got) > 10
    assert len(fit_rows) == len(expected_fits) > 10
    assert [(r["make"], r["model"], r["trim"]) for r in fit_rows] == [
        (r["make"], r["model"], r["trim"]) for r in expected_fits
    ]
