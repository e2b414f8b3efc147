"""MultithreadedProcessor on real parts: the tiny sandbox on loopback, a real SQLite file,
the real frontier, writer, handler and network manager (assembled as workflow_v3 does,
without the CLI, signals, progress display or metrics)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import func, select

from custom_wheel_offset.crawl.items import ItemHandler, root_item
from custom_wheel_offset.crawl.processor import MultithreadedProcessor
from custom_wheel_offset.crawl.workflow_v3 import _kinds_for
from custom_wheel_offset.metrics.counters import Counters
from custom_wheel_offset.net.network import OptimizedNetworkManager
from custom_wheel_offset.sandbox.server import RunningSandbox
from custom_wheel_offset.sandbox.truth import truth_records
from custom_wheel_offset.settings import STAGES
from custom_wheel_offset.storage.database import OptimizedDatabaseManager
from custom_wheel_offset.storage.frontier import Frontier, ItemFilter
from custom_wheel_offset.storage.schema import fitments, vehicles
from custom_wheel_offset.storage.writer import BatchWriter

from .conftest import CONFIG, settings_for


@dataclass
class Parts:
    frontier: Frontier
    writer: BatchWriter
    network: OptimizedNetworkManager
    counters: Counters
    stop: threading.Event

    def processor(
        self, sandbox: RunningSandbox, limit: int | None = None
    ) -> MultithreadedProcessor:
        settings = settings_for(sandbox)
        handler = ItemHandler(settings, self.network, self.counters, ItemFilter())
        return MultithreadedProcessor(
            workers=4,
            kinds=_kinds_for(STAGES),
            item_filter=ItemFilter(),
            frontier=self.frontier,
            writer=self.writer,
            handler=handler,
            network=self.network,
            counters=self.counters,
            store_base=settings.store_base,
            max_blocked=60.0,
            limit=limit,
            stop=self.stop,
        )


@pytest.fixture
def parts(db: OptimizedDatabaseManager, sandbox: RunningSandbox) -> Iterator[Parts]:
    counters = Counters()
    frontier = Frontier(db, "test:1:proc", lease_seconds=60)
    crawl = frontier.begin_run(skip_existing=False, retry_failed=False, root=root_item())
    writer = BatchWriter(
        db, owner="test:1:proc", crawl_id=crawl.crawl_id, counters=counters, flush_interval=0.02
    )
    writer.start()
    network = OptimizedNetworkManager(settings_for(sandbox), counters)
    yield Parts(frontier, writer, network, counters, threading.Event())
    if writer.running:
        writer.stop()
    network.close()


def _count(db: OptimizedDatabaseManager, table: object) -> int:
    with db.read() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())  # type: ignore[arg-type]


def test_a_whole_crawl_stores_exactly_the_truth(
    parts: Parts, db: OptimizedDatabaseManager, sandbox: RunningSandbox
) -> None:
    summary = parts.processor(sandbox).run()
    parts.writer.stop()
    assert not summary.stopped and not summary.limit_reached
    assert summary.claimed == summary.completed > 0
    statuses = {s for by_status in parts.frontier.stage_counts().values() for s in by_status}
    assert statuses == {"done"}
    truth_vehicles, truth_fitments = truth_records(CONFIG)
    assert _count(db, vehicles) == len(truth_vehicles)
    assert _count(db, fitments) == len(truth_fitments)
    # Fetched, not made up: at least one request per stored fitment page.
    assert sandbox.counters()["requests"]["fitment"] >= len(truth_fitments)


def test_a_stop_set_before_the_run_claims_nothing(parts: Parts, sandbox: RunningSandbox) -> None:
    parts.stop.set()
    summary = parts.processor(sandbox).run()
    assert summary.stopped and summary.claimed == 0 and summary.completed == 0
    assert parts.frontier.stage_counts() == {"years": {"pending": 1}}


def test_the_limit_bounds_the_items_claimed(parts: Parts, sandbox: RunningSandbox) -> None:
    summary = parts.processor(sandbox, limit=3).run()
    parts.writer.stop()
    assert summary.limit_reached and not summary.stopped
    assert summary.claimed == summary.completed == 3
    done = sum(by.get("done", 0) for by in parts.frontier.stage_counts().values())
    assert done == 3
