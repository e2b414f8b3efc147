"""A new user's mistakes end fast, with what to do: filters, a dead base URL, the serve command."""

from __future__ import annotations

import socket
import subprocess
import sys

import pytest
from click.testing import CliRunner

from custom_wheel_offset.cli import cli
from custom_wheel_offset.crawl.filters import close_matches
from custom_wheel_offset.errors import EXIT_NO_MATCH, EXIT_USAGE


def _scrape(*args: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(cli, ["scrape", "--sandbox", "--progress", "off", "-q", *args])


def test_close_matches_prefer_case_and_spacing() -> None:
    names = {"Honda", "Mercedes-Benz", "Land Rover", "Hyundai"}
    assert close_matches("honda", names) == ["Honda"]
    assert close_matches("mercedes benz", names) == ["Mercedes-Benz"]
    assert close_matches("LandRover", names) == ["Land Rover"]
    assert close_matches("Hondda", names)[0] == "Honda"
    assert close_matches("Zzz", names) == []


def test_a_make_in_the_wrong_case_warns_with_the_sites_spelling_and_exits_6() -> None:
    result = _scrape("--makes", "honda")
    assert result.exit_code == EXIT_NO_MATCH, result.output
    assert "--makes 'honda' matched nothing" in result.stderr
    assert "did you mean Honda?" in result.stderr
    # The right spelling crawls and exits 0.
    assert _scrape("--makes", "Honda").exit_code == 0


def test_models_and_years_that_match_nothing_warn_too() -> None:
    result = _scrape("--makes", "Honda", "--models", "pilot")
    assert result.exit_code == EXIT_NO_MATCH
    assert "did you mean Pilot?" in result.stderr
    result = _scrape("--years", "1990-1991")
    assert result.exit_code == EXIT_NO_MATCH
    assert "--years 1990-1991 matched nothing" in result.stderr


@pytest.mark.parametrize(
    "args",
    [["--makes", ""], ["--models", " , "], ["--years", ""]],
    ids=["makes", "models", "years"],
)
def test_an_empty_filter_is_a_usage_error_not_everything(args: list[str]) -> None:
    result = _scrape(*args)
    assert result.exit_code == EXIT_USAGE
    assert "empty" in result.stderr
    assert "run 1" not in result.stderr  # nothing was crawled


def test_a_refused_base_url_ends_the_run_at_once_with_a_hint(tmp_path) -> None:  # type: ignore[no-untyped-def]
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    result = CliRunner().invoke(
        cli,
        [
            *("scrape", "--api-base", f"{base}/fitment/vehicle/co", "--store-base", base),
            *("--db", f"sqlite:///{tmp_path / 'x.db'}", "--progress", "off"),
        ],
    )
    assert result.exit_code == EXIT_USAGE, result.output
    lines = result.stderr.strip().splitlines()
    assert lines[0] == (
        f"cwo: error: nothing is listening at --api-base {base}/fitment/vehicle/co "
        "(connection refused)"
    )
    assert lines[1].startswith("hint: ") and "cwo sandbox serve" in lines[1]
    assert "robots" not in result.stderr  # no request was retried


def test_sandbox_serve_prints_the_exact_scrape_command_and_it_works(tmp_path) -> None:  # type: ignore[no-untyped-def]
    proc = subprocess.Popen(
        [sys.executable, "-m", "custom_wheel_offset", "sandbox", "serve", "--page-kb", "4"],
        stdout=subprocess.PIPE,
        text=True,
        cwd=tmp_path,
    )
    try:
        assert proc.stdout is not None
        lines = [proc.stdout.readline().strip() for _ in range(4)]
        api = lines[0].removeprefix("api_base=")
        store = lines[1].removeprefix("store_base=")
        assert lines[3] == (
            f"scrape=cwo scrape --api-base {api} --store-base {store} --rate 0 "
            "--db sqlite:///data/sandbox.db"
        )
        argv = lines[3].removeprefix("scrape=cwo ").split()
        done = subprocess.run(
            [sys.executable, "-m", "custom_wheel_offset", *argv, "--progress", "off", "-q"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        assert (tmp_path / "data" / "sandbox.db").is_file()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
