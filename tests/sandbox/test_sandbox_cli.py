"""`cwo sandbox serve|truth`: help texts, the truth files, and a real `serve` process."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import click
import requests
from click.testing import CliRunner

from custom_wheel_offset.cli.sandbox_cmd import sandbox
from custom_wheel_offset.exporting.format import jsonl_line
from custom_wheel_offset.sandbox import SandboxConfig
from custom_wheel_offset.sandbox.truth import truth_records

SERVE_OPTIONS = (
    "--host",
    "--port",
    "--size",
    "--seed",
    "--page-kb",
    "--latency-ms",
    "--jitter-ms",
    "--error-rate",
    "--rate-429",
    "--retry-after",
    "--hold-rate",
    "--hold-seconds",
    "--reset-rate",
    "--truncate-rate",
    "--challenge-rate",
    "--challenge-after",
    "--challenge-for",
    "--max-rps",
    "--p-forbidden",
    "--forbidden-after",
    "--forbidden-for",
    "--robots-disallow",
    "--edition",
)


def test_group_is_named_sandbox() -> None:
    assert isinstance(sandbox, click.Group) and sandbox.name == "sandbox"
    assert set(sandbox.commands) == {"serve", "truth", "changes"}


def test_serve_help_mentions_every_option() -> None:
    result = CliRunner().invoke(sandbox, ["serve", "--help"])
    assert result.exit_code == 0
    for option in SERVE_OPTIONS:
        assert option in result.output, option
    assert "Example:" in result.output
    command = sandbox.commands["serve"]
    for param in command.params:
        if isinstance(param, click.Option) and param.name != "help":
            assert param.help, param.name


def test_truth_help() -> None:
    result = CliRunner().invoke(sandbox, ["truth", "--help"])
    assert result.exit_code == 0
    for option in ("--size", "--seed", "--out"):
        assert option in result.output
    assert "Example:" in result.output
    assert "Example:" in CliRunner().invoke(sandbox, ["--help"]).output


def test_truth_writes_the_truth_records(tmp_path: Path) -> None:
    out = tmp_path / "truth"
    result = CliRunner().invoke(
        sandbox, ["truth", "--size", "tiny", "--seed", "3", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    vehicles, fitments = truth_records(SandboxConfig(size="tiny", seed=3))
    assert (out / "vehicles.jsonl").read_bytes() == "".join(jsonl_line(r) for r in vehicles).encode(
        "utf-8"
    )
    assert (out / "fitments.jsonl").read_bytes() == "".join(jsonl_line(r) for r in fitments).encode(
        "utf-8"
    )
    assert f"{len(vehicles)} vehicles" in result.output


def test_truth_rejects_a_bad_size(tmp_path: Path) -> None:
    result = CliRunner().invoke(sandbox, ["truth", "--size", "huge", "--out", str(tmp_path)])
    assert result.exit_code == 2


def test_serve_prints_its_urls_first_and_serves() -> None:
    code = "from custom_wheel_offset.cli.sandbox_cmd import sandbox; sandbox()"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            code,
            "serve",
            "--port",
            "0",
            "--page-kb",
            "4",
            "--robots-disallow",
            "/store/",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline().strip() for _ in range(3)]
        keys = [line.partition("=")[0] for line in lines]
        assert keys == ["api_base", "store_base", "counters"]
        urls = {k: line.partition("=")[2] for k, line in zip(keys, lines, strict=True)}
        assert urls["api_base"] == urls["store_base"] + "/fitment/vehicle/co"
        assert 2024 in requests.get(urls["api_base"] + "/", timeout=5).json()
        assert (
            "Disallow: /store/" in requests.get(urls["store_base"] + "/robots.txt", timeout=5).text
        )
        counters = requests.get(urls["counters"], timeout=5).json()
        assert counters["total_requests"] == 2
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0


def test_serve_passes_the_forbidden_options_on() -> None:
    code = "from custom_wheel_offset.cli.sandbox_cmd import sandbox; sandbox()"
    args = ["serve", "--page-kb", "4", "--forbidden-after", "1", "--forbidden-for", "3600"]
    proc = subprocess.Popen(
        [sys.executable, "-c", code, *args, "--p-forbidden", "0"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        api_base = proc.stdout.readline().strip().partition("=")[2]
        store_base = proc.stdout.readline().strip().partition("=")[2]
        assert requests.get(api_base + "/", timeout=5).status_code == 200
        refused = requests.get(api_base + "/", timeout=5)
        assert (refused.status_code, refused.content) == (403, b'{"message":"Forbidden"}')
        counters = requests.get(store_base + "/__sandbox__/counters", timeout=5).json()
        assert counters["faults"]["forbidden_window"] == 1
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0
