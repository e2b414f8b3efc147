"""Output that is safe to show: secrets of URLs masked, control characters escaped.

Everything cwo shows or stores that may hold a URL-valued setting (``api_base``,
``store_base``, ``proxy``, ``db``) or text from the network goes through here:
the run's stored settings and report, ``cwo status``, log records, stored
item errors and the error messages of the command line.

:func:`mask_url` masks one URL:

- its userinfo, whatever its form: ``user:pw@`` becomes ``user:***@``,
  ``:pw@`` becomes ``***@`` and ``token@`` (a bare user name, which is how a
  token is usually given to a proxy) becomes ``***@``;
- the value of every query (or fragment) parameter whose name looks like a
  secret: the name, lower-cased and percent-decoded, contains one of
  :data:`SECRET_NAME_PARTS` (``token``, ``key``, ``pass``, ``pwd``,
  ``secret``, ``auth``, ``sig``, ``credential``). These are substrings, so
  ``access_token``, ``apiKey``, ``sslpassword``, ``X-Amz-Signature`` and
  ``passwd`` are masked, and so are a few harmless names (``monkey``,
  ``design``, ``author``): masking too much costs nothing but a detail.

It takes database URLs without a scheme too (``user:pw@host/db``), and reads
the userinfo of a non-HTTP URL the way SQLAlchemy does (the password runs to
the ``@``, so a ``/`` inside it is still masked). :func:`mask_text` masks
every ``scheme://`` URL inside free text, such as an exception message.

:func:`escape_control` makes text from the network inert on a terminal: C0
controls (newline and tab included), DEL, C1 controls and the Unicode
direction overrides become visible escapes (``\\x1b``, ``\\x9b``,
``\\u202e``), so ``ESC ] 0 ; title BEL`` can no longer retitle a terminal and
one record stays one line. Other non-ASCII text (``Škoda``, ``日本``) is kept.

A :class:`Scrubber` also blanks out secrets known by value (a proxy password,
the values of the user's cookies) wherever they appear in a text.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import unquote

__all__ = [
    "SECRET_NAME_PARTS",
    "Scrubber",
    "escape_control",
    "is_secret_name",
    "mask_text",
    "mask_url",
    "safe_text",
    "sanitize",
]

MASK = "***"
#: A query parameter whose lower-cased name contains one of these is a secret.
SECRET_NAME_PARTS = ("token", "key", "pass", "pwd", "secret", "auth", "sig", "credential")

_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://")
# A URL inside free text ends at whitespace or at a character that quotes it,
# and not on the punctuation of the sentence around it.
_URL_IN_TEXT = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://[^\s'\"<>`]*[^\s'\"<>`.,;:)\]]")
# SQLAlchemy's reading of ``user:password@``: the password runs to the first "@".
_SQLALCHEMY_USERINFO = re.compile(r"[^:/@?#]*:[^@]*@")
_HTTP_SCHEMES = ("http://", "https://")

# Code points escaped by escape_control: C0, DEL, C1, and the bidirectional
# overrides and isolates (they reorder what a terminal shows).
_CONTROL_POINTS = (
    *range(0x00, 0x20),
    *range(0x7F, 0xA0),
    0x200E,
    0x200F,
    *range(0x202A, 0x202F),
    *range(0x2066, 0x206A),
)
_ESCAPES = {cp: (f"\\x{cp:02x}" if cp < 0x100 else f"\\u{cp:04x}") for cp in _CONTROL_POINTS}


def is_secret_name(name: str) -> bool:
    """Whether a query parameter called ``name`` holds a secret (see the module docstring)."""
    lowered = unquote(name).lower()
    return any(part in lowered for part in SECRET_NAME_PARTS)


def _mask_userinfo(userinfo: str) -> str:
    user, colon, _secret = userinfo.partition(":")
    return f"{user}:{MASK}" if colon and user else MASK


def _mask_params(params: str) -> str:
    out = []
    for pair in params.split("&"):
        name, eq, _value = pair.partition("=")
        out.append(f"{name}={MASK}" if eq and is_secret_name(name) else pair)
    return "&".join(out)


def _split_userinfo(rest: str, *, http: bool) -> tuple[str | None, str]:
    """``(userinfo, after)`` of what follows the scheme; ``None`` when there is none."""
    end = len(rest)
    for stop in "/?#":
        at = rest.find(stop)
        if at != -1:
            end = min(end, at)
    authority = rest[:end]
    if "@" in authority:
        userinfo, _, host = authority.rpartition("@")
        return userinfo, host + rest[end:]
    if not http:
        match = _SQLALCHEMY_USERINFO.match(rest)
        if match:
            return match.group()[:-1], rest[match.end() :]
    return None, rest


def mask_url(url: str) -> str:
    """``url`` with its userinfo and its secret-looking parameters replaced by ``***``."""
    match = _SCHEME.match(url)
    head = match.group() if match else ""
    rest = url[len(head) :]
    userinfo, rest = _split_userinfo(rest, http=head.lower().startswith(_HTTP_SCHEMES))
    if userinfo is not None:
        rest = f"{_mask_userinfo(userinfo)}@{rest}"
    rest, hash_, fragment = rest.partition("#")
    rest, question, query = rest.partition("?")
    if question:
        rest = f"{rest}?{_mask_params(query)}"
    if hash_:
        rest = f"{rest}#{_mask_params(fragment)}"
    return head + rest


def mask_text(text: str) -> str:
    """``text`` with every ``scheme://`` URL in it masked by :func:`mask_url`."""
    if "://" not in text:
        return text
    return _URL_IN_TEXT.sub(lambda m: mask_url(m.group()), text)


def escape_control(text: str) -> str:
    """``text`` with control characters as visible escapes (``\\x1b``); idempotent."""
    return text.translate(_ESCAPES)


def safe_text(text: str) -> str:
    """Text from anywhere, ready to show or store: URLs masked, controls escaped."""
    return escape_control(mask_text(text))


def sanitize(value: Any) -> Any:
    """A JSON-like value with every string in it (keys too) passed through :func:`safe_text`."""
    if isinstance(value, str):
        return safe_text(value)
    if isinstance(value, Mapping):
        return {sanitize(k): sanitize(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [sanitize(v) for v in value]
    return value


class Scrubber:
    """``scrubber(text)``: :func:`mask_text`, then every known secret value replaced by ``***``.

    Values shorter than :attr:`MIN_LENGTH` are ignored: they would blank out
    ordinary words, and credentials inside URLs are masked by pattern anyway.
    """

    MIN_LENGTH = 6

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        unique = {s for s in secrets if len(s) >= self.MIN_LENGTH}
        # Longest first, so a secret containing another is replaced whole.
        self.secrets: tuple[str, ...] = tuple(sorted(unique, key=len, reverse=True))

    def __call__(self, text: str) -> str:
        text = mask_text(text)
        for secret in self.secrets:
            text = text.replace(secret, MASK)
        return text
