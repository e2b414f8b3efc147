"""Hierarchical counters, incremented where a decision is taken, safe under threads.

Names are slash-separated paths such as ``requests/fitment``,
``responses/429`` or ``retries/reason/timeout``; ``snapshot()`` returns them
flat and ``tree()`` nested, for the metrics JSON.
"""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

__all__ = ["Counters"]


class Counters:
    """A thread-safe multiset of named counts."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts: Counter[str] = Counter()

    def incr(self, name: str, n: int = 1) -> None:
        with self._lock:
            self._counts[name] += n

    def get(self, name: str) -> int:
        with self._lock:
            return self._counts.get(name, 0)

    def sum_prefix(self, prefix: str) -> int:
        """Total of every counter under ``prefix/``."""
        head = prefix.rstrip("/") + "/"
        with self._lock:
            return sum(v for k, v in self._counts.items() if k.startswith(head))

    def snapshot(self) -> dict[str, int]:
        with self._lock:
            return dict(sorted(self._counts.items()))

    def tree(self) -> dict[str, Any]:
        """Nested dictionaries by path segment; a leaf that also has children keeps ``_total``."""
        root: dict[str, Any] = {}
        for name, value in self.snapshot().items():
            node = root
            *parents, leaf = name.split("/")
            for part in parents:
                child = node.setdefault(part, {})
                if not isinstance(child, dict):
                    child = node[part] = {"_total": child}
                node = child
            if isinstance(node.get(leaf), dict):
                node[leaf]["_total"] = value
            else:
                node[leaf] = value
        return root
