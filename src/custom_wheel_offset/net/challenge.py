"""Bot-challenge state per host: how long to leave a host alone after a challenge.

The store's bot protection answers some requests with a *Human Verification*
page instead of data, and the fitment API refuses a client it does not want
with ``{"message":"Forbidden"}`` (HTTP 401/403). cwo solves neither and does
not try to look like a browser to get past them: it stops sending to that
host for a while and tries again later. Both are "challenges" here; the
reason given with each is kept for messages. :class:`ChallengeGate` keeps,
per host, the current pause and the streak of challenges since the last real
answer:

* each challenge that comes after the previous pause has ended doubles the
  pause: 5 s, 10 s, 20 s, ... capped at 120 s (configurable);
* challenges that come while the host is already paused are answers to
  requests sent before the pause began: they are counted but do not grow it;
* a real answer ends the streak, unless it arrives while the host is still
  paused (it was sent before the challenge and says nothing about whether the
  challenge has lifted);
* :meth:`ChallengeGate.blocked_for` is how long the current streak has lasted,
  which the processor compares with ``--max-blocked`` to give up the run.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["ChallengeGate"]

FIRST_PAUSE = 5.0
MAX_PAUSE = 120.0
FACTOR = 2.0


@dataclass(slots=True)
class _Streak:
    """Challenge state of one host. Guarded by the gate's lock."""

    streak: int = 0  # escalations since the last real answer
    first_at: float | None = None  # when the current streak began
    paused_until: float | None = None
    challenges: int = 0  # every challenge ever seen, for statistics
    reason: str = "a bot challenge"  # what the host answered last, for messages


class ChallengeGate:
    """Per-host pause after bot challenges, with a growing back-off. Thread-safe.

    :param first_pause: pause after the first challenge of a streak, seconds.
    :param max_pause: the pause never grows beyond this, seconds.
    :param factor: growth of the pause from one challenge to the next.
    :param clock: monotonic clock in seconds (injectable for tests).
    """

    def __init__(
        self,
        *,
        first_pause: float = FIRST_PAUSE,
        max_pause: float = MAX_PAUSE,
        factor: float = FACTOR,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if first_pause < 0 or max_pause < first_pause or factor < 1:
            raise ValueError("need 0 <= first_pause <= max_pause and factor >= 1")
        self._first = first_pause
        self._max = max_pause
        self._factor = factor
        self._clock = clock
        self._lock = threading.Lock()
        self._hosts: dict[str, _Streak] = {}

    def _state(self, host: str) -> _Streak:
        state = self._hosts.get(host)
        if state is None:
            state = self._hosts[host] = _Streak()
        return state

    def record_challenge(self, host: str, reason: str = "a bot challenge") -> float:
        """A challenge from ``host``: pause it. Returns the (monotonic) end of the pause.

        ``reason`` says what the host answered (for messages, see :meth:`longest_block`).
        """
        with self._lock:
            state = self._state(host)
            now = self._clock()
            state.challenges += 1
            state.reason = reason
            if state.paused_until is not None and now < state.paused_until:
                return state.paused_until  # same episode: requests already in flight
            if state.first_at is None:
                state.first_at = now
            pause = min(self._max, self._first * self._factor**state.streak)
            state.streak += 1
            state.paused_until = now + pause
            return state.paused_until

    def record_success(self, host: str) -> None:
        """A real answer from ``host``: the streak is over (unless still paused)."""
        with self._lock:
            state = self._state(host)
            if state.paused_until is not None and self._clock() < state.paused_until:
                return
            state.streak = 0
            state.first_at = None
            state.paused_until = None

    def paused_until(self, host: str) -> float | None:
        """End of the host's pause on the gate's clock, or ``None`` if it is not paused."""
        with self._lock:
            state = self._state(host)
            if state.paused_until is not None and self._clock() < state.paused_until:
                return state.paused_until
            return None

    def is_paused(self, host: str) -> bool:
        """Whether requests to ``host`` must not be sent now."""
        return self.paused_until(host) is not None

    def remaining(self, host: str) -> float:
        """Seconds until the host's pause ends, 0 when it is not paused."""
        with self._lock:
            until = self._state(host).paused_until
            return max(0.0, until - self._clock()) if until is not None else 0.0

    def blocked_for(self, host: str) -> float:
        """Seconds since the first challenge of the current unbroken streak, 0 if none."""
        with self._lock:
            first = self._state(host).first_at
            return 0.0 if first is None else max(0.0, self._clock() - first)

    def longest_block(self) -> tuple[str, float, str] | None:
        """``(host, seconds, reason)`` of the host blocked longest without a break, or None.

        The processor compares the seconds with ``--max-blocked``: every host
        counts, the store's challenge and the fitment API's refusal alike.
        """
        with self._lock:
            now = self._clock()
            streaks = [
                (s.first_at, h, s.reason) for h, s in self._hosts.items() if s.first_at is not None
            ]
            if not streaks:
                return None
            first_at, host, reason = min(streaks)
            return host, max(0.0, now - first_at), reason

    def stats(self) -> dict[str, dict[str, Any]]:
        """Per host: challenges seen, current streak, remaining pause and blocked time."""
        with self._lock:
            now = self._clock()
            return {
                host: {
                    "challenges": s.challenges,
                    "streak": s.streak,
                    "paused_for": round(max(0.0, (s.paused_until or now) - now), 3),
                    "blocked_for": round(0.0 if s.first_at is None else now - s.first_at, 3),
                }
                for host, s in sorted(self._hosts.items())
            }
