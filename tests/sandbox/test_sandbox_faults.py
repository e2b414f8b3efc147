"""Every fault is observed through its effect on the wire and in the counters."""

from __future__ import annotations

import http.client
import json
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import requests

from custom_wheel_offset.errors import ConfigError
from custom_wheel_offset.sandbox import FaultConfig, SandboxConfig, start_sandbox
from custom_wheel_offset.sandbox.server import RunningSandbox

PAGE = "/store/wheels?year=2024&make=Honda&model=Civic&trim=LX&drive=FWD"


@contextmanager
def faulty(seed: int = 1, **faults: Any) -> Iterator[RunningSandbox]:
    config = SandboxConfig(size="tiny", seed=seed, page_kb=8, faults=FaultConfig(**faults))
    with start_sandbox(config) as sb:
        yield sb


def raw_get(sb: RunningSandbox, path: str) -> tuple[int, dict[str, str], bytes, int | None]:
    """(status, headers, body as received, declared Content-Length) over a fresh connection."""
    conn = http.client.HTTPConnection(sb.host, sb.port, timeout=10)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        declared = int(resp.headers["Content-Length"])
        try:
            body = resp.read()
        except http.client.IncompleteRead as exc:
            body = exc.partial
        return resp.status, dict(resp.headers), body, declared
    finally:
        conn.close()


def test_fault_config_is_checked() -> None:
    with pytest.raises(ConfigError):
        FaultConfig(error_rate=1.5)
    with pytest.raises(ConfigError):
        FaultConfig(latency_ms=-1)
    assert not FaultConfig().active and FaultConfig(max_rps=3).active


def test_latency() -> None:
    with faulty(latency_ms=150) as sb, requests.Session() as s:
        t0 = time.monotonic()
        for _ in range(3):
            assert s.get(sb.api_base + "/").status_code == 200
        assert time.monotonic() - t0 >= 3 * 0.14
        c = sb.counters()
        assert c["faults"]["latency"] == 3
        assert c["served_ok"]["years"] == 3  # a slow answer is still a good one


def test_jitter() -> None:
    with faulty(jitter_ms=300) as sb, requests.Session() as s:
        times = []
        for _ in range(8):
            t0 = time.monotonic()
            s.get(sb.api_base + "/")
            times.append(time.monotonic() - t0)
        assert max(times) < 0.3 + 1.0
        assert max(times) - min(times) > 0.03  # uniform in [0, 300 ms]: they differ
        assert sb.counters()["faults"]["latency"] == 8


def test_error_rate() -> None:
    with faulty(error_rate=1.0) as sb, requests.Session() as s:
        statuses = {s.get(sb.api_base + "/").status_code for _ in range(30)}
        assert statuses <= {500, 502, 503, 504} and len(statuses) >= 2
        c = sb.counters()
        assert c["faults"]["error_5xx"] == 30
        assert sum(c["statuses"].values()) == 30 and "200" not in c["statuses"]
        assert c["served_ok"]["years"] == 0
    with faulty(error_rate=0.3) as sb, requests.Session() as s:
        codes = [s.get(sb.api_base + "/").status_code for _ in range(40)]
        assert 200 in codes and any(code >= 500 for code in codes)
        assert sb.counters()["faults"]["error_5xx"] == sum(code >= 500 for code in codes)


def test_rate_429_with_retry_after() -> None:
    with faulty(rate_429=1.0, retry_after=7) as sb, requests.Session() as s:
        r = s.get(sb.api_base + "/2024")
        assert r.status_code == 429 and r.headers["Retry-After"] == "7"
        c = sb.counters()
        assert c["faults"]["rate_429"] == 1 and c["statuses"] == {"429": 1}


def test_hold_outlasts_a_client_timeout_then_answers_correctly() -> None:
    with faulty() as clean, requests.Session() as s:
        expected = s.get(clean.api_base + "/2024").content
    with faulty(hold_rate=1.0, hold_seconds=1.0) as sb, requests.Session() as s:
        t0 = time.monotonic()
        with pytest.raises(requests.Timeout):
            s.get(sb.api_base + "/2024", timeout=0.3)
        assert time.monotonic() - t0 < 0.9
        t0 = time.monotonic()
        r = s.get(sb.api_base + "/2024", timeout=10)
        assert time.monotonic() - t0 >= 0.9
        assert r.status_code == 200 and r.content == expected
        c = sb.counters()
        assert c["faults"]["held"] == 2
        assert c["served_ok"]["makes"] == 0  # held answers are fault answers


def test_reset_closes_with_rst_and_no_response() -> None:
    with faulty(reset_rate=1.0) as sb:
        with pytest.raises(requests.ConnectionError):
            requests.get(sb.api_base + "/", timeout=5)
        sock = socket.create_connection((sb.host, sb.port), timeout=5)
        sock.sendall(b"GET /fitment/vehicle/co/ HTTP/1.1\r\nHost: x\r\n\r\n")
        with pytest.raises(ConnectionResetError):
            data = sock.recv(1024)
            assert data == b"", data  # only reached if the close was not a reset
            raise AssertionError("connection closed without a reset")
        sock.close()
        c = sb.counters()
        assert c["faults"]["reset"] == 2 and c["statuses"] == {}


def test_truncation_both_ways_and_the_body_is_never_complete() -> None:
    with faulty(truncate_rate=1.0) as sb:
        short_length = kept_length = 0
        for _ in range(16):
            status, _headers, body, declared = raw_get(sb, PAGE)
            assert status == 200
            assert b"</html>" not in body
            if declared == len(body):
                short_length += 1  # Content-Length of the cut body
            else:
                assert declared is not None and len(body) < declared
                kept_length += 1  # full Content-Length, body cut, connection closed
        assert short_length and kept_length
        for path in [
            "/fitment/vehicle/co/",
            "/fitment/vehicle/co/2024",
            "/fitment/vehicle/co/2024/Honda/Civic",
        ]:
            for _ in range(4):
                _, _, body, _ = raw_get(sb, path)
                with pytest.raises(ValueError):
                    json.loads(body.decode("utf-8"))
        c = sb.counters()
        assert c["faults"]["truncated"] == 16 + 12
        assert c["served_ok"]["fitment"] == 0
        # robots.txt and 404 answers are not cut
        assert raw_get(sb, "/robots.txt")[2] == b"User-agent: *\nAllow: /\n"
        status, _, body, declared = raw_get(sb, "/fitment/vehicle/co/1999")
        assert status == 404 and declared == len(body) and json.loads(body)


def test_challenge_rate_hits_store_pages_only() -> None:
    with faulty(challenge_rate=1.0) as sb, requests.Session() as s:
        statuses = set()
        for _ in range(15):
            r = s.get(sb.store_base + PAGE)
            assert "<title>Human Verification</title>" in r.text
            assert "store-ymm-fitrange" not in r.text
            statuses.add(r.status_code)
        assert statuses <= {200, 202, 405} and len(statuses) >= 2
        select = s.get(sb.store_base + "/api/ymm-temp.php?type=set&getRubbing=true")
        assert "<title>Human Verification</title>" in select.text
        assert s.get(sb.api_base + "/").status_code == 200
        c = sb.counters()
        assert c["faults"]["challenge"] == 16
        assert c["served_ok"]["years"] == 1 and c["served_ok"]["fitment"] == 0


def test_challenge_window_opens_and_closes() -> None:
    with faulty() as sb, requests.Session() as s:
        assert "Human Verification" not in s.get(sb.store_base + PAGE).text
        sb.set_faults(FaultConfig(challenge_after=0.0, challenge_for=1.5))
        assert "<title>Human Verification</title>" in s.get(sb.store_base + PAGE).text
        assert s.get(sb.api_base + "/").status_code == 200  # the API is not challenged
        time.sleep(1.7)
        assert "Human Verification" not in s.get(sb.store_base + PAGE).text
        assert sb.counters()["faults"]["challenge_window"] == 1
        sb.set_faults(FaultConfig(challenge_after=1.5, challenge_for=30))
        assert "Human Verification" not in s.get(sb.store_base + PAGE).text
        time.sleep(1.7)
        assert "<title>Human Verification</title>" in s.get(sb.store_base + PAGE).text
        assert sb.counters()["faults"]["challenge_window"] == 2


def test_max_rps_answers_429_above_the_limit() -> None:
    with faulty(max_rps=5) as sb, requests.Session() as s:
        t0 = time.monotonic()
        codes = [s.get(sb.api_base + "/").status_code for _ in range(15)]
        quick = time.monotonic() - t0 < 0.9
        last = s.get(sb.store_base + "/robots.txt")
        if quick:
            assert codes[:5] == [200] * 5 and codes[5:] == [429] * 10
            assert last.status_code == 429 and last.headers["Retry-After"] == "1"
        assert codes.count(200) >= 5 and 429 in codes
        assert sb.counters()["faults"]["server_rate_limit"] == codes.count(429) + (
            last.status_code == 429
        )
        time.sleep(1.1)
        assert s.get(sb.api_base + "/").status_code == 200


def test_counters_endpoints_are_never_faulted() -> None:
    with faulty(error_rate=1.0, reset_rate=1.0, latency_ms=300, max_rps=1) as sb:
        t0 = time.monotonic()
        for _ in range(3):
            r = requests.get(sb.counters_url, timeout=5)
            assert r.status_code == 200 and r.json()["total_requests"] == 0
        assert requests.post(sb.store_base + "/__sandbox__/reset", timeout=5).status_code == 200
        assert time.monotonic() - t0 < 0.3 * 4


def test_faults_are_deterministic_in_request_order() -> None:
    def run(seed: int) -> list[int]:
        with faulty(seed=seed, error_rate=0.3, rate_429=0.2) as sb, requests.Session() as s:
            return [s.get(sb.api_base + "/").status_code for _ in range(40)]

    first = run(3)
    assert first == run(3)
    assert first != run(4)


# -- the fitment API's Forbidden (site-protocol.md section 5) -------------------------------------

FORBIDDEN = b'{"message":"Forbidden"}'


def test_forbidden_config_is_checked() -> None:
    with pytest.raises(ConfigError):
        FaultConfig(forbidden_rate=1.5)
    with pytest.raises(ConfigError):
        FaultConfig(forbidden_after=-1)
    with pytest.raises(ConfigError):
        FaultConfig(forbidden_for=-1)
    assert FaultConfig(forbidden_rate=0.1).active and FaultConfig(forbidden_after=0).active


def test_p_forbidden_answers_the_api_403_and_never_the_store() -> None:
    with faulty(forbidden_rate=1.0) as sb:
        for path in ("/fitment/vehicle/co/", "/fitment/vehicle/co/2024/Honda"):
            status, headers, body, _ = raw_get(sb, path)
            assert (status, body) == (403, FORBIDDEN), (path, status, body)
            assert headers["Content-Type"] == "application/json"
        assert raw_get(sb, PAGE)[0] == 200
        assert raw_get(sb, "/robots.txt")[0] == 200
        assert raw_get(sb, "/api/ymm-temp.php?type=set&getRubbing=true")[0] == 403  # no cookie
        c = sb.counters()
    assert c["faults"]["forbidden"] == 2 and c["faults"]["forbidden_window"] == 0
    assert c["statuses"]["403"] == 3 and c["served_ok"]["fitment"] == 1
    assert "years" not in c["served_ok"] or c["served_ok"]["years"] == 0


def test_p_forbidden_is_seeded_and_leaves_other_fault_draws_alone() -> None:
    def run(seed: int, **faults: Any) -> list[int]:
        with faulty(seed=seed, **faults) as sb, requests.Session() as s:
            return [s.get(sb.api_base + "/").status_code for _ in range(60)]

    first = run(3, forbidden_rate=0.3, error_rate=0.2)
    assert first == run(3, forbidden_rate=0.3, error_rate=0.2)
    assert first != run(4, forbidden_rate=0.3, error_rate=0.2)
    assert 403 in first and 200 in first
    # Forbidden has a draw of its own: where it does not strike, the 5xx answers are unchanged
    errors_only = run(3, error_rate=0.2)
    assert all(f == e for f, e in zip(first, errors_only, strict=True) if f != 403)


def test_forbidden_window_after_n_api_requests() -> None:
    with faulty(forbidden_after=3, forbidden_for=3600) as sb, requests.Session() as s:
        api = [s.get(sb.api_base + "/").status_code for _ in range(3)]
        assert api == [200, 200, 200]
        assert s.get(sb.store_base + PAGE).status_code == 200  # store requests do not count
        refused = [s.get(sb.api_base + "/2024") for _ in range(4)]
        assert [r.status_code for r in refused] == [403] * 4
        assert all(r.content == FORBIDDEN for r in refused)
        assert s.get(sb.store_base + PAGE).status_code == 200  # nor are they refused
        assert sb.counters()["faults"]["forbidden_window"] == 4
        sb.set_faults(FaultConfig())  # the site lets us in again
        assert s.get(sb.api_base + "/2024").status_code == 200


def test_forbidden_window_closes_after_its_seconds() -> None:
    with faulty(forbidden_after=0, forbidden_for=0.3) as sb, requests.Session() as s:
        assert s.get(sb.api_base + "/").status_code == 403
        time.sleep(0.5)
        assert [s.get(sb.api_base + "/").status_code for _ in range(3)] == [200] * 3
        assert sb.counters()["faults"]["forbidden_window"] == 1


def test_forbidden_draws_do_not_depend_on_store_requests_in_between() -> None:
    def run(store_between: bool) -> list[int]:
        with faulty(seed=3, forbidden_rate=0.2) as sb, requests.Session() as s:
            codes = []
            for _ in range(40):
                if store_between:
                    assert s.get(sb.store_base + PAGE).status_code == 200
                codes.append(s.get(sb.api_base + "/").status_code)
            return codes

    alone = run(False)
    assert 403 in alone and alone == run(True)
