"""No failed attempt outlives its request: a gc census after 10,000 failures (issue 11)."""

from __future__ import annotations

import gc
import socket
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from custom_wheel_offset.errors import FetchError, TransientFetchError

ATTEMPTS = 10_000
#: The body of every failed answer: something a leak would keep alive with its exception.
BODY = b"<html>server error " + b"x" * 200 + b"</html>"
ANSWER = (
    b"HTTP/1.1 500 Internal Server Error\r\nContent-Type: text/html\r\n"
    b"Content-Length: " + str(len(BODY)).encode() + b"\r\n\r\n" + BODY
)


class FailingServer:
    """Answers every request with the same 500, headers and body in one write.

    (The scripted server writes the body apart from the headers, and on
    loopback Nagle's algorithm against delayed ACKs then costs about 40 ms per
    answer: 10,000 of them would take minutes.)
    """

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port = self._listener.getsockname()[1]
        self.answered = 0
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self._listener.accept()
            except OSError:
                return  # closed
            threading.Thread(target=self._answer, args=(conn,), daemon=True).start()

    def _answer(self, conn: socket.socket) -> None:
        pending = b""
        with conn:
            while True:
                try:
                    data = conn.recv(65536)
                except OSError:
                    return
                if not data:
                    return
                pending += data
                # GET requests carry no body: each blank line ends one request.
                while b"\r\n\r\n" in pending:
                    _, pending = pending.split(b"\r\n\r\n", 1)
                    with self._lock:
                        self.answered += 1
                    conn.sendall(ANSWER)

    def close(self) -> None:
        self._listener.close()


@pytest.fixture
def failing() -> Iterator[FailingServer]:
    srv = FailingServer()
    try:
        yield srv
    finally:
        srv.close()


def _live_fetch_errors() -> int:
    gc.collect()
    return sum(1 for obj in gc.get_objects() if isinstance(obj, FetchError))


def test_ten_thousand_failed_attempts_leave_no_exception_alive(
    failing: FailingServer, make_manager: Any
) -> None:
    """5,000 requests of two attempts each, every attempt answered 500 over real HTTP.

    Each attempt raises a TransientFetchError (with its traceback, frames and
    the answer's body behind it); once the requests have failed, none of them
    may still be reachable: no cache keyed by exceptions, no list of failures.
    """
    # backoff 0: the retry path (tenacity, the predicate, before_sleep) runs in
    # full without sleeping 5,000 times.
    mgr = make_manager(max_attempts=2, backoff_base=0.0, backoff_max=0.0)
    url = f"http://127.0.0.1:{failing.port}/f"
    before = _live_fetch_errors()
    for _ in range(ATTEMPTS // 2):
        with pytest.raises(TransientFetchError):
            mgr.get(url)
    assert failing.answered == ATTEMPTS
    assert _live_fetch_errors() == before
