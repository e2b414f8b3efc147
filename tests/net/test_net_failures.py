"""net/failures.py: every row of the table mapping transport exceptions to cwo errors."""

from __future__ import annotations

import http.client
import ssl

import pytest
import requests
import urllib3.exceptions

from custom_wheel_offset.errors import (
    FetchError,
    ParseError,
    PermanentFetchError,
    RateLimitedError,
    TransientFetchError,
    TruncatedBodyError,
)
from custom_wheel_offset.net.failures import (
    TRANSPORT_ERRORS,
    TRANSPORT_MAP,
    retry_reason,
    root_cause,
    transport_error,
)
from custom_wheel_offset.redact import Scrubber

URL = "http://user:pw@h.example/x?token=abc"

# One instance of every class of every row of TRANSPORT_MAP, in table order.
SAMPLES: list[BaseException] = [
    urllib3.exceptions.ConnectTimeoutError("connect timed out"),
    TimeoutError("the watchdog ended the read"),
    urllib3.exceptions.ReadTimeoutError(None, "/x", "Read timed out."),  # type: ignore[arg-type]
    ssl.SSLCertVerificationError("certificate verify failed"),
    ssl.SSLError("wrong version number"),
    http.client.IncompleteRead(b"abc", 10),
    urllib3.exceptions.IncompleteRead(3, 10),
    urllib3.exceptions.DecodeError("not gzip"),
    http.client.InvalidURL("URL can't contain control characters"),
    http.client.RemoteDisconnected("Remote end closed connection without response"),
    urllib3.exceptions.ProtocolError("Connection aborted."),
    ConnectionResetError(104, "Connection reset by peer"),
]
# (error class, reason, message start) expected for each sample.
EXPECTED = [
    (TransientFetchError, "timeout", "timed out connecting to"),
    (TransientFetchError, "timeout", "timed out reading from"),
    (TransientFetchError, "timeout", "timed out reading from"),
    (PermanentFetchError, "tls", "TLS certificate not trusted for"),
    (TransientFetchError, "tls", "TLS error with"),
    (TransientFetchError, "truncated", "body cut short from"),
    (TransientFetchError, "truncated", "body cut short from"),
    (TransientFetchError, "decoding", "undecodable body (gzip) from"),
    (PermanentFetchError, "invalid_request", "invalid request for"),
    (TransientFetchError, "connection", "connection failed to"),
    (TransientFetchError, "connection", "connection failed to"),
    (TransientFetchError, "connection", "connection failed to"),
]


def test_the_samples_cover_every_class_of_the_table() -> None:
    classes = {cls for row in TRANSPORT_MAP for cls in row[0]}
    covered = {cls for cls in classes for sample in SAMPLES if type(sample) is cls}
    # OSError, HTTPException and HTTPError are covered by their subclasses above.
    assert classes - covered == {
        OSError,
        http.client.HTTPException,
        urllib3.exceptions.HTTPError,
    }
    assert all(isinstance(sample, TRANSPORT_ERRORS) for sample in SAMPLES)


@pytest.mark.parametrize(("exc", "expected"), list(zip(SAMPLES, EXPECTED, strict=True)))
def test_each_row_gives_its_error_class_reason_and_message(
    exc: BaseException, expected: tuple[type[FetchError], str, str]
) -> None:
    error_class, reason, what = expected
    error = transport_error(exc, URL)
    assert type(error) is error_class
    assert error.message.startswith(f"{what} http://user:***@h.example/x?token=***: ")
    assert error.url == "http://user:***@h.example/x?token=***"
    assert error.code == reason
    if error_class is TransientFetchError:
        assert error.retry_reason == reason and retry_reason(error) == reason
    else:
        assert error.retry_reason is None and retry_reason(error) == "other"


def test_the_innermost_cause_decides() -> None:
    reset = ConnectionResetError(104, "Connection reset by peer")
    wrapped = requests.exceptions.ConnectionError(
        urllib3.exceptions.ProtocolError("Connection aborted.", reset)
    )
    assert root_cause(wrapped) is reset
    timeout = urllib3.exceptions.ConnectTimeoutError("connect timed out")
    pool_error = urllib3.exceptions.MaxRetryError(None, "/x", reason=timeout)  # type: ignore[arg-type]
    assert root_cause(requests.exceptions.ConnectionError(pool_error)) is timeout
    assert transport_error(requests.exceptions.ConnectionError(pool_error), URL).retry_reason == (
        "timeout"
    )


def test_a_cycle_of_causes_ends() -> None:
    first, second = OSError("a"), OSError("b")
    first.__cause__, second.__cause__ = second, first
    assert root_cause(first) is second


def test_a_timeout_from_the_watchdog_is_not_replaced_by_its_cause() -> None:
    timeout = TimeoutError("total timeout")
    timeout.__context__ = http.client.IncompleteRead(b"", 5)
    assert transport_error(timeout, URL).retry_reason == "timeout"


def test_a_connection_fault_through_a_proxy_is_a_proxy_fault() -> None:
    error = transport_error(ConnectionRefusedError(111, "refused"), URL, via_proxy=True)
    assert type(error) is TransientFetchError and error.retry_reason == "proxy"
    assert error.message.startswith("proxy failed for ")
    # Other faults keep their own reason through a proxy.
    assert transport_error(TimeoutError("t"), URL, via_proxy=True).retry_reason == "timeout"


def test_anything_outside_the_table_is_a_connection_fault() -> None:
    error = transport_error(RuntimeError("odd"), URL)
    assert type(error) is TransientFetchError and error.retry_reason == "connection"
    assert error.message.startswith("request failed for ")


def test_the_message_is_scrubbed_of_known_secrets() -> None:
    exc = OSError("refused by proxy with password hunter2-long")
    error = transport_error(exc, URL, scrub=Scrubber(["hunter2-long"]))
    assert "hunter2-long" not in error.message and "***" in error.message


def test_retry_reason_is_an_attribute_of_the_error_classes() -> None:
    assert RateLimitedError("429", retry_after=None).retry_reason == "http_429"
    assert retry_reason(RateLimitedError("429", retry_after=None)) == "http_429"
    assert retry_reason(TruncatedBodyError("cut")) == "truncated"
    assert retry_reason(TransientFetchError("x")) == "other"
    assert retry_reason(ParseError("x")) == "other"
    assert retry_reason(ValueError("x")) == "other"
    tagged = TransientFetchError("x", retry_reason="forbidden_body")
    assert tagged.retry_reason == "forbidden_body" and tagged.code == "forbidden_body"
    assert TransientFetchError("x", status=503, retry_reason="http_5xx").code == "http_503"
    assert TransientFetchError("x", retry_reason="other").code == "connection"
