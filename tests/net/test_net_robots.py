"""RobotsPolicy: parsing and the RFC 9309 status rules (no network)."""

from __future__ import annotations

import pytest

from custom_wheel_offset.net.robots import RobotsPolicy

UA = "cwo/0.1.0 (+https://pypi.org/project/custom-wheel-offset/; fitment crawler)"
BASE = "https://www.customwheeloffset.com"

ROBOTS = b"""\
User-agent: *
Disallow: /cart
Disallow: /account/

User-agent: cwo
Disallow: /store/private
Crawl-delay: 4

User-agent: BadBot
Disallow: /
"""


def test_rules_for_our_user_agent() -> None:
    policy = RobotsPolicy.from_response(200, ROBOTS)
    assert policy.kind == "rules"
    # The group naming cwo applies, not the * group.
    assert policy.allowed(f"{BASE}/store/wheels?year=2020&make=Ford", UA)
    assert policy.allowed(f"{BASE}/cart", UA)
    assert not policy.allowed(f"{BASE}/store/private/x", UA)
    assert policy.crawl_delay(UA) == 4.0


def test_star_group_for_other_agents() -> None:
    policy = RobotsPolicy.from_response(200, ROBOTS)
    assert not policy.allowed(f"{BASE}/cart", "SomeBot/1.0")
    assert policy.allowed(f"{BASE}/store/private/x", "SomeBot/1.0")
    assert not policy.allowed(f"{BASE}/anything", "BadBot/2.0")


def test_empty_file_allows_everything() -> None:
    policy = RobotsPolicy.from_response(200, b"")
    assert policy.allowed(f"{BASE}/store/wheels", UA)
    assert policy.crawl_delay(UA) is None


def test_non_utf8_body_is_tolerated() -> None:
    policy = RobotsPolicy.from_response(200, b"User-agent: *\nDisallow: /caf\xe9\nDisallow: /x\n")
    assert not policy.allowed(f"{BASE}/x", UA)


@pytest.mark.parametrize("status", [400, 401, 403, 404, 410])
def test_4xx_allows_everything(status: int) -> None:
    policy = RobotsPolicy.from_response(status, b"<html>nope</html>")
    assert policy.kind == "allow_all" and not policy.unreachable
    assert policy.allowed(f"{BASE}/store/wheels", UA)


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504, None])
def test_5xx_or_no_answer_disallows_for_now(status: int | None) -> None:
    policy = RobotsPolicy.from_response(status, None)
    assert policy.unreachable
    assert not policy.allowed(f"{BASE}/store/wheels", UA)
    assert not policy.allowed(f"{BASE}/", UA)


def test_allow_all_constructor() -> None:
    assert RobotsPolicy.allow_all().allowed(f"{BASE}/cart", UA)
