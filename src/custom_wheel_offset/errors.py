"""The one exception hierarchy of cwo, and the exit code of each class.

::

    CwoError                       exit 1   (anything unexpected but ours)
    ├── ConfigError                exit 2   bad option, environment variable or config file
    ├── DatabaseError              exit 1   the database cannot be opened, migrated or written
    │   └── DatabaseAccessError    exit 2   the named database is missing, unreachable,
    │                                       read-only, not cwo's, or at an older schema
    ├── LockedError                exit 4   another run holds the crawl (cron overlap)
    ├── BlockedError               exit 5   the bot challenge outlasted --max-blocked
    ├── RunInterrupted             exit 130 (SIGINT) / 143 (SIGTERM)
    ├── ParseError                 item-level: a response that is not the record it should be
    │   └── TruncatedBodyError     a body cut short (retried like a network fault)
    └── FetchError                 item-level: a request that did not produce a usable body
        ├── TransientFetchError    retried: connection reset, timeout, 429, 5xx, cut body
        │   └── RateLimitedError   429, with the server's Retry-After (seconds) if any
        ├── ChallengeError         the Human Verification page: never data
        └── PermanentFetchError    not retried: 4xx other than 429, body over the size cap,
                                   redirect to another host, undecodable body

Item-level errors never reach the top: the processor records them on the
work item (``last_error``, with its ``failure_code``) and the run goes on; so
does any other exception raised while handling one item (code
``internal:<ExceptionClass>``, see :func:`failure_code`). Everything else is handled
once, in ``cli.main``: class to exit code, traceback only with ``--debug``.
Messages never carry cookie values, credentials or passwords.
"""

from __future__ import annotations

__all__ = [
    "EXIT_AUDIT_FINDINGS",
    "EXIT_BLOCKED",
    "EXIT_FAILED_ITEMS",
    "EXIT_INTERNAL",
    "EXIT_LOCKED",
    "EXIT_NO_MATCH",
    "EXIT_OK",
    "EXIT_SIGINT",
    "EXIT_SIGPIPE",
    "EXIT_SIGTERM",
    "EXIT_USAGE",
    "BlockedError",
    "ChallengeError",
    "ConfigError",
    "CwoError",
    "DatabaseAccessError",
    "DatabaseError",
    "FetchError",
    "LockedError",
    "ParseError",
    "PermanentFetchError",
    "RateLimitedError",
    "RunInterrupted",
    "TransientFetchError",
    "TruncatedBodyError",
    "failure_code",
]

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_USAGE = 2
EXIT_FAILED_ITEMS = 3
EXIT_LOCKED = 4
EXIT_BLOCKED = 5
EXIT_NO_MATCH = 6  # a --years/--makes/--models value matched nothing the site lists
# `cwo audit --fail-on`: findings at or above that severity (the code of "some items failed").
EXIT_AUDIT_FINDINGS = 3
EXIT_SIGINT = 130
EXIT_SIGTERM = 143
# The reader of standard output went away (`cwo export | head`): what a shell
# reports for a program that SIGPIPE ended.
EXIT_SIGPIPE = 141


class CwoError(Exception):
    """Root of every error cwo raises on purpose.

    ``code`` is the short, stable name of the failure stored with a failed item
    (``frontier.failure_code``) and grouped on by `cwo status`; docs/resilience.md
    lists every code. Subclasses set it; this class answers ``internal:CwoError``.
    """

    exit_code: int = EXIT_INTERNAL
    code: str = "internal:CwoError"

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return self.message if not self.hint else f"{self.message}\nhint: {self.hint}"


class ConfigError(CwoError):
    """An option, environment variable or config file value is wrong."""

    code = "config"

    exit_code = EXIT_USAGE


class DatabaseError(CwoError):
    """The database cannot be opened, migrated or written."""

    code = "database"


class DatabaseAccessError(DatabaseError):
    """The database the user named cannot be used as asked: a user or environment error.

    A missing file or directory, a server refusing connections, a read-only
    file given to `cwo scrape`, a database that is not cwo's, or an older
    schema on a read-only command. Always raised with a ``hint``.
    """

    code = "database_access"

    exit_code = EXIT_USAGE


class LockedError(CwoError):
    """Another run holds the crawl of this database."""

    code = "locked"

    exit_code = EXIT_LOCKED


class BlockedError(CwoError):
    """The store's bot challenge lasted longer than ``--max-blocked``."""

    code = "blocked"

    exit_code = EXIT_BLOCKED


class RunInterrupted(CwoError):
    """The run stopped on SIGINT or SIGTERM after flushing what it had."""

    code = "interrupted"

    def __init__(self, message: str, *, exit_code: int = EXIT_SIGINT) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class ParseError(CwoError):
    """A response body is not the record it should be; ``reason`` says why."""

    code = "parse_error"

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TruncatedBodyError(ParseError):
    """The body was cut short (no closing tag, JSON ends early): worth fetching again."""

    code = "truncated"
    #: Counted as ``retry_reason/truncated`` when an attempt fails with it.
    retry_reason = "truncated"


class FetchError(CwoError):
    """A request did not produce a usable body.

    ``retry_reason`` is the short name of why an attempt failed, counted as
    ``retry_reason/<reason>`` when it is retried (``timeout``, ``http_5xx``...;
    net/failures.py maps transport faults to it); ``None`` when the raiser named none.

    Its ``code``, unless given where the error is raised (``code=``), comes from
    that ``retry_reason``, else an HTTP status of 400 or more (``http_404``),
    else the class's ``default_code``.
    """

    retry_reason: str | None = None

    def __init__(
        self,
        message: str,
        *,
        url: str | None = None,
        status: int | None = None,
        code: str | None = None,
        retry_reason: str | None = None,
    ):
        super().__init__(message)
        self.url = url
        self.status = status
        self._code = code
        if retry_reason is not None:
            self.retry_reason = retry_reason

    @property  # type: ignore[override]
    def code(self) -> str:
        if self._code:
            return self._code
        tagged = self.retry_reason
        if tagged and tagged not in ("http_5xx", "http_408"):
            return _RETRY_REASON_CODES.get(tagged, tagged)
        if self.status is not None and self.status >= 400:
            return f"http_{self.status}"
        return self.default_code

    @code.setter
    def code(self, value: str) -> None:
        self._code = value

    default_code = "fetch_error"


class TransientFetchError(FetchError):
    """A fault that a later attempt may not meet: retried with backoff."""


class RateLimitedError(TransientFetchError):
    """HTTP 429; ``retry_after`` is the server's Retry-After in seconds, if it sent one."""

    retry_reason = "http_429"

    def __init__(
        self, message: str, *, url: str | None = None, retry_after: float | None = None
    ) -> None:
        super().__init__(message, url=url, status=429)
        self.retry_after = retry_after


class ChallengeError(FetchError):
    """The store answered its Human Verification page instead of data."""

    @property  # type: ignore[override]
    def code(self) -> str:
        return self._code or "challenge"

    @code.setter
    def code(self, value: str) -> None:
        self._code = value


class PermanentFetchError(FetchError):
    """A fault that trying again will not cure."""

    default_code = "permanent"


# Retry reasons that are not already a code of their own.
_RETRY_REASON_CODES: dict[str, str] = {
    "other": "connection",
}


def failure_code(exc: BaseException) -> str:
    """The stored code of an item that failed with ``exc``: cwo's own, or ``internal:<Class>``."""
    if isinstance(exc, CwoError):
        return exc.code
    return f"internal:{type(exc).__name__}"
