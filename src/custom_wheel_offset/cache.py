"""A small thread-safe LRU cache whose entries expire after a time to live.

Used for answers that rarely change within a run (the preference options of
a vehicle type, for instance); its :meth:`TTLCache.stats` go into the run's
metrics JSON under ``cache``.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar

__all__ = ["TTLCache"]

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")

_MISSING: Any = object()


class TTLCache(Generic[K, V]):
    """Least-recently-used cache of at most ``max_size`` entries, each living ``ttl`` seconds.

    ``ttl=None`` means entries never expire (they are only evicted).
    ``clock`` returns seconds on a monotonic scale; tests pass a fake one.
    """

    def __init__(
        self,
        max_size: int = 1024,
        ttl: float | None = 3600.0,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if max_size < 1:
            raise ValueError(f"max_size must be at least 1, not {max_size!r}")
        if ttl is not None and ttl <= 0:
            raise ValueError(f"ttl must be positive or None, not {ttl!r}")
        self._max_size = max_size
        self._ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        # key -> (expires_at, value); oldest (least recently used) first.
        self._data: OrderedDict[K, tuple[float, V]] = OrderedDict()
        self._hits = 0
        self._misses = 0
        self._evictions = 0
        self._expirations = 0

    # -- internal helpers (call with self._lock held) -------------------------

    def _lookup(self, key: K) -> V:
        """The live value for ``key`` or ``_MISSING``; drops it if expired. No statistics."""
        entry = self._data.get(key)
        if entry is None:
            return _MISSING
        expires_at, value = entry
        if self._clock() >= expires_at:
            del self._data[key]
            self._expirations += 1
            return _MISSING
        self._data.move_to_end(key)
        return value

    def _store(self, key: K, value: V) -> None:
        expires_at = float("inf") if self._ttl is None else self._clock() + self._ttl
        self._data[key] = (expires_at, value)
        self._data.move_to_end(key)
        now = self._clock()
        while len(self._data) > self._max_size:
            _, (old_expiry, _) = self._data.popitem(last=False)
            if now >= old_expiry:
                self._expirations += 1
            else:
                self._evictions += 1

    # -- public API -----------------------------------------------------------

    def get(self, key: K) -> V | None:
        """The cached value, or ``None`` when absent or expired (counted as a miss)."""
        with self._lock:
            value = self._lookup(key)
            if value is _MISSING:
                self._misses += 1
                return None
            self._hits += 1
            return value

    def set(self, key: K, value: V) -> None:
        """Store ``value`` (replacing any entry) with a fresh time to live."""
        with self._lock:
            self._store(key, value)

    def __len__(self) -> int:
        with self._lock:
            return len(self._data)

    def stats(self) -> dict[str, Any]:
        """Counts since creation, for the metrics JSON; ``hit_rate`` is None before any lookup."""
        with self._lock:
            lookups = self._hits + self._misses
            return {
                "hits": self._hits,
                "misses": self._misses,
                "hit_rate": round(self._hits / lookups, 4) if lookups else None,
                "evictions": self._evictions,
                "expirations": self._expirations,
                "size": len(self._data),
                "max_size": self._max_size,
                "ttl_seconds": self._ttl,
            }
