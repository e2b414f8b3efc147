"""Live-site shapes of the protocol notes' section 5, and hostile headers, over real HTTP.

The fitment API's refusal (``{"message":"Forbidden"}``), same-site redirects
(http->https, apex<->www), the headers the store's own page sends, and
malformed ``Location`` / ``Content-Length`` headers. Each is served by the
scripted loopback server; where it matters, both routes of the one transport
are exercised: straight to the server, and through a forward proxy (set in
settings, played by the scripted server, which then sees absolute URLs).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from custom_wheel_offset.crawl.items import ItemHandler
from custom_wheel_offset.errors import ChallengeError, PermanentFetchError, TransientFetchError
from custom_wheel_offset.metrics.counters import Counters
from custom_wheel_offset.net.challenge import ChallengeGate
from custom_wheel_offset.net.redirects import same_site_redirect
from custom_wheel_offset.protocol import urls
from custom_wheel_offset.storage.frontier import ItemFilter, WorkItem

from .helpers import Reply, ScriptedServer

FORBIDDEN = b'{"message":"Forbidden"}'
UPSTREAM = "http://upstream.example"


@pytest.fixture
def other() -> Iterator[ScriptedServer]:
    srv = ScriptedServer()
    try:
        yield srv
    finally:
        srv.close()


@pytest.fixture(params=["direct", "requests"])
def path_kind(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Which route a test takes; for "requests" (a proxy) the server plays the proxy."""
    if request.param == "requests":
        monkeypatch.delenv("NO_PROXY", raising=False)
    return str(request.param)


def _target(server: ScriptedServer, path_kind: str, path: str) -> tuple[str, str]:
    """(URL to request, route the server sees) on the chosen transport."""
    if path_kind == "direct":
        return server.url(path), path
    return UPSTREAM + path, UPSTREAM + path


def _manager(make_manager: Any, server: ScriptedServer, path_kind: str, **kw: Any) -> Any:
    if path_kind == "requests":
        kw["proxy"] = server.url("")
    return make_manager(**kw)


# -- the fitment API's refusal ------------------------------------------------------------


@pytest.mark.parametrize("status", [401, 403])
@pytest.mark.parametrize(
    "body", [FORBIDDEN, b' { "message" : "Forbidden" }\n', b'{"code":1,"message":"forbidden"}']
)
def test_refusal_with_401_or_403_pauses_that_host_and_the_other_goes_on(
    status: int,
    body: bytes,
    server: ScriptedServer,
    other: ScriptedServer,
    make_manager: Any,
    counters: Counters,
) -> None:
    server.route("/api/2024/Acme", Reply(status, body))
    server.route("/api/2024", Reply(body=b'["Acme"]'))
    other.route("/store/wheels", Reply(body=b"<html>page</html>"))
    mgr = make_manager(max_attempts=4)
    with pytest.raises(ChallengeError, match=rf"{server.host} answered HTTP {status}") as caught:
        mgr.get(server.url("/api/2024/Acme"), kind="models")
    assert caught.value.url == server.url("/api/2024/Acme")
    assert server.count("/api/2024/Acme") == 1  # not retried here: the item is deferred
    assert counters.get("blocked/models") == 1
    assert counters.get("errors/models/ChallengeError") == 1
    assert mgr.is_paused(server.url("/api")) and not mgr.is_paused(other.url("/store"))
    # Nothing more is sent to the refusing host, whatever the path ...
    with pytest.raises(ChallengeError, match="paused"):
        mgr.get(server.url("/api/2024"), kind="makes")
    assert server.count("/api/2024") == 0
    # ... while the other host is served as before.
    assert mgr.get(other.url("/store/wheels")) == b"<html>page</html>"
    host, seconds, reason = mgr.longest_block()
    assert host == server.host and seconds >= 0.0
    assert reason == f'the refusal {{"message":"Forbidden"}} (HTTP {status})'


def test_refusal_pause_grows_and_a_real_answer_ends_the_block(
    server: ScriptedServer, make_manager: Any
) -> None:
    server.route("/api/", Reply(403, FORBIDDEN), Reply(403, FORBIDDEN), Reply(body=b"[2024]"))
    gate = ChallengeGate(first_pause=0.05, max_pause=1.0)
    mgr = make_manager(gate=gate)
    pauses = []
    for _ in range(2):
        with pytest.raises(ChallengeError):
            mgr.get(server.url("/api/"), kind="years")
        pauses.append(gate.remaining(server.host))
        time.sleep(gate.remaining(server.host) + 0.01)
    assert pauses[1] > pauses[0]  # 0.05 s, then 0.1 s
    assert mgr.get(server.url("/api/"), kind="years") == b"[2024]"
    assert mgr.longest_block() is None


@pytest.mark.parametrize("status", [200, 500])
def test_refusal_body_with_another_status_is_retried_and_never_data(
    status: int, server: ScriptedServer, make_manager: Any, counters: Counters, path_kind: str
) -> None:
    url, route = _target(server, path_kind, "/api/2024")
    server.route(route, Reply(status, FORBIDDEN))
    mgr = _manager(make_manager, server, path_kind, max_attempts=3)
    with pytest.raises(TransientFetchError, match="gave up after 3 attempts") as caught:
        mgr.get(url, kind="makes")
    assert "refusal body" in str(caught.value) and "not data" in str(caught.value)
    assert server.count(route) == 3
    assert counters.get("forbidden_body/makes") == 3
    assert counters.get("retry_reason/forbidden_body") == 2
    assert not mgr.is_paused(url)


def test_refusal_body_then_data_succeeds(server: ScriptedServer, make_manager: Any) -> None:
    server.route("/api/2024", Reply(200, FORBIDDEN), Reply(body=b'["Acme"]'))
    assert make_manager().get(server.url("/api/2024"), kind="makes") == b'["Acme"]'


# -- same-site redirects ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("current", "target", "same"),
    [
        ("http://customwheeloffset.com/x", "https://www.customwheeloffset.com/", True),
        ("https://customwheeloffset.com/x", "https://www.customwheeloffset.com/x", True),
        ("https://www.customwheeloffset.com/x", "https://customwheeloffset.com/x", True),
        ("http://www.customwheeloffset.com/x", "https://www.customwheeloffset.com/x", True),
        ("http://h.example:8080/x", "https://h.example:8443/x", True),  # an upgrade may move port
        ("https://h.example/a", "https://h.example/b", True),
        ("https://www.customwheeloffset.com/x", "http://www.customwheeloffset.com/x", False),
        ("https://customwheeloffset.com/x", "https://shop.customwheeloffset.com/x", False),
        ("https://customwheeloffset.com/x", "https://www.www.customwheeloffset.com/x", False),
        ("https://customwheeloffset.com/x", "https://evil.example/x", False),
        ("https://customwheeloffset.com/x", "https://customwheeloffset.com.evil.example/", False),
        ("http://h.example:8080/x", "http://h.example:8081/x", False),
        ("http://h.example/x", "ftp://h.example/x", False),
    ],
)
def test_same_site_redirect_rule(current: str, target: str, same: bool) -> None:
    assert same_site_redirect(current, target) is same


def test_http_to_https_redirect_is_followed_and_warned_about_once(
    server: ScriptedServer,
    tls_server: ScriptedServer,
    trusted_bundle: Path,
    make_manager: Any,
    counters: Counters,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Bracketed names are not plain URLs: those hops are quoted first.
    for path in ("/a", "/b[1]", "/b%5B1%5D"):
        server.route(path, Reply(302, b"", headers={"Location": tls_server.url(path)}))
        tls_server.route(path, Reply(body=b"secure"))
    mgr = make_manager()
    with caplog.at_level(logging.WARNING, logger="custom_wheel_offset.net.redirects"):
        for path in ("/a", "/a", "/b[1]"):
            assert mgr.get(server.url(path), kind="vehicle") == b"secure"
    assert tls_server.count("/a") == 2
    assert tls_server.count("/b[1]") + tls_server.count("/b%5B1%5D") == 1
    warnings = [r.getMessage() for r in caplog.records if "redirects to" in r.getMessage()]
    assert len(warnings) == 1, warnings
    assert (
        f"change the base URL (--api-base/--store-base) to https://{tls_server.host}"
        in (warnings[0])
    )
    assert counters.get("redirects/same_site_hosts") == 1
    stats = mgr.stats()
    assert stats["connections_opened"] == 2  # one per origin, kept alive across the hops


def test_https_to_http_redirect_is_refused(
    server: ScriptedServer, tls_server: ScriptedServer, trusted_bundle: Path, make_manager: Any
) -> None:
    tls_server.route("/a", Reply(302, b"", headers={"Location": server.url("/a")}))
    server.route("/a", Reply(body=b"plain"))
    with pytest.raises(PermanentFetchError, match="to another host"):
        make_manager().get(tls_server.url("/a"))
    assert server.count("/a") == 0


def test_apex_to_www_redirect_is_followed_through_a_proxy(
    server: ScriptedServer,
    make_manager: Any,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Names, not addresses: through a proxy (the scripted server) no DNS is needed."""
    monkeypatch.delenv("NO_PROXY", raising=False)
    apex, www = "http://customwheeloffset.example", "http://www.customwheeloffset.example"
    server.route(f"{apex}/store/wheels", Reply(302, b"", headers={"Location": f"{www}/s"}))
    server.route(f"{www}/s", Reply(body=b"page"))
    server.route(f"{www}/back", Reply(302, b"", headers={"Location": f"{apex}/t"}))
    server.route(f"{apex}/t", Reply(body=b"apex"))
    server.route(f"{apex}/away", Reply(302, b"", headers={"Location": "http://other.example/"}))
    mgr = make_manager(proxy=server.url(""))
    with caplog.at_level(logging.WARNING, logger="custom_wheel_offset.net.redirects"):
        assert mgr.get(f"{apex}/store/wheels") == b"page"
        assert mgr.get(f"{www}/back") == b"apex"
    assert sum("redirects to" in r.getMessage() for r in caplog.records) == 2  # one per host
    with pytest.raises(PermanentFetchError, match="another host"):
        mgr.get(f"{apex}/away")
    assert server.count("http://other.example/") == 0


def test_redirect_hops_are_still_capped(server: ScriptedServer, make_manager: Any) -> None:
    server.route("/loop", Reply(302, b"", headers={"Location": "/loop"}))
    with pytest.raises(PermanentFetchError, match="more than 5 redirects"):
        make_manager().get(server.url("/loop"))


# -- malformed headers --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "status", "reason"),
    [
        ({"Location": "/caf\xe9-\xff\xfe"}, 302, "invalid (Location )?header.*UnicodeDecodeError"),
        ({"Location": "http://[::1/x"}, 302, "invalid (Location )?header.*Invalid IPv6 URL"),
        ({"Location": "http://[::1/x"}, 301, "invalid (Location )?header"),
        ({"Content-Length": "\xb2"}, 200, "invalid Content-Length header '\\\\xb2'"),
        ({"Content-Length": "12abc"}, 200, "invalid Content-Length header"),
    ],
)
def test_malformed_headers_fail_that_request_permanently(
    headers: dict[str, str],
    status: int,
    reason: str,
    server: ScriptedServer,
    make_manager: Any,
    counters: Counters,
    path_kind: str,
) -> None:
    url, route = _target(server, path_kind, "/bad")
    good_url, good_route = _target(server, path_kind, "/good")
    # Content-Length is sent as given: the body then ends where the server closes.
    server.route(route, Reply(status, b"body", headers=headers, close_after=True))
    server.route(good_route, Reply(body=b"fine"))
    mgr = _manager(make_manager, server, path_kind, max_attempts=3)
    with pytest.raises(PermanentFetchError, match=reason):
        mgr.get(url, kind="vehicle")
    assert server.count(route) == 1  # permanent: not retried
    assert counters.get("errors/vehicle/PermanentFetchError") == 1
    # The manager (and its connections) go on working.
    assert mgr.get(good_url) == b"fine"


def test_a_utf8_location_is_still_followed(server: ScriptedServer, make_manager: Any) -> None:
    server.route("/a", Reply(302, b"", headers={"Location": "/caf\xc3\xa9"}))  # "café" as UTF-8
    server.route("/caf%C3%A9", Reply(body=b"ok"))
    assert make_manager().get(server.url("/a")) == b"ok"


# -- request headers ----------------------------------------------------------------------


def test_request_headers_reach_the_server_and_the_cache_keeps_them_apart(
    server: ScriptedServer, make_manager: Any, path_kind: str
) -> None:
    url, route = _target(server, path_kind, "/store/api/ymm-temp.php")
    server.route(route, Reply(body=b"[]", headers={"Set-Cookie": "PHPSESSID=s1; Path=/"}))
    xhr = {"X-Requested-With": "XMLHttpRequest", "Referer": "https://store.example/store/wheels"}
    mgr = _manager(make_manager, server, path_kind)
    mgr.get(f"{url}?type=set", kind="select", headers=xhr)
    mgr.get(f"{url}?getRubbing=true", kind="rubbing", headers=xhr)
    mgr.get(f"{url}?plain=1", kind="fitment")  # same path, no extra headers
    seen = [s.headers for s in server.seen]
    assert [h.get("X-Requested-With") for h in seen] == ["XMLHttpRequest", "XMLHttpRequest", None]
    assert [h.get("Referer") for h in seen] == [xhr["Referer"], xhr["Referer"], None]
    assert all(h["User-Agent"].startswith("cwo") for h in seen)  # cwo's own, never disguised
    assert "Cookie" not in seen[0] and seen[1]["Cookie"] == seen[2]["Cookie"] == "PHPSESSID=s1"


def _options_item(server: ScriptedServer) -> WorkItem:
    return WorkItem(
        id=1,
        key="options/Car",
        kind="options",
        params={
            "vehicle_type": "Car",
            "vehicle": [2024, "Acme", "Roadster", "Base", "RWD"],
            "chassis_id": None,
        },
        attempts=0,
    )


def test_the_worker_sends_the_site_s_headers_per_request_kind(
    server: ScriptedServer, make_manager: Any, make_settings: Any, counters: Counters
) -> None:
    """ItemHandler -> network -> real HTTP: ymm-temp.php as an XHR, the API with a Referer."""
    server.route("/store/api/ymm-temp.php", Reply(body=b'["Stock"]'))
    server.route("/api/", Reply(body=b"[2024]"))
    settings = make_settings()
    handler = ItemHandler(settings, make_manager(), counters, ItemFilter())
    assert handler.handle(_options_item(server)).status == "done"
    assert handler.handle(WorkItem(2, "years", "years", {}, 0)).status == "done"
    store = settings.store_base.rstrip("/")
    ymm = server.requests_to("/store/api/ymm-temp.php")
    ymm += [s for s in server.seen if s.path.startswith("/store/api/ymm-temp.php?")]
    assert len(ymm) == 4  # select and the three option lists
    for seen in ymm:
        assert seen.headers["X-Requested-With"] == "XMLHttpRequest"
        assert seen.headers["Referer"] == f"{store}/store/wheels"
    (years,) = server.requests_to("/api/")
    assert years.headers["Referer"] == f"{store}/"
    assert "X-Requested-With" not in years.headers
    assert urls.request_headers("fitment", store) == {}
