"""Issue 14 item 6: the sandbox publishes deterministic editions, and their exact changes."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import requests
from click.testing import CliRunner

from custom_wheel_offset.cli.sandbox_cmd import sandbox
from custom_wheel_offset.exporting.format import jsonl_line
from custom_wheel_offset.protocol.records import VehicleId
from custom_wheel_offset.protocol.urls import vehicle_url
from custom_wheel_offset.sandbox import SandboxConfig, start_sandbox
from custom_wheel_offset.sandbox.catalogue import Catalogue, build_catalogue
from custom_wheel_offset.sandbox.editions import edition_changes
from custom_wheel_offset.sandbox.truth import truth_records


def _lines(records: list[dict]) -> list[str]:
    return [jsonl_line(r) for r in records]


def test_later_editions_are_deterministic_and_differ_from_the_first() -> None:
    # Edition 1 is the default everywhere: the existing truth and crawl tests hold
    # it to the catalogue as it was. A fresh object, not the cache: the same
    # (size, seed, edition) builds the same data.
    again = truth_records(Catalogue("small", 1, 2))
    assert truth_records(build_catalogue("small", 1, 2)) == again
    assert again != truth_records(SandboxConfig(size="small"))
    assert Catalogue("small", 1).edition == SandboxConfig().edition == 1


def test_a_step_adds_withdraws_and_changes_about_the_documented_shares() -> None:
    changes = edition_changes("small", 1, 1, 2)
    kinds = Counter((c["change"], c["what"]) for c in changes)
    vehicles = build_catalogue("small", 1, 1).stats().vehicles
    for key in (
        ("added", "vehicle"),
        ("gone", "vehicle"),
        ("changed", "vehicle"),
        ("added", "fitment"),
        ("gone", "fitment"),
        ("changed", "fitment"),
    ):
        assert kinds[key] > 0, key
    assert kinds["added", "vehicle"] + kinds["gone", "vehicle"] < 0.06 * vehicles
    assert "returned" not in {c for c, _ in kinds}
    changed = [c for c in changes if c["change"] == "changed"]
    assert all(c["fields"] and set(c) == {"change", "what", "identity", "fields"} for c in changed)
    # Sorted by kind (vehicles first), then identity.
    order = [(c["what"] != "vehicle", tuple(c["identity"].values())) for c in changes]
    assert order == sorted(order)


def test_edition_2_is_served_and_a_withdrawn_vehicle_answers_404() -> None:
    gone = next(c for c in edition_changes("small", 1, 1, 2) if c["change"] == "gone")
    vid = VehicleId(**gone["identity"])
    for edition, status in ((1, 200), (2, 404)):
        with start_sandbox(SandboxConfig(size="small", edition=edition)) as sb:
            answer = requests.get(vehicle_url(sb.api_base, vid), timeout=10)
        assert answer.status_code == status, (edition, answer.text[:200])


def test_changes_command_writes_the_change_lines(tmp_path: Path) -> None:
    out = tmp_path / "changes.jsonl"
    result = CliRunner().invoke(
        sandbox,
        ["changes", "--size", "small", "--from", "1", "--to", "2", "--out", str(out)],
    )
    assert result.exit_code == 0, result.output
    expected = edition_changes("small", 1, 1, 2)
    assert out.read_text(encoding="utf-8").splitlines(keepends=True) == _lines(expected)
    assert json.loads(out.read_text(encoding="utf-8").splitlines()[0]) == expected[0]
    bad = CliRunner().invoke(sandbox, ["changes", "--from", "3", "--to", "2", "--out", str(out)])
    assert bad.exit_code != 0 and "from" in bad.output
