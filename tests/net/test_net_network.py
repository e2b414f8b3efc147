"""OptimizedNetworkManager against the scripted local server, over real HTTP."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests

from custom_wheel_offset.errors import (
    ChallengeError,
    ParseError,
    PermanentFetchError,
    RateLimitedError,
    RunInterrupted,
    TransientFetchError,
    TruncatedBodyError,
)
from custom_wheel_offset.metrics.counters import Counters
from custom_wheel_offset.net.challenge import ChallengeGate
from custom_wheel_offset.net.cookies import COOKIE_HEADER_PATHS
from custom_wheel_offset.net.responses import parse_retry_after
from custom_wheel_offset.settings import Settings

from .helpers import Reply, ScriptedServer

CHALLENGE = (
    b"<!DOCTYPE html><html><head><title>Human Verification</title></head>"
    b"<body>Please verify you are a human</body></html>"
)

MakeSettings = Callable[..., Settings]


# -- plain success ------------------------------------------------------------------------


def test_get_returns_body_and_sends_user_agent_and_gzip(
    server: ScriptedServer, make_manager: Any, counters: Counters
) -> None:
    server.route("/api/2024", Reply(body=b'["Ford","Audi"]'))
    mgr = make_manager(user_agent="")
    assert mgr.get(server.url("/api/2024"), kind="makes") == b'["Ford","Audi"]'
    seen = server.requests_to("/api/2024")[0]
    assert seen.headers["User-Agent"].startswith("cwo/")
    assert seen.headers["Accept-Encoding"] == "gzip"
    assert counters.get("requests/makes") == 1
    assert counters.get("responses/200") == 1
    assert counters.get("bytes_received") == len(b'["Ford","Audi"]')


def test_custom_user_agent(server: ScriptedServer, make_manager: Any) -> None:
    server.route("/x", Reply())
    make_manager(user_agent="my-shop-bot/2 (ops@example.com)").get(server.url("/x"))
    assert server.requests_to("/x")[0].headers["User-Agent"] == "my-shop-bot/2 (ops@example.com)"


def test_gzip_body_is_decoded(server: ScriptedServer, make_manager: Any) -> None:
    server.route("/x", Reply(body=b"hello " * 1000, gzip=True))
    assert make_manager().get(server.url("/x")) == b"hello " * 1000


def test_non_utf8_body_is_returned_verbatim(server: ScriptedServer, make_manager: Any) -> None:
    body = "Citroën Québec".encode("latin-1") + b"\xff\xfe\x00"
    server.route("/x", Reply(body=body, headers={"Content-Type": "text/html; charset=utf-8"}))
    assert make_manager().get(server.url("/x")) == body


def test_parse_result_is_returned(server: ScriptedServer, make_manager: Any) -> None:
    server.route("/api/", Reply(body=b'["2024", 2023]'))
    assert make_manager().get(server.url("/api/"), kind="years", parse=json.loads) == ["2024", 2023]


def test_the_tracker_times_each_request(server: ScriptedServer, make_manager: Any) -> None:
    from custom_wheel_offset.metrics.tracker import MetricTracker

    tracker = MetricTracker()
    server.route("/x", Reply(503), Reply(body=b"ok"))
    make_manager(tracker=tracker).get(server.url("/x"), kind="vehicle")
    stats = tracker.operations()["vehicle"]
    assert (stats["count"], stats["errors"]) == (2, 1)
    assert stats["min"] >= 0


# -- retries ------------------------------------------------------------------------------

TRANSIENT_FAULTS = {
    "500": (Reply(500), "http_5xx"),
    "502": (Reply(502), "http_5xx"),
    "503": (Reply(503), "http_5xx"),
    "504": (Reply(504), "http_5xx"),
    "reset": (Reply(reset=True), "connection"),
    "truncated": (Reply(body=b"x" * 5000, truncate_to=100), "truncated"),
    "read_timeout": (Reply(delay=0.8), "timeout"),
    "bad_gzip": (Reply(bad_gzip=True), "decoding"),
}


@pytest.mark.parametrize("fault", sorted(TRANSIENT_FAULTS))
def test_transient_fault_is_retried_then_succeeds(
    fault: str, server: ScriptedServer, make_manager: Any, counters: Counters
) -> None:
    reply, reason = TRANSIENT_FAULTS[fault]
    server.route("/f", reply, reply, Reply(body=b"good"))
    assert make_manager(max_attempts=3).get(server.url("/f"), kind="fitment") == b"good"
    assert server.count("/f") == 3
    assert counters.get("requests/fitment") == 3
    assert counters.get("retries/fitment") == 2
    assert counters.get(f"retry_reason/{reason}") == 2


def test_exhausted_retries_raise_last_error_with_attempt_count(
    server: ScriptedServer, make_manager: Any, counters: Counters
) -> None:
    server.route("/f", Reply(502), Reply(503))
    with pytest.raises(TransientFetchError) as info:
        make_manager(max_attempts=3).get(server.url("/f"), kind="fitment")
    assert type(info.value) is TransientFetchError  # ours, not tenacity.RetryError
    assert "3 attempts" in str(info.value) and "HTTP 503" in str(info.value)
    assert info.value.status == 503
    assert server.count("/f") == 3
    assert counters.get("errors/fitment/TransientFetchError") == 1
    assert counters.get("responses/502") == 1 and counters.get("responses/503") == 2


def test_single_attempt_setting_does_not_retry(server: ScriptedServer, make_manager: Any) -> None:
    server.route("/f", Reply(503))
    with pytest.raises(TransientFetchError, match="1 attempt"):
        make_manager(max_attempts=1).get(server.url("/f"))
    assert server.count("/f") == 1


@pytest.mark.parametrize("status", [400, 403, 404, 410, 501])
def test_permanent_status_is_not_retried(
    status: int, server: ScriptedServer, make_manager: Any, counters: Counters
) -> None:
    server.route("/gone", Reply(status, b"no"))
    with pytest.raises(PermanentFetchError) as info:
        make_manager(max_attempts=5).get(server.url("/gone"), kind="vehicle")
    assert info.value.status == status
    assert server.count("/gone") == 1
    assert counters.get("retries/vehicle") == 0
    assert counters.get("errors/vehicle/PermanentFetchError") == 1


def test_connection_refused_is_transient(make_manager: Any) -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(TransientFetchError, match="connection failed"):
        make_manager(max_attempts=2).get(f"http://127.0.0.1:{port}/x")


def test_429_retry_after_is_honoured(
    server: ScriptedServer, make_manager: Any, counters: Counters
) -> None:
    server.route("/f", Reply(429, headers={"Retry-After": "1"}), Reply(body=b"ok"))
    mgr = make_manager(max_attempts=3, rate=20.0)
    started = time.monotonic()
    assert mgr.get(server.url("/f")) == b"ok"
    assert time.monotonic() - started >= 1.0  # a lower bound only
    assert server.count("/f") == 2
    assert counters.get("retry_reason/http_429") == 1
    host = mgr.limiter.stats()[server.host]
    assert host["rate_limited"] == 1 and host["cuts"] == 1


def test_429_pauses_the_whole_host(server: ScriptedServer, make_manager: Any) -> None:
    """A 429 seen by one thread holds back another thread's request to the same host."""
    server.route("/a", Reply(429, headers={"Retry-After": "1"}), Reply(body=b"a"))
    server.route("/b", Reply(body=b"b"))
    mgr = make_manager(max_attempts=3, rate=20.0)
    first = threading.Thread(target=mgr.get, args=(server.url("/a"),))
    first.start()
    while server.count("/a") == 0:
        time.sleep(0.01)
    time.sleep(0.1)  # the 429 has been classified by now
    assert mgr.get(server.url("/b")) == b"b"
    first.join()
    first_429 = server.requests_to("/a")[0].at
    assert server.requests_to("/b")[0].at - first_429 >= 0.9


def test_429_exhausted_raises_rate_limited_with_retry_after(
    server: ScriptedServer, make_manager: Any
) -> None:
    server.route("/f", Reply(429, headers={"Retry-After": "0"}))
    with pytest.raises(RateLimitedError) as info:
        make_manager(max_attempts=2, rate=20.0).get(server.url("/f"))
    assert info.value.retry_after == 0.0 and info.value.status == 429
    assert "2 attempts" in str(info.value)


def test_parse_truncated_is_retried(
    server: ScriptedServer, make_manager: Any, counters: Counters
) -> None:
    server.route(
        "/v", Reply(body=b'{"boltpattern": "5x1'), Reply(body=b'{"boltpattern": "5x114.3"}')
    )

    def parse(body: bytes) -> dict[str, str]:
        try:
            return json.loads(body)  # type: ignore[no-any-return]
        except json.JSONDecodeError:
            raise TruncatedBodyError("JSON ends early") from None

    result = make_manager().get(server.url("/v"), kind="vehicle", parse=parse)
    assert result == {"boltpattern": "5x114.3"}
    assert server.count("/v") == 2
    assert counters.get("retry_reason/truncated") == 1


def test_other_parse_error_propagates_without_retry(
    server: ScriptedServer, make_manager: Any, counters: Counters
) -> None:
    server.route("/v", Reply(body=b"<html>not json</html>"))

    def parse(body: bytes) -> None:
        raise ParseError("not a vehicle object")

    with pytest.raises(ParseError, match="not a vehicle object"):
        make_manager().get(server.url("/v"), kind="vehicle", parse=parse)
    assert server.count("/v") == 1
    assert counters.get("errors/vehicle/ParseError") == 1


# -- size cap -----------------------------------------------------------------------------


def test_declared_content_length_over_cap_fails_without_reading(
    server: ScriptedServer, make_manager: Any
) -> None:
    server.route("/big", Reply(body=b"x" * 100_000))
    server.route("/small", Reply())
    mgr = make_manager(max_body_bytes=65536)
    with pytest.raises(PermanentFetchError, match="larger than 65536 bytes"):
        mgr.get(server.url("/big"))
    assert server.count("/big") == 1
    # The unread body is not left on a pooled connection: the next request opens a new one.
    mgr.get(server.url("/small"))
    assert server.requests_to("/small")[0].client_port != server.requests_to("/big")[0].client_port


def test_streamed_body_over_cap_fails_and_closes(
    server: ScriptedServer, make_manager: Any, counters: Counters
) -> None:
    server.route("/huge", Reply(stream_bytes=50 * 1024 * 1024))
    started = time.monotonic()
    with pytest.raises(PermanentFetchError, match="larger than 65536 bytes"):
        make_manager(max_body_bytes=65536).get(server.url("/huge"))
    assert time.monotonic() - started < 5  # stopped reading, did not take 50 MiB
    assert server.count("/huge") == 1
    assert counters.get("bytes_received") <= 65536 + 65536


# -- redirects ----------------------------------------------------------------------------


def test_same_host_redirect_is_followed(
    server: ScriptedServer, make_manager: Any, counters: Counters
) -> None:
    server.route("/a", Reply(302, b"", headers={"Location": "/b"}))
    server.route("/b", Reply(301, b"moved", headers={"Location": server.url("/c")}))
    server.route("/c", Reply(body=b"final"))
    assert make_manager().get(server.url("/a"), kind="models") == b"final"
    assert counters.get("requests/models") == 3
    assert [server.count(p) for p in ("/a", "/b", "/c")] == [1, 1, 1]


def test_cross_host_redirect_is_refused(server: ScriptedServer, make_manager: Any) -> None:
    elsewhere = f"http://localhost:{server.port}/b"  # another host name, same socket
    server.route("/a", Reply(302, b"", headers={"Location": elsewhere}))
    with pytest.raises(PermanentFetchError, match=r"another host \(http://localhost:"):
        make_manager().get(server.url("/a"))
    assert server.count("/a") == 1 and server.count("/b") == 0


def test_redirect_loop_gives_up(server: ScriptedServer, make_manager: Any) -> None:
    server.route("/loop", Reply(302, b"", headers={"Location": "/loop"}))
    with pytest.raises(PermanentFetchError, match="more than 5 redirects"):
        make_manager().get(server.url("/loop"))
    assert server.count("/loop") == 6


# -- challenges ---------------------------------------------------------------------------


@pytest.mark.parametrize("status", [200, 202, 405])
def test_challenge_raises_and_pauses_the_host(
    status: int, server: ScriptedServer, make_manager: Any, counters: Counters
) -> None:
    server.route("/store/wheels", Reply(status, CHALLENGE))
    server.route("/store/other", Reply(body=b"data"))
    mgr = make_manager(max_attempts=4)
    with pytest.raises(ChallengeError, match="Human Verification"):
        mgr.get(server.url("/store/wheels?year=2020"), kind="fitment")
    assert server.count() == 1  # not retried here: the processor defers the item
    assert counters.get("challenges/fitment") == 1
    assert mgr.gate.is_paused(server.host)
    # The processor asks with the store base URL (or a host key).
    assert mgr.is_paused(server.url("")) and mgr.is_paused(server.host)
    until = mgr.paused_until(server.url("/store"))
    assert until is not None and time.time() + 3 < until <= time.time() + 5.5  # wall clock
    assert mgr.blocked_for(server.url("")) >= 0.0
    assert not mgr.is_paused("http://elsewhere.example") and mgr.paused_until("x.example") is None
    # While paused, nothing is sent to that host, whatever the path.
    with pytest.raises(ChallengeError, match="paused"):
        mgr.get(server.url("/store/other"), kind="options")
    assert server.count() == 1
    assert counters.get("challenge_paused/options") == 1
    assert counters.get("errors/fitment/ChallengeError") == 1


def test_success_after_pause_resets_the_gate(server: ScriptedServer, make_manager: Any) -> None:
    server.route("/s", Reply(200, CHALLENGE), Reply(body=b"data"))
    mgr = make_manager(gate=ChallengeGate(first_pause=0.05, max_pause=0.1))
    with pytest.raises(ChallengeError):
        mgr.get(server.url("/s"))
    time.sleep(0.06)
    assert mgr.get(server.url("/s")) == b"data"
    assert mgr.blocked_for(server.url("/s")) == 0.0


# -- sessions, cookies, proxies -----------------------------------------------------------


def test_sessions_are_per_thread_and_reused(server: ScriptedServer, make_manager: Any) -> None:
    server.route("/x", Reply())
    mgr = make_manager()
    main = mgr.session()
    mgr.get(server.url("/x"))
    assert mgr.session() is main
    per_thread: dict[str, list[int]] = {}

    def worker(name: str) -> None:
        ids = [id(mgr.session())]
        mgr.get(server.url("/x"))
        ids.append(id(mgr.session()))
        per_thread[name] = ids

    threads = [threading.Thread(target=worker, args=(f"t{i}",)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for ids in per_thread.values():
        assert ids[0] == ids[1]  # reused within a thread
    assert len({ids[0] for ids in per_thread.values()} | {id(main)}) == 4  # distinct
    stats = mgr.stats()
    assert stats["sessions_created"] == 4 and stats["sessions_open"] == 4
    mgr.close()
    assert mgr.stats()["sessions_open"] == 0
    assert mgr.session() is not main  # a fresh one after close


def test_each_thread_keeps_its_own_php_session(server: ScriptedServer, make_manager: Any) -> None:
    """Select-then-ask: the cookie a thread's select call set comes back on its next call."""
    for n in range(3):
        server.route(
            f"/store/api/ymm-temp.php?type=set&vehicle={n}",
            Reply(body=b"", headers={"Set-Cookie": f"PHPSESSID=sess{n}; Path=/"}),
        )
    server.route("/store/api/ymm-temp.php", Reply(body=b"[]"))
    mgr = make_manager()
    barrier = threading.Barrier(3)
    cookies: dict[int, str] = {}
    lock = threading.Lock()

    def worker(n: int) -> None:
        mgr.get(server.url(f"/store/api/ymm-temp.php?type=set&vehicle={n}"), kind="select")
        barrier.wait()  # all three have selected before anyone asks
        mgr.get(server.url(f"/store/api/ymm-temp.php?getSuspension=true&w={n}"), kind="options")
        seen = server.requests_to(f"/store/api/ymm-temp.php?getSuspension=true&w={n}")
        with lock:
            cookies[n] = seen[0].headers.get("Cookie", "")

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert cookies == {n: f"PHPSESSID=sess{n}" for n in range(3)}


def test_keep_alive_reuses_the_connection(server: ScriptedServer, make_manager: Any) -> None:
    server.route("/x", Reply())
    mgr = make_manager()
    for _ in range(3):
        mgr.get(server.url("/x"))
    assert len({s.client_port for s in server.requests_to("/x")}) == 1


def test_cookies_from_file_are_sent(
    server: ScriptedServer, make_manager: Any, tmp_path: Path
) -> None:
    jar = tmp_path / "cookies.txt"
    jar.write_text(
        "# Netscape HTTP Cookie File\n"
        f"127.0.0.1\tFALSE\t/\tFALSE\t0\tcf_clearance\tvalue-{server.port}\n"
        "other.example\tFALSE\t/\tFALSE\t0\tforeign\tnope\n"
    )
    server.route("/x", Reply())
    mgr = make_manager(cookies=str(jar))
    mgr.get(server.url("/x"))
    seen: list[str] = []
    thread = threading.Thread(target=lambda: seen.append(mgr.get(server.url("/x")).decode()))
    thread.start()
    thread.join()
    headers = [s.headers.get("Cookie") for s in server.requests_to("/x")]
    assert headers == [f"cf_clearance=value-{server.port}"] * 2  # every thread's session


def test_secrets_never_appear_in_errors(
    server: ScriptedServer,
    make_manager: Any,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import socket

    monkeypatch.delenv("NO_PROXY", raising=False)
    cookie_secret = "cookie-secret-9f8e7d"
    jar = tmp_path / "cookies.txt"
    jar.write_text(f"127.0.0.1\tFALSE\t/\tFALSE\t0\tsid\t{cookie_secret}\n")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = s.getsockname()[1]
    proxy = f"http://alice:proxy-pass-1234@127.0.0.1:{dead}"
    mgr = make_manager(proxy=proxy, cookies=str(jar), max_attempts=2)
    with pytest.raises(TransientFetchError) as info:
        mgr.get(server.url("/x?token=1"))
    texts = [str(info.value), repr(info.value), str(info.value.url)]
    cause: BaseException | None = info.value.__cause__
    while cause is not None:
        texts.append(str(cause))
        cause = cause.__cause__
    for text in texts:
        assert "proxy-pass-1234" not in text
        assert cookie_secret not in text
    # An HTTP error with the cookie sent: still no value in the message.
    direct = make_manager(cookies=str(jar))
    server.route("/denied", Reply(403, f"your cookie {cookie_secret} is bad".encode()))
    with pytest.raises(PermanentFetchError) as denied:
        direct.get(server.url("/denied"))
    assert cookie_secret not in str(denied.value)
    assert server.requests_to("/denied")[0].headers["Cookie"] == f"sid={cookie_secret}"


def test_proxy_is_used(server: ScriptedServer, make_manager: Any, monkeypatch: Any) -> None:
    """A forward proxy receives the absolute URL (the test server plays the proxy)."""
    monkeypatch.delenv("NO_PROXY", raising=False)
    server.route("http://upstream.example/x", Reply(body=b"via proxy"))
    mgr = make_manager(proxy=server.url(""))
    assert mgr.get("http://upstream.example/x") == b"via proxy"


# -- robots.txt ---------------------------------------------------------------------------


def test_robots_disallow_and_fetched_once(
    server: ScriptedServer, make_manager: Any, counters: Counters
) -> None:
    server.route("/robots.txt", Reply(body=b"User-agent: *\nDisallow: /private\n"))
    server.route("/public", Reply(body=b"ok"))
    server.route("/private/x", Reply(body=b"secret"))
    mgr = make_manager(obey_robots=True)
    assert mgr.get(server.url("/public")) == b"ok"
    with pytest.raises(PermanentFetchError, match=r"robots\.txt") as info:
        mgr.get(server.url("/private/x"))
    assert info.value.hint and "--ignore-robots" in info.value.hint
    assert mgr.get(server.url("/public")) == b"ok"
    assert server.count("/robots.txt") == 1
    assert server.count("/private/x") == 0
    assert counters.get("requests/robots") == 1 and counters.get("robots/disallowed") == 1
    assert mgr.stats()["robots"] == {server.host: "rules"}


def test_robots_not_fetched_when_ignored(server: ScriptedServer, make_manager: Any) -> None:
    server.route("/robots.txt", Reply(body=b"User-agent: *\nDisallow: /\n"))
    server.route("/x", Reply())
    make_manager(obey_robots=False).get(server.url("/x"))
    assert server.count("/robots.txt") == 0


def test_robots_404_allows_everything(server: ScriptedServer, make_manager: Any) -> None:
    server.route("/x", Reply())
    assert make_manager(obey_robots=True).get(server.url("/x")) == b"ok"
    assert server.count("/robots.txt") == 1


def test_robots_5xx_disallows_for_now(
    server: ScriptedServer, make_manager: Any, counters: Counters
) -> None:
    server.route("/robots.txt", Reply(503))
    server.route("/x", Reply())
    with pytest.raises(TransientFetchError, match=r"robots\.txt .* could not be read"):
        make_manager(obey_robots=True, max_attempts=2).get(server.url("/x"))
    assert server.count("/x") == 0
    assert server.count("/robots.txt") == 2  # tried again before concluding
    assert counters.get("retry_reason/robots_unreachable") == 2


def test_robots_flaky_5xx_is_tried_again(server: ScriptedServer, make_manager: Any) -> None:
    server.route("/robots.txt", Reply(503), Reply(reset=True), Reply(body=b"User-agent: *\n"))
    server.route("/x", Reply())
    assert make_manager(obey_robots=True, max_attempts=3).get(server.url("/x")) == b"ok"
    assert server.count("/robots.txt") == 3


def test_robots_crawl_delay_caps_the_host_rate(server: ScriptedServer, make_manager: Any) -> None:
    server.route("/robots.txt", Reply(body=b"User-agent: *\nCrawl-delay: 0.25\n"))
    server.route("/x", Reply())
    mgr = make_manager(obey_robots=True)
    mgr.get(server.url("/x"))
    assert mgr.limiter.current_rate(server.host) == 4.0


# -- stopping -----------------------------------------------------------------------------


def test_stop_wakes_a_thread_in_backoff(server: ScriptedServer, make_manager: Any) -> None:
    server.route("/f", Reply(429, headers={"Retry-After": "30"}))
    mgr = make_manager(max_attempts=3)
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            mgr.get(server.url("/f"))
        except RunInterrupted as exc:
            errors.append(exc)

    thread = threading.Thread(target=worker)
    started = time.monotonic()
    thread.start()
    time.sleep(0.3)
    mgr.stop()
    thread.join(5)
    assert not thread.is_alive() and len(errors) == 1
    assert time.monotonic() - started < 5
    with pytest.raises(RunInterrupted):
        mgr.get(server.url("/f"))


# -- helpers ------------------------------------------------------------------------------


def test_parse_retry_after() -> None:
    assert parse_retry_after("120") == 120.0
    assert parse_retry_after(" 1.5 ") == 1.5
    assert parse_retry_after("99999") == 600.0  # capped
    assert parse_retry_after("-5") == 0.0
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    now = 1_700_000_000.0
    date = "Tue, 14 Nov 2023 22:13:50 GMT"  # now + 30 s
    assert parse_retry_after(date, now=lambda: now) == pytest.approx(30.0)
    assert parse_retry_after("Tue, 14 Nov 2023 22:00:00 GMT", now=lambda: now) == 0.0


def test_the_session_holds_cookies_and_headers_only(make_manager: Any) -> None:
    """Sessions are requests' cookie jar and default headers; they never send anything."""
    session = make_manager().session()
    assert isinstance(session, requests.Session)
    assert session.headers["Accept-Encoding"] == "gzip"
    assert "cwo" in session.headers["User-Agent"]


# -- the one transport (net/transport.py) ---------------------------------------------------


def test_gets_share_one_kept_alive_connection_and_carry_the_cookies(
    server: ScriptedServer, make_manager: Any
) -> None:
    server.route("/x", Reply(body=b"a" * 5000, headers={"Set-Cookie": "PHPSESSID=abc; Path=/"}))
    mgr = make_manager()
    for _ in range(4):
        assert mgr.get(server.url("/x")) == b"a" * 5000
    assert mgr.stats()["connections_opened"] == 1
    seen = server.requests_to("/x")
    assert len({s.client_port for s in seen}) == 1
    assert "Cookie" not in seen[0].headers and seen[1].headers["Cookie"] == "PHPSESSID=abc"


def test_a_url_that_needs_encoding_is_quoted_and_sent_on_the_same_transport(
    server: ScriptedServer, make_manager: Any
) -> None:
    server.route("/x%20y", Reply(body=b"spaced"))
    server.route("/z", Reply(body=b"plain"))
    mgr = make_manager()
    assert mgr.get(server.url("/x y")) == b"spaced"
    assert mgr.get(server.url("/z")) == b"plain"
    assert mgr.stats()["connections_opened"] == 1


def test_a_proxy_variable_exempted_by_no_proxy_sends_directly(
    server: ScriptedServer, make_manager: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")  # nothing listens on port 9
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    server.route("/x", Reply())
    mgr = make_manager(max_attempts=1)
    assert mgr.get(server.url("/x")) == b"ok"
    assert mgr.stats()["connections_opened"] == 1


def test_a_proxy_variable_routes_requests_through_that_proxy(
    server: ScriptedServer, make_manager: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The test server plays the proxy: it receives the absolute URL."""
    monkeypatch.setenv("HTTP_PROXY", server.url("").rstrip("/"))
    server.route("http://upstream.example/x", Reply(body=b"via env proxy"))
    mgr = make_manager(obey_robots=False)
    assert mgr.get("http://upstream.example/x") == b"via env proxy"
    assert server.count("http://upstream.example/x") == 1


def test_a_connection_the_server_closed_while_idle_is_replaced(
    server: ScriptedServer, make_manager: Any
) -> None:
    server.route("/close", Reply(body=b"bye", headers={"Connection": "close"}))
    server.route("/x", Reply())
    mgr = make_manager()
    assert mgr.get(server.url("/close")) == b"bye"
    assert mgr.get(server.url("/x")) == b"ok"
    assert mgr.get(server.url("/x")) == b"ok"
    assert mgr.stats()["connections_opened"] == 2
    ports = [s.client_port for s in server.requests_to("/x")]
    assert ports[0] == ports[1] != server.requests_to("/close")[0].client_port


def test_a_body_left_unread_does_not_poison_the_next_request(
    server: ScriptedServer, make_manager: Any
) -> None:
    """Over the body cap the rest of the body is never read: that connection must go."""
    server.route("/big", Reply(body=b"z" * (200 * 1024)))
    server.route("/x", Reply(body=b"small"))
    mgr = make_manager(max_attempts=1)
    with pytest.raises(PermanentFetchError):
        mgr.get(server.url("/big"))
    assert mgr.get(server.url("/x")) == b"small"
    assert mgr.stats()["connections_opened"] == 2


def test_remembered_cookie_headers_stay_bounded_over_many_paths(
    server: ScriptedServer, make_manager: Any
) -> None:
    """API paths name the vehicle: a header remembered per path must not pile up."""
    paths = [f"/api/2024/Make/Model{i}/Trim/FWD" for i in range(COOKIE_HEADER_PATHS + 8)]
    for path in paths:
        server.route(path, Reply(body=b"{}"))
    mgr = make_manager()
    for path in paths:
        assert mgr.get(server.url(path)) == b"{}"
    remembered = mgr._sender.sessions.remembered(mgr.session())  # this thread's headers
    assert 0 < len(remembered) <= COOKIE_HEADER_PATHS
