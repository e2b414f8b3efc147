"""Seeded fault decisions, taken once per request in the order requests arrive.

Every request draws the same fixed number of values from one generator
seeded with the sandbox's seed (and re-seeded whenever the faults change),
so a run with the same seed and the same request order meets the same
faults. The Forbidden rate alone draws from a second generator that only
fitment-API requests advance. At most one fault replaces the answer; latency and jitter delay
every answer, faulty or not.

Precedence, first match wins: the server-side rate limit (``max_rps``),
the challenge (window, then rate; store pages only), Forbidden (window, then
rate; fitment API only), 429, 5xx, reset, hold, truncation.
"""

from __future__ import annotations

import collections
import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from custom_wheel_offset.sandbox.config import FaultConfig

__all__ = ["CHALLENGE_STATUSES", "ERROR_STATUSES", "FaultDecision", "FaultEngine"]

ERROR_STATUSES = (500, 502, 503, 504)
CHALLENGE_STATUSES = (200, 202, 405)


@dataclass(frozen=True, slots=True)
class FaultDecision:
    """What to do with one request.

    ``fault`` names the fault that replaces or spoils the answer (a key of
    the ``faults`` counter) or is ``None``; ``delay`` is the latency in
    seconds applied first.
    """

    delay: float = 0.0
    fault: str | None = None
    status: int | None = None
    retry_after: int | None = None
    hold_seconds: float = 0.0
    truncate_keep_length: bool = False
    truncate_fraction: float = 0.5


NO_FAULT = FaultDecision()


class FaultEngine:
    """Decides, per request, which fault (if any) the sandbox plays."""

    def __init__(
        self, seed: int, config: FaultConfig, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._seed = seed
        self._clock = clock
        self._lock = threading.Lock()
        self._admitted: collections.deque[float] = collections.deque()
        self._generation = 0
        self.set(config)

    @property
    def config(self) -> FaultConfig:
        return self._config

    def set(self, config: FaultConfig) -> None:
        """Switch to ``config``; the challenge window's clock starts now."""
        with self._lock:
            self._config = config
            self._epoch = self._clock()
            self._rng = random.Random(f"cwo-sandbox-faults:{self._seed}:{self._generation}")
            # Forbidden draws advance with API requests only: how many refusals a crawl
            # meets depends on the seed and its API requests, not on the store's interleaving
            self._api_rng = random.Random(f"cwo-sandbox-forbidden:{self._seed}:{self._generation}")
            self._generation += 1
            self._admitted.clear()
            self._api_requests = 0
            self._forbidden_since: float | None = None

    def challenge_window_open(self, now: float | None = None) -> bool:
        cfg = self._config
        if cfg.challenge_after is None:
            return False
        elapsed = (self._clock() if now is None else now) - self._epoch
        return cfg.challenge_after <= elapsed < cfg.challenge_after + cfg.challenge_for

    def _forbidden_window_open(self, now: float) -> bool:
        """Count one API request; True while the Forbidden window holds it.

        The window opens at the first API request after ``forbidden_after``
        of them and lasts ``forbidden_for`` seconds; it does not open again.
        """
        cfg = self._config
        if cfg.forbidden_after is None:
            return False
        self._api_requests += 1
        if self._api_requests <= cfg.forbidden_after:
            return False
        if self._forbidden_since is None:
            self._forbidden_since = now
        return now < self._forbidden_since + cfg.forbidden_for

    def decide(self, *, challengeable: bool, truncatable: bool, api: bool = False) -> FaultDecision:
        """The decision for the next request (call once per request, in arrival order).

        ``api`` marks a fitment-API request (the only ones Forbidden applies to).
        """
        with self._lock:
            cfg = self._config
            if not cfg.active:
                return NO_FAULT
            now = self._clock()
            draws = [self._rng.random() for _ in range(12)]
            forbidden_window = api and self._forbidden_window_open(now)
            forbidden_draw = self._api_rng.random() if api else 1.0
            delay = (cfg.latency_ms + draws[0] * cfg.jitter_ms) / 1000.0
            if cfg.max_rps:
                window = self._admitted
                while window and window[0] <= now - 1.0:
                    window.popleft()
                if len(window) >= cfg.max_rps:
                    return FaultDecision(delay, "server_rate_limit", 429, retry_after=1)
                window.append(now)
            if challengeable:
                status = CHALLENGE_STATUSES[int(draws[2] * len(CHALLENGE_STATUSES))]
                if self.challenge_window_open(now):
                    return FaultDecision(delay, "challenge_window", status)
                if draws[1] < cfg.challenge_rate:
                    return FaultDecision(delay, "challenge", status)
            if forbidden_window:
                return FaultDecision(delay, "forbidden_window", 403)
            if forbidden_draw < cfg.forbidden_rate:
                return FaultDecision(delay, "forbidden", 403)
            if draws[3] < cfg.rate_429:
                return FaultDecision(delay, "rate_429", 429, retry_after=cfg.retry_after)
            if draws[4] < cfg.error_rate:
                status = ERROR_STATUSES[int(draws[5] * len(ERROR_STATUSES))]
                return FaultDecision(delay, "error_5xx", status)
            if draws[6] < cfg.reset_rate:
                return FaultDecision(delay, "reset")
            if draws[7] < cfg.hold_rate:
                return FaultDecision(delay, "held", hold_seconds=cfg.hold_seconds)
            if truncatable and draws[8] < cfg.truncate_rate:
                return FaultDecision(
                    delay,
                    "truncated",
                    truncate_keep_length=draws[9] < 0.5,
                    truncate_fraction=0.1 + 0.8 * draws[10],
                )
            return FaultDecision(delay)
