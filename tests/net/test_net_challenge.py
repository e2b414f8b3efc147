"""ChallengeGate: growing pauses, streaks, thread safety (fake clock)."""

from __future__ import annotations

import threading

import pytest

from custom_wheel_offset.net.challenge import ChallengeGate

from .helpers import FakeClock

H = "www.customwheeloffset.com"


def test_pause_grows_and_is_capped(clock: FakeClock) -> None:
    gate = ChallengeGate(clock=clock)
    pauses = []
    for _ in range(7):
        until = gate.record_challenge(H)
        pauses.append(until - clock())
        clock.advance(until - clock())  # wait the pause out, then get challenged again
    assert pauses == [5, 10, 20, 40, 80, 120, 120]


def test_configurable_durations(clock: FakeClock) -> None:
    gate = ChallengeGate(first_pause=0.1, max_pause=0.3, clock=clock)
    first = gate.record_challenge(H) - clock()
    clock.advance(1)
    second = gate.record_challenge(H) - clock()
    clock.advance(1)
    third = gate.record_challenge(H) - clock()
    assert (first, second, third) == pytest.approx((0.1, 0.2, 0.3))


def test_paused_until_and_is_paused(clock: FakeClock) -> None:
    gate = ChallengeGate(clock=clock)
    assert gate.paused_until(H) is None and not gate.is_paused(H)
    until = gate.record_challenge(H)
    assert gate.paused_until(H) == until and gate.is_paused(H)
    assert gate.remaining(H) == pytest.approx(5.0)
    clock.advance(5.0)
    assert gate.paused_until(H) is None and not gate.is_paused(H)
    assert not gate.is_paused("api.example")  # per host


def test_challenges_during_a_pause_do_not_escalate(clock: FakeClock) -> None:
    """Requests in flight when the first challenge came are challenged too: one episode."""
    gate = ChallengeGate(clock=clock)
    first = gate.record_challenge(H)
    clock.advance(1.0)
    assert gate.record_challenge(H) == first
    assert gate.stats()[H]["challenges"] == 2 and gate.stats()[H]["streak"] == 1


def test_success_resets_the_streak(clock: FakeClock) -> None:
    gate = ChallengeGate(clock=clock)
    gate.record_challenge(H)
    clock.advance(5.0)
    gate.record_challenge(H)  # 10 s
    clock.advance(10.0)
    gate.record_success(H)
    assert gate.blocked_for(H) == 0.0
    assert gate.record_challenge(H) - clock() == 5.0  # back to the first pause


def test_success_while_paused_does_not_lift_the_pause(clock: FakeClock) -> None:
    """An answer to a request sent before the challenge says nothing about the challenge."""
    gate = ChallengeGate(clock=clock)
    gate.record_challenge(H)
    clock.advance(1.0)
    gate.record_success(H)
    assert gate.is_paused(H)
    assert gate.blocked_for(H) == 1.0


def test_blocked_for_counts_from_first_challenge_of_streak(clock: FakeClock) -> None:
    gate = ChallengeGate(clock=clock)
    assert gate.blocked_for(H) == 0.0
    gate.record_challenge(H)
    clock.advance(5.0)
    gate.record_challenge(H)
    clock.advance(10.0)
    gate.record_challenge(H)
    clock.advance(3.0)
    assert gate.blocked_for(H) == 18.0


def test_invalid_configuration() -> None:
    with pytest.raises(ValueError):
        ChallengeGate(first_pause=10, max_pause=5)


def test_thread_safe_counting(clock: FakeClock) -> None:
    gate = ChallengeGate(clock=clock)

    def hammer() -> None:
        for _ in range(500):
            gate.record_challenge(H)
            gate.is_paused(H)

    threads = [threading.Thread(target=hammer) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stats = gate.stats()[H]
    assert stats["challenges"] == 4000
    assert stats["streak"] == 1  # the clock never moved: one episode
