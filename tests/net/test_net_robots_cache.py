"""net/robots_cache.py: each host's robots.txt fetched once, over real HTTP on loopback."""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest

from custom_wheel_offset.errors import ChallengeError, PermanentFetchError, TransientFetchError
from custom_wheel_offset.metrics.counters import Counters
from custom_wheel_offset.metrics.tracker import MetricTracker
from custom_wheel_offset.net.challenge import ChallengeGate
from custom_wheel_offset.net.cookies import SessionPool
from custom_wheel_offset.net.proxies import ProxyChooser
from custom_wheel_offset.net.ratelimit import HostRateLimiter
from custom_wheel_offset.net.retry import Retrier
from custom_wheel_offset.net.robots_cache import ROBOTS_RETRY_SECONDS, RobotsCache
from custom_wheel_offset.net.sender import Sender
from custom_wheel_offset.net.transport import Transport
from custom_wheel_offset.redact import Scrubber

from .helpers import FakeClock, Reply, ScriptedServer

UA = "cwo/test"
RULES = b"User-agent: *\nDisallow: /private\nCrawl-delay: 2\n"

MakeCache = Callable[..., RobotsCache]


@pytest.fixture
def gate(clock: FakeClock) -> ChallengeGate:
    return ChallengeGate(clock=clock)


@pytest.fixture
def limiter(clock: FakeClock) -> HostRateLimiter:
    return HostRateLimiter(0.0, 0, clock=clock, sleep=clock.sleep)


@pytest.fixture
def make_cache(
    transport: Transport,
    counters: Counters,
    clock: FakeClock,
    gate: ChallengeGate,
    limiter: HostRateLimiter,
) -> MakeCache:
    # The manager's own sender: transport faults arrive as cwo errors.
    sender = Sender(transport, SessionPool(UA), ProxyChooser(None), Scrubber())

    def make(tracker: MetricTracker | None = None) -> RobotsCache:
        retrier = Retrier(
            max_attempts=3,
            backoff_base=0.5,
            backoff_max=1.0,
            counters=counters,
            sleep=clock.sleep,
            rng=random.Random(1),
        )
        return RobotsCache(
            user_agent=UA,
            send=sender.send,
            limiter=limiter,
            gate=gate,
            counters=counters,
            retrier=retrier,
            sleep=clock.sleep,
            tracker=tracker or MetricTracker(counters),
            clock=clock,
        )

    return make


def test_the_file_is_fetched_once_and_its_rules_apply(
    server: ScriptedServer, make_cache: MakeCache, counters: Counters, limiter: HostRateLimiter
) -> None:
    server.route("/robots.txt", Reply(body=RULES))
    cache = make_cache()
    for path in ("/a", "/b", "/c?x=1"):
        cache.check(server.url(path), server.host)
    with pytest.raises(PermanentFetchError) as caught:
        cache.check(server.url("/private/x"), server.host)
    assert caught.value.code == "robots_disallowed" and "--ignore-robots" in str(caught.value)
    assert (
        server.count("/robots.txt") == 1
        and server.requests_to("/robots.txt")[0].headers["User-Agent"] == UA
    )
    assert counters.get("requests/robots") == 1 and counters.get("robots/disallowed") == 1
    assert cache.stats() == {server.host: "rules"}
    assert limiter.stats()[server.host]["ceiling"] == 0.5  # Crawl-delay 2: one per 2 s


def test_no_file_allows_everything(server: ScriptedServer, make_cache: MakeCache) -> None:
    server.route("/robots.txt", Reply(404, b"nope"))
    cache = make_cache()
    cache.check(server.url("/private/x"), server.host)
    assert cache.stats() == {server.host: "allow_all"}


def test_redirects_of_the_file_are_followed(
    server: ScriptedServer, make_cache: MakeCache, counters: Counters
) -> None:
    server.route("/robots.txt", Reply(301, b"", headers={"Location": "/real-robots.txt"}))
    server.route("/real-robots.txt", Reply(body=RULES))
    cache = make_cache()
    with pytest.raises(PermanentFetchError):
        cache.check(server.url("/private"), server.host)
    assert counters.get("requests/robots") == 2 and counters.get("responses/301") == 1


def test_an_unreachable_file_is_retried_then_asked_again_after_a_while(
    server: ScriptedServer, make_cache: MakeCache, counters: Counters, clock: FakeClock
) -> None:
    server.route("/robots.txt", Reply(503, b"down"))
    cache = make_cache()
    with pytest.raises(TransientFetchError) as caught:
        cache.check(server.url("/a"), server.host)
    assert caught.value.retry_reason == "robots_unreachable" and "HTTP 503" in str(caught.value)
    assert server.count("/robots.txt") == 3  # max_attempts tries
    assert counters.get("retry_reason/robots_unreachable") == 2
    assert len(clock.sleeps) == 2 and all(0 <= s <= 1.0 for s in clock.sleeps)
    # Within ROBOTS_RETRY_SECONDS the verdict stands without a request.
    with pytest.raises(TransientFetchError):
        cache.check(server.url("/a"), server.host)
    assert server.count("/robots.txt") == 3
    server.route("/robots.txt", Reply(body=RULES))
    clock.advance(ROBOTS_RETRY_SECONDS + 1)
    cache.check(server.url("/a"), server.host)
    assert server.count("/robots.txt") == 4 and cache.stats() == {server.host: "rules"}


def test_a_429_on_the_file_slows_the_host(
    server: ScriptedServer, make_cache: MakeCache, limiter: HostRateLimiter
) -> None:
    server.route(
        "/robots.txt", Reply(429, b"slow", headers={"Retry-After": "3"}), Reply(body=RULES)
    )
    make_cache().check(server.url("/a"), server.host)
    assert limiter.stats()[server.host]["rate_limited"] == 1


def test_a_challenge_on_the_file_pauses_the_host(
    server: ScriptedServer, make_cache: MakeCache, gate: ChallengeGate, counters: Counters
) -> None:
    page = b"<html><head><title>Human Verification</title></head><body>x</body></html>"
    server.route("/robots.txt", Reply(body=page))
    with pytest.raises(ChallengeError):
        make_cache().check(server.url("/a"), server.host)
    assert gate.is_paused(server.host) and counters.get("challenges/robots") == 1


def test_timings_are_reported_for_each_fetch(server: ScriptedServer, make_cache: MakeCache) -> None:
    server.route("/robots.txt", Reply(body=RULES))
    tracker = MetricTracker()
    make_cache(tracker).check(server.url("/a"), server.host)
    stats = tracker.operations()["robots"]
    assert (stats["count"], stats["errors"]) == (1, 0)
    server.route("/robots.txt", Reply(body=RULES, reset=True))
    unreachable = MetricTracker()
    with pytest.raises(TransientFetchError):  # no answer at all: unreachable
        make_cache(unreachable).check(server.url("/a"), server.host)
    stats = unreachable.operations()["robots"]
    assert (stats["count"], stats["errors"]) == (3, 3)
