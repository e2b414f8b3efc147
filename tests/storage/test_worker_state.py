"""Worker and run liveness: a pid check on this host, the heartbeat against the lease elsewhere."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import psutil

from custom_wheel_offset.storage.workers import STALE_AFTER_SECONDS, process_gone, worker_state

HERE = socket.gethostname()


def _row(**values: object) -> dict[str, object]:
    now = time.time()
    row: dict[str, object] = {
        "host": HERE,
        "pid": os.getpid(),
        "started_at": now,
        "heartbeat_at": now,
        "stopped_at": None,
    }
    row.update(values)
    return row


def test_a_live_process_on_this_host_is_live() -> None:
    assert process_gone(HERE, os.getpid(), time.time()) is False
    assert worker_state(_row(), now=time.time()) == "live"


def test_an_exited_process_on_this_host_is_gone_at_once() -> None:
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    started = time.time()
    child.wait()
    assert process_gone(HERE, child.pid, started) is True
    assert worker_state(_row(pid=child.pid, started_at=started), now=time.time()) == "gone"


def test_a_reused_pid_is_not_taken_for_the_registered_process() -> None:
    # This process was created before "registration" an hour later than that: its
    # pid, alive now, belongs to a process that started after the registered one.
    created = psutil.Process().create_time()
    assert process_gone(HERE, os.getpid(), created - 3600) is True
    assert process_gone(HERE, os.getpid(), created + 5) is False


def test_another_host_is_judged_by_its_heartbeat_against_its_lease() -> None:
    now = time.time()
    other = _row(host=HERE + "-elsewhere", pid=1)
    assert process_gone(other["host"], 1, now) is None  # type: ignore[arg-type]
    assert worker_state({**other, "heartbeat_at": now - 20}, now=now, lease_seconds=30) == "live"
    assert worker_state({**other, "heartbeat_at": now - 31}, now=now, lease_seconds=30) == "stale"
    old = now - STALE_AFTER_SECONDS - 1
    assert worker_state({**other, "heartbeat_at": old}, now=now) == "stale"
    assert worker_state({**other, "stopped_at": now}, now=now) == "ended"
