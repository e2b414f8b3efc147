"""Fixtures of the PostgreSQL tests: a fresh schema per test, one sandbox, the real CLI.

Every test here needs the server named by ``CWO_TEST_POSTGRES_URL`` and skips,
saying why, when it is unset or unreachable (``postgres_url`` in
``tests/conftest.py`` creates the schema ``cwo_t_<random>`` and drops it
afterwards). Crawls run the real command line in subprocesses
(``python -m custom_wheel_offset scrape ...``) against one sandbox served from
this process, and are checked by exporting and comparing byte for byte with
the sandbox's truth files.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from custom_wheel_offset.sandbox import SandboxConfig, start_sandbox
from custom_wheel_offset.sandbox.server import RunningSandbox

from .helpers import STARTED

# Small pages keep the sandbox (which shares this process's CPU) cheap; page
# padding changes nothing in the truth.
SANDBOX = SandboxConfig(size="small", seed=3, page_kb=4)


@pytest.fixture(scope="session")
def small_truth(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The truth files of :data:`SANDBOX`, written once per session."""
    from custom_wheel_offset.sandbox.truth import write_truth

    out = tmp_path_factory.mktemp("truth-small")
    write_truth(SANDBOX, out)
    return out


@pytest.fixture
def small_sandbox() -> Iterator[RunningSandbox]:
    """The small sandbox, serving from a thread of this process."""
    with start_sandbox(SANDBOX) as sb:
        yield sb


@pytest.fixture(autouse=True)
def _no_leftover_scrapes(postgres_url: str) -> Iterator[None]:
    """A failed test must not leave `cwo scrape` processes behind.

    It depends on ``postgres_url`` so that it is torn down first: the
    processes are gone before the test's schema is dropped.
    """
    yield
    while STARTED:
        proc = STARTED.pop()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
