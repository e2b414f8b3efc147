"""Reading an answer's body and deciding what it is: data, a block, or an error.

:func:`read_body` reads a streamed body up to a size cap. A
:class:`ResponseClassifier` then looks at status and body, tells the
challenge gate and the rate limiter what it saw, and returns the body or
raises the cwo error the answer stands for::

    Human Verification page (any status)       -> ChallengeError, host paused
    {"message":"Forbidden"} with 401/403       -> ChallengeError, host paused
    {"message":"Forbidden"} with any other     -> TransientFetchError (never data)
    2xx                                        -> the body
    429                                        -> RateLimitedError, host slowed down
    408, 500, 502, 503, 504, 520-524           -> TransientFetchError
    anything else                              -> PermanentFetchError
"""

from __future__ import annotations

import contextlib
import email.utils
import logging
import math
import time
from collections.abc import Callable
from datetime import UTC
from typing import TYPE_CHECKING, NoReturn

from custom_wheel_offset.errors import (
    ChallengeError,
    FetchError,
    PermanentFetchError,
    RateLimitedError,
    TransientFetchError,
)
from custom_wheel_offset.net.failures import TRANSPORT_ERRORS, transport_error
from custom_wheel_offset.protocol.api import is_forbidden
from custom_wheel_offset.protocol.store import is_challenge
from custom_wheel_offset.redact import mask_text

if TYPE_CHECKING:
    from custom_wheel_offset.metrics.counters import Counters
    from custom_wheel_offset.net.challenge import ChallengeGate
    from custom_wheel_offset.net.ratelimit import HostRateLimiter
    from custom_wheel_offset.net.transport import TransportResponse

__all__ = [
    "CHUNK",
    "MAX_RETRY_AFTER",
    "ResponseClassifier",
    "drain",
    "parse_retry_after",
    "read_body",
    "strict_length",
]

log = logging.getLogger(__name__)

CHUNK = 64 * 1024
#: A server's Retry-After is honoured up to this many seconds; beyond it a typo
#: or a hostile header would park a worker for hours.
MAX_RETRY_AFTER = 600.0

# Statuses worth another try: the server (or a proxy in front of it) failed, not
# the request. 408 is the server giving up on a slow request; 520-524 are the
# "origin unreachable" family of CDN front ends. 501 and 505 say the request
# itself can never work, so they are permanent like other 4xx.
TRANSIENT_STATUS = frozenset({408, 500, 502, 503, 504, 520, 521, 522, 523, 524})
# The fitment API's refusal comes with one of these; with any other status the
# same body is a fault of that answer (retried), not a block.
BLOCK_STATUS = frozenset({401, 403})
FORBIDDEN_BODY = '{"message":"Forbidden"}'


def parse_retry_after(value: str | None, *, now: Callable[[], float] = time.time) -> float | None:
    """Retry-After as seconds (delta-seconds or HTTP-date), capped at :data:`MAX_RETRY_AFTER`.

    ``None`` when absent or unreadable; a date in the past gives 0.
    """
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        seconds = when.timestamp() - now()
    if math.isnan(seconds):
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def strict_length(value: str) -> int | None:
    """A Content-Length value as an int, None when absent; ValueError when malformed.

    ``str.isdigit`` accepts ``"²"`` and other Unicode digits that ``int``
    refuses, so only ASCII digits count.
    """
    text = value.strip()
    if not text:
        return None
    if not (text.isascii() and text.isdigit()):
        raise ValueError(f"Content-Length {text[:40]!r} is not a number of bytes")
    return int(text)


def _too_large(resp: TransportResponse, url: str, limit: int, declared: str = "") -> FetchError:
    where = mask_text(url)
    said = f" (Content-Length {declared})" if declared else ""
    return PermanentFetchError(
        f"response larger than {limit} bytes{said} from {where}",
        url=where,
        status=resp.status_code,
        code="too_large",
    )


def _declared_length(resp: TransportResponse, url: str) -> tuple[str, int | None]:
    declared = resp.headers.get("Content-Length", "").strip()
    try:
        return declared, strict_length(declared)
    except ValueError as exc:
        raise PermanentFetchError(
            f"invalid Content-Length header {ascii(declared)[:60]} from {mask_text(url)}",
            url=mask_text(url),
            status=resp.status_code,
            code="invalid_header",
        ) from exc


def read_body(
    resp: TransportResponse,
    url: str,
    limit: int,
    counters: Counters,
    *,
    truncate: bool = False,
    scrub: Callable[[str], str] = mask_text,
) -> bytes:
    """The body, read in chunks, at most ``limit`` bytes (decoded), counted in ``bytes_received``.

    Over the limit: :class:`PermanentFetchError` (and the connection is
    closed by the caller's ``with``), or, with ``truncate``, the first
    ``limit`` bytes. A malformed Content-Length is a PermanentFetchError too.
    """
    declared, length = _declared_length(resp, url)
    if not truncate and length is not None and length > limit:
        raise _too_large(resp, url, limit, declared)
    # Chunks joined once at the end: one copy of the body, where a growing
    # bytearray and its conversion to bytes cost two or three.
    chunks: list[bytes] = []
    size = 0
    try:
        for chunk in resp.iter_content(CHUNK):
            chunks.append(chunk)
            size += len(chunk)
            if size > limit:
                if truncate:
                    size = limit
                    break
                raise _too_large(resp, url, limit)
    except TRANSPORT_ERRORS as exc:
        raise transport_error(exc, url, scrub=scrub) from exc
    finally:
        counters.incr("bytes_received", size)
    body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
    return body[:limit] if truncate else body


def drain(resp: TransportResponse, url: str, counters: Counters) -> None:
    """Read a redirect's small body so its connection can be reused."""
    # The body is not used: a failed read only costs this connection.
    with contextlib.suppress(FetchError):
        read_body(resp, url, CHUNK, counters, truncate=True)


class ResponseClassifier:
    """Status and body to the body or a cwo error; tells gate and limiter what it saw."""

    def __init__(self, counters: Counters, gate: ChallengeGate, limiter: HostRateLimiter) -> None:
        self._counters = counters
        self._gate = gate
        self._limiter = limiter

    def classify(
        self, resp: TransportResponse, body: bytes, url: str, kind: str, host: str, sent_at: float
    ) -> bytes:
        """``body`` when the answer is data; otherwise raises (see the module docstring)."""
        status = resp.status_code
        # First: a challenge page is never data, whatever its status (200, 202, 405...).
        if is_challenge(body):
            self._challenge(url, kind, host, status)
        if is_forbidden(body):
            self._forbidden(status, url, kind, host)
        if 200 <= status < 300:
            self._gate.record_success(host)
            self._limiter.on_success(host)
            return body
        where = mask_text(url)
        if status == 429:
            self._rate_limited(resp, where, host, sent_at)
        if status in TRANSIENT_STATUS:
            reason = "http_408" if status == 408 else "http_5xx"
            raise TransientFetchError(
                f"HTTP {status} from {where}", url=where, status=status, retry_reason=reason
            )
        raise PermanentFetchError(f"HTTP {status} from {where}", url=where, status=status)

    def _challenge(self, url: str, kind: str, host: str, status: int) -> NoReturn:
        """A Human Verification page: pause the host and raise :class:`ChallengeError`."""
        self._counters.incr(f"challenges/{kind}")
        self._gate.record_challenge(host, "its Human Verification page (bot challenge)")
        pause = self._gate.remaining(host)
        log.warning("bot challenge from %s (HTTP %s); host paused %.0fs", host, status, pause)
        raise ChallengeError(
            f"bot challenge (Human Verification page, HTTP {status}) from {host}; "
            f"host paused for {pause:.0f}s",
            url=mask_text(url),
            status=status,
        )

    def _rate_limited(
        self, resp: TransportResponse, where: str, host: str, sent_at: float
    ) -> NoReturn:
        retry_after = parse_retry_after(resp.headers.get("Retry-After"))
        self._limiter.on_rate_limited(host, retry_after, sent_at=sent_at)
        log.info(
            "HTTP 429 from %s (Retry-After %s); host rate now %s/s",
            host,
            "none" if retry_after is None else f"{retry_after:g}s",
            self._limiter.current_rate(host),
        )
        detail = "" if retry_after is None else f" (Retry-After {retry_after:g}s)"
        raise RateLimitedError(
            f"HTTP 429 Too Many Requests from {where}{detail}", url=where, retry_after=retry_after
        )

    def _forbidden(self, status: int, url: str, kind: str, host: str) -> NoReturn:
        """The API's refusal: a block with 401/403, a faulty answer otherwise."""
        where = mask_text(url)
        if status in BLOCK_STATUS:
            # AWS API Gateway refusing this client: like the store's challenge,
            # leave the host alone for a growing while; other hosts go on.
            self._counters.incr(f"blocked/{kind}")
            self._gate.record_challenge(host, f"the refusal {FORBIDDEN_BODY} (HTTP {status})")
            pause = self._gate.remaining(host)
            log.warning(
                "%s refused cwo (HTTP %s %s); host paused %.0fs",
                host,
                status,
                FORBIDDEN_BODY,
                pause,
            )
            raise ChallengeError(
                f"blocked: {host} answered HTTP {status} {FORBIDDEN_BODY}; "
                f"host paused for {pause:.0f}s",
                url=where,
                status=status,
            )
        # The same body with a 200 (or a 5xx) is no vehicle and no listing: never data.
        self._counters.incr(f"forbidden_body/{kind}")
        raise TransientFetchError(
            f"HTTP {status} from {where} with the refusal body {FORBIDDEN_BODY}, not data",
            url=where,
            status=status,
            retry_reason="forbidden_body",
        )
