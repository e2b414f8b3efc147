"""TTLCache: expiry, LRU eviction, statistics."""

from __future__ import annotations

import pytest

from custom_wheel_offset.cache import TTLCache


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_get_set_and_hit_rate() -> None:
    cache: TTLCache[str, int] = TTLCache(max_size=10, ttl=60, clock=FakeClock())
    assert cache.get("a") is None
    cache.set("a", 1)
    assert cache.get("a") == 1
    assert cache.get("a") == 1
    assert cache.get("b") is None
    stats = cache.stats()
    assert stats["hits"] == 2
    assert stats["misses"] == 2
    assert stats["hit_rate"] == 0.5
    assert stats["size"] == 1
    assert stats["max_size"] == 10
    assert stats["ttl_seconds"] == 60


def test_hit_rate_is_none_before_any_lookup() -> None:
    assert TTLCache[str, int]().stats()["hit_rate"] is None


def test_entries_expire_after_ttl() -> None:
    clock = FakeClock()
    cache: TTLCache[str, str] = TTLCache(max_size=10, ttl=30, clock=clock)
    cache.set("k", "v")
    clock.now += 29.9
    assert cache.get("k") == "v"
    clock.now += 0.1
    assert cache.get("k") is None
    stats = cache.stats()
    assert stats["expirations"] == 1
    assert stats["size"] == 0
    assert stats["misses"] == 1


def test_set_renews_the_ttl() -> None:
    clock = FakeClock()
    cache: TTLCache[str, str] = TTLCache(ttl=10, clock=clock)
    cache.set("k", "old")
    clock.now += 8
    cache.set("k", "new")
    clock.now += 8
    assert cache.get("k") == "new"


def test_no_ttl_never_expires() -> None:
    clock = FakeClock()
    cache: TTLCache[str, int] = TTLCache(max_size=2, ttl=None, clock=clock)
    cache.set("k", 1)
    clock.now += 1e9
    assert cache.get("k") == 1


def test_least_recently_used_is_evicted() -> None:
    cache: TTLCache[str, int] = TTLCache(max_size=2, ttl=60, clock=FakeClock())
    cache.set("a", 1)
    cache.set("b", 2)
    assert cache.get("a") == 1  # "b" is now the least recently used
    cache.set("c", 3)
    assert cache.get("b") is None
    assert cache.get("a") == 1
    assert cache.get("c") == 3
    assert cache.stats()["evictions"] == 1
    assert len(cache) == 2


def test_pushing_out_an_expired_entry_counts_as_expiration() -> None:
    clock = FakeClock()
    cache: TTLCache[str, int] = TTLCache(max_size=1, ttl=5, clock=clock)
    cache.set("a", 1)
    clock.now += 10
    cache.set("b", 2)
    stats = cache.stats()
    assert stats["expirations"] == 1
    assert stats["evictions"] == 0


def test_invalid_arguments() -> None:
    with pytest.raises(ValueError):
        TTLCache(max_size=0)
    with pytest.raises(ValueError):
        TTLCache(ttl=0)
