"""Load a user's cookie file: Netscape ``cookies.txt`` or a browser-export JSON list.

``--cookies FILE`` lets a user hand cwo cookies from their own browser (for
example a consent cookie). The format is recognised from the content:

* **JSON** (first character ``[`` or ``{``): a list of objects with ``name``,
  ``value``, ``domain``, optional ``path``, ``secure``, ``hostOnly``,
  ``httpOnly`` and ``expirationDate`` (seconds since the epoch, as the
  browser-export extensions write it) or ``expires``; or an object
  ``{"cookies": [...]}`` holding that list.
* **Netscape** (anything else): the seven tab-separated fields of
  ``curl``/``wget``/``http.cookiejar.MozillaCookieJar``. The magic first line
  may be missing, ``#HttpOnly_`` prefixes are understood, and a line without
  tabs may separate its fields with spaces.

The parser is cwo's own rather than ``MozillaCookieJar.load`` because that
one puts the offending line, cookie value included, into its error message.
Errors here are :class:`~custom_wheel_offset.errors.ConfigError` naming the
file and the line or entry, never a cookie value. Expired cookies are left out.

A :class:`SessionPool` gives each worker thread its own ``requests.Session``
(its cookie jar and default headers; the transport does the sending): the
store keeps the selected vehicle in the PHP session, so one thread's
select-then-ask calls share one jar and no other thread uses it. The pool
also remembers each thread's request headers (the Cookie header included)
per path (per host while every cookie's path is ``/``), because asking the
jar costs more than the rest of a request.
"""

from __future__ import annotations

import copy
import http.cookiejar
import json
import logging
import threading
import time
import urllib.request
from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from custom_wheel_offset.errors import ConfigError
from custom_wheel_offset.net.redirects import scheme_and_authority

if TYPE_CHECKING:
    import requests

    from custom_wheel_offset.net.transport import TransportResponse

__all__ = ["COOKIE_HEADER_PATHS", "COOKIE_HEADER_TTL", "SessionPool", "load_cookie_file"]

#: Seconds a thread reuses the headers it computed for one path, and how many
#: paths it remembers (the fitment pages share one path; API paths do not).
COOKIE_HEADER_TTL = 30.0
COOKIE_HEADER_PATHS = 64

log = logging.getLogger(__name__)

_HTTPONLY_PREFIX = "#HttpOnly_"
_TRUE = {"true", "1", "yes"}


def load_cookie_file(path: str | Path) -> http.cookiejar.CookieJar:
    """Read ``path`` (Netscape cookies.txt or JSON) into a new cookie jar.

    :raises ConfigError: the file is missing, unreadable, malformed or holds no
        cookie; the message names the file and the line or entry at fault.
    """
    path = Path(path).expanduser()  # config files write "~/cookies.txt"
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"cookie file {path} does not exist") from None
    except OSError as exc:
        raise ConfigError(f"cookie file {path} cannot be read: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"cookie file {path} is not UTF-8 text (bad byte at offset {exc.start})"
        ) from None

    now = time.time()
    jar = http.cookiejar.CookieJar()
    expired = 0
    stripped = text.lstrip()
    cookies = _json_cookies(path, stripped) if stripped[:1] in ("[", "{") else _netscape(path, text)
    for cookie in cookies:
        if cookie.expires is not None and cookie.expires <= now:
            expired += 1
            continue
        jar.set_cookie(cookie)
    if not len(jar):
        detail = f" ({expired} expired)" if expired else ""
        raise ConfigError(f"cookie file {path} holds no usable cookie{detail}")
    if expired:
        log.warning("cookie file %s: %d expired cookie(s) left out", path, expired)
    return jar


def _make_cookie(
    *,
    name: str,
    value: str,
    domain: str,
    path: str,
    secure: bool,
    expires: int | None,
    host_only: bool,
    http_only: bool,
) -> http.cookiejar.Cookie:
    """An ``http.cookiejar.Cookie`` as a browser would have stored it."""
    # A cookie for ".example.com" is sent to every subdomain; a host-only one is
    # stored without the dot and only matches that exact host.
    if host_only:
        domain = domain.lstrip(".")
    dotted = domain.startswith(".")
    return http.cookiejar.Cookie(
        version=0,
        name=name,
        value=value,
        port=None,
        port_specified=False,
        domain=domain,
        domain_specified=dotted,
        domain_initial_dot=dotted,
        path=path or "/",
        path_specified=True,
        secure=secure,
        expires=expires,
        discard=expires is None,
        comment=None,
        comment_url=None,
        rest={"HttpOnly": ""} if http_only else {},
    )


# -- Netscape cookies.txt ----------------------------------------------------------------


def _netscape(path: Path, text: str) -> Iterator[http.cookiejar.Cookie]:
    for lineno, line in enumerate(text.splitlines(), start=1):
        http_only = False
        if line.startswith(_HTTPONLY_PREFIX):
            http_only = True
            line = line[len(_HTTPONLY_PREFIX) :]
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        fields = line.rstrip("\r\n").split("\t")
        if len(fields) < 6:
            # Some hand-made files use spaces; the value is the rest of the line.
            fields = line.split(None, 6)
        if len(fields) == 6:
            fields.append("")  # a cookie without value
        if len(fields) != 7:
            raise ConfigError(
                f"cookie file {path}, line {lineno}: expected 7 tab-separated fields "
                f"(domain, subdomains, path, secure, expires, name, value), got {len(fields)}"
            )
        domain, subdomains, cpath, secure, expires_text, name, value = fields
        domain = domain.strip()
        if not domain or not name.strip():
            raise ConfigError(f"cookie file {path}, line {lineno}: empty domain or cookie name")
        try:
            expires = int(float(expires_text.strip() or 0))
        except ValueError:
            raise ConfigError(
                f"cookie file {path}, line {lineno}: expiry is not a number of seconds"
            ) from None
        # The second field says whether subdomains get the cookie; that is what a
        # leading dot means to the cookie jar.
        if subdomains.strip().lower() in _TRUE and not domain.startswith("."):
            domain = "." + domain
        host_only = not domain.startswith(".")
        yield _make_cookie(
            name=name.strip(),
            value=value,
            domain=domain,
            path=cpath.strip(),
            secure=secure.strip().lower() in _TRUE,
            expires=expires or None,  # 0: a session cookie
            host_only=host_only,
            http_only=http_only,
        )


# -- browser-export JSON -----------------------------------------------------------------


def _json_cookies(path: Path, text: str) -> Iterator[http.cookiejar.Cookie]:
    try:
        data: Any = json.loads(text)
    except json.JSONDecodeError as exc:
        # exc.msg is the parser's complaint ("Expecting ','"), never the content.
        raise ConfigError(
            f"cookie file {path} is not valid JSON: {exc.msg} at line {exc.lineno}, "
            f"column {exc.colno}"
        ) from None
    if isinstance(data, Mapping):
        data = data.get("cookies")
    if not isinstance(data, list):
        raise ConfigError(
            f'cookie file {path}: expected a JSON list of cookies or {{"cookies": [...]}}'
        )
    for index, entry in enumerate(data, start=1):
        where = f"cookie file {path}, entry {index}"
        if not isinstance(entry, Mapping):
            raise ConfigError(f"{where}: expected an object with name, value and domain")
        missing = [k for k in ("name", "value", "domain") if k not in entry]
        if missing:
            raise ConfigError(f"{where}: missing {', '.join(missing)}")
        name, value, domain = entry["name"], entry["value"], entry["domain"]
        if not isinstance(name, str) or not name or not isinstance(domain, str) or not domain:
            raise ConfigError(f"{where}: name and domain must be non-empty strings")
        if not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise ConfigError(f"{where}: value must be a string")
        yield _make_cookie(
            name=name,
            value=str(value),
            domain=domain,
            path=str(entry.get("path") or "/"),
            secure=bool(entry.get("secure", False)),
            expires=_json_expiry(where, entry),
            host_only=bool(entry.get("hostOnly", False)),
            http_only=bool(entry.get("httpOnly", False)),
        )


def _json_expiry(where: str, entry: Mapping[str, Any]) -> int | None:
    """``expirationDate`` / ``expires`` as epoch seconds; ``None`` for a session cookie."""
    if entry.get("session") is True:
        return None
    raw = entry.get("expirationDate", entry.get("expires"))
    if raw is None or raw == "" or isinstance(raw, bool):
        return None
    if isinstance(raw, (int, float)):
        # -1 or 0 mean "session" in some exporters; milliseconds in others.
        if raw <= 0:
            return None
        return int(raw / 1000 if raw > 1e11 else raw)
    if isinstance(raw, str):
        text = raw.strip()
        if text.lower() == "session":
            return None
        try:
            return int(float(text))
        except ValueError:
            pass
        try:
            return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp())
        except ValueError:
            raise ConfigError(f"{where}: expiry is neither a number nor an ISO date") from None
    raise ConfigError(f"{where}: expiry is neither a number nor an ISO date")


# -- one session per thread --------------------------------------------------------------


def request_headers(session: requests.Session, url: str) -> dict[str, str]:
    """The session's default headers, with the Cookie header its jar holds for ``url``."""
    headers = dict(session.headers)
    # The standard library's cookie matching (requests' jar is an http.cookiejar.CookieJar).
    probe = urllib.request.Request(url)
    session.cookies.add_cookie_header(probe)
    cookie = probe.get_header("Cookie")
    if cookie:
        headers["Cookie"] = cookie
    return headers


class SessionPool:
    """One ``requests.Session`` per thread, with the user agent and the user's cookies.

    :param user_agent: the ``User-Agent`` of every request.
    :param cookies: the user's cookies (``--cookies``); each session gets its own copy.
    """

    def __init__(self, user_agent: str, cookies: http.cookiejar.CookieJar | None = None) -> None:
        self._user_agent = user_agent
        self._cookies = cookies
        self._local = threading.local()
        self._lock = threading.Lock()
        self._sessions: list[requests.Session] = []
        self._created = 0
        self._generation = 0

    def session(self) -> requests.Session:
        """This thread's session: created on first use, then reused until :meth:`close`."""
        local = self._local
        if getattr(local, "generation", None) == self._generation:
            return local.session  # type: ignore[no-any-return]
        session = self._new_session()
        with self._lock:
            self._sessions.append(session)
            self._created += 1
            local.session, local.generation = session, self._generation
        return session

    def _new_session(self) -> requests.Session:
        import requests

        session = requests.Session()
        session.headers["User-Agent"] = self._user_agent
        # gzip only: decoded by urllib3 without optional packages (br, zstd).
        session.headers["Accept-Encoding"] = "gzip"
        if self._cookies is not None:
            # A copy per session: each thread's jar then evolves on its own.
            for cookie in self._cookies:
                session.cookies.set_cookie(copy.copy(cookie))
        return session

    def headers(
        self, session: requests.Session, url: str, extra: Mapping[str, str] | None = None
    ) -> Mapping[str, str]:
        """The session's headers with its Cookie header for ``url``, and ``extra`` on top.

        Remembered per thread, scheme, host, path (the query plays no part
        in cookie matching) and extra headers until a response sets a cookie,
        and for at most :data:`COOKIE_HEADER_TTL` seconds so an expiring cookie
        is not sent on. While every cookie of the jar has the path ``/`` (the
        store's session cookie has), the path plays no part either: the API
        paths, one per vehicle, then share one entry.
        """
        remembered, root_only = self._remembered(session)
        # Without a path cookie the path cannot change what the jar sends.
        scope = scheme_and_authority(url) if root_only else url.partition("?")[0]
        # The extra headers are part of the key: select and the option lists
        # share a path with one set, and another set must never be reused for it.
        key: Any = scope if not extra else (scope, tuple(extra.items()))
        now = time.monotonic()
        entry = remembered.get(key)
        if entry is None or now - entry[0] > COOKIE_HEADER_TTL:
            if len(remembered) >= COOKIE_HEADER_PATHS:
                # API paths name the vehicle: one per vehicle, never asked again.
                remembered.clear()
            prepared = request_headers(session, url)
            if extra:
                prepared.update(extra)
            entry = remembered[key] = (now, prepared)
        return entry[1]

    def remembered(self, session: requests.Session) -> dict[Any, tuple[float, dict[str, str]]]:
        """This thread's remembered headers for ``session``: ``{key: (when, headers)}``."""
        return self._remembered(session)[0]

    def _remembered(
        self, session: requests.Session
    ) -> tuple[dict[Any, tuple[float, dict[str, str]]], bool]:
        """(this thread's remembered headers, whether every cookie of the jar has path "/")."""
        cached = getattr(self._local, "headers", None)
        if cached is None or cached[0] is not session:
            root_only = all(cookie.path == "/" for cookie in session.cookies)
            cached = self._local.headers = (session, {}, root_only)
        return cached[1], cached[2]

    def store_cookies(self, session: requests.Session, resp: TransportResponse, url: str) -> None:
        """Put the cookies ``resp`` sets into ``session``'s jar; ValueError for a bad header."""
        session.cookies.extract_cookies(resp, urllib.request.Request(url))  # type: ignore[arg-type]
        self._local.headers = None  # the jar may have changed: ask it again

    def close(self) -> None:
        """Close every session; threads that go on get new ones."""
        with self._lock:
            sessions, self._sessions = self._sessions, []
            self._generation += 1
        for session in sessions:
            session.close()

    def stats(self) -> dict[str, int]:
        """``sessions_created`` and ``sessions_open``."""
        with self._lock:
            return {"sessions_created": self._created, "sessions_open": len(self._sessions)}
