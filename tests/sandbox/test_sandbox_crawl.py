"""Issue 2, first "done when": a protocol crawl of the tiny sandbox equals its truth exactly.

The crawler (``ProtocolClient`` in conftest.py) follows the documented
protocol over real HTTP (select + options with the session cookie, fitment
URLs with the vehicle's own type and chassis) and never reads the catalogue.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from custom_wheel_offset.exporting.format import fitment_sort_key, jsonl_line, vehicle_sort_key
from custom_wheel_offset.sandbox import FaultConfig, SandboxConfig, start_sandbox
from custom_wheel_offset.sandbox.truth import truth_records


def _lines(records: list[dict[str, Any]], key: Callable[..., Any]) -> list[str]:
    return [jsonl_line(r) for r in sorted(records, key=key)]


def test_tiny_crawl_equals_truth(tiny_crawl: Any) -> None:
    vehicles, fitments = truth_records(SandboxConfig(size="tiny", seed=1))
    assert len(vehicles) >= 15 and len(fitments) >= 200
    assert _lines(tiny_crawl.vehicles, vehicle_sort_key) == [jsonl_line(r) for r in vehicles]
    assert _lines(tiny_crawl.fitments, fitment_sort_key) == [jsonl_line(r) for r in fitments]


def test_truth_follows_the_seed_and_crawl_of_another_seed_matches(client_class: Any) -> None:
    config = SandboxConfig(size="tiny", seed=5, page_kb=4)
    with start_sandbox(config) as sb:
        client = client_class(sb.api_base, sb.store_base)
        result = client.crawl()
        client.close()
    vehicles, fitments = truth_records(config)
    assert _lines(result.vehicles, vehicle_sort_key) == [jsonl_line(r) for r in vehicles]
    assert _lines(result.fitments, fitment_sort_key) == [jsonl_line(r) for r in fitments]
    assert truth_records(SandboxConfig(size="tiny", seed=1)) != (vehicles, fitments)


def test_faults_never_change_the_truth(client_class: Any) -> None:
    """A retrying crawl through every kind of fast fault still equals the truth."""
    faults = FaultConfig(
        error_rate=0.08,
        rate_429=0.05,
        retry_after=0,
        reset_rate=0.04,
        truncate_rate=0.08,
        challenge_rate=0.05,
        forbidden_rate=0.05,
        latency_ms=0.5,
    )
    config = SandboxConfig(size="tiny", seed=2, page_kb=8, faults=faults)
    with start_sandbox(config) as sb:
        client = client_class(sb.api_base, sb.store_base, attempts=40)
        result = client.crawl()
        client.close()
        counters = sb.counters()
    vehicles, fitments = truth_records(config)
    assert _lines(result.vehicles, vehicle_sort_key) == [jsonl_line(r) for r in vehicles]
    assert _lines(result.fitments, fitment_sort_key) == [jsonl_line(r) for r in fitments]
    for kind in ("error_5xx", "rate_429", "reset", "truncated", "challenge", "forbidden"):
        assert counters["faults"][kind] > 0, kind
