"""The command line: every command documented, settings precedence, errors as exit codes."""

from __future__ import annotations

from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from custom_wheel_offset.cli import cli
from custom_wheel_offset.errors import ConfigError
from custom_wheel_offset.settings import resolve_settings


def _commands(group: click.Group, prefix: tuple[str, ...] = ()):
    for name, command in group.commands.items():
        yield (*prefix, name), command
        if isinstance(command, click.Group):
            yield from _commands(command, (*prefix, name))


def test_every_command_has_help_with_an_example() -> None:
    found = list(_commands(cli))
    assert {path[0] for path, _ in found} >= {
        "scrape",
        "export",
        "report",
        "status",
        "sandbox",
        "db",
    }
    for path, command in found:
        result = CliRunner().invoke(cli, [*path, "--help"])
        assert result.exit_code == 0, path
        assert "Example:" in result.output, f"{' '.join(path)} --help has no example"
        for param in command.params:
            if isinstance(param, click.Option) and not param.hidden:
                assert param.help, f"{' '.join(path)} {param.opts[0]} has no help text"


def test_precedence_flag_over_env_over_file_over_default(tmp_path: Path) -> None:
    config = tmp_path / "cwo.toml"
    config.write_text('[cwo]\nworkers = 3\nrate = 1.5\nmakes = ["Ford", "Mercedes-Benz, AMG"]\n')
    env = {"CWO_RATE": "4", "CWO_WORKERS": "7"}
    s = resolve_settings({"workers": 12}, env=env, config_file=config)
    assert s.workers == 12  # flag
    assert s.rate == 4.0  # environment over file
    assert s.makes == ("Ford", "Mercedes-Benz, AMG")  # file (a comma inside a name)
    assert s.read_timeout == 30.0  # default
    assert resolve_settings({}, env={}, config_file=config).workers == 3


def test_default_config_file_is_read_from_config_dir(tmp_path: Path) -> None:
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "cwo.toml").write_text("workers = 5\n")
    assert resolve_settings({}, env={}).workers == 5  # tests run in tmp_path


@pytest.mark.parametrize(
    ("flags", "env", "needle"),
    [
        ({"workers": "many"}, {}, "workers"),
        ({}, {"CWO_SKIP_EXISTING": "perhaps"}, "CWO_SKIP_EXISTING"),
        ({"years": "2026-2015"}, {}, "empty"),
        ({"stages": "tree,bogus"}, {}, "bogus"),
        ({"api_base": "ftp://x"}, {}, "api_base"),
        ({"workers": 0}, {}, "workers"),
    ],
)
def test_bad_settings_are_config_errors_naming_the_setting(flags, env, needle) -> None:
    with pytest.raises(ConfigError) as info:
        resolve_settings(flags, env=env)
    assert needle in str(info.value)


def test_unknown_config_key_is_rejected(tmp_path: Path) -> None:
    config = tmp_path / "c.toml"
    config.write_text("wokers = 3\n")
    with pytest.raises(ConfigError, match="wokers"):
        resolve_settings({}, env={}, config_file=config)


def test_config_error_exits_2_with_message_and_no_traceback(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["scrape", "--years", "20x5", "--db", f"sqlite:///{tmp_path}/x.db"]
    )
    assert result.exit_code == 2
    assert "years" in result.output and "Traceback" not in result.output


def test_public_settings_mask_secrets() -> None:
    s = resolve_settings(
        {"db": "postgresql+psycopg://crawler:hunter2@db/cwo", "proxy": "http://u:pw9@proxy:3128"},
        env={},
    )
    text = str(s.public_dict())
    assert "hunter2" not in text and "pw9" not in text
    assert "crawler:***@db" in text


def test_status_and_export_on_an_empty_database(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path}/empty.db"
    # Read-only commands never create a database: `db upgrade` (or a scrape) does.
    assert CliRunner().invoke(cli, ["status", "--db", db]).exit_code == 2
    assert not (tmp_path / "empty.db").exists()
    assert CliRunner().invoke(cli, ["db", "upgrade", "--db", db]).exit_code == 0
    result = CliRunner().invoke(cli, ["status", "--db", db])
    assert result.exit_code == 0 and "fitments" in result.output
    result = CliRunner().invoke(cli, ["export", "--what", "vehicles", "--db", db])
    assert result.exit_code == 0 and result.stdout == ""
    result = CliRunner().invoke(cli, ["report", "--db", db])
    assert result.exit_code == 1 and "no run" in result.output
