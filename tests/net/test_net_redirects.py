"""net/redirects.py: the one notion of a host, and which redirects are followed."""

from __future__ import annotations

import logging

import pytest

from custom_wheel_offset.errors import PermanentFetchError
from custom_wheel_offset.metrics.counters import Counters
from custom_wheel_offset.net.redirects import (
    SameSiteRedirects,
    as_host_key,
    host_key,
    redirect_target,
    same_site_redirect,
)
from custom_wheel_offset.net.transport import Transport

from .helpers import Reply, ScriptedServer


def test_host_key() -> None:
    assert host_key("https://www.CustomWheelOffset.com/store") == "www.customwheeloffset.com"
    assert host_key("https://www.customwheeloffset.com:443/") == "www.customwheeloffset.com"
    assert host_key("http://127.0.0.1:8765/x") == "127.0.0.1:8765"
    assert host_key("http://user:pw@h.example:81/") == "h.example:81"
    assert host_key("http://[::1]:9000/") == "[::1]:9000"
    assert host_key("http://h.example:notaport/") == "h.example"


def test_as_host_key_takes_a_url_or_a_key() -> None:
    assert as_host_key("http://127.0.0.1:8765/store/wheels?x=1") == "127.0.0.1:8765"
    assert as_host_key("WWW.Example.com") == "www.example.com"


@pytest.mark.parametrize(
    ("current", "target", "followed"),
    [
        ("https://h.example/a", "https://h.example/b?x=1", True),  # same origin
        ("http://h.example/a", "https://h.example/a", True),  # upgrade, port 80 -> 443
        ("http://customwheeloffset.com/", "https://www.customwheeloffset.com/", True),
        ("https://www.h.example/", "https://h.example/", True),  # www dropped
        ("http://h.example:8080/", "http://www.h.example:8080/", True),
        ("https://h.example/a", "http://h.example/a", False),  # downgrade
        ("http://h.example:8080/", "http://h.example:8081/", False),  # another port
        ("https://h.example/", "https://evil.example/", False),  # another host
        ("https://h.example/", "https://sub.h.example/", False),  # a subdomain is another host
    ],
)
def test_same_site_redirect_rules(current: str, target: str, followed: bool) -> None:
    assert same_site_redirect(current, target) is followed


def _redirect(server: ScriptedServer, transport: Transport, location: str) -> str:
    server.route("/r", Reply(302, b"", headers={"Location": location}))
    with transport.get(server.url("/r"), {}) as resp:
        return redirect_target(server.url("/r"), resp)


def test_the_target_is_absolute_decoded_and_quoted(
    server: ScriptedServer, transport: Transport
) -> None:
    assert _redirect(server, transport, "/b?x=1") == server.url("/b?x=1")
    # A UTF-8 Location arrives as latin-1 text from http.client: decoded, then quoted.
    utf8 = "/caf\u00e9 x".encode().decode("latin-1")
    assert _redirect(server, transport, utf8) == server.url("/caf%C3%A9%20x")


@pytest.mark.parametrize("location", ["http://[::1/x", "/\u00ff\u00fe"])
def test_a_bad_location_is_a_permanent_fault(
    server: ScriptedServer, transport: Transport, location: str
) -> None:
    with pytest.raises(PermanentFetchError) as caught:
        _redirect(server, transport, location)
    assert caught.value.code == "invalid_header" and caught.value.status == 302


def test_next_hop_refuses_another_site_and_warns_once_per_moved_host(
    server: ScriptedServer, transport: Transport, caplog: pytest.LogCaptureFixture
) -> None:
    counters = Counters()
    redirects = SameSiteRedirects(counters)
    server.route("/away", Reply(302, b"", headers={"Location": "http://elsewhere.example/"}))
    with transport.get(server.url("/away"), {}) as resp, pytest.raises(PermanentFetchError) as no:
        redirects.next_hop(server.url("/start"), server.url("/away"), resp)
    assert no.value.code == "redirect_refused" and no.value.url == server.url("/start")
    server.route("/same", Reply(302, b"", headers={"Location": "/there"}))
    with transport.get(server.url("/same"), {}) as resp:
        assert redirects.next_hop(server.url("/same"), server.url("/same"), resp).endswith("/there")
    assert counters.get("redirects/same_site_hosts") == 0  # same origin: no move
    with caplog.at_level(logging.WARNING, logger="custom_wheel_offset.net.redirects"):
        assert redirects.note_moved("http://h.example/a", "https://www.h.example/a")
        assert not redirects.note_moved("http://h.example/b", "https://www.h.example/b")
    assert counters.get("redirects/same_site_hosts") == 1
    assert len(caplog.records) == 1 and "https://www.h.example" in caplog.text


@pytest.mark.parametrize(
    "url",
    [
        "https://www.CustomWheelOffset.com/store/wheels?year=2020&make=Ford",
        "http://h.example?x=1",
        "http://h.example#frag",
        "http://h.example",
        "http://user:p/w@h.example:81/x",
        "http://user:p?w@h.example:81/x",
        "http://[::1]:9000?x",
        "http://h.example:notaport/x",
        "HTTPS://H.EXAMPLE:443/x",
        "h.example/x",
        "",
    ],
)
def test_host_key_of_a_url_is_that_of_the_whole_url_split(url: str) -> None:
    """host_key looks up only the scheme and authority: the same answer as splitting it all."""
    from custom_wheel_offset.net.redirects import _host_key

    assert host_key(url) == _host_key(url)
