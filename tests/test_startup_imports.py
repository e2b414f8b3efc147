"""Issue 5, target 8: start-up commands import only what they need.

Each command runs in a fresh interpreter through a small wrapper that calls
the CLI's ``main`` and, whatever its exit code, writes ``sorted(sys.modules)``
to a file. Counts of modules only, never wall-clock time.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

WRAPPER = r"""
import sys
out = sys.argv[1]
sys.argv = ["cwo", *sys.argv[2:]]
try:
    from custom_wheel_offset.cli import main
    main()
finally:
    with open(out, "w", encoding="utf-8") as fh:
        fh.write("\n".join(sorted(sys.modules)))
"""


def imported_modules(tmp_path: Path, *args: str) -> tuple[int, set[str], str]:
    out = tmp_path / f"modules-{len(list(tmp_path.iterdir()))}.txt"
    proc = subprocess.run(
        [sys.executable, "-c", WRAPPER, str(out), *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert out.exists(), f"the wrapper wrote no module list: {proc.stderr[-2000:]}"
    return proc.returncode, set(out.read_text(encoding="utf-8").split()), proc.stderr


def _under(modules: set[str], package: str) -> list[str]:
    return sorted(m for m in modules if m == package or m.startswith(package + "."))


def test_help_imports_neither_sqlalchemy_nor_requests_nor_rich_live(tmp_path: Path) -> None:
    code, modules, stderr = imported_modules(tmp_path, "--help")
    assert code == 0, stderr
    assert "custom_wheel_offset.cli" in modules  # the wrapper really ran the CLI
    assert _under(modules, "sqlalchemy") == []
    assert _under(modules, "requests") == []
    assert "rich.live" not in modules


@pytest.mark.parametrize("command", [["scrape", "--help"], ["sandbox", "serve", "--help"]])
def test_subcommand_help_imports_neither_sqlalchemy_nor_requests(
    tmp_path: Path, command: list[str]
) -> None:
    code, modules, stderr = imported_modules(tmp_path, *command)
    assert code == 0, stderr
    assert _under(modules, "sqlalchemy") == []
    assert _under(modules, "requests") == []
    assert "rich.live" not in modules


def _existing_database(url: str) -> str:
    """A cwo database at the current schema: read-only commands never create one."""
    from custom_wheel_offset.storage.database import OptimizedDatabaseManager

    manager = OptimizedDatabaseManager(url)
    manager.ensure_schema()
    manager.dispose()
    return url


def test_status_imports_neither_requests_nor_rich_live(tmp_path: Path) -> None:
    db = _existing_database(f"sqlite:///{tmp_path / 'status.db'}")
    code, modules, stderr = imported_modules(tmp_path, "status", "--db", db)
    assert code == 0, stderr
    assert "custom_wheel_offset.status" in modules  # the command really ran
    assert _under(modules, "requests") == []
    assert "rich.live" not in modules


def test_report_imports_neither_requests_nor_rich_live(tmp_path: Path) -> None:
    db = _existing_database(f"sqlite:///{tmp_path / 'report.db'}")
    # A database without runs: report exits non-zero with a message, which is fine here.
    code, modules, stderr = imported_modules(tmp_path, "report", "--db", db)
    assert code != 0 and "run" in stderr.lower(), stderr
    assert "custom_wheel_offset.cli.data_cmds" in modules
    assert _under(modules, "requests") == []
    assert "rich.live" not in modules
