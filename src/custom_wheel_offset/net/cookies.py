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
"""

from __future__ import annotations

import http.cookiejar
import json
import logging
import time
from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from custom_wheel_offset.errors import ConfigError

__all__ = ["load_cookie_file"]

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
