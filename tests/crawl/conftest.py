"""Real parts for the crawl's components: a tiny sandbox on loopback, its catalogue, settings."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from custom_wheel_offset.sandbox import SandboxConfig, start_sandbox
from custom_wheel_offset.sandbox.catalogue import Catalogue, build_catalogue
from custom_wheel_offset.sandbox.server import RunningSandbox
from custom_wheel_offset.settings import Settings, resolve_settings

# Small pages: these tests are about the components, not about parsing 100 KB.
CONFIG = SandboxConfig(size="tiny", seed=1, page_kb=4)


@pytest.fixture(scope="module")
def sandbox() -> Iterator[RunningSandbox]:
    with start_sandbox(CONFIG) as running:
        yield running


@pytest.fixture(scope="module")
def catalogue() -> Catalogue:
    return build_catalogue(CONFIG.size, CONFIG.seed)


def settings_for(sandbox: RunningSandbox, **more: Any) -> Settings:
    cli = {"api_base": sandbox.api_base, "store_base": sandbox.store_base, "rate": 0, **more}
    return resolve_settings(cli, env={})
