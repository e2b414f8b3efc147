"""The sandbox speaks the documented protocol: routing, decoding, sessions, pages, counters."""

from __future__ import annotations

import http.client
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import quote, urlencode

import pytest
import requests

from custom_wheel_offset.sandbox import FaultConfig, SandboxConfig, start_sandbox
from custom_wheel_offset.sandbox.server import RunningSandbox

SUPER_DUTY = "F-250/350 Super Duty"


def q(value: object) -> str:
    return quote(str(value), safe="")


def qs(params: dict[str, Any]) -> str:
    return urlencode(params, quote_via=quote, safe="")


def select_url(
    sb: RunningSandbox, vid: tuple[int, str, str, str, str], vtype: str, chassis: object
) -> str:
    year, make, model, trim, drive = vid
    return f"{sb.store_base}/api/ymm-temp.php?" + qs(
        {
            "store": "wheels",
            "type": "set",
            "vehicle_type": vtype,
            "year": year,
            "make": make,
            "model": model,
            "trim": trim,
            "drive": drive,
            "chassis": chassis,
        }
    )


def option_url(sb: RunningSandbox, flag: str, vtype: str = "Car") -> str:
    return f"{sb.store_base}/api/ymm-temp.php?" + qs(
        {"type": "set", "vehicle_type": vtype, "store": "wheels", flag: "true"}
    )


def fitment_url(
    sb: RunningSandbox,
    vid: tuple[int, str, str, str, str],
    vtype: str,
    chassis: object,
    prefs: tuple[str, str, str],
) -> str:
    year, make, model, trim, drive = vid
    return f"{sb.store_base}/store/wheels?" + qs(
        {
            "sort": "instock",
            "saleToggle": 0,
            "qdToggle": 0,
            "year": year,
            "make": make,
            "model": model,
            "trim": trim,
            "drive": drive,
            "DRChassisID": chassis,
            "vehicle_type": vtype,
            "suspension": prefs[0],
            "modification": prefs[1],
            "rubbing": prefs[2],
        }
    )


def vehicle_url(sb: RunningSandbox, vid: tuple[int, str, str, str, str]) -> str:
    return sb.api_base + "/" + "/".join(q(p) for p in vid)


TRUCK = (2024, "Ford", SUPER_DUTY, "XL", "4WD")
CIVIC_LX_SPACE = (2024, "Honda", "Civic", "LX ", "FWD")
CIVIC_LX = (2024, "Honda", "Civic", "LX", "FWD")


# ---------------------------------------------------------------- routing and decoding


def test_percent_encoded_slash_and_other_characters(
    tiny_sandbox: RunningSandbox, http: requests.Session
) -> None:
    api = tiny_sandbox.api_base
    r = http.get(f"{api}/2024/Ford/F-250%2F350%20Super%20Duty")
    assert r.status_code == 200 and "XL" in r.json()["trim"]
    raw = http.get(f"{api}/2024/Ford/F-250/350 Super Duty")  # a raw slash splits the segment
    assert raw.status_code == 404 and "error" in raw.json()
    for make, model, trim in [
        ("Mazda", "#1 Edition?", "Club"),
        ("Tesla", "Model 3", "100% Electric & More +"),
        ("Subaru", "WRX", 'Sport 2.0T "Launch Edition"'),
        ("Renault", "Clio  RS", "Base"),
        ("Škoda", "Kodiaq", "Style edice šedá"),
    ]:
        url = f"{api}/offsetguide/2024/{q(make)}/{q(model)}/trim/{q(trim)}/drives"
        drives = http.get(url)
        assert drives.status_code == 200, url
        assert (
            http.get(
                vehicle_url(tiny_sandbox, (2024, make, model, trim, drives.json()[0]))
            ).status_code
            == 200
        )
    # whitespace is significant: "LX" and "LX " are two vehicles
    a = http.get(vehicle_url(tiny_sandbox, CIVIC_LX)).json()
    b = http.get(vehicle_url(tiny_sandbox, CIVIC_LX_SPACE)).json()
    assert a != b
    assert (
        http.get(vehicle_url(tiny_sandbox, (2024, "Honda", "Civic", "LX  ", "FWD"))).status_code
        == 404
    )


def test_trailing_slash_and_years(tiny_sandbox: RunningSandbox, http: requests.Session) -> None:
    assert http.get(tiny_sandbox.api_base + "/").json() == http.get(tiny_sandbox.api_base).json()
    assert (
        http.get(tiny_sandbox.api_base + "/2024/").json()
        == http.get(tiny_sandbox.api_base + "/2024").json()
    )


@pytest.mark.parametrize(
    "path",
    [
        "/1999",
        "/2024/Nope",
        "/2024/Ford/Nope",
        "/2024/Ford/Mustang/Nope/RWD",
        "/2024/Ford/Mustang/GT%20Premium/AWD",
        "/offsetguide/2024/Ford/Mustang/trim/Nope/drives",
        "/abcd",
        "/2024/Ford/Mustang/GT%20Premium",
        "/offsetguide/2024/Ford/Mustang/drives",
    ],
)
def test_unknown_names_answer_404_json(
    tiny_sandbox: RunningSandbox, http: requests.Session, path: str
) -> None:
    r = http.get(tiny_sandbox.api_base + path)
    assert r.status_code == 404
    assert r.headers["Content-Type"].startswith("application/json")
    assert isinstance(r.json()["error"], str)


def test_unknown_store_paths_and_unknown_select(
    tiny_sandbox: RunningSandbox, http: requests.Session
) -> None:
    r = http.get(tiny_sandbox.store_base + "/nowhere")
    assert r.status_code == 404 and "error" in r.json()
    r = http.get(select_url(tiny_sandbox, (2024, "Ford", "Nope", "XL", "4WD"), "Truck", 1))
    assert r.status_code == 404 and "error" in r.json()
    assert "PHPSESSID" not in r.cookies


# ---------------------------------------------------------------- sessions and options


def test_options_need_a_cookie_from_a_select(tiny_sandbox: RunningSandbox) -> None:
    for flag in ("getSuspension", "getTrimming", "getRubbing"):
        r = requests.get(option_url(tiny_sandbox, flag))
        assert r.status_code == 403 and "error" in r.json()
        r = requests.get(option_url(tiny_sandbox, flag), cookies={"PHPSESSID": "made-up"})
        assert r.status_code == 403


def test_two_sessions_get_their_own_options(tiny_sandbox: RunningSandbox) -> None:
    car, truck = requests.Session(), requests.Session()
    lx = car.get(vehicle_url(tiny_sandbox, CIVIC_LX)).json()
    sd = truck.get(vehicle_url(tiny_sandbox, TRUCK)).json()
    assert car.get(
        select_url(tiny_sandbox, CIVIC_LX, lx["vehicleType"], lx["drchassisid"])
    ).json() == {"ok": True}
    assert "PHPSESSID" in car.cookies
    truck.get(select_url(tiny_sandbox, TRUCK, sd["vehicleType"], sd["drchassisid"]))
    assert car.cookies["PHPSESSID"] != truck.cookies["PHPSESSID"]
    # the query's vehicle_type is ignored: the session's selection decides
    car_susp = car.get(option_url(tiny_sandbox, "getSuspension", "Truck")).json()
    truck_susp = truck.get(option_url(tiny_sandbox, "getSuspension", "Car")).json()
    assert "Stock Suspension" in car_susp and "Stock Suspension" in truck_susp
    assert len(truck_susp) > len(car_susp)
    assert 'Lifted 2-4"' in truck_susp and 'Lifted 2-4"' not in car_susp
    assert len(truck.get(option_url(tiny_sandbox, "getTrimming")).json()) == 3
    assert len(car.get(option_url(tiny_sandbox, "getRubbing")).json()) == 2
    # one cookie re-selecting another vehicle type gets that type's answers
    old = car.cookies["PHPSESSID"]
    car.get(select_url(tiny_sandbox, TRUCK, sd["vehicleType"], sd["drchassisid"]))
    assert car.cookies["PHPSESSID"] == old
    assert car.get(option_url(tiny_sandbox, "getSuspension")).json() == truck_susp
    car.close()
    truck.close()


# ---------------------------------------------------------------- fitment pages


def _civic_page(sb: RunningSandbox, http: requests.Session, **changes: Any) -> tuple[int, str]:
    """The Civic LX's first page (which always has data) or a variation of its URL."""
    lx = http.get(vehicle_url(sb, CIVIC_LX)).json()
    args: dict[str, Any] = {
        "vid": CIVIC_LX,
        "vtype": lx["vehicleType"],
        "chassis": str(lx["drchassisid"]),
        "prefs": ("Stock Suspension", "No Modification", "No rubbing or scrubbing"),
    }
    args.update(changes)
    r = http.get(fitment_url(sb, **args))
    return r.status_code, r.text


def test_correct_parameters_show_ranges(
    tiny_sandbox: RunningSandbox, http: requests.Session, page_parser: Any
) -> None:
    status, html = _civic_page(tiny_sandbox, http)
    assert status == 200
    assert len(page_parser.fit_blocks(html)) == 1
    page = page_parser.parse_fitment(html)
    assert page.status == "ok" and page.bolt_pattern_mm == "5x114.3"
    assert page.bolt_pattern_in == "5x4.5"


@pytest.mark.parametrize("vtype", ["car", "CAR", "cAr"])
def test_vehicle_type_is_taken_in_any_case(
    tiny_sandbox: RunningSandbox, http: requests.Session, vtype: str
) -> None:
    """Section 5: clients of the live store write ``Truck``, ``truck`` and ``car``."""
    _, exact = _civic_page(tiny_sandbox, http)
    status, html = _civic_page(tiny_sandbox, http, vtype=vtype)
    assert status == 200
    assert html == exact
    assert 'class="store-ymm-fitrange full-size"' in html


@pytest.mark.parametrize(
    "changes",
    [
        {"vtype": "Truck"},
        {"vtype": "truck"},
        {"vtype": "Ca"},
        {"chassis": "1"},
        {"chassis": ""},
        {"prefs": ("Stock Suspension", "No Modification", "Rubbing everywhere")},
        {"prefs": ('Lifted 2-4"', "No Modification", "No rubbing or scrubbing")},
        {"vid": (2024, "Honda", "Civic", "LX  ", "FWD")},
        {"vid": (2024, "Honda", "Civic", "LX", "AWD")},
        {"vid": (2023, "Honda", "Civic", "LX", "FWD")},
    ],
)
def test_wrong_parameters_give_a_page_without_ranges(
    tiny_sandbox: RunningSandbox, http: requests.Session, page_parser: Any, changes: dict[str, Any]
) -> None:
    status, html = _civic_page(tiny_sandbox, http, **changes)
    assert status == 200
    assert html.endswith("</html>")
    assert page_parser.fit_blocks(html) == []
    assert page_parser.parse_fitment(html).status == "no_data"


def test_fitment_page_needs_no_cookie_and_bare_page_is_200(tiny_sandbox: RunningSandbox) -> None:
    r = requests.get(tiny_sandbox.store_base + "/store/wheels")
    assert r.status_code == 200 and r.text.endswith("</html>")


# ---------------------------------------------------------------- robots


def test_robots_default_allows_everything(
    tiny_sandbox: RunningSandbox, http: requests.Session
) -> None:
    r = http.get(tiny_sandbox.store_base + "/robots.txt")
    assert r.status_code == 200
    assert r.text == "User-agent: *\nAllow: /\n"


def test_robots_disallow_option() -> None:
    config = SandboxConfig(page_kb=4, robots_disallow=("/store/", "/fitment/vehicle/co/2023"))
    with start_sandbox(config) as sb:
        text = requests.get(sb.store_base + "/robots.txt").text
        counters = sb.counters()
    assert "Disallow: /store/\n" in text and "Disallow: /fitment/vehicle/co/2023\n" in text
    assert counters["requests"]["robots"] == 1
    assert counters["peak_requests_1s_by_host"]["store"] == 1


# ---------------------------------------------------------------- HTTP details


def test_keep_alive_and_content_length(tiny_sandbox: RunningSandbox) -> None:
    conn = http.client.HTTPConnection(tiny_sandbox.host, tiny_sandbox.port, timeout=10)
    sock_ids = set()
    for path in ["/fitment/vehicle/co/", "/robots.txt", "/store/wheels", "/nowhere"]:
        conn.request("GET", path)
        resp = conn.getresponse()
        body = resp.read()
        assert resp.version == 11
        assert int(resp.headers["Content-Length"]) == len(body)
        assert resp.headers.get("Connection") != "close"
        sock_ids.add(id(conn.sock))
    assert len(sock_ids) == 1  # one connection served all four
    conn.request("GET", "/robots.txt", headers={"Connection": "close"})
    resp = conn.getresponse()
    resp.read()
    assert resp.headers["Connection"] == "close"
    conn.close()


def test_stopping_closes_the_sockets() -> None:
    sb = start_sandbox(SandboxConfig(page_kb=4))
    session = requests.Session()
    assert session.get(sb.api_base + "/").status_code == 200  # an open keep-alive connection
    sb.stop()
    assert not sb.running
    with pytest.raises(requests.ConnectionError):
        session.get(sb.api_base + "/", timeout=2)
    with pytest.raises(OSError):
        socket.create_connection((sb.host, sb.port), timeout=2)
    session.close()


# ---------------------------------------------------------------- counters


def test_counters_count_kinds_statuses_and_reset() -> None:
    with start_sandbox(SandboxConfig(page_kb=4)) as sb, requests.Session() as s:
        s.get(sb.api_base + "/")
        s.get(sb.api_base + "/2024")
        s.get(sb.api_base + "/1999")
        s.get(option_url(sb, "getRubbing"))
        s.get(sb.store_base + "/nowhere")
        c = requests.get(sb.counters_url).json()
        assert c == sb.counters()
        assert c["requests"]["years"] == 1 and c["requests"]["makes"] == 2
        assert c["requests"]["rubbing"] == 1 and c["requests"]["not_found"] == 1
        assert c["statuses"] == {"200": 2, "403": 1, "404": 2}
        assert c["served_ok"]["makes"] == 1 and c["served_ok"]["rubbing"] == 0
        assert c["total_requests"] == 5
        assert c["peak_requests_1s"] == 5
        assert c["peak_requests_1s_by_host"] == {"api": 3, "store": 2}
        assert c["peak_in_flight"] == 1
        assert set(c) >= {
            "requests",
            "statuses",
            "faults",
            "peak_requests_1s",
            "peak_requests_1s_by_host",
            "peak_in_flight",
            "served_ok",
            "duplicate_ok",
            "total_requests",
        }
        r = requests.post(sb.store_base + "/__sandbox__/reset")
        assert r.status_code == 200
        c = sb.counters()
        assert c["total_requests"] == 0 and c["statuses"] == {} and c["peak_requests_1s"] == 0
        assert sum(c["requests"].values()) == 0
        s.get(sb.api_base + "/")
        sb.reset_counters()
        assert sb.counters()["requests"]["years"] == 0
        assert requests.get(sb.store_base + "/__sandbox__/reset").status_code == 405


def test_duplicate_ok_counts_distinct_urls_answered_twice() -> None:
    with start_sandbox(SandboxConfig(page_kb=4)) as sb, requests.Session() as s:
        for _ in range(3):
            s.get(sb.api_base + "/2024")
        s.get(sb.api_base + "/2023")
        s.get(sb.api_base + "/2024/Ford")
        s.get(sb.api_base + "/2024/Ford")
        s.get(sb.api_base + "/1999")
        s.get(sb.api_base + "/1999")  # 404s are not successful answers
        c = sb.counters()
        assert c["duplicate_ok"]["makes"] == 1
        assert c["duplicate_ok"]["models"] == 1
        assert c["served_ok"]["makes"] == 4 and c["served_ok"]["models"] == 2
        sb.set_faults(FaultConfig(error_rate=1.0))
        s.get(sb.api_base + "/2023")  # a fault answer is not a successful answer
        assert sb.counters()["duplicate_ok"]["makes"] == 1


def test_peak_in_flight_and_peak_rate() -> None:
    faults = FaultConfig(latency_ms=800)  # long enough for six threads to overlap
    with start_sandbox(SandboxConfig(page_kb=4, faults=faults)) as sb:

        def get(_: int) -> int:
            return requests.get(sb.api_base + "/", timeout=10).status_code

        with ThreadPoolExecutor(6) as pool:
            assert list(pool.map(get, range(6))) == [200] * 6
        c = sb.counters()
        assert c["peak_in_flight"] == 6
        assert c["peak_requests_1s"] == 6
        assert c["in_flight"] == 0
        assert c["faults"]["latency"] == 6
        sb.set_faults(FaultConfig())
        sb.reset_counters()
        with requests.Session() as s:
            t0 = time.monotonic()
            for _ in range(10):
                s.get(sb.store_base + "/robots.txt")
            fast = time.monotonic() - t0 < 0.9
        if fast:  # ten quick requests all fall within one second
            assert sb.counters()["peak_requests_1s"] == 10
        assert sb.counters()["peak_in_flight"] == 1
