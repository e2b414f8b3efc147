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


def test_plain_rules_are_answered_once_per_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """No rule can see the query: Protego is asked once per path, not once per URL."""
    policy = RobotsPolicy.from_response(200, ROBOTS)
    assert policy.path_only
    asked: list[str] = []
    assert policy.parser is not None
    real = policy.parser.can_fetch
    monkeypatch.setattr(policy.parser, "can_fetch", lambda u, a: asked.append(u) or real(u, a))
    for year in range(2000, 2030):
        assert policy.allowed(f"{BASE}/store/wheels?year={year}&make=Ford", UA)
        assert not policy.allowed(f"{BASE}/store/private/x?year={year}", UA)
    assert not policy.allowed(f"{BASE}/cart", "SomeBot/1.0")  # its own answer per agent
    assert len(asked) == 3


@pytest.mark.parametrize(
    "rule",
    [
        "Disallow: /store/wheels?sort=",
        "Disallow: /*sort=price",
        "Disallow: /store/wheels$",
        "Allow: /store/wheels%3Fx",
        "dissallow: /store/wheels?sort=",  # a spelling Protego reads too
    ],
)
def test_rules_that_can_see_the_query_are_asked_for_every_url(rule: str) -> None:
    body = f"User-agent: *\n{rule}\nSitemap: https://x.example/map.xml?v=1\n".encode()
    policy = RobotsPolicy.from_response(200, body)
    assert not policy.path_only
    if "sort=" in rule and "Allow" not in rule:
        assert not policy.allowed(f"{BASE}/store/wheels?sort=price", UA)
        assert policy.allowed(f"{BASE}/store/wheels?year=2020", UA)


def test_user_agent_sitemap_and_comment_lines_keep_rules_path_only() -> None:
    body = b"User-agent: *   # everyone\nDisallow: /cart  # no $ here\nSitemap: /s.xml?x=1\n"
    assert RobotsPolicy.from_response(200, body).path_only


def test_remembered_paths_stay_bounded() -> None:
    from custom_wheel_offset.net.robots import MAX_REMEMBERED_PATHS

    policy = RobotsPolicy.from_response(200, ROBOTS)
    for i in range(MAX_REMEMBERED_PATHS + 10):
        assert policy.allowed(f"{BASE}/api/vehicle/{i}?x=1", UA)
    assert 0 < len(policy._answers) <= MAX_REMEMBERED_PATHS
