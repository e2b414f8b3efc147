"""What the transport raises, as cwo's own errors: one table, no I/O.

Every exception that sending a request or reading its body may raise
(:data:`TRANSPORT_ERRORS`) becomes the most specific
:class:`~custom_wheel_offset.errors.FetchError` by :data:`TRANSPORT_MAP`, with
the short reason a retry is counted under (``retry_reason/<reason>``) set as
the error's own ``retry_reason``. :func:`retry_reason` reads it back from any
error an attempt failed with.
"""

from __future__ import annotations

import http.client
import ssl
from collections.abc import Callable

import requests
import urllib3.exceptions

from custom_wheel_offset.errors import (
    FetchError,
    PermanentFetchError,
    TransientFetchError,
    TruncatedBodyError,
)
from custom_wheel_offset.redact import mask_text

__all__ = [
    "TRANSPORT_ERRORS",
    "TRANSPORT_FALLBACK",
    "TRANSPORT_MAP",
    "retry_reason",
    "root_cause",
    "transport_error",
]

# What sending a request or reading its body may raise: urllib3's (decoding),
# http.client's and the socket's (requests' own are kept for the cookie and
# URL helpers taken from it).
TRANSPORT_ERRORS = (
    requests.RequestException,
    urllib3.exceptions.HTTPError,
    http.client.HTTPException,
    OSError,
)

Row = tuple[tuple[type[BaseException], ...], type[FetchError], str, str]

#: Most specific first, matched against the exception and the innermost cause
#: below it: (classes, cwo error, code and retry reason, what the message says).
TRANSPORT_MAP: tuple[Row, ...] = (
    ((urllib3.exceptions.ConnectTimeoutError,),
     TransientFetchError, "timeout", "timed out connecting to"),
    ((TimeoutError, urllib3.exceptions.ReadTimeoutError),
     TransientFetchError, "timeout", "timed out reading from"),
    # An untrusted certificate does not heal with retries.
    ((ssl.SSLCertVerificationError,),
     PermanentFetchError, "tls", "TLS certificate not trusted for"),
    ((ssl.SSLError,),
     TransientFetchError, "tls", "TLS error with"),
    ((http.client.IncompleteRead, urllib3.exceptions.IncompleteRead),
     TransientFetchError, "truncated", "body cut short from"),
    ((urllib3.exceptions.DecodeError,),
     TransientFetchError, "decoding", "undecodable body (gzip) from"),
    # http.client refuses to send a URL or header with control characters.
    ((http.client.InvalidURL,),
     PermanentFetchError, "invalid_request", "invalid request for"),
    ((http.client.HTTPException, urllib3.exceptions.HTTPError, OSError),
     TransientFetchError, "connection", "connection failed to"),
)  # fmt: skip
#: Anything else (requests' own exceptions, which the transport no longer raises).
TRANSPORT_FALLBACK: tuple[type[FetchError], str, str] = (
    TransientFetchError,
    "connection",
    "request failed for",
)
# A connection fault on the way through a proxy: refused, reset or a failed CONNECT.
_VIA_PROXY: tuple[type[FetchError], str, str] = (TransientFetchError, "proxy", "proxy failed for")


def root_cause(exc: BaseException) -> BaseException:
    """The innermost exception below a requests/urllib3 wrapper chain."""
    seen = {id(exc)}
    current = exc
    for _ in range(12):
        inner = getattr(current, "reason", None)
        if not isinstance(inner, BaseException):
            inner = next((a for a in current.args if isinstance(a, BaseException)), None)
        if inner is None:
            inner = current.__cause__ or current.__context__
        if inner is None or id(inner) in seen:
            break
        seen.add(id(inner))
        current = inner
    return current


def transport_error(
    exc: BaseException,
    url: str,
    *,
    via_proxy: bool = False,
    scrub: Callable[[str], str] = mask_text,
) -> FetchError:
    """The cwo error for what the transport raised while talking to ``url``.

    ``scrub`` cleans the exception's text of secrets (:class:`redact.Scrubber`).
    Raise the result ``from exc``.
    """
    where = mask_text(url)
    # The watchdog raises TimeoutError from the read it ended: the timeout is
    # the cause, not the end-of-file below it.
    root = exc if isinstance(exc, TimeoutError) else root_cause(exc)
    detail = scrub(f"{type(root).__name__}: {root}" if str(root) else type(root).__name__)
    error_class, reason, what = next(
        (row[1:] for row in TRANSPORT_MAP if isinstance(exc, row[0]) or isinstance(root, row[0])),
        TRANSPORT_FALLBACK,
    )
    if via_proxy and reason == "connection":
        error_class, reason, what = _VIA_PROXY
    message = f"{what} {where}: {detail[:300]}"
    if issubclass(error_class, TransientFetchError):
        return error_class(message, url=where, retry_reason=reason)
    return error_class(message, url=where, code=reason)


def retry_reason(exc: BaseException) -> str:
    """Why an attempt failed, for ``retry_reason/<reason>``: the error's own, else ``other``."""
    if isinstance(exc, (FetchError, TruncatedBodyError)) and exc.retry_reason:
        return exc.retry_reason
    return "other"
