"""The full-size chaos run of issue 4: every fault at once, and nothing lost.

Starts the sandbox in this process with all of the site's misbehaviours
switched on at once, runs the real ``cwo scrape`` in a child process
against it (defaults otherwise, except ``--rate 0`` as for any sandbox run
and a short ``CWO_READ_TIMEOUT`` so that held requests time out), then
checks what issue 4 promises:

* the scrape exits 0 (no item failed) with the default attempts and backoff;
* ``cwo export`` of vehicles and fitments is byte-identical to the truth;
* ``cwo status --json`` shows no failed, pending or leased item;
* the sandbox's counters show that every fault kind was injected.

Scenarios:

``chaos`` (default)
    5% 5xx, 3% 429, 2% resets, 2% truncations, 1% held requests (held
    longer than the read timeout) and 3% bot challenges, all at once.

``challenge-window``
    no random faults; from ``--challenge-after`` seconds after the start,
    every store request is challenged for ``--challenge-for`` seconds (60 by
    default). First run: completes by itself. Second run on a new database
    with ``--max-blocked`` shorter than the window: exits 5 (blocked), then a
    third run on that database completes it. The API is served from
    ``localhost`` and the store from ``127.0.0.1`` so that they are two hosts,
    as on the live site.

Usage::

    python scripts/chaos.py                                  # chaos at size small
    python scripts/chaos.py --size tiny --workers 10
    python scripts/chaos.py --scenario challenge-window      # 60 s window at size small
    python scripts/chaos.py --json                           # the figures as JSON too

Exit status 0 when every check holds, 1 otherwise. Takes a while: under 3%
random 429s the client's AIMD settles at a few requests per second (see
docs/resilience.md), so size small takes over an hour (71 min measured).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from custom_wheel_offset.sandbox import SIZES, FaultConfig, SandboxConfig, start_sandbox
from custom_wheel_offset.sandbox.truth import write_truth

CHAOS_FAULTS = {
    "error_rate": 0.05,
    "rate_429": 0.03,
    "reset_rate": 0.02,
    "truncate_rate": 0.02,
    "hold_rate": 0.01,
    "challenge_rate": 0.03,
}
CHAOS_KINDS = ("error_5xx", "rate_429", "reset", "truncated", "held", "challenge")


def cwo(
    *args: str, env: dict[str, str] | None = None, timeout: float | None = None
) -> tuple[int, str, float]:
    """Run the real `cwo` in a child process: (exit code, combined output, seconds)."""
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "custom_wheel_offset", *args],
        env={**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        timeout=timeout,
        check=False,
    )
    return proc.returncode, proc.stdout.decode("utf-8", "replace"), time.monotonic() - started


def export_equals_truth(db_url: str, truth: Path, work: Path) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for what in ("vehicles", "fitments"):
        target = work / f"export-{what}.jsonl"
        code, text, _ = cwo("export", "--what", what, "--db", db_url, "--out", str(target))
        if code != 0:
            out[what] = f"export failed ({code}): {text[-500:]}"
            continue
        got = target.read_bytes().splitlines()
        want = (truth / f"{what}.jsonl").read_bytes().splitlines()
        if got == want:
            out[what] = f"equal ({len(want)} records)"
        else:
            gs, ws = set(got), set(want)
            out[what] = (
                f"DIFFERENT: {len(got)} exported vs {len(want)} in truth, "
                f"{len(ws - gs)} missing, {len(gs - ws)} unexpected"
            )
    return out


def status_of(db_url: str) -> dict[str, Any]:
    code, text, _ = cwo("status", "--json", "--db", db_url)
    if code != 0:
        raise SystemExit(f"cwo status failed ({code}): {text}")
    return json.loads(text)


def open_or_failed(status: dict[str, Any]) -> dict[str, int]:
    totals = {"failed": 0, "pending": 0, "leased": 0}
    for stage in status["stages"].values():
        for key in totals:
            totals[key] += stage.get(key, 0)
    return totals


def report_of(db_url: str, work: Path) -> dict[str, Any]:
    target = work / "report.json"
    code, _output, _ = cwo("report", "--db", db_url, "--out", str(target))
    if code != 0:
        return {}
    return json.loads(target.read_text(encoding="utf-8"))


def scrape_args(api_base: str, store_base: str, db_url: str, args: argparse.Namespace) -> list[str]:
    return [
        "scrape",
        "--api-base",
        api_base,
        "--store-base",
        store_base,
        "--db",
        db_url,
        "--workers",
        str(args.workers),
        "--rate",
        "0",
        "--progress",
        "off",
    ]


def run_chaos(args: argparse.Namespace, work: Path, truth: Path) -> tuple[bool, dict[str, Any]]:
    faults = FaultConfig(**CHAOS_FAULTS, hold_seconds=args.hold_seconds)
    db_url = f"sqlite:///{work / 'chaos.db'}"
    env = {"CWO_READ_TIMEOUT": str(args.read_timeout)}
    with start_sandbox(SandboxConfig(size=args.size, seed=args.seed, faults=faults)) as sb:
        code, output, seconds = cwo(
            *scrape_args(sb.api_base, sb.store_base, db_url, args), env=env, timeout=args.timeout
        )
        counters = sb.counters()
    status = status_of(db_url)
    report = report_of(db_url, work)
    exports = export_equals_truth(db_url, truth, work)
    injected = {k: counters["faults"].get(k, 0) for k in CHAOS_KINDS}
    figures = {
        "scenario": "chaos",
        "size": args.size,
        "seed": args.seed,
        "faults": {**CHAOS_FAULTS, "hold_seconds": args.hold_seconds},
        "read_timeout": args.read_timeout,
        "workers": args.workers,
        "exit_code": code,
        "seconds": round(seconds, 1),
        "requests_received": counters["total_requests"],
        "requests_per_second": round(counters["total_requests"] / max(seconds, 1e-9), 2),
        "faults_injected": injected,
        "statuses": counters["statuses"],
        "retries": report.get("retries", {}).get("total"),
        "retry_reasons": report.get("retries", {}).get("by_reason"),
        "challenges_seen": report.get("counters", {}).get("challenges"),
        "host_rate_at_end": {
            h: v.get("rate") for h, v in report.get("network", {}).get("hosts", {}).items()
        },
        "frontier": open_or_failed(status),
        "exports": exports,
        "summary": [line for line in output.splitlines() if line.startswith("cwo:")],
    }
    ok = (
        code == 0
        and all(v.startswith("equal") for v in exports.values())
        and figures["frontier"] == {"failed": 0, "pending": 0, "leased": 0}
        and all(injected.values())
    )
    return ok, figures


def run_challenge_window(
    args: argparse.Namespace, work: Path, truth: Path
) -> tuple[bool, dict[str, Any]]:
    faults = FaultConfig(
        latency_ms=args.latency_ms,
        challenge_after=args.challenge_after,
        challenge_for=args.challenge_for,
    )
    figures: dict[str, Any] = {
        "scenario": "challenge-window",
        "size": args.size,
        "challenge_after": args.challenge_after,
        "challenge_for": args.challenge_for,
        "latency_ms": args.latency_ms,
    }
    with start_sandbox(SandboxConfig(size=args.size, seed=args.seed, faults=faults)) as sb:
        # Two host names for one server: API work must go on while the store is paused.
        api_base = sb.api_base.replace("127.0.0.1", "localhost")
        ok, figures["waits_out_the_window"] = _waits_out_the_window(
            args, work, truth, sb, faults, api_base
        )
        blocked_ok, figures["max_blocked"] = _max_blocked_then_next_run(
            args, work, truth, sb, faults, api_base
        )
    return ok and blocked_ok, figures


def _cwo_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("cwo:")]


def _waits_out_the_window(
    args: argparse.Namespace, work: Path, truth: Path, sb: Any, faults: FaultConfig, api_base: str
) -> tuple[bool, dict[str, Any]]:
    """1. The window comes and goes; the run waits it out and completes by itself."""
    db_url = f"sqlite:///{work / 'window.db'}"
    sb.set_faults(faults)  # the window's clock starts with the run
    code, output, seconds = cwo(
        *scrape_args(api_base, sb.store_base, db_url, args), timeout=args.timeout
    )
    counters = sb.counters()
    exports = export_equals_truth(db_url, truth, work)
    frontier = open_or_failed(status_of(db_url))
    ok = code == 0 and all(v.startswith("equal") for v in exports.values())
    ok &= frontier == {"failed": 0, "pending": 0, "leased": 0}
    ok &= counters["faults"].get("challenge_window", 0) > 0
    return ok, {
        "exit_code": code,
        "seconds": round(seconds, 1),
        "challenged": counters["faults"].get("challenge_window", 0),
        "exports": exports,
        "frontier": frontier,
        "summary": _cwo_lines(output),
    }


def _max_blocked_then_next_run(
    args: argparse.Namespace, work: Path, truth: Path, sb: Any, faults: FaultConfig, api_base: str
) -> tuple[bool, dict[str, Any]]:
    """2. --max-blocked shorter than the window: exit 5, then the next run completes."""
    db_url = f"sqlite:///{work / 'blocked.db'}"
    sb.reset_counters()
    sb.set_faults(faults)
    blocked = f"{args.max_blocked:g}s"
    code, output, seconds = cwo(
        *scrape_args(api_base, sb.store_base, db_url, args),
        "--max-blocked",
        blocked,
        timeout=args.timeout,
    )
    first = {"exit_code": code, "seconds": round(seconds, 1), "message": _cwo_lines(output)}
    ok = code == 5
    sb.set_faults(FaultConfig(latency_ms=args.latency_ms))  # the site lets us in again
    code, output, seconds = cwo(
        *scrape_args(api_base, sb.store_base, db_url, args), timeout=args.timeout
    )
    exports = export_equals_truth(db_url, truth, work)
    ok &= code == 0 and all(v.startswith("equal") for v in exports.values())
    return ok, {
        "max_blocked": blocked,
        "first_run": first,
        "next_run": {
            "exit_code": code,
            "seconds": round(seconds, 1),
            "exports": exports,
            "summary": _cwo_lines(output),
        },
    }


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenario", choices=("chaos", "challenge-window"), default="chaos")
    parser.add_argument("--size", default="small", choices=SIZES)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=10)
    parser.add_argument(
        "--read-timeout",
        type=float,
        default=2.0,
        help="CWO_READ_TIMEOUT of the scrape (held requests outlast it)",
    )
    parser.add_argument("--hold-seconds", type=float, default=5.0)
    parser.add_argument("--challenge-after", type=float, default=10.0)
    parser.add_argument("--challenge-for", type=float, default=60.0)
    parser.add_argument(
        "--max-blocked",
        type=float,
        default=30.0,
        help="seconds, for the second run of challenge-window (< the window)",
    )
    parser.add_argument(
        "--latency-ms",
        type=float,
        default=20.0,
        help="challenge-window: latency so the run lasts past the window",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=4 * 3600.0,
        help="give up on a scrape after this many seconds",
    )
    parser.add_argument(
        "--work-dir",
        type=Path,
        default=None,
        help="keep the databases and exports here (default: a temp dir)",
    )
    parser.add_argument("--json", action="store_true", help="print the figures as JSON only")
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.hold_seconds <= args.read_timeout:
        parser.error("--hold-seconds must be longer than --read-timeout")

    with tempfile.TemporaryDirectory(prefix="cwo-chaos-") as tmp:
        work = args.work_dir or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        truth = work / "truth"
        truth.mkdir(exist_ok=True)
        write_truth(SandboxConfig(size=args.size, seed=args.seed), truth)
        runner = run_chaos if args.scenario == "chaos" else run_challenge_window
        ok, figures = runner(args, work, truth)
    figures["ok"] = ok
    if args.json:
        print(json.dumps(figures, indent=2, ensure_ascii=False))
    else:
        for key, value in figures.items():
            shown = (
                value
                if isinstance(value, (str, int, float, bool)) or value is None
                else (json.dumps(value, ensure_ascii=False))
            )
            print(f"{key:>22}: {shown}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
