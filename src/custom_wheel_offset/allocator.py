"""glibc's allocator, told to keep few arenas for a crawl of many threads.

glibc gives threads that allocate at the same moment separate arenas, up to
eight per core. A crawl's worker threads each allocate a 100 KB body per page
in their own arena, and every arena fragments on its own: with 64 workers
the scraper's RSS crept up for several minutes before it levelled off, about
10 MB above what two arenas hold (docs/performance.md, memory). The GIL
keeps these threads from allocating in parallel anyway, so two arenas cost no
measurable CPU.

``MALLOC_ARENA_MAX`` in the environment is the user's own choice: it is left
alone. Elsewhere than glibc (musl, macOS) nothing happens.
"""

from __future__ import annotations

import ctypes
import logging
import os
import sys
from typing import Any

__all__ = ["ARENAS", "allocator_state", "limit_malloc_arenas"]

log = logging.getLogger(__name__)

#: Arenas cwo asks glibc for.
ARENAS = 2
# From glibc's <malloc.h>.
_M_ARENA_MAX = -8
# What limit_malloc_arenas did in this process (glibc cannot be asked back).
_applied: dict[str, Any] | None = None


def allocator_state() -> dict[str, Any]:
    """What the allocator was told, for the metrics, without changing anything.

    ``source`` is ``"cwo"`` after :func:`limit_malloc_arenas`, ``"environment"``
    when ``MALLOC_ARENA_MAX`` is set, else ``"default"`` (glibc's own choice).
    """
    if _applied is not None:
        return dict(_applied)
    preset = os.environ.get("MALLOC_ARENA_MAX")
    if preset:
        return {"malloc_arena_max": preset, "source": "environment"}
    return {"malloc_arena_max": None, "source": "default"}


def limit_malloc_arenas(arenas: int = ARENAS) -> dict[str, Any]:
    """Ask glibc for at most ``arenas`` malloc arenas; say what was done.

    A process-wide change: the CLI makes it (``cwo scrape``), a library caller
    of ``workflow_v3.run`` may. Call it before the worker threads start:
    arenas that exist stay. Returns ``{"malloc_arena_max": n or None,
    "source": ...}`` for the metrics, ``source`` being ``"cwo"``,
    ``"environment"`` or ``"unavailable"``; :func:`allocator_state` says it again.
    """
    global _applied
    _applied = _limit(arenas)
    return dict(_applied)


def _limit(arenas: int) -> dict[str, Any]:
    preset = os.environ.get("MALLOC_ARENA_MAX")
    if preset:
        return {"malloc_arena_max": preset, "source": "environment"}
    if not sys.platform.startswith("linux"):
        return {"malloc_arena_max": None, "source": "unavailable"}
    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version  # noqa: B018 - glibc only: musl has mallopt without M_ARENA_MAX
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return {"malloc_arena_max": None, "source": "unavailable"}
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    mallopt.restype = ctypes.c_int
    if mallopt(_M_ARENA_MAX, arenas) != 1:
        log.debug("mallopt(M_ARENA_MAX, %d) was refused", arenas)
        return {"malloc_arena_max": None, "source": "unavailable"}
    return {"malloc_arena_max": arenas, "source": "cwo"}
