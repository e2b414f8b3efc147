"""Issue 11 item 6: one URL masker, control-character escaping, and where both are applied."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from custom_wheel_offset.redact import (
    Scrubber,
    escape_control,
    is_secret_name,
    mask_text,
    mask_url,
    sanitize,
)

SECRET = "S3cr3t-Value"


@pytest.mark.parametrize(
    ("url", "masked"),
    [
        ("http://bob:hunter2@proxy:3128/x", "http://bob:***@proxy:3128/x"),
        ("http://TOKEN@proxy:3128", "http://***@proxy:3128"),
        ("https://:pw@proxy/", "https://***@proxy/"),
        ("https://user:p@ss@host/x", "https://user:***@host/x"),
        # SQLAlchemy reads the password up to the "@", "/" included.
        ("postgresql+psycopg://crawler:a/b@db/cwo", "postgresql+psycopg://crawler:***@db/cwo"),
        ("postgresql+psycopg://crawler@db/cwo", "postgresql+psycopg://***@db/cwo"),
        ("crawler:pw@db.example/cwo", "crawler:***@db.example/cwo"),
        ("token@db.example/cwo", "***@db.example/cwo"),
        ("sqlite:///data/cwo.db", "sqlite:///data/cwo.db"),
        ("data/cwo.db", "data/cwo.db"),
        ("https://h.example/a?email=a@b.c", "https://h.example/a?email=a@b.c"),
        ("http://[::1/x", "http://[::1/x"),
    ],
)
def test_userinfo_of_every_form_is_masked(url: str, masked: str) -> None:
    assert mask_url(url) == masked


@pytest.mark.parametrize(
    "name",
    [
        "token", "Token", "access_token", "key", "apikey", "api_key", "API-KEY", "password",
        "passwd", "sslpassword", "pwd", "secret", "client_secret", "auth", "Authorization",
        "sig", "signature", "X-Amz-Signature", "credential", "api%5Fkey",
    ],
)  # fmt: skip
def test_secret_looking_query_parameters_are_masked(name: str) -> None:
    assert is_secret_name(name)
    url = f"https://api.example/v1?year=2024&{name}={SECRET}&make=Ford#{name}={SECRET}"
    assert mask_url(url) == f"https://api.example/v1?year=2024&{name}=***&make=Ford#{name}=***"


@pytest.mark.parametrize(
    "name", ["year", "make", "model", "trim", "drive", "DRChassisID", "vehicle_type", "sort"]
)
def test_the_sites_own_parameters_are_not_secret(name: str) -> None:
    assert not is_secret_name(name)
    assert mask_url(f"https://h/x?{name}=v") == f"https://h/x?{name}=v"


def test_every_url_in_a_text_is_masked_and_the_sentence_kept() -> None:
    text = (
        f"HTTP 500 from http://u:{SECRET}@h/x?token={SECRET}, then ('postgresql://a:{SECRET}@c/d')."
    )
    assert mask_text(text) == (
        "HTTP 500 from http://u:***@h/x?token=***, then ('postgresql://a:***@c/d')."
    )


def test_a_scrubber_masks_urls_and_blanks_known_secret_values() -> None:
    scrub = Scrubber([SECRET, "cookie-value-123", "short", f"{SECRET}-longer"])
    # Longest first, so a secret that contains another is replaced whole; short ones are kept.
    assert scrub.secrets == (f"{SECRET}-longer", "cookie-value-123", SECRET)
    text = f"failed: http://a:b@h/?key=x sent cookie-value-123 and {SECRET}-longer, short"
    assert scrub(text) == "failed: http://a:***@h/?key=*** sent *** and ***, short"
    assert Scrubber()(f"http://{SECRET}@proxy:3128/x") == "http://***@proxy:3128/x"


def test_control_characters_are_escaped_and_letters_kept() -> None:
    text = "a\x1b]0;title\x07b\x9b31m\nc\td\x7f\u202eŠkoda 日本 café"
    escaped = escape_control(text)
    assert escaped == "a\\x1b]0;title\\x07b\\x9b31m\\x0ac\\x09d\\x7f\\u202eŠkoda 日本 café"
    assert escape_control(escaped) == escaped  # idempotent: stored text can be shown again
    assert all(ch.isprintable() for ch in escaped)


@pytest.mark.parametrize(
    ("field", "value", "shown"),
    [
        ("api_base", f"https://u:{SECRET}@api.example/co", "https://u:***@api.example/co"),
        ("api_base", f"https://api.example/co?token={SECRET}", "https://api.example/co?token=***"),
        ("store_base", f"https://{SECRET}@store.example", "https://***@store.example"),
        ("store_base", f"https://store.example?sig={SECRET}", "https://store.example?sig=***"),
        ("proxy", f"http://{SECRET}@proxy:3128", "http://***@proxy:3128"),
        ("proxy", f"http://u:{SECRET}@proxy:3128", "http://u:***@proxy:3128"),
        ("proxy", f"http://:{SECRET}@proxy:3128", "http://***@proxy:3128"),
        ("db", f"postgresql+psycopg://u:{SECRET}@h/cwo", "postgresql+psycopg://u:***@h/cwo"),
        ("db", f"postgresql+psycopg://u@h/cwo?password={SECRET}", "postgresql+psycopg://***@h/cwo?password=***"),
        ("db", f"u:{SECRET}@h/cwo", "u:***@h/cwo"),
    ],
)  # fmt: skip
def test_each_url_setting_is_masked_in_the_public_settings(
    field: str, value: str, shown: str
) -> None:
    from custom_wheel_offset.settings import resolve_settings

    public = resolve_settings({field: value}, env={}).public_dict()
    assert public[field] == shown
    assert SECRET not in json.dumps(public)


def test_a_bad_api_base_is_reported_masked() -> None:
    from custom_wheel_offset.errors import ConfigError
    from custom_wheel_offset.settings import resolve_settings

    with pytest.raises(ConfigError) as info:
        resolve_settings({"api_base": f"ftp://u:{SECRET}@h/co"}, env={})
    assert "ftp://u:***@h/co" in str(info.value) and SECRET not in str(info.value)


def test_the_report_json_holds_no_secret_and_no_control_character() -> None:
    from custom_wheel_offset.metrics.report import build_report

    report = build_report(
        run={"id": 1, "outcome": "failed_items", "host": "box\x1b[2J", "pid": 1},
        settings_public={"api_base": f"https://u:{SECRET}@h"},
        snapshot={"network": {"last_error": f"BadStatusLine: X\x1b]0;t\x07 via http://{SECRET}@p"}},
    )
    text = json.dumps(report, ensure_ascii=False)
    assert SECRET not in text and "\x1b" not in text and "\x07" not in text
    assert report["run"]["host"] == "box\\x1b[2J"
    assert report["network"]["last_error"] == "BadStatusLine: X\\x1b]0;t\\x07 via http://***@p"


# -- logs ------------------------------------------------------------------------------------


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    """A stream for configure_logging; cwo's handlers are removed again afterwards."""
    root = logging.getLogger()
    level = root.level
    yield io.StringIO()
    for handler in [h for h in root.handlers if getattr(h, "_cwo", False)]:
        root.removeHandler(handler)
        handler.close()
    root.setLevel(level)


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_log_records_are_masked_and_escaped(fmt: str, log_stream: io.StringIO) -> None:
    from custom_wheel_offset.logsetup import configure_logging

    configure_logging(log_format=fmt, stream=log_stream)
    log = logging.getLogger("custom_wheel_offset.test")
    log.warning("answer %s from %s", "X\x1b]0;pwned\x07", f"http://u:{SECRET}@h/?token={SECRET}")
    try:
        raise ValueError(f"bad line \x1b[31m from http://{SECRET}@h")
    except ValueError:
        log.exception("failed: %s", "\x9b2J")
    out = log_stream.getvalue()
    assert SECRET not in out
    assert not any(c in out for c in "\x1b\x07\x9b"), out
    lines = out.splitlines()
    if fmt == "json":
        records = [json.loads(line) for line in lines]
        assert len(records) == 2
        assert "X\\x1b]0;pwned\\x07" in records[0]["message"]
        assert "http://u:***@h/?token=***" in records[0]["message"]
        assert records[1]["message"] == "failed: \\x9b2J"
        assert "ValueError: bad line \\x1b[31m from http://***@h" in records[1]["exc"]
    else:
        assert "X\\x1b]0;pwned\\x07" in lines[0] and "http://u:***@h/?token=***" in lines[0]
        assert lines[1].endswith("failed: \\x9b2J")
        assert "ValueError: bad line \\x1b[31m from http://***@h" in lines[-1]


def test_sanitize_walks_nested_values() -> None:
    value = {"a\x1b": [f"http://{SECRET}@h", 3, None, {"b": ("\x07",)}]}
    assert sanitize(value) == {"a\\x1b": ["http://***@h", 3, None, {"b": ["\\x07"]}]}
