"""Progress: plain lines, rich display, off, auto choice, rates and ETAs."""

from __future__ import annotations

import io
import logging
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable

import pytest

from custom_wheel_offset.progress import (
    NullProgress,
    PlainProgress,
    RateWindow,
    RichProgress,
    StageProgress,
    format_eta,
    make_progress,
)

CONTROL = re.compile(r"[\x00-\x09\x0b-\x1f\x7f]")  # anything but newline
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


class Counting:
    """A snapshot callable over counters that a fake crawl advances."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.done = 120
        self.calls = 0

    def __call__(self) -> dict[str, StageProgress]:
        with self.lock:
            self.calls += 1
            self.done += 1
            return {
                "tree": StageProgress("tree", self.done, 1000, failed=2),
                "vehicles": StageProgress("vehicles", 40, 250),
            }


def wait_for(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


class TtyStringIO(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_stage_progress_remaining() -> None:
    assert StageProgress("tree", 5, 10, failed=2).remaining == 3
    assert StageProgress("tree", 5, 3).remaining == 0


def test_rate_window_uses_recent_points_only() -> None:
    window = RateWindow(seconds=10)
    assert window.rate() is None
    window.add(0.0, 0)
    assert window.rate() is None
    for t in range(1, 21):  # 1 item/s for 20 s
        window.add(float(t), t)
    assert window.rate() == pytest.approx(1.0)
    for t in range(21, 41):  # then 5 items/s
        window.add(float(t), 20 + 5 * (t - 20))
    assert window.rate() == pytest.approx(5.0)


def test_format_eta() -> None:
    assert format_eta(0, None) == "0:00:00"
    assert format_eta(10, None) == "?"
    assert format_eta(10, 0.0) == "?"
    assert format_eta(7200, 2.0) == "1:00:00"
    assert format_eta(95, 1.0) == "0:01:35"


def test_plain_mode_emits_lines_without_control_characters() -> None:
    stream = io.StringIO()
    snapshot = Counting()
    progress = make_progress("plain", snapshot, interval=0.02, stream=stream)
    assert isinstance(progress, PlainProgress)
    with progress:
        wait_for(lambda: stream.getvalue().count("\n") >= 3)
    text = stream.getvalue()
    assert not CONTROL.search(text), repr(text)
    lines = text.split("\n")[:-1]
    assert len(lines) >= 4
    assert re.search(
        r"progress tree \d+/1000 \(2 failed, [\d.?]+/s, ETA [\d:?]+\) vehicles 40/250 \(", lines[0]
    )
    assert re.search(r"[\d.]+ items/s, ETA [\d:]+ \| elapsed \d:\d\d:\d\d$", lines[1])
    assert "progress finished after" in lines[-1]
    assert "2 failed" in lines[-1]
    stats = progress.stats()
    assert stats["mode"] == "plain"
    assert stats["refreshes"] == len(lines)


def test_plain_mode_logs_when_no_stream(caplog: pytest.LogCaptureFixture) -> None:
    with (
        caplog.at_level(logging.INFO, logger="custom_wheel_offset.progress"),
        make_progress("plain", Counting(), interval=0.02),
    ):
        wait_for(lambda: len(caplog.records) >= 2)
    messages = [r.getMessage() for r in caplog.records]
    assert messages[0].startswith("progress tree ")
    assert messages[-1].startswith("progress finished")


def test_plain_mode_default_interval_is_thirty_seconds() -> None:
    stream = io.StringIO()
    with make_progress("plain", Counting(), stream=stream) as progress:
        time.sleep(0.1)
    assert progress.stats()["interval_seconds"] == 30
    assert stream.getvalue().count("\n") == 1  # only the final summary


def test_plain_mode_survives_a_failing_snapshot(caplog: pytest.LogCaptureFixture) -> None:
    def broken() -> dict[str, StageProgress]:
        raise RuntimeError("db gone")

    stream = io.StringIO()
    with (
        caplog.at_level(logging.WARNING),
        make_progress("plain", broken, interval=0.01, stream=stream),
    ):
        time.sleep(0.1)
    warnings = [r for r in caplog.records if "progress snapshot failed" in r.getMessage()]
    assert len(warnings) == 1
    assert "progress finished" in stream.getvalue()


def test_rich_mode_renders_and_is_throttled() -> None:
    from rich.console import Console

    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, width=120)
    snapshot = Counting()
    progress = make_progress("rich", snapshot, stream=console, interval=0.0)  # asks too much
    assert isinstance(progress, RichProgress)
    started = time.perf_counter()
    with progress:
        time.sleep(1.0)
    elapsed = time.perf_counter() - started
    stats = progress.stats()
    assert stats["mode"] == "rich"
    assert stats["interval_seconds"] == pytest.approx(0.1)
    # start + final renders, and at most 10 a second in between
    assert 2 <= stats["refreshes"] <= 10 * elapsed + 2
    assert snapshot.calls <= 10 * elapsed + 2
    text = ANSI.sub("", buffer.getvalue())
    assert "tree" in text and "vehicles" in text
    assert re.search(r"\b1\d\d/1000\b", text)
    assert "40/250" in text
    assert "2 failed" in text
    assert "ETA" in text


def test_rich_mode_with_a_plain_file_stream() -> None:
    buffer = io.StringIO()
    with make_progress("rich", Counting(), stream=buffer) as progress:
        time.sleep(0.05)
    assert progress.stats()["refreshes"] >= 2
    assert "tree" in buffer.getvalue()


def test_off_mode_is_silent(caplog: pytest.LogCaptureFixture) -> None:
    stream = io.StringIO()
    snapshot = Counting()
    with (
        caplog.at_level(logging.DEBUG),
        make_progress("off", snapshot, interval=0.01, stream=stream) as progress,
    ):
        time.sleep(0.05)
    assert isinstance(progress, NullProgress)
    assert stream.getvalue() == ""
    assert not caplog.records
    assert snapshot.calls == 0
    assert progress.stats() == {
        "mode": "off",
        "refreshes": 0,
        "refresh_hz": 0.0,
        "interval_seconds": 0.0,
    }


def test_auto_mode_chooses_by_terminal() -> None:
    assert isinstance(make_progress("auto", Counting(), stream=io.StringIO()), PlainProgress)
    assert isinstance(make_progress("auto", Counting(), stream=TtyStringIO()), RichProgress)


def test_unknown_mode_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown progress mode"):
        make_progress("fancy", Counting())


def test_start_and_stop_are_idempotent() -> None:
    stream = io.StringIO()
    progress = make_progress("plain", Counting(), interval=10, stream=stream)
    progress.stop()  # before start: nothing
    progress.start()
    progress.start()
    progress.stop()
    progress.stop()
    assert stream.getvalue().count("progress finished") == 1


def test_importing_progress_does_not_import_rich() -> None:
    code = (
        "import sys, custom_wheel_offset.progress as p\n"
        "p.make_progress('plain', dict, interval=1).stats()\n"
        "assert not any(m == 'rich' or m.startswith('rich.') for m in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
