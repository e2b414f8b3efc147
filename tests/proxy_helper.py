"""A real forward proxy for tests: proxy.py in its own process on 127.0.0.1.

Shared by the net tests and the end-to-end tests (both packages import it as
``proxy_helper``: pytest puts this folder on ``sys.path`` for them).
"""

from __future__ import annotations

import contextlib
import socket
import subprocess
import sys
import time


class LocalProxy:
    """A real forward proxy (proxy.py, in its own process) on 127.0.0.1.

    It serves plain HTTP in absolute form and HTTPS through CONNECT tunnels,
    as a company proxy does.
    """

    def __init__(self, port_file: str) -> None:
        self._process = subprocess.Popen(
            [
                sys.executable, "-m", "proxy", "--hostname", "127.0.0.1", "--port", "0",
                "--port-file", port_file, "--num-acceptors", "1", "--num-workers", "1",
                "--threaded", "--log-level", "ERROR",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 20
        text = ""
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError):
                text = open(port_file).read().strip()  # noqa: SIM115
            if text and _accepts(int(text)):
                break
            if self._process.poll() is not None:
                raise RuntimeError("proxy.py exited at start")
            time.sleep(0.05)
        else:
            self.close()
            raise RuntimeError("proxy.py did not start within 20 s")
        self.port = int(text)

    def url(self, userinfo: str = "") -> str:
        return f"http://{userinfo}127.0.0.1:{self.port}"

    def close(self) -> None:
        self._process.terminate()
        try:
            self._process.wait(10)
        except Exception:  # noqa: BLE001 - a test helper: make sure the process goes
            self._process.kill()
            self._process.wait()


def _accepts(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
    except OSError:
        return False
    return True
