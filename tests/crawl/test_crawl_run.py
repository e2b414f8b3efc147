"""``workflow_v3.run`` as a library call: it changes nothing in the calling process.

No signal handler of its own while it runs, no allocator setting; the caller
stops it with an event. The CLI's side (handlers, arenas) is tested through
the command in tests/e2e/test_interrupts.py.
"""

from __future__ import annotations

import signal
import threading
from pathlib import Path
from typing import Any

import pytest

from custom_wheel_offset import allocator
from custom_wheel_offset.crawl import workflow_v3
from custom_wheel_offset.errors import EXIT_OK, EXIT_SIGTERM
from custom_wheel_offset.settings import Settings, resolve_settings


def _settings(tmp_path: Path) -> Settings:
    return resolve_settings(
        {
            "sandbox": True,
            "db": f"sqlite:///{tmp_path / 'run.db'}",
            "progress": "off",
            "quiet": True,
        },
        env={},
    )


class HandlerProbe(threading.Event):
    """A stop event that notes the process's SIGINT/SIGTERM handlers whenever the run looks."""

    def __init__(self) -> None:
        super().__init__()
        self.seen: set[Any] = set()

    def is_set(self) -> bool:
        if threading.current_thread() is threading.main_thread():
            self.seen.add((signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)))
        return super().is_set()


def _callers_handler(signum: int, frame: object) -> None:
    raise AssertionError("no signal is sent in this test")


def test_run_keeps_the_callers_signal_handlers_and_the_allocator(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_mallopt(arenas: int) -> dict[str, Any]:
        raise AssertionError("run() must not set the allocator")

    monkeypatch.setattr(allocator, "_limit", no_mallopt)
    monkeypatch.setattr(allocator, "_applied", None)
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    previous = {
        sig: signal.signal(sig, _callers_handler) for sig in (signal.SIGINT, signal.SIGTERM)
    }
    try:
        probe = HandlerProbe()
        result = workflow_v3.run(_settings(tmp_path), stop=probe)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    assert result.exit_code == EXIT_OK, result.message
    assert probe.seen == {(_callers_handler, _callers_handler)}
    assert result.report["memory"]["allocator"] == {
        "malloc_arena_max": None,
        "source": "default",
        # Keeping threads on one core is the CLI's too (cpus.one_cpu), not run()'s.
        "cpu_affinity": {"cpus": "all", "cpu": None, "allowed": None},
    }


def test_a_stop_request_ends_the_run_interrupted_with_its_exit_code(tmp_path: Path) -> None:
    stop = workflow_v3.StopRequest()
    stop.request(EXIT_SIGTERM)
    result = workflow_v3.run(_settings(tmp_path), stop=stop)
    assert (result.outcome, result.exit_code) == ("interrupted", EXIT_SIGTERM)
    assert "resumes" in (result.message or "")
