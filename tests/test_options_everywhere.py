"""Options everywhere: --config and --debug after the command, CWO_* variables, completion."""

from __future__ import annotations

import dataclasses
import os
import re
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from custom_wheel_offset.cli import cli
from custom_wheel_offset.settings import Settings

README = Path(__file__).resolve().parents[1] / "README.md"
SETTINGS = {f.name for f in dataclasses.fields(Settings)}
# Options whose setting has another name than the option.
RENAMED = {"ignore_robots": "obey_robots", "config_file": "config"}


def _leaves(group: click.Group, prefix: tuple[str, ...] = ()):
    for name, command in group.commands.items():
        if isinstance(command, click.Group):
            yield from _leaves(command, (*prefix, name))
        else:
            yield (*prefix, name), command


def _not_settable_section() -> str:
    text = README.read_text(encoding="utf-8")
    start = text.index("Not settable by environment")
    return text[start : text.index("\n\n", start)]


def test_every_option_of_every_command_has_a_cwo_variable_or_is_listed_in_the_readme() -> None:
    listed = _not_settable_section()
    for path, command in _leaves(cli):
        for param in command.params:
            if not isinstance(param, click.Option) or param.name in (None, "help"):
                continue
            name = RENAMED.get(param.name, param.name)
            envvar = param.envvar
            if name in SETTINGS or name == "config" or envvar:
                continue
            command_line = " ".join(path)
            option = param.opts[0]
            assert f"`{command_line} {option}`" in listed or f"`{command_line}`" in listed, (
                f"{command_line} {option}: no CWO_* variable and not listed in the README"
            )


def test_config_and_debug_after_the_command(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text('db = "sqlite:///from-config.db"\n')
    for args in (["--config", str(config), "status"], ["status", "--config", str(config)]):
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 2
        assert "from-config.db" in result.stderr, args
    result = CliRunner().invoke(cli, ["status", "--debug", "--db", "sqlite:///missing.db"])
    assert "Traceback" in result.stderr
    result = CliRunner().invoke(cli, ["status", "--db", "sqlite:///missing.db"])
    assert "Traceback" not in result.stderr


def test_cwo_variables_reach_what_format_json_and_debug(tmp_path: Path) -> None:
    runner = CliRunner()
    assert runner.invoke(cli, ["scrape", "--sandbox", "--progress", "off", "-q"]).exit_code == 0
    env = {"CWO_DB": "sqlite:///data/sandbox.db", "CWO_WHAT": "fitments", "CWO_FORMAT": "csv"}
    result = runner.invoke(cli, ["export"], env=env)
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("year,make,model,trim,drive,suspension")
    # A flag still beats the variable.
    result = runner.invoke(cli, ["export", "--what", "vehicles", "--format", "jsonl"], env=env)
    assert result.stdout.startswith('{"year"')
    result = runner.invoke(cli, ["status"], env={**env, "CWO_JSON": "1"})
    assert result.stdout.lstrip().startswith("{") and '"stages"' in result.stdout
    result = runner.invoke(cli, ["status", "--db", "sqlite:///no.db"], env={"CWO_DEBUG": "1"})
    assert "Traceback" in result.stderr


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_prints_clicks_script(shell: str) -> None:
    result = CliRunner().invoke(cli, ["completion", shell])
    assert result.exit_code == 0
    assert "_CWO_COMPLETE" in result.stdout
    assert re.search(r"\bcwo\b", result.stdout)


def test_the_completion_script_completes_through_the_real_entry_point() -> None:
    env = {
        **os.environ,
        "_CWO_COMPLETE": "bash_complete",
        "COMP_WORDS": "cwo sta",
        "COMP_CWORD": "1",
    }
    proc = subprocess.run(
        [sys.executable, "-m", "custom_wheel_offset"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert "plain,status" in proc.stdout.splitlines()
