"""net/responses.py: reading a body up to a cap, and the classifier of every answer."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from custom_wheel_offset.errors import (
    ChallengeError,
    FetchError,
    PermanentFetchError,
    RateLimitedError,
    TransientFetchError,
)
from custom_wheel_offset.metrics.counters import Counters
from custom_wheel_offset.net.challenge import ChallengeGate
from custom_wheel_offset.net.ratelimit import HostRateLimiter
from custom_wheel_offset.net.responses import (
    ResponseClassifier,
    drain,
    read_body,
    strict_length,
)
from custom_wheel_offset.net.transport import Transport

from .helpers import FakeClock, Reply, ScriptedServer

CHALLENGE = (
    b"<!DOCTYPE html><html><head><title>Human Verification</title></head>"
    b"<body>Please verify you are a human</body></html>"
)
FORBIDDEN = b'{"message":"Forbidden"}'

Classify = Callable[[Reply], bytes]


@pytest.fixture
def parts(clock: FakeClock) -> tuple[Counters, ChallengeGate, HostRateLimiter]:
    limiter = HostRateLimiter(10.0, 0, clock=clock, sleep=clock.sleep)
    return Counters(), ChallengeGate(clock=clock), limiter


@pytest.fixture
def classify(
    server: ScriptedServer,
    transport: Transport,
    parts: tuple[Counters, ChallengeGate, HostRateLimiter],
) -> Classify:
    """Serve ``reply`` on a real loopback server, then read and classify the answer."""
    counters, gate, limiter = parts
    classifier = ResponseClassifier(counters, gate, limiter)

    def run(reply: Reply) -> bytes:
        server.route("/r", reply)
        url = server.url("/r")
        with transport.get(url, {}) as resp:
            body = read_body(resp, url, 64 * 1024, counters)
            return classifier.classify(resp, body, url, "fitment", server.host, sent_at=0.0)

    return run


def test_strict_length() -> None:
    assert strict_length(" 12 ") == 12 and strict_length("") is None
    for bad in ("-1", "1.5", "²", "12 13", "0x10"):
        with pytest.raises(ValueError):
            strict_length(bad)


def test_a_2xx_is_data_and_ends_the_hosts_streak(
    classify: Classify,
    parts: tuple[Counters, ChallengeGate, HostRateLimiter],
    server: ScriptedServer,
    clock: FakeClock,
) -> None:
    counters, gate, _ = parts
    gate.record_challenge(server.host, "a test challenge")
    clock.advance(gate.remaining(server.host) + 1)
    assert gate.blocked_for(server.host) > 0
    assert classify(Reply(200, b"[1,2]")) == b"[1,2]"
    assert classify(Reply(204, b"")) == b""
    assert counters.get("bytes_received") == 5
    assert gate.blocked_for(server.host) == 0


@pytest.mark.parametrize("status", [200, 202, 405, 503])
def test_a_challenge_page_is_never_data_whatever_its_status(
    classify: Classify,
    parts: tuple[Counters, ChallengeGate, HostRateLimiter],
    server: ScriptedServer,
    status: int,
) -> None:
    counters, gate, _ = parts
    with pytest.raises(ChallengeError) as caught:
        classify(Reply(status, CHALLENGE))
    assert caught.value.status == status and caught.value.code == "challenge"
    assert counters.get("challenges/fitment") == 1 and gate.is_paused(server.host)


@pytest.mark.parametrize("status", [401, 403])
def test_the_apis_refusal_with_401_or_403_is_a_block(
    classify: Classify,
    parts: tuple[Counters, ChallengeGate, HostRateLimiter],
    server: ScriptedServer,
    status: int,
) -> None:
    counters, gate, _ = parts
    with pytest.raises(ChallengeError, match="blocked"):
        classify(Reply(status, FORBIDDEN))
    assert counters.get("blocked/fitment") == 1 and gate.is_paused(server.host)


@pytest.mark.parametrize("status", [200, 500])
def test_the_refusal_body_with_another_status_is_a_transient_fault(
    classify: Classify,
    parts: tuple[Counters, ChallengeGate, HostRateLimiter],
    server: ScriptedServer,
    status: int,
) -> None:
    counters, gate, _ = parts
    with pytest.raises(TransientFetchError) as caught:
        classify(Reply(status, FORBIDDEN))
    assert caught.value.retry_reason == "forbidden_body"
    assert counters.get("forbidden_body/fitment") == 1 and not gate.is_paused(server.host)


def test_a_429_slows_the_host_down_and_carries_retry_after(
    classify: Classify,
    parts: tuple[Counters, ChallengeGate, HostRateLimiter],
    server: ScriptedServer,
) -> None:
    _, _, limiter = parts
    with pytest.raises(RateLimitedError) as caught:
        classify(Reply(429, b"slow down", headers={"Retry-After": "7"}))
    assert caught.value.retry_after == 7.0 and caught.value.retry_reason == "http_429"
    assert limiter.stats()[server.host]["rate_limited"] == 1
    assert (limiter.current_rate(server.host) or 10.0) < 10.0


@pytest.mark.parametrize(
    ("status", "reason"),
    [(408, "http_408"), (500, "http_5xx"), (502, "http_5xx"), (503, "http_5xx"), (524, "http_5xx")],
)
def test_server_faults_are_transient(classify: Classify, status: int, reason: str) -> None:
    with pytest.raises(TransientFetchError) as caught:
        classify(Reply(status, b"oops"))
    assert type(caught.value) is TransientFetchError
    assert caught.value.retry_reason == reason and caught.value.code == f"http_{status}"


@pytest.mark.parametrize("status", [301, 400, 404, 410, 501, 505])
def test_other_statuses_are_permanent(classify: Classify, status: int) -> None:
    with pytest.raises(PermanentFetchError) as caught:
        classify(Reply(status, b"no"))
    code = f"http_{status}" if status >= 400 else "permanent"
    assert caught.value.code == code and caught.value.retry_reason is None


# -- reading ------------------------------------------------------------------------------


def _read(
    server: ScriptedServer, transport: Transport, reply: Reply, limit: int, **kw: bool
) -> bytes:
    server.route("/b", reply)
    with transport.get(server.url("/b"), {}) as resp:
        return read_body(resp, server.url("/b"), limit, Counters(), **kw)


def test_a_body_over_the_cap_is_refused_by_its_length_or_as_it_streams(
    server: ScriptedServer, transport: Transport
) -> None:
    with pytest.raises(PermanentFetchError, match=r"Content-Length 2000") as declared:
        _read(server, transport, Reply(body=b"x" * 2000), 1000)
    assert declared.value.code == "too_large"
    with pytest.raises(PermanentFetchError) as streamed:
        _read(server, transport, Reply(stream_bytes=200_000), 100_000)
    assert streamed.value.code == "too_large"


def test_truncate_keeps_the_first_bytes(server: ScriptedServer, transport: Transport) -> None:
    assert _read(server, transport, Reply(body=b"abcdef"), 4, truncate=True) == b"abcd"
    assert _read(server, transport, Reply(stream_bytes=200_000), 10, truncate=True) == b"x" * 10


def test_a_malformed_content_length_is_a_permanent_fault(
    server: ScriptedServer, transport: Transport
) -> None:
    with pytest.raises(PermanentFetchError) as caught:
        _read(server, transport, Reply(body=b"ab", headers={"Content-Length": "2\u00b2"}), 100)
    assert caught.value.code == "invalid_header"


def test_a_cut_body_is_a_transport_fault_and_drain_swallows_it(
    server: ScriptedServer, transport: Transport
) -> None:
    with pytest.raises(FetchError) as caught:
        _read(server, transport, Reply(body=b"y" * 5000, truncate_to=100), 10_000)
    assert caught.value.retry_reason == "truncated"
    server.route("/d", Reply(body=b"z" * 5000, truncate_to=100))
    counters = Counters()
    with transport.get(server.url("/d"), {}) as resp:
        drain(resp, server.url("/d"), counters)  # no exception: the body is not used
    assert counters.get("bytes_received") <= 100
