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

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final, Literal

if TYPE_CHECKING:
    from protego import Protego

__all__ = ["MAX_ROBOTS_BYTES", "RobotsPolicy"]

#: RFC 9309 2.5: crawlers must parse at least 500 KiB; this is what cwo reads.
MAX_ROBOTS_BYTES = 512 * 1024

Kind = Literal["rules", "allow_all", "unreachable"]

#: Paths whose answer a policy remembers (the fitment pages share one path).
MAX_REMEMBERED_PATHS: Final = 1024
# What in a rule could reach past the path into the query: "?" itself, a wildcard, an
# end anchor, or a percent-escape (normalised by Protego).
_BEYOND_PATH = re.compile(r"[?*$%]")
# Lines that hold no path rule (Protego reads spellings such as "user agent" and
# "dissallow" too, so every other line is taken for a rule).
_NOT_A_RULE = re.compile(r"\s*(?:user|sitemap|site-map|host|crawl|request|visit)", re.IGNORECASE)


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
    # True when no rule can look at the query: the answer then depends on the path
    # alone, and is remembered per path (see allowed).
    path_only: bool = False
    _answers: dict[tuple[str, str], bool] = field(default_factory=dict, compare=False, repr=False)

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
        return cls("rules", status, Protego.parse(body), _rules_see_path_only(body))

    @classmethod
    def allow_all(cls) -> RobotsPolicy:
        """The policy of a host without robots.txt (or with ``--ignore-robots``)."""
        return cls("allow_all")

    @property
    def unreachable(self) -> bool:
        """True when the file could not be read: a temporary disallow-all."""
        return self.kind == "unreachable"

    def allowed(self, url: str, user_agent: str) -> bool:
        """Whether ``user_agent`` may fetch ``url`` under this policy.

        Protego normalises every URL it is asked about (about 25 µs for a
        fitment page's), so with :attr:`path_only` rules the answer is
        remembered per path: the fitment pages differ only in their query.
        """
        if self.kind == "allow_all":
            return True
        if self.kind == "unreachable" or self.parser is None:
            return False
        if not self.path_only:
            return bool(self.parser.can_fetch(url, user_agent))
        key = (url.partition("?")[0].partition("#")[0], user_agent)
        answer = self._answers.get(key)
        if answer is None:
            if len(self._answers) >= MAX_REMEMBERED_PATHS:
                self._answers.clear()
            answer = self._answers[key] = bool(self.parser.can_fetch(url, user_agent))
        return answer

    def crawl_delay(self, user_agent: str) -> float | None:
        """The file's ``Crawl-delay`` for ``user_agent`` in seconds, if it sets one."""
        if self.parser is None:
            return None
        delay = self.parser.crawl_delay(user_agent)
        return float(delay) if delay else None


def _rules_see_path_only(body: str) -> bool:
    """Whether no rule of ``body`` can match on a URL's query (see RobotsPolicy.allowed)."""
    for line in body.splitlines():
        text = line.partition("#")[0]
        if _BEYOND_PATH.search(text) and not _NOT_A_RULE.match(text):
            return False
    return True
