"""The sandbox's HTTP server: both hosts of the site on one port.

``/fitment/vehicle/co/...`` is the fitment API, everything else is the
store (``/api/ymm-temp.php``, ``/store/wheels``, ``/robots.txt``), and
``/__sandbox__/counters`` (GET) and ``/__sandbox__/reset`` (POST) report and
zero what the server saw; those two are never faulted nor counted.

The server is the standard library's ``ThreadingHTTPServer`` (one thread
per connection, HTTP/1.1 keep-alive) with a lean request loop of its own:
it parses the request line and headers itself, answers in a single write
with an exact ``Content-Length``, and logs nothing per request.

Path segments are split on raw ``/`` and percent-decoded one by one, so a
name holding ``/`` travels as ``%2F``; query strings are decoded with
``parse_qs(keep_blank_values=True)``.
"""

from __future__ import annotations

import collections
import contextlib
import email.utils
import hashlib
import logging
import re
import socket
import struct
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from socketserver import TCPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, unquote

from custom_wheel_offset.protocol.records import VehicleId
from custom_wheel_offset.sandbox.catalogue import Catalogue, build_catalogue
from custom_wheel_offset.sandbox.config import FaultConfig, SandboxConfig
from custom_wheel_offset.sandbox.counters import SandboxCounters
from custom_wheel_offset.sandbox.faults import FaultDecision, FaultEngine
from custom_wheel_offset.sandbox.removal import removed_vehicles
from custom_wheel_offset.sandbox.render import (
    challenge_page,
    error_page,
    fitment_section,
    json_bytes,
    page_template,
    robots_txt,
    vehicle_json,
)

__all__ = ["API_PREFIX", "COUNTERS_PATH", "RESET_PATH", "RunningSandbox", "start_sandbox"]

logger = logging.getLogger(__name__)

API_PREFIX = "/fitment/vehicle/co"
COUNTERS_PATH = "/__sandbox__/counters"
RESET_PATH = "/__sandbox__/reset"
STORE_OPTIONS_PATH = "/api/ymm-temp.php"
STORE_PAGE_PATH = "/store/wheels"

JSON = "application/json; charset=utf-8"
HTML = "text/html; charset=utf-8"
TEXT = "text/plain; charset=utf-8"
# what AWS API Gateway sends a refused client (site-protocol.md section 5)
FORBIDDEN_BODY = b'{"message":"Forbidden"}'
FORBIDDEN_TYPE = "application/json"
FORBIDDEN_HEADERS = (("x-amzn-ErrorType", "ForbiddenException"),)

CHALLENGEABLE = frozenset({"select", "suspension", "trimming", "rubbing", "fitment"})
TRUNCATABLE = frozenset(
    {
        "years",
        "makes",
        "models",
        "model_info",
        "drives",
        "vehicle",
        "select",
        "suspension",
        "trimming",
        "rubbing",
        "fitment",
    }
)
OPTION_FLAGS = (
    ("getSuspension", "suspension"),
    ("getTrimming", "trimming"),
    ("getRubbing", "rubbing"),
)
MAX_SESSIONS = 100_000
_YEAR = re.compile(r"\d{4}")
_REASONS = {
    200: "OK",
    202: "Accepted",
    400: "Bad Request",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    414: "URI Too Long",
    429: "Too Many Requests",
    431: "Request Header Fields Too Large",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


@dataclass(slots=True)
class Answer:
    """One response before faults: status, body parts, content type, extra headers."""

    status: int
    parts: tuple[bytes, ...]
    content_type: str
    headers: tuple[tuple[str, str], ...] = ()

    @property
    def body(self) -> bytes:
        return self.parts[0] if len(self.parts) == 1 else b"".join(self.parts)


def _json(status: int, obj: Any, headers: tuple[tuple[str, str], ...] = ()) -> Answer:
    return Answer(status, (json_bytes(obj),), JSON, headers)


def _not_found(message: str) -> Answer:
    return _json(404, {"error": message})


_date_cache: tuple[int, str] = (0, "")


def _http_date() -> str:
    global _date_cache
    now = int(time.time())
    if _date_cache[0] != now:
        _date_cache = (now, email.utils.formatdate(now, usegmt=True))
    return _date_cache[1]


# ---------------------------------------------------------------- routing and answers


class SandboxApp:
    """Routes requests and computes answers; knows nothing of sockets."""

    def __init__(self, config: SandboxConfig, catalogue: Catalogue) -> None:
        self.config = config
        self.catalogue = catalogue
        self.template = page_template(config.page_kb)
        self.counters = SandboxCounters()
        self.faults = FaultEngine(config.seed, config.faults)
        # PHPSESSID -> (selected vehicle, its vehicle type), least recently used first
        self._sessions: collections.OrderedDict[str, tuple[VehicleId, str]] = (
            collections.OrderedDict()
        )
        self._session_lock = threading.Lock()
        self._session_serial = 0
        self._robots = robots_txt(config.robots_disallow)
        # Withdrawn vehicles: left out of their drives listing, 404 and no fitment data.
        self.removed = removed_vehicles(catalogue, config.remove_vehicles)

    # -------------------------------------------------------- routing

    @staticmethod
    def route(path: str, query: dict[str, list[str]]) -> tuple[str, str, list[str]]:
        """(kind, host, decoded path segments) of a request path."""
        if path == API_PREFIX or path.startswith(API_PREFIX + "/"):
            rest = path[len(API_PREFIX) :]
            rest = rest[1:] if rest.startswith("/") else rest
            rest = rest[:-1] if rest.endswith("/") else rest
            segs = [unquote(s) for s in rest.split("/")] if rest else []
            n = len(segs)
            if n == 7 and segs[0] == "offsetguide" and segs[4] == "trim" and segs[6] == "drives":
                return "drives", "api", segs
            kind = {0: "years", 1: "makes", 2: "models", 3: "model_info", 5: "vehicle"}.get(n)
            return (kind or "not_found"), "api", segs
        if path == STORE_OPTIONS_PATH:
            for flag, kind in OPTION_FLAGS:
                if query.get(flag, [""])[0] == "true":
                    return kind, "store", []
            return "select", "store", []
        if path == STORE_PAGE_PATH:
            return "fitment", "store", []
        if path == "/robots.txt":
            return "robots", "store", []
        return "not_found", "store", []

    # -------------------------------------------------------- answers

    def answer(
        self, kind: str, segs: list[str], query: dict[str, list[str]], cookies: dict[str, str]
    ) -> Answer:
        handler = getattr(self, f"_answer_{kind}")
        result: Answer = handler(segs, query, cookies)
        return result

    def _year(self, text: str) -> int | None:
        if not _YEAR.fullmatch(text):
            return None
        year = int(text)
        return year if year in self.catalogue.years() else None

    def _answer_not_found(self, segs: list[str], query: Any, cookies: Any) -> Answer:
        return _not_found("no such endpoint")

    def _answer_robots(self, segs: list[str], query: Any, cookies: Any) -> Answer:
        return Answer(200, (self._robots,), TEXT)

    def _answer_years(self, segs: list[str], query: Any, cookies: Any) -> Answer:
        return _json(200, self.catalogue.years_served())

    def _answer_makes(self, segs: list[str], query: Any, cookies: Any) -> Answer:
        year = self._year(segs[0])
        makes = None if year is None else self.catalogue.makes_served(year)
        return _not_found(f"unknown year {segs[0]!r}") if makes is None else _json(200, makes)

    def _answer_models(self, segs: list[str], query: Any, cookies: Any) -> Answer:
        year = self._year(segs[0])
        models = None if year is None else self.catalogue.models_served(year, segs[1])
        if models is None:
            return _not_found(f"unknown make {segs[1]!r} for year {segs[0]!r}")
        return _json(200, models)

    def _answer_model_info(self, segs: list[str], query: Any, cookies: Any) -> Answer:
        year = self._year(segs[0])
        info = None if year is None else self.catalogue.model_info_served(year, segs[1], segs[2])
        if info is None:
            return _not_found(f"unknown model {segs[2]!r} for {segs[0]} {segs[1]}")
        return _json(200, info)

    def _answer_drives(self, segs: list[str], query: Any, cookies: Any) -> Answer:
        year = self._year(segs[1])
        drives = (
            None if year is None else self.catalogue.drives_served(year, segs[2], segs[3], segs[5])
        )
        if drives is None:
            return _not_found(f"unknown trim {segs[5]!r} for {segs[1]} {segs[2]} {segs[3]}")
        if self.removed:
            assert year is not None
            make, model, trim = segs[2], segs[3], segs[5]
            drives = [
                d for d in drives if VehicleId(year, make, model, trim, d) not in self.removed
            ]
        return _json(200, drives)

    def _answer_vehicle(self, segs: list[str], query: Any, cookies: Any) -> Answer:
        year = self._year(segs[0])
        vm = None if year is None else self.catalogue.vehicle(year, *segs[1:5])
        if vm is None or vm.vid in self.removed:
            return _not_found("unknown vehicle " + " / ".join(repr(s) for s in segs))
        return _json(200, vehicle_json(vm))

    def _answer_select(
        self, segs: list[str], query: dict[str, list[str]], cookies: dict[str, str]
    ) -> Answer:
        q = {k: v[0] for k, v in query.items()}
        year = self._year(q.get("year", ""))
        vm = None
        if year is not None:
            vm = self.catalogue.vehicle(
                year, q.get("make", ""), q.get("model", ""), q.get("trim", ""), q.get("drive", "")
            )
        if vm is None:
            return _not_found("unknown vehicle")
        with self._session_lock:
            sid = cookies.get("PHPSESSID")
            if sid is None or sid not in self._sessions:
                self._session_serial += 1
                raw = f"{self.config.seed}:{self._session_serial}".encode()
                sid = hashlib.sha1(raw).hexdigest()[:26]
            self._sessions[sid] = (vm.vid, vm.vehicle_type)
            self._sessions.move_to_end(sid)
            while len(self._sessions) > MAX_SESSIONS:
                self._sessions.popitem(last=False)
        return _json(200, {"ok": True}, (("Set-Cookie", f"PHPSESSID={sid}; path=/"),))

    def _options(self, cookies: dict[str, str], which: int) -> Answer:
        sid = cookies.get("PHPSESSID")
        with self._session_lock:
            selected = self._sessions.get(sid) if sid is not None else None
        if selected is None:
            return _json(403, {"error": "no vehicle selected in this session"})
        options = self.catalogue.options(selected[1])
        return _json(200, list((options.suspension, options.trimming, options.rubbing)[which]))

    def _answer_suspension(self, segs: Any, query: Any, cookies: dict[str, str]) -> Answer:
        return self._options(cookies, 0)

    def _answer_trimming(self, segs: Any, query: Any, cookies: dict[str, str]) -> Answer:
        return self._options(cookies, 1)

    def _answer_rubbing(self, segs: Any, query: Any, cookies: dict[str, str]) -> Answer:
        return self._options(cookies, 2)

    def _answer_fitment(self, segs: Any, query: dict[str, list[str]], cookies: Any) -> Answer:
        q = {k: v[0] for k, v in query.items()}
        names = [q.get(k, "") for k in ("year", "make", "model", "trim", "drive")]
        heading = " ".join(n for n in names if n)
        fm = None
        year = self._year(names[0])
        vm = None if year is None else self.catalogue.vehicle(year, *names[1:])
        if vm is not None and vm.vid in self.removed:
            vm = None  # a withdrawn vehicle's page: the site's page without data
        # the store takes the vehicle type in any case (clients send Truck, truck, car)
        if (
            vm is not None
            and q.get("vehicle_type", "").casefold() == vm.vehicle_type.casefold()
            and q.get("DRChassisID") == vm.chassis_id
        ):
            index = self.catalogue.preference_index(
                vm, q.get("suspension", ""), q.get("modification", ""), q.get("rubbing", "")
            )
            if index is not None:
                fm = self.catalogue.fitment(vm, index)
        title = f"{heading} Wheels | Custom Offsets" if heading else "Wheels | Custom Offsets"
        return Answer(200, self.template.parts(title, fitment_section(heading, fm)), HTML)


# ---------------------------------------------------------------- the HTTP layer


class _Handler(BaseHTTPRequestHandler):
    """A lean HTTP/1.1 request loop; the answers come from :class:`SandboxApp`."""

    protocol_version = "HTTP/1.1"
    server_version = "cwo-sandbox"
    disable_nagle_algorithm = True
    timeout = 300  # idle keep-alive connections are dropped after five minutes
    server: _Server
    _http10_keep_alive = False
    ticket: int | None = None  # the counters' writing ticket of the current request

    def log_message(self, format: str, *args: Any) -> None:
        """Per-request logging is off: it would cost more than the answer."""

    # -------------------------------------------------------- reading

    def handle_one_request(self) -> None:
        try:
            line = self.rfile.readline(65537)
        except (OSError, ValueError):
            self.close_connection = True
            return
        if not line:
            self.close_connection = True
            return
        if len(line) > 65536:
            self._send_plain(414, close=True)
            return
        # percent-encoding is the protocol; raw UTF-8 in a target is tolerated like a web server
        parts = line.decode("utf-8", "surrogateescape").split()
        if len(parts) != 3 or not parts[2].startswith("HTTP/"):
            self._send_plain(400, close=True)
            return
        method, target, version = parts
        headers: dict[str, str] = {}
        try:
            for _ in range(101):
                raw = self.rfile.readline(65537)
                if raw in (b"\r\n", b"\n", b""):
                    break
                name, _, value = raw.decode("latin-1").partition(":")
                key = name.strip().lower()
                value = value.strip()
                headers[key] = f"{headers[key]}; {value}" if key in headers else value
            else:
                self._send_plain(431, close=True)
                return
        except (OSError, ValueError):
            self.close_connection = True
            return
        connection = headers.get("connection", "").lower()
        self.close_connection = (
            connection == "close" if version == "HTTP/1.1" else connection != "keep-alive"
        )
        self._http10_keep_alive = version != "HTTP/1.1" and not self.close_connection
        length = headers.get("content-length", "0")
        if not length.isdigit() or int(length) > 1 << 20:
            self._send_plain(400, close=True)
            return
        if length != "0":
            try:
                self.rfile.read(int(length))  # a body (POST /__sandbox__/reset) is not used
            except OSError:
                self.close_connection = True
                return
        self.server.dispatch(self, method, target, headers)

    # -------------------------------------------------------- writing

    def send_answer(
        self,
        status: int,
        parts: tuple[bytes, ...],
        content_type: str,
        headers: tuple[tuple[str, str], ...] = (),
        *,
        close: bool = False,
        content_length: int | None = None,
    ) -> bool:
        """Write one response in a single write; False when the client has gone."""
        body_length = sum(len(p) for p in parts)
        if close:
            self.close_connection = True
        lines = [
            f"HTTP/1.1 {status} {_REASONS.get(status, 'Unknown')}\r\n"
            f"Server: {self.server_version}\r\n"
            f"Date: {_http_date()}\r\n"
            f"Content-Type: {content_type}\r\n"
            f"Content-Length: {body_length if content_length is None else content_length}\r\n"
        ]
        lines.extend(f"{k}: {v}\r\n" for k, v in headers)
        if self.close_connection:
            lines.append("Connection: close\r\n")
        elif self._http10_keep_alive:
            lines.append("Connection: keep-alive\r\n")
        lines.append("\r\n")
        try:
            self.wfile.write(b"".join(("".join(lines).encode("latin-1"), *parts)))
        except OSError:
            self.close_connection = True
            return False
        return True

    def _send_plain(self, status: int, *, close: bool = False) -> None:
        body = f"{status} {_REASONS.get(status, 'Error')}\n".encode()
        self.send_answer(status, (body,), TEXT, close=close)

    def reset_connection(self) -> None:
        """Close abruptly: SO_LINGER 0 makes the close send a TCP RST, no response."""
        self.close_connection = True
        try:
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.rfile.close()
            self.connection.close()
        except OSError:
            logger.debug("reset: socket already gone", exc_info=True)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 512
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], app: SandboxApp) -> None:
        self.app = app
        self.stopping = threading.Event()
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def server_bind(self) -> None:
        # HTTPServer.server_bind would call getfqdn(), a DNS lookup that can take seconds.
        TCPServer.server_bind(self)
        self.server_name = str(self.server_address[0])
        self.server_port = int(self.server_address[1])

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request: Any) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        logger.debug("sandbox: error while serving %s", client_address, exc_info=True)

    def close_connections(self) -> None:
        """Wake every connection thread so it ends (used when the sandbox stops)."""
        with self._connections_lock:
            connections = list(self._connections)
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    # -------------------------------------------------------- one request

    def dispatch(self, h: _Handler, method: str, target: str, headers: dict[str, str]) -> None:
        app = self.app
        path, _, raw_query = target.partition("?")
        if path in (COUNTERS_PATH, RESET_PATH):
            self._control(h, method, path)
            return
        query = parse_qs(raw_query, keep_blank_values=True) if raw_query else {}
        kind, host, segs = app.route(path, query)
        counters = app.counters
        counters.started(kind, host)
        h.ticket = None
        try:
            if method != "GET":
                self._answer(
                    h,
                    405,
                    (json_bytes({"error": "method not allowed"}),),
                    JSON,
                    (("Allow", "GET"),),
                )
                return
            decision = app.faults.decide(
                challengeable=kind in CHALLENGEABLE,
                truncatable=kind in TRUNCATABLE,
                api=host == "api",
            )
            self._play(h, kind, target, segs, query, headers, decision)
        finally:
            counters.finished(h.ticket)

    def _answer(
        self,
        h: _Handler,
        status: int,
        parts: tuple[bytes, ...],
        content_type: str,
        headers: tuple[tuple[str, str], ...] = (),
        *,
        close: bool = False,
        content_length: int | None = None,
    ) -> bool:
        """Count the status, take a writing ticket, write; False when the client has gone."""
        self.app.counters.status(status)
        h.ticket = self.app.counters.writing()
        return h.send_answer(
            status, parts, content_type, headers, close=close, content_length=content_length
        )

    def _play(
        self,
        h: _Handler,
        kind: str,
        target: str,
        segs: list[str],
        query: dict[str, list[str]],
        headers: dict[str, str],
        decision: FaultDecision,
    ) -> None:
        app = self.app
        counters = app.counters
        if decision.delay > 0:
            counters.fault("latency")
            if self.stopping.wait(decision.delay):
                h.close_connection = True
                return
        fault = decision.fault
        if fault is not None and fault not in ("held", "truncated"):
            counters.fault(fault)
            if fault == "reset":
                h.reset_connection()
                return
            self._answer_fault(h, decision)
            return
        answer = app.answer(kind, segs, query, _cookies(headers.get("cookie", "")))
        if fault == "held":
            counters.fault("held")
            if self.stopping.wait(decision.hold_seconds):
                h.close_connection = True
                return
        if fault == "truncated" and answer.status == 200:
            counters.fault("truncated")
            body = answer.body
            cut = _cut_point(body, answer.content_type == HTML, decision.truncate_fraction)
            if decision.truncate_keep_length:
                self._answer(
                    h,
                    200,
                    (body[:cut],),
                    answer.content_type,
                    answer.headers,
                    close=True,
                    content_length=len(body),
                )
            else:
                self._answer(h, 200, (body[:cut],), answer.content_type, answer.headers)
            return
        sent = self._answer(h, answer.status, answer.parts, answer.content_type, answer.headers)
        if sent and answer.status == 200 and fault is None:
            counters.served_ok(kind, target)

    def _answer_fault(self, h: _Handler, decision: FaultDecision) -> None:
        """The answer that replaces the real one: a challenge, Forbidden, 429 or 5xx."""
        status = decision.status or 500
        if decision.fault in ("challenge", "challenge_window"):
            self._answer(h, status, (challenge_page(),), HTML)
        elif decision.fault in ("forbidden", "forbidden_window"):
            self._answer(h, 403, (FORBIDDEN_BODY,), FORBIDDEN_TYPE, FORBIDDEN_HEADERS)
        else:
            extra = (
                ()
                if decision.retry_after is None
                else (("Retry-After", str(decision.retry_after)),)
            )
            self._answer(h, status, (error_page(status),), HTML, extra)

    def _control(self, h: _Handler, method: str, path: str) -> None:
        if path == COUNTERS_PATH and method == "GET":
            h.send_answer(
                200,
                (json_bytes(self.app.counters.snapshot()),),
                JSON,
                (("Cache-Control", "no-store"),),
            )
        elif path == RESET_PATH and method == "POST":
            self.app.counters.reset()
            h.send_answer(200, (json_bytes({"ok": True}),), JSON)
        else:
            allowed = "GET" if path == COUNTERS_PATH else "POST"
            h.send_answer(
                405, (json_bytes({"error": "method not allowed"}),), JSON, (("Allow", allowed),)
            )


class _Server6(_Server):
    address_family = socket.AF_INET6


def _cookies(header: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in header.split(";"):
        name, sep, value = item.strip().partition("=")
        if sep and name not in out:
            out[name] = value
    return out


def _cut_point(body: bytes, html: bool, fraction: float) -> int:
    """Where to cut ``body``: before ``</html>`` for a page, before the end for JSON,
    never inside a UTF-8 character."""
    end = body.rfind(b"</html>") if html else len(body) - 1
    if end <= 1:
        end = max(1, len(body) - 1)
    cut = max(1, min(end, int(len(body) * fraction)))
    while cut > 1 and (body[cut] & 0xC0) == 0x80:
        cut -= 1
    return cut


# ---------------------------------------------------------------- the running sandbox


class RunningSandbox:
    """A sandbox serving in a background thread; a context manager that stops it."""

    def __init__(self, server: _Server, thread: threading.Thread, host: str) -> None:
        self._server = server
        self._thread = thread
        self.app = server.app
        self.config = server.app.config
        self.catalogue = server.app.catalogue
        self.host = host
        self.port: int = server.server_address[1]
        shown = f"[{host}]" if ":" in host else host
        self.store_base = f"http://{shown}:{self.port}"
        self.api_base = self.store_base + API_PREFIX
        self.counters_url = self.store_base + COUNTERS_PATH
        self.reset_url = self.store_base + RESET_PATH

    def __repr__(self) -> str:
        return f"RunningSandbox({self.store_base!r}, size={self.config.size!r})"

    def counters(self) -> dict[str, Any]:
        """The same JSON as ``GET {store_base}/__sandbox__/counters``."""
        return self.app.counters.snapshot()

    def reset_counters(self) -> None:
        self.app.counters.reset()

    def set_faults(self, faults: FaultConfig) -> None:
        """Change the faults while running; a challenge window's clock starts now."""
        self.app.faults.set(faults)

    @property
    def faults(self) -> FaultConfig:
        return self.app.faults.config

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def stop(self) -> None:
        """Stop serving, close the listening socket and every open connection."""
        server = self._server
        if server.stopping.is_set():
            return
        server.stopping.set()
        server.shutdown()
        server.server_close()
        server.close_connections()
        self._thread.join(timeout=5)

    def __enter__(self) -> RunningSandbox:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def start_sandbox(
    config: SandboxConfig | None = None, host: str = "127.0.0.1", port: int = 0
) -> RunningSandbox:
    """Start serving ``config`` on ``host:port`` (0 = a free port); return once listening."""
    config = config or SandboxConfig()
    app = SandboxApp(config, build_catalogue(config.size, config.seed, config.edition))
    server_class = _Server6 if ":" in host else _Server
    server = server_class((host, port), app)
    thread = threading.Thread(
        target=server.serve_forever,
        kwargs={"poll_interval": 0.05},
        name=f"cwo-sandbox-{server.server_address[1]}",
        daemon=True,
    )
    thread.start()
    sandbox = RunningSandbox(server, thread, host)
    logger.info("sandbox (%s, seed %s) serving on %s", config.size, config.seed, sandbox.store_base)
    return sandbox
