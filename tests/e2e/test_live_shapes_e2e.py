"""Issue 10, item 7 end to end: the live-site shapes of site-protocol.md section 5.

The sandbox serves every shape of section 5 at every size (unit-only blank
ranges, header-labelled and rear-first staggered blocks, every bolt-pattern
form, ``boltpatternMm``, staggered flags, extra and list-valued keys) and, on
request, the fitment API's 403 ``{"message":"Forbidden"}``. These tests
need the parser (protocol/store.py, protocol/api.py) and the API's handling
of Forbidden; they fail until both are in.

cwo runs in its own process with a time limit, so that a run which never
gives up fails the test instead of hanging it.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from custom_wheel_offset.errors import EXIT_BLOCKED, EXIT_OK

from .conftest import cwo_run, export_matches_truth, scrape_args, scrape_args_split, status_json

pytestmark = pytest.mark.slow


def test_tiny_crawl_with_every_shape_and_p_forbidden_equals_truth(
    sandbox, truth_dir, tmp_db: str, tmp_path: Path
) -> None:
    """Every shape, 2% of API requests Forbidden: the export equals `cwo sandbox truth`.

    The Forbidden draws advance with API requests only, so with seed 1 the
    crawl's 35th API request is refused whatever the order of the requests.
    """
    with sandbox("tiny", seed=1, forbidden_rate=0.02) as sb:
        # the API as a host of its own, as on the live site: its pauses leave the store busy
        args = scrape_args_split(sb, tmp_db, "--workers", "8", "--max-blocked", "120s")
        done = cwo_run(args, timeout=300)
        served = sb.counters()
    output = (done.stdout + done.stderr).decode(errors="replace")
    assert done.returncode == EXIT_OK, output[-3000:]
    assert served["faults"]["forbidden"] >= 1, served["faults"]  # the fault did play
    assert served["statuses"].get("403", 0) >= served["faults"]["forbidden"]
    export_matches_truth(tmp_db, truth_dir("tiny"), tmp_path)


def test_api_forbidden_past_max_blocked_exits_5_and_the_next_run_completes(
    sandbox, truth_dir, tmp_db: str, tmp_path: Path
) -> None:
    """After 5 API requests the API refuses everything; the run gives up (exit 5).

    The sandbox is then restarted on the same port without the fault, and the
    same command completes (exit 0) with an export equal to the truth.
    """
    from custom_wheel_offset.sandbox import SandboxConfig, start_sandbox

    with sandbox("tiny", forbidden_after=5, forbidden_for=3600) as sb:
        args = scrape_args(sb, tmp_db, "--workers", "4", "--max-blocked", "2s")
        blocked = cwo_run(args, timeout=180)
        refused = sb.counters()["faults"]["forbidden_window"]
        port = sb.port
    output = (blocked.stdout + blocked.stderr).decode(errors="replace")
    assert blocked.returncode == EXIT_BLOCKED, output[-3000:]
    assert refused > 0
    assert '{"message":"Forbidden"}' in output and "--max-blocked" in output, output[-3000:]
    runs = status_json(tmp_db)["runs"]
    assert (runs[0]["outcome"], runs[0]["exit_code"]) == ("blocked", EXIT_BLOCKED), runs[0]

    with start_sandbox(SandboxConfig(size="tiny", seed=1), port=port) as again_sb:
        assert again_sb.api_base in args  # the same command, against the same addresses
        again = cwo_run(args, timeout=180)
    output = (again.stdout + again.stderr).decode(errors="replace")
    assert again.returncode == EXIT_OK, output[-3000:]
    export_matches_truth(tmp_db, truth_dir("tiny"), tmp_path)
