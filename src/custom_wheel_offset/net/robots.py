"""robots.txt policy of one host (RFC 9309), parsed with Protego. Pure: no I/O.

The network manager fetches ``/robots.txt`` once per host, before the first
request to that host when ``obey_robots`` is on, and builds a
:class:`RobotsPolicy` from the answer with :meth:`RobotsPolicy.from_response`:

============================  =================================================
answer                        policy
============================  =================================================
2xx                           the rules of the file, for cwo's user agent
4xx other than 429            no usable file: everything is allowed (RFC 9309 2.3.1.3)
429, 5xx, network failure     unreachable: everything is disallowed *for now*
                              (RFC 9309 2.3.1.4); the manager asks again later
============================  =================================================
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from protego import Protego

__all__ = ["MAX_ROBOTS_BYTES", "RobotsPolicy"]

#: RFC 9309 2.5: crawlers must parse at least 500 KiB; this is what cwo reads.
MAX_ROBOTS_BYTES = 512 * 1024

Kind = Literal["rules", "allow_all", "unreachable"]


@dataclass(frozen=True, slots=True)
class RobotsPolicy:
    """What one host's robots.txt allows.

    ``kind`` is ``"rules"`` (a parsed file), ``"allow_all"`` (no file) or
    ``"unreachable"`` (everything disallowed until the file can be read).
    ``status`` is the HTTP status the file came with, ``None`` if none came.
    """

    kind: Kind
    status: int | None = None
    parser: Protego | None = None

    @classmethod
    def from_response(cls, status: int | None, body: bytes | str | None) -> RobotsPolicy:
        """Build the policy from the status and body of ``GET /robots.txt``.

        ``status`` is ``None`` when the request failed (no answer at all).
        """
        if status is None or status == 429 or status >= 500:
            return cls("unreachable", status)
        if 400 <= status < 500:
            return cls("allow_all", status)
        if 200 <= status < 300:
            return cls.parse(body or b"", status=status)
        # 1xx or an unresolved redirect: RFC 9309 treats too many redirects as
        # "unavailable", which allows everything.
        return cls("allow_all", status)

    @classmethod
    def parse(cls, body: bytes | str, *, status: int | None = 200) -> RobotsPolicy:
        """Parse a robots.txt body (bytes are read as UTF-8, undecodable bytes replaced)."""
        from protego import Protego

        if isinstance(body, bytes):
            body = body[:MAX_ROBOTS_BYTES].decode("utf-8", errors="replace")
        return cls("rules", status, Protego.parse(body))

    @classmethod
    def allow_all(cls) -> RobotsPolicy:
        """The policy of a host without robots.txt (or with ``--ignore-robots``)."""
        return cls("allow_all")

    @property
    def unreachable(self) -> bool:
        """True when the file could not be read: a temporary disallow-all."""
        return self.kind == "unreachable"

    def allowed(self, url: str, user_agent: str) -> bool:
        """Whether ``user_agent`` may fetch ``url`` under this policy."""
        if self.kind == "allow_all":
            return True
        if self.kind == "unreachable" or self.parser is None:
            return False
        return bool(self.parser.can_fetch(url, user_agent))

    def crawl_delay(self, user_agent: str) -> float | None:
        """The file's ``Crawl-delay`` for ``user_agent`` in seconds, if it sets one."""
        if self.parser is None:
            return None
        delay = self.parser.crawl_delay(user_agent)
        return float(delay) if delay else None
