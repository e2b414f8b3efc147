"""allocator.limit_malloc_arenas: glibc keeps two arenas, unless the user said otherwise."""

from __future__ import annotations

import ctypes
import platform
import sys

import pytest

from custom_wheel_offset import allocator

ON_GLIBC = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"


@pytest.fixture(autouse=True)
def _forget_what_was_applied(monkeypatch: pytest.MonkeyPatch) -> None:
    # Each test starts as a fresh process would; monkeypatch restores the real record.
    monkeypatch.setattr(allocator, "_applied", None)


def _no_libc(*args: object, **kwargs: object) -> None:
    raise AssertionError("the C library must not be touched")


def test_the_users_own_malloc_arena_max_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    monkeypatch.setattr(ctypes, "CDLL", _no_libc)
    assert allocator.limit_malloc_arenas() == {"malloc_arena_max": "4", "source": "environment"}


def test_nothing_happens_off_linux(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    monkeypatch.setattr(sys, "platform", "darwin")
    monkeypatch.setattr(ctypes, "CDLL", _no_libc)
    assert allocator.limit_malloc_arenas() == {"malloc_arena_max": None, "source": "unavailable"}


@pytest.mark.skipif(not ON_GLIBC, reason="glibc only")
def test_glibc_accepts_two_arenas(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    assert allocator.limit_malloc_arenas() == {"malloc_arena_max": 2, "source": "cwo"}


def test_a_c_library_without_glibc_symbols_is_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    class Musl:  # has mallopt, but not glibc's version function
        def mallopt(self, *args: object) -> int:
            raise AssertionError("M_ARENA_MAX means nothing to musl")

    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    monkeypatch.setattr(sys, "platform", "linux")
    monkeypatch.setattr(ctypes, "CDLL", lambda name: Musl())
    assert allocator.limit_malloc_arenas() == {"malloc_arena_max": None, "source": "unavailable"}


def test_state_says_default_until_limited_and_then_what_was_done(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    monkeypatch.setattr(sys, "platform", "darwin")
    monkeypatch.setattr(ctypes, "CDLL", _no_libc)
    assert allocator.allocator_state() == {"malloc_arena_max": None, "source": "default"}
    allocator.limit_malloc_arenas()
    assert allocator.allocator_state() == {"malloc_arena_max": None, "source": "unavailable"}


def test_state_names_the_users_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MALLOC_ARENA_MAX", "3")
    assert allocator.allocator_state() == {"malloc_arena_max": "3", "source": "environment"}
