"""A faithful local imitation of both hosts of the site, with ground truth and faults.

::

    config.py     SandboxConfig, FaultConfig (frozen value objects)
    pool.py       real makes and models the catalogue draws from
    catalogue.py  the deterministic catalogue: listings, vehicles, fitment data
    render.py     JSON and HTML bodies (padded store pages with decoys)
    faults.py     seeded fault decisions, in request order
    counters.py   what the server saw (GET /__sandbox__/counters)
    server.py     the HTTP server: start_sandbox(config) -> RunningSandbox
    truth.py      the ground truth, computed from the catalogue

Importing this package imports nothing heavy and starts nothing: the public
names below are loaded on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from custom_wheel_offset.sandbox.catalogue import Catalogue, build_catalogue
    from custom_wheel_offset.sandbox.config import SIZES, FaultConfig, SandboxConfig
    from custom_wheel_offset.sandbox.server import RunningSandbox, start_sandbox

__all__ = [
    "SIZES",
    "Catalogue",
    "FaultConfig",
    "RunningSandbox",
    "SandboxConfig",
    "build_catalogue",
    "start_sandbox",
]

_LAZY = {
    "SIZES": "config",
    "FaultConfig": "config",
    "SandboxConfig": "config",
    "Catalogue": "catalogue",
    "build_catalogue": "catalogue",
    "RunningSandbox": "server",
    "start_sandbox": "server",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
