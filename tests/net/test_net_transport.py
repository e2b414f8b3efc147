"""The one transport (net/transport.py): deadlines, HTTPS, real proxies, stale connections.

Over real sockets against the scripted server (HTTP and, with a trustme
certificate authority, HTTPS). Timeouts are asserted through what the
manager counts (retry reasons, connections opened), never through the clock.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from custom_wheel_offset.errors import PermanentFetchError, TransientFetchError
from custom_wheel_offset.metrics.counters import Counters
from custom_wheel_offset.net import transport
from proxy_helper import LocalProxy

from .helpers import Reply, ScriptedServer


def _watchdogs() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "cwo-watchdog" and t.is_alive()]


# -- deadlines ------------------------------------------------------------------------------


def test_a_body_that_stalls_past_the_read_timeout_is_a_timeout_and_is_retried(
    server: ScriptedServer, make_manager: Any, counters: Counters
) -> None:
    stalled = Reply(body=b"a" * 5000, pieces=(100, 3.0))  # 100 bytes, then 3 s of silence
    server.route("/f", stalled, Reply(body=b"good"))
    mgr = make_manager(read_timeout=0.4)
    assert mgr.get(server.url("/f"), kind="fitment") == b"good"
    assert counters.get("retry_reason/timeout") == 1
    assert counters.get("retry_reason/truncated") == 0  # the cut is ours: reported as a timeout
    stats = mgr.stats()
    assert stats["connections_opened"] == 2  # the stalled connection was not reused
    assert stats["deadline_timeouts"] == 1


def test_headers_that_never_come_are_a_timeout_with_its_own_message(
    server: ScriptedServer, make_manager: Any, counters: Counters
) -> None:
    server.route("/f", Reply(delay=3.0))
    with pytest.raises(TransientFetchError) as info:
        make_manager(max_attempts=1, read_timeout=0.4).get(server.url("/f"))
    assert "timed out reading" in str(info.value)
    assert "read timeout (0.4 s)" in str(info.value)
    assert counters.get("errors/fitment/TransientFetchError") == 1


def test_a_large_body_that_keeps_coming_is_not_cut_by_the_read_timeout(
    server: ScriptedServer, make_manager: Any, counters: Counters
) -> None:
    """Over ONE_READ_BYTES the read timeout is per 64 KB chunk: three pieces 0.5 s
    apart pass a 1 s read timeout although the body takes longer than that
    (the total timeout, 120 s by default, is far away)."""
    piece = transport.ONE_READ_BYTES // 2
    body = bytes(range(256)) * (3 * piece // 256)
    server.route("/slow", Reply(body=body, pieces=(piece, 0.5)))
    mgr = make_manager(read_timeout=1.0, max_body_bytes=len(body))
    assert mgr.get(server.url("/slow")) == body
    assert counters.get("retries/fitment") == 0


def test_a_page_sized_body_is_read_whole_within_one_timeout(
    server: ScriptedServer, make_manager: Any, counters: Counters
) -> None:
    """Up to ONE_READ_BYTES the body is one read: two halves 1.5 s apart overrun 1 s."""
    body = b"p" * (100 * 1024)
    server.route("/page", Reply(body=body, pieces=(len(body) // 2, 1.5)), Reply(body=b"good"))
    mgr = make_manager(read_timeout=1.0, max_body_bytes=len(body))
    assert mgr.get(server.url("/page")) == b"good"
    assert counters.get("retry_reason/timeout") == 1


def test_the_watchdog_thread_ends_when_the_manager_closes(
    server: ScriptedServer, make_manager: Any
) -> None:
    server.route("/x", Reply())
    before = len(_watchdogs())
    mgr = make_manager()
    assert mgr.get(server.url("/x")) == b"ok"
    assert len(_watchdogs()) == before + 1
    mgr.close()
    assert len(_watchdogs()) == before


def test_an_idle_connection_the_server_hung_up_is_replaced_before_use(
    server: ScriptedServer, make_manager: Any, counters: Counters, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No "Connection: close" header: only the check before reuse can see the hang-up."""
    monkeypatch.setattr(transport, "STALE_CHECK_AFTER", 0.0)
    server.route("/bye", Reply(body=b"bye", close_after=True))
    server.route("/x", Reply())
    mgr = make_manager(max_attempts=1)
    assert mgr.get(server.url("/bye")) == b"bye"
    server.wait_for_hang_up()
    assert mgr.get(server.url("/x")) == b"ok"
    assert mgr.stats()["connections_opened"] == 2
    assert counters.get("retries/fitment") == 0
    assert server.count("/x") == 1


def test_a_hang_up_within_the_unchecked_second_is_a_retried_connection_fault(
    server: ScriptedServer, make_manager: Any, counters: Counters, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Reused at once, the connection is not checked: the attempt fails and is
    retried like any connection fault (counted, never resent behind the counters)."""
    monkeypatch.setattr(transport, "STALE_CHECK_AFTER", 3600.0)
    server.route("/bye", Reply(body=b"bye", close_after=True))
    server.route("/x", Reply())
    mgr = make_manager(max_attempts=2)
    assert mgr.get(server.url("/bye")) == b"bye"
    server.wait_for_hang_up()
    assert mgr.get(server.url("/x")) == b"ok"
    assert counters.get("retry_reason/connection") == 1
    assert server.count("/x") == 1  # the failed attempt never reached the server


# -- HTTPS --------------------------------------------------------------------------------


def test_https_verifies_against_the_ca_bundle(
    tls_server: ScriptedServer, make_manager: Any, trusted_bundle: Path
) -> None:
    tls_server.route("/x", Reply(body=b"secret" * 1000))
    mgr = make_manager()
    for _ in range(3):
        assert mgr.get(tls_server.url("/x")) == b"secret" * 1000
    assert mgr.stats()["connections_opened"] == 1


def test_https_with_an_untrusted_certificate_fails_permanently(
    tls_server: ScriptedServer, make_manager: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    tls_server.route("/x", Reply())
    with pytest.raises(PermanentFetchError, match="not trusted"):
        make_manager(max_attempts=3).get(tls_server.url("/x"))
    assert tls_server.count("/x") == 0


def test_https_stall_is_a_timeout_and_the_retry_succeeds(
    tls_server: ScriptedServer, make_manager: Any, trusted_bundle: Path, counters: Counters
) -> None:
    tls_server.route("/f", Reply(body=b"b" * 5000, pieces=(100, 3.0)), Reply(body=b"good"))
    assert make_manager(read_timeout=0.4).get(tls_server.url("/f"), kind="fitment") == b"good"
    assert counters.get("retry_reason/timeout") == 1


# -- the total timeout ---------------------------------------------------------------------


def _trickle(server: ScriptedServer) -> bytes:
    """A body over ONE_READ_BYTES whose 64 KB pieces each come well within the read
    timeout, but which takes about 2.4 s in all."""
    body = b"t" * (8 * 64 * 1024)
    server.route("/trickle", Reply(body=body, pieces=(64 * 1024, 0.3)), Reply(body=b"good"))
    return body


def test_a_trickling_body_is_cut_at_the_total_timeout(
    server: ScriptedServer, make_manager: Any, counters: Counters
) -> None:
    body = _trickle(server)
    mgr = make_manager(read_timeout=1.0, total_timeout=1.0, max_body_bytes=len(body))
    assert mgr.get(server.url("/trickle")) == b"good"
    assert counters.get("retry_reason/timeout") == 1
    assert mgr.stats()["deadline_timeouts"] == 1


@pytest.mark.parametrize(
    ("pieces", "read_timeout", "total_timeout", "expected"),
    [
        pytest.param((2048, 0.3), 5.0, 1.0, r"total timeout \(1 s\)", id="trickle"),
        pytest.param((100, 3.0), 0.5, 10.0, r"read timeout \(0.5 s\)", id="stall"),
    ],
)
def test_deadlines_hold_for_an_answer_that_says_connection_close(
    server: ScriptedServer,
    make_manager: Any,
    pieces: tuple[int, float],
    read_timeout: float,
    total_timeout: float,
    expected: str,
) -> None:
    """http.client hands the socket of a ``Connection: close`` answer to the response and
    forgets it; the watchdog must still reach it (it once could not: no deadline at all)."""
    body = b"c" * (64 * 1024)  # 10 s to send as a trickle, or 30 minutes as a stall
    server.route("/close", Reply(body=body, headers={"Connection": "close"}, pieces=pieces))
    mgr = make_manager(max_attempts=1, read_timeout=read_timeout, total_timeout=total_timeout)
    with pytest.raises(TransientFetchError, match=expected):
        mgr.get(server.url("/close"))
    assert mgr.stats()["deadline_timeouts"] == 1


def test_the_total_timeout_is_named_in_the_error(server: ScriptedServer, make_manager: Any) -> None:
    body = _trickle(server)
    mgr = make_manager(
        max_attempts=1, read_timeout=1.0, total_timeout=1.0, max_body_bytes=len(body)
    )
    with pytest.raises(TransientFetchError, match=r"total timeout \(1 s\)"):
        mgr.get(server.url("/trickle"))


# -- through a real proxy ------------------------------------------------------------------


def test_a_trickling_body_through_a_real_proxy_is_cut_at_the_total_timeout(
    server: ScriptedServer, make_manager: Any, counters: Counters, local_proxy: LocalProxy,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.delenv("NO_PROXY")
    body = _trickle(server)
    mgr = make_manager(
        proxy=local_proxy.url(), read_timeout=1.0, total_timeout=1.0, max_body_bytes=len(body)
    )
    assert mgr.get(server.url("/trickle")) == b"good"
    assert counters.get("retry_reason/timeout") == 1
    assert server.count("/trickle") == 2  # both attempts went through the proxy


def test_https_through_a_real_proxy_tunnel_verifies_the_origin(
    tls_server: ScriptedServer, make_manager: Any, trusted_bundle: Path, local_proxy: LocalProxy,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.delenv("NO_PROXY")
    tls_server.route("/x", Reply(body=b"tunnelled", headers={"Set-Cookie": "s=1; Path=/"}))
    mgr = make_manager(proxy=local_proxy.url("user:pw@"))
    assert mgr.get(tls_server.url("/x")) == b"tunnelled"
    assert mgr.get(tls_server.url("/x")) == b"tunnelled"
    assert mgr.stats()["connections_opened"] == 1  # one tunnel, kept alive
    seen = tls_server.requests_to("/x")
    assert seen[1].headers.get("Cookie") == "s=1"
    assert "Proxy-Authorization" not in seen[0].headers  # for the proxy only


def test_an_unusable_proxy_setting_is_a_configuration_error(make_manager: Any) -> None:
    from custom_wheel_offset.errors import ConfigError

    with pytest.raises(ConfigError, match="only http:// proxies"):
        make_manager(proxy="socks5://127.0.0.1:1080")
