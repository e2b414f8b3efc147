"""The parts of one GET on their own: cookies.SessionPool, proxies.ProxyChooser, sender.Sender."""

from __future__ import annotations

import http.cookiejar
import threading

import pytest

from custom_wheel_offset.errors import ConfigError, PermanentFetchError, TransientFetchError
from custom_wheel_offset.net.cookies import COOKIE_HEADER_PATHS, SessionPool
from custom_wheel_offset.net.proxies import ProxyChooser
from custom_wheel_offset.net.sender import Sender
from custom_wheel_offset.net.transport import Proxy, Transport
from custom_wheel_offset.redact import Scrubber

from .helpers import Reply, ScriptedServer


def _jar(value: str, path: str = "/", name: str = "consent") -> http.cookiejar.CookieJar:
    jar = http.cookiejar.CookieJar()
    jar.set_cookie(
        http.cookiejar.Cookie(
            0, name, value, None, False, "127.0.0.1", False, False, path, True,
            False, None, True, None, None, {},
        )
    )  # fmt: skip
    return jar


# -- SessionPool ----------------------------------------------------------------------------


def test_one_session_per_thread_until_closed() -> None:
    pool = SessionPool("cwo/test")
    main = pool.session()
    assert pool.session() is main and main.headers["User-Agent"] == "cwo/test"
    other: list[object] = []
    thread = threading.Thread(target=lambda: other.append(pool.session()))
    thread.start()
    thread.join()
    assert other[0] is not main
    assert pool.stats() == {"sessions_created": 2, "sessions_open": 2}
    pool.close()
    assert pool.stats()["sessions_open"] == 0 and pool.session() is not main


def test_each_session_gets_its_own_copy_of_the_users_cookies() -> None:
    pool = SessionPool("cwo/test", _jar("yes-please"))
    first = pool.session()
    headers = pool.headers(first, "http://127.0.0.1/x")
    assert headers["Cookie"] == "consent=yes-please"
    first.cookies.set("consent", "changed", domain="127.0.0.1", path="/")
    second: list[str] = []
    thread = threading.Thread(
        target=lambda: second.append(pool.headers(pool.session(), "http://127.0.0.1/x")["Cookie"])
    )
    thread.start()
    thread.join()
    assert second == ["consent=yes-please"]


def test_headers_are_remembered_per_path_and_extra_headers_and_stay_bounded() -> None:
    # A cookie scoped to a path: the Cookie header may differ from path to path.
    pool = SessionPool("cwo/test", _jar("1", path="/a"))
    session = pool.session()
    plain = pool.headers(session, "http://127.0.0.1/a?x=1")
    assert pool.headers(session, "http://127.0.0.1/a?x=2") is plain  # the query plays no part
    assert plain["Cookie"] == "consent=1"
    assert "Cookie" not in pool.headers(session, "http://127.0.0.1/b")
    extra = pool.headers(session, "http://127.0.0.1/a", {"X-Requested-With": "XMLHttpRequest"})
    assert extra is not plain and extra["X-Requested-With"] == "XMLHttpRequest"
    assert "X-Requested-With" not in plain
    for i in range(COOKIE_HEADER_PATHS + 5):
        pool.headers(session, f"http://127.0.0.1/api/{i}")
    assert 1 < len(pool.remembered(session)) <= COOKIE_HEADER_PATHS


def test_with_only_root_path_cookies_one_entry_serves_every_path_of_a_host() -> None:
    """The store's session cookie has path "/": API paths (one per vehicle) share one entry."""
    pool = SessionPool("cwo/test", _jar("1"))
    session = pool.session()
    first = pool.headers(session, "http://127.0.0.1/api/2024/Make/Model1")
    assert pool.headers(session, "http://127.0.0.1/api/2024/Make/Model2") is first
    assert first["Cookie"] == "consent=1"
    other_host = pool.headers(session, "http://127.0.0.2/api/2024/Make/Model1")
    assert "Cookie" not in other_host  # the cookie's domain is 127.0.0.1
    extra = pool.headers(session, "http://127.0.0.1/x", {"Referer": "http://127.0.0.1/"})
    assert extra is not first and extra["Referer"] == "http://127.0.0.1/"
    assert len(pool.remembered(session)) == 3


def test_a_cookie_with_a_path_makes_headers_path_specific_again(
    server: ScriptedServer, transport: Transport
) -> None:
    pool = SessionPool("cwo/test", _jar("1"))
    session = pool.session()
    assert pool.headers(session, server.url("/api/x"))["Cookie"] == "consent=1"
    server.route("/api/x", Reply(headers={"Set-Cookie": "scoped=2; Path=/api"}))
    with transport.get(server.url("/api/x"), {}) as resp:
        pool.store_cookies(session, resp, server.url("/api/x"))
    assert pool.headers(session, server.url("/api/y"))["Cookie"] == "scoped=2; consent=1"
    assert pool.headers(session, server.url("/store"))["Cookie"] == "consent=1"


def test_a_cookie_set_by_an_answer_is_sent_next(
    server: ScriptedServer, transport: Transport
) -> None:
    pool = SessionPool("cwo/test")
    session = pool.session()
    before = pool.headers(session, server.url("/x"))
    server.route("/x", Reply(headers={"Set-Cookie": "PHPSESSID=abc; Path=/"}))
    with transport.get(server.url("/x"), before) as resp:
        pool.store_cookies(session, resp, server.url("/x"))
    assert "Cookie" not in before
    assert pool.headers(session, server.url("/x"))["Cookie"] == "PHPSESSID=abc"


# -- ProxyChooser ---------------------------------------------------------------------------


def test_an_unusable_proxy_option_is_a_configuration_error() -> None:
    with pytest.raises(ConfigError, match=r"--proxy socks5://u:\*\*\*@h:1"):
        ProxyChooser("socks5://u:secret@h:1")


def test_the_proxy_option_applies_to_every_url() -> None:
    chooser = ProxyChooser("http://u:pw@proxy.example:3128")
    proxy = chooser("http://a.example/x")
    assert proxy is not None and proxy.host == "proxy.example" and proxy.authorization
    assert chooser("https://b.example/") == proxy


def test_environment_proxies_per_origin_with_no_proxy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://envproxy.example:8080")
    monkeypatch.setenv("NO_PROXY", "direct.example")
    chooser = ProxyChooser(None)
    assert chooser("http://a.example/x") == Proxy("envproxy.example", 8080, None)
    assert chooser("http://direct.example/x") is None
    assert chooser("https://a.example/x") is None  # no HTTPS_PROXY


def test_an_unusable_environment_proxy_fails_the_request(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", "socks5://envproxy.example:1080")
    with pytest.raises(PermanentFetchError) as caught:
        ProxyChooser(None)("http://a.example/x")
    assert caught.value.code == "proxy"


def test_no_proxy_without_option_or_environment() -> None:
    assert ProxyChooser(None)("http://a.example/x") is None


# -- Sender ---------------------------------------------------------------------------------


def _sender(transport: Transport) -> Sender:
    return Sender(transport, SessionPool("cwo/test"), ProxyChooser(None), Scrubber())


def test_the_sender_quotes_what_needs_it_and_carries_headers(
    server: ScriptedServer, transport: Transport
) -> None:
    server.route("/a%20b", Reply(body=b"spaced"))
    sender = _sender(transport)
    with sender.send(server.url("/a b"), {"Referer": "http://r/"}) as resp:
        assert resp.status_code == 200
    seen = server.requests_to("/a%20b")[0].headers
    assert seen["Referer"] == "http://r/" and seen["User-Agent"] == "cwo/test"
    assert sender.stats()["connections_opened"] == 1


def test_transport_faults_arrive_as_cwo_errors_without_secrets(
    server: ScriptedServer, transport: Transport
) -> None:
    server.route("/reset", Reply(reset=True))
    with pytest.raises(TransientFetchError) as caught:
        _sender(transport).send(server.url("/reset"))
    assert caught.value.retry_reason == "connection"
    with pytest.raises(PermanentFetchError) as bad:
        _sender(transport).send("http://127.0.0.1:99999/x")
    assert bad.value.code == "invalid_url"
