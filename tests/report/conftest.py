"""A real crawl of the small sandbox, once per session, for the audit and the HTML report."""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest


@dataclasses.dataclass(frozen=True)
class Crawl:
    db_url: str
    result: Any  # workflow_v3.RunResult


@pytest.fixture(scope="session")
def small_crawl(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Crawl]:
    """The small sandbox crawled through ``workflow_v3.run`` into a real SQLite file.

    ``--rate 1000`` gives the limiter a rate to report (with ``--rate 0`` it
    reports none), so the host-rate chart has points to count.
    """
    from custom_wheel_offset.crawl import workflow_v3
    from custom_wheel_offset.settings import Settings

    where = tmp_path_factory.mktemp("small-crawl")
    url = f"sqlite:///{where / 'small.db'}"
    settings = Settings(
        db=url,
        sandbox=True,
        sandbox_size="small",
        rate=1000.0,
        workers=8,
        progress="off",
        quiet=True,
    )
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(where)
        for key in [k for k in os.environ if k.startswith("CWO_") and "TEST" not in k]:
            mp.delenv(key)
        result = workflow_v3.run(settings)
    assert result.exit_code == 0, result.message
    yield Crawl(url, result)


@pytest.fixture(scope="session")
def small_page(small_crawl: Crawl, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``cwo report --html`` of the small crawl, written once through the real CLI."""
    from click.testing import CliRunner

    from custom_wheel_offset.cli import cli

    target = tmp_path_factory.mktemp("small-page") / "run.html"
    result = CliRunner().invoke(cli, ["report", "--db", small_crawl.db_url, "--html", str(target)])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("run ")  # the summary; no JSON without --out
    return target


@pytest.fixture
def seeded_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'seeded.db'}"
