"""The progress display as a person sees it: rendered text at 80 and 160 columns.

A fed sequence of snapshots (times chosen by the test, no wall clock) goes
through the same model and renderer as a crawl's display; the recorded text
is checked for what issue 16 asked: an overall line with the elapsed time,
stages not yet discovered shown as waiting, a finished stage keeping its
final rate and duration, a paused host with the pause left.
"""

from __future__ import annotations

import io
import logging
import re

import pytest

from custom_wheel_offset.progress import make_progress
from custom_wheel_offset.progress_view import (
    DisplayModel,
    HostState,
    Overview,
    StageProgress,
    View,
    rich_view,
    stage_texts,
)

HOST = "https://www.customwheeloffset.com"
ORDER = ("tree", "vehicles", "preferences", "fitments")


def stages(**counts: tuple[int, int]) -> list[StageProgress]:
    """``tree=(done, discovered)``, ...; stages not named have nothing discovered yet."""
    return [StageProgress(name, *counts.get(name, (0, 0))) for name in ORDER]


def overview(requests: int, errors: int = 0, retries: int = 0, **host: object) -> Overview:
    state = HostState(HOST, requests=requests, limit=2.0, configured=2.0)
    if host:
        state = HostState(**{**_fields(state), **host})  # type: ignore[arg-type]
    return Overview(requests=requests, errors=errors, retries=retries, hosts=(state,))


def _fields(state: HostState) -> dict[str, object]:
    return {name: getattr(state, name) for name in HostState.__slots__}


def render(view: View, width: int) -> str:
    from rich.console import Console

    console = Console(record=True, width=width, file=io.StringIO(), color_system=None)
    console.print(rich_view(view))
    return console.export_text()


def line_of(text: str, stage: str) -> str:
    return next(line for line in text.splitlines() if line.startswith(stage + " "))


def crawl_views() -> dict[str, View]:
    """The moments of a crawl the tests look at, at times 0, 30, 60, 150 and the end."""
    model = DisplayModel()
    views = {"start": model.update(0.0, stages(tree=(0, 1)), overview(0))}
    views["paused"] = model.update(
        30.0,
        stages(tree=(150, 203), vehicles=(10, 40)),
        overview(60, errors=1, retries=4, limit=1.0, paused_for=12.4),
    )
    views["tree_done"] = model.update(
        60.0, stages(tree=(203, 203), vehicles=(40, 80)), overview(120, errors=1, retries=4)
    )
    views["later"] = model.update(
        150.0,
        stages(tree=(203, 203), vehicles=(80, 80), preferences=(3, 3), fitments=(200, 900)),
        overview(300, errors=1, retries=4, challenge_for=95.0),
    )
    views["final"] = model.update(
        160.0,
        stages(tree=(203, 203), vehicles=(80, 80), preferences=(3, 3), fitments=(220, 900)),
        overview(320, errors=1, retries=4),
        final=True,
    )
    return views


@pytest.mark.parametrize("width", [80, 160])
def test_display_text_at_several_moments_of_a_crawl(width: int) -> None:
    views = crawl_views()

    start = render(views["start"], width)
    assert start.splitlines()[0].startswith("elapsed 0:00:00, ")
    for stage in ("vehicles", "preferences", "fitments"):
        assert re.fullmatch(rf"{stage}\s+waiting\s*", line_of(start, stage)), start
    assert "0/0" not in start
    assert "0/1" in line_of(start, "tree")

    paused = render(views["paused"], width)
    assert paused.splitlines()[0].startswith("elapsed 0:00:30, 2.0 req/s, ")
    assert "last minute: 1 errors, 4 retries" in paused.replace("\n", " ")
    host = " ".join(paused.split())
    assert "www.customwheeloffset.com 2.0 req/s (--rate 2, cut to 1.0/s after 429)" in host
    assert "paused 0:00:12 more (429)" in host
    assert "150/203" in line_of(paused, "tree") and "ETA" in line_of(paused, "tree")

    # tree finished between 30 and 60 s; first seen at 0 s: 203 items in 60 s.
    done = render(views["tree_done"], width)
    assert "done at 3.4/s in 0:01:00" in line_of(done, "tree")
    later = render(views["later"], width)
    assert "done at 3.4/s in 0:01:00" in line_of(later, "tree"), "a finished stage's rate moved"
    assert "vehicles" in later and "done at" in line_of(later, "vehicles")
    assert "blocked 0:01:35 more (bot challenge)" in " ".join(later.split())
    # The errors and retries are older than a minute now.
    assert "last minute: 0 errors, 0 retries" in " ".join(later.split())

    final = render(views["final"], width)
    assert "stopped at" in line_of(final, "fitments")
    assert "220/900" in line_of(final, "fitments")
    assert final.splitlines()[0].startswith("elapsed 0:02:40")
    assert max(len(line) for line in final.splitlines()) <= width


def test_a_stage_that_gets_more_work_after_catching_up_runs_again() -> None:
    model = DisplayModel()
    model.update(0.0, stages(tree=(0, 1)))
    # tree is still running: vehicles caught up is not vehicles done.
    caught_up = model.update(5.0, stages(tree=(5, 9), vehicles=(4, 4)))
    assert caught_up.stages[1].state == "running"
    assert "caught up" in stage_texts(caught_up)[1]
    done = model.update(10.0, stages(tree=(9, 9), vehicles=(4, 4)))
    assert [v.state for v in done.stages[:2]] == ["done", "done"]
    more = model.update(12.0, stages(tree=(9, 10), vehicles=(4, 4)))
    assert [v.state for v in more.stages[:2]] == ["running", "running"]


def test_a_stage_with_nothing_to_do_says_so_at_the_end() -> None:
    model = DisplayModel()
    model.update(0.0, stages(tree=(0, 1)))
    final = model.update(4.0, stages(tree=(1, 1)), final=True)
    assert [v.state for v in final.stages] == ["done", "none", "none", "none"]
    assert stage_texts(final)[1] == "vehicles nothing to do"


def test_rich_progress_records_the_overall_line_and_logs_in_the_file_format() -> None:
    """The live display and a log line through it, on a recorded 80-column console."""
    from rich.console import Console

    from custom_wheel_offset.logsetup import configure_logging, logs_through

    console = Console(record=True, width=80, file=io.StringIO(), force_terminal=True)
    snapshot = iter(
        [
            {s.stage: s for s in stages(tree=(0, 1))},
            *({s.stage: s for s in stages(tree=(7, 9), vehicles=(0, 3))} for _ in range(10_000)),
        ]
    )
    progress = make_progress(
        "rich", lambda: next(snapshot), stream=console, overview=lambda: overview(5)
    )
    stream = io.StringIO()
    configure_logging(stream=stream)
    try:
        with progress, logs_through(progress.console):  # type: ignore[attr-defined]
            logging.getLogger("custom_wheel_offset.test").warning("a line while live")
    finally:
        configure_logging()
    text = console.export_text()
    # The live display's cursor moves are not in the export: lines may run together.
    stamp = r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}"
    assert re.search(rf"{stamp} WARNING custom_wheel_offset.test: a line while live\n", text), text
    assert "[" not in text.split("WARNING")[0][-30:], "rich's own date column is back"
    assert "elapsed 0:00:0" in text
    assert re.search(r"vehicles\s.*0/3", text), text
    assert stream.getvalue() == ""  # nothing bypassed the console while it was live


def test_a_stage_first_seen_finished_says_done_without_a_rate() -> None:
    """A tiny crawl's vehicles can be discovered and done between two looks:
    no rate to give, and no claim that they were done before this run."""
    model = DisplayModel()
    model.update(0.0, stages(tree=(0, 1)))
    view = model.update(1.0, stages(tree=(58, 58), vehicles=(21, 21)))
    assert view.stages[1].state == "done"
    assert stage_texts(view)[1] == "vehicles 21/21 (done)"
