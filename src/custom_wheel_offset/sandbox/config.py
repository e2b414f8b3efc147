"""The sandbox's configuration: what it serves (size, seed, page size) and how it misbehaves.

Both are frozen value objects; every fault is off by default. Values are
checked when the object is built and a wrong one raises
:class:`~custom_wheel_offset.errors.ConfigError`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from custom_wheel_offset.errors import ConfigError
from custom_wheel_offset.settings import SANDBOX_SIZES

__all__ = ["SIZES", "FaultConfig", "SandboxConfig"]

SIZES: tuple[str, ...] = SANDBOX_SIZES


def _rate(name: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ConfigError(f"{name} must be a probability between 0 and 1, not {value!r}")


def _non_negative(name: str, value: float) -> None:
    if math.isnan(value) or value < 0:
        raise ConfigError(f"{name} must be zero or more, not {value!r}")


@dataclass(frozen=True, slots=True)
class FaultConfig:
    """How the sandbox misbehaves; every fault is off by default.

    Rates are probabilities per request, drawn from a generator seeded with
    the sandbox's seed, in the order requests arrive. The counters
    endpoints are never subject to faults.
    """

    latency_ms: float = 0.0
    """Fixed delay added to every request, in milliseconds."""
    jitter_ms: float = 0.0
    """Extra delay drawn uniformly from [0, jitter_ms] per request."""
    error_rate: float = 0.0
    """Probability of answering 500, 502, 503 or 504 (chosen at random)."""
    rate_429: float = 0.0
    """Probability of answering 429 with ``Retry-After: retry_after``."""
    retry_after: int = 1
    """Seconds sent in the ``Retry-After`` header of ``rate_429`` answers."""
    hold_rate: float = 0.0
    """Probability of holding a request ``hold_seconds`` before answering it correctly."""
    hold_seconds: float = 60.0
    """How long a held request waits."""
    reset_rate: float = 0.0
    """Probability of closing the connection abruptly (TCP RST, no response)."""
    truncate_rate: float = 0.0
    """Probability of cutting a 200 JSON or HTML body short."""
    challenge_rate: float = 0.0
    """Probability that a store request gets the Human Verification page."""
    challenge_after: float | None = None
    """Seconds after start (or after ``set_faults``) when a challenge window opens; None = never."""
    challenge_for: float = 60.0
    """How long the challenge window lasts, in seconds."""
    max_rps: float = 0.0
    """Server-side limit over all requests in a sliding 1 s window; 0 = no limit."""
    forbidden_rate: float = 0.0
    """Probability that a fitment-API request gets 403 ``{"message":"Forbidden"}``."""
    forbidden_after: int | None = None
    """After this many fitment-API requests (since start or ``set_faults``), the API answers
    Forbidden to every request for ``forbidden_for`` seconds; None = never."""
    forbidden_for: float = 60.0
    """How long the Forbidden window lasts, in seconds."""

    def __post_init__(self) -> None:
        for name in (
            "error_rate",
            "rate_429",
            "hold_rate",
            "reset_rate",
            "truncate_rate",
            "challenge_rate",
            "forbidden_rate",
        ):
            _rate(name, getattr(self, name))
        for name in (
            "latency_ms",
            "jitter_ms",
            "hold_seconds",
            "challenge_for",
            "max_rps",
            "forbidden_for",
        ):
            _non_negative(name, getattr(self, name))
        if self.challenge_after is not None:
            _non_negative("challenge_after", self.challenge_after)
        if self.forbidden_after is not None and self.forbidden_after < 0:
            raise ConfigError(f"forbidden_after must be zero or more, not {self.forbidden_after!r}")
        if self.retry_after < 0:
            raise ConfigError(f"retry_after must be zero or more, not {self.retry_after!r}")

    @property
    def active(self) -> bool:
        """True when at least one fault is switched on."""
        return bool(
            self.latency_ms
            or self.jitter_ms
            or self.error_rate
            or self.rate_429
            or self.hold_rate
            or self.reset_rate
            or self.truncate_rate
            or self.challenge_rate
            or self.challenge_after is not None
            or self.max_rps
            or self.forbidden_rate
            or self.forbidden_after is not None
        )


@dataclass(frozen=True, slots=True)
class SandboxConfig:
    """What the sandbox serves.

    ``size`` and ``seed`` fix the catalogue (and so the ground truth);
    ``page_kb`` only pads fitment pages; ``robots_disallow`` lists path
    prefixes that ``/robots.txt`` disallows.
    """

    size: str = "tiny"
    seed: int = 1
    page_kb: int = 100
    faults: FaultConfig = field(default_factory=FaultConfig)
    robots_disallow: tuple[str, ...] = ()
    remove_vehicles: int = 0
    """Vehicles (chosen by the seed) the site no longer has (``sandbox.removal``)."""
    edition: int = 1
    """Which edition of the catalogue (``sandbox.catalogue``, "Editions"); 1: the original."""

    def __post_init__(self) -> None:
        if self.edition < 1:
            raise ConfigError(f"edition must be 1 or more, not {self.edition!r}")
        if self.remove_vehicles < 0:
            raise ConfigError(f"remove_vehicles must be zero or more, not {self.remove_vehicles!r}")
        if self.size not in SIZES:
            raise ConfigError(f"size must be one of {', '.join(SIZES)}, not {self.size!r}")
        if self.page_kb < 1:
            raise ConfigError(f"page_kb must be at least 1, not {self.page_kb!r}")
        if not isinstance(self.robots_disallow, tuple):
            object.__setattr__(self, "robots_disallow", tuple(self.robots_disallow))
        for prefix in self.robots_disallow:
            if not prefix.startswith("/"):
                raise ConfigError(
                    f"robots_disallow entries are paths starting with '/': {prefix!r}"
                )
