"""load_cookie_file: Netscape and JSON formats, errors that never show cookie values."""

from __future__ import annotations

import http.cookiejar
import json
import time
from pathlib import Path

import pytest

from custom_wheel_offset.errors import ConfigError
from custom_wheel_offset.net.cookies import load_cookie_file

SECRET = "s3cr3t-cookie-value"
FUTURE = int(time.time()) + 86400 * 30


def by_name(jar: http.cookiejar.CookieJar) -> dict[str, http.cookiejar.Cookie]:
    return {c.name: c for c in jar}


def test_netscape_with_header_httponly_and_session(tmp_path: Path) -> None:
    path = tmp_path / "cookies.txt"
    path.write_text(
        "# Netscape HTTP Cookie File\n"
        "# comment line\n"
        "\n"
        f".customwheeloffset.com\tTRUE\t/\tTRUE\t{FUTURE}\tcf_clearance\t{SECRET}\n"
        f"#HttpOnly_www.customwheeloffset.com\tFALSE\t/\tFALSE\t0\tPHPSESSID\tabc123\n"
    )
    cookies = by_name(load_cookie_file(path))
    assert set(cookies) == {"cf_clearance", "PHPSESSID"}
    cf = cookies["cf_clearance"]
    assert cf.value == SECRET and cf.domain == ".customwheeloffset.com" and cf.secure
    assert cf.expires == FUTURE
    sess = cookies["PHPSESSID"]
    assert sess.domain == "www.customwheeloffset.com" and sess.expires is None
    assert sess.has_nonstandard_attr("HttpOnly")


def test_netscape_without_magic_header_and_with_spaces(tmp_path: Path) -> None:
    path = tmp_path / "cookies.txt"
    path.write_text(f"example.com  FALSE  /  FALSE  {FUTURE}  a  b\r\n")
    assert by_name(load_cookie_file(path))["a"].value == "b"


def test_netscape_subdomain_flag_means_leading_dot(tmp_path: Path) -> None:
    path = tmp_path / "cookies.txt"
    path.write_text(f"example.com\tTRUE\t/\tFALSE\t{FUTURE}\ta\tb\n")
    assert by_name(load_cookie_file(path))["a"].domain == ".example.com"


def test_netscape_expired_cookies_are_left_out(tmp_path: Path) -> None:
    path = tmp_path / "cookies.txt"
    path.write_text(
        f"example.com\tFALSE\t/\tFALSE\t{FUTURE}\tfresh\t1\n"
        "example.com\tFALSE\t/\tFALSE\t1000\tstale\t2\n"
    )
    assert set(by_name(load_cookie_file(path))) == {"fresh"}


def test_netscape_bad_line_names_line_not_value(tmp_path: Path) -> None:
    path = tmp_path / "cookies.txt"
    path.write_text(
        "# Netscape HTTP Cookie File\n"
        f"example.com\tFALSE\t/\tFALSE\t{FUTURE}\tok\tfine\n"
        f"example.com\tFALSE\t/\t{SECRET}\n"
    )
    with pytest.raises(ConfigError) as info:
        load_cookie_file(path)
    message = str(info.value)
    assert "line 3" in message and str(path) in message
    assert SECRET not in message


def test_netscape_bad_expiry(tmp_path: Path) -> None:
    path = tmp_path / "cookies.txt"
    path.write_text(f"example.com\tFALSE\t/\tFALSE\tsoon\tname\t{SECRET}\n")
    with pytest.raises(ConfigError, match="line 1: expiry") as info:
        load_cookie_file(path)
    assert SECRET not in str(info.value)


def test_json_list_as_browser_extensions_export(tmp_path: Path) -> None:
    path = tmp_path / "cookies.json"
    path.write_text(
        json.dumps(
            [
                {
                    "domain": ".customwheeloffset.com",
                    "expirationDate": FUTURE + 0.25,
                    "hostOnly": False,
                    "httpOnly": True,
                    "name": "cf_clearance",
                    "path": "/",
                    "secure": True,
                    "session": False,
                    "value": SECRET,
                },
                {
                    "domain": "www.customwheeloffset.com",
                    "hostOnly": True,
                    "name": "PHPSESSID",
                    "session": True,
                    "value": "abc",
                },
            ]
        )
    )
    cookies = by_name(load_cookie_file(path))
    assert cookies["cf_clearance"].expires == FUTURE and cookies["cf_clearance"].secure
    assert cookies["PHPSESSID"].expires is None and cookies["PHPSESSID"].path == "/"
    assert cookies["PHPSESSID"].domain == "www.customwheeloffset.com"


def test_json_object_with_cookies_key_and_expires(tmp_path: Path) -> None:
    path = tmp_path / "cookies.json"
    path.write_text(
        json.dumps(
            {
                "cookies": [
                    {"name": "a", "value": "1", "domain": "example.com", "expires": FUTURE},
                    {"name": "b", "value": 2, "domain": "example.com", "expires": -1},
                    {
                        "name": "c",
                        "value": "3",
                        "domain": "x.com",
                        "expires": "2999-01-01T00:00:00Z",
                    },
                ]
            }
        )
    )
    cookies = by_name(load_cookie_file(path))
    assert cookies["a"].expires == FUTURE
    assert cookies["b"].value == "2" and cookies["b"].expires is None
    assert cookies["c"].expires is not None and cookies["c"].expires > FUTURE


def test_json_entry_missing_field_names_entry(tmp_path: Path) -> None:
    path = tmp_path / "cookies.json"
    path.write_text(
        json.dumps([{"name": "a", "value": SECRET, "domain": "x.com"}, {"value": SECRET}])
    )
    with pytest.raises(ConfigError) as info:
        load_cookie_file(path)
    message = str(info.value)
    assert "entry 2" in message and "name" in message and SECRET not in message


def test_json_syntax_error_shows_position_not_content(tmp_path: Path) -> None:
    path = tmp_path / "cookies.json"
    path.write_text('[{"name": "a", "value": "' + SECRET + '" "domain": "x"}]')
    with pytest.raises(ConfigError, match=r"not valid JSON.*line 1") as info:
        load_cookie_file(path)
    assert SECRET not in str(info.value)


def test_json_wrong_shape(tmp_path: Path) -> None:
    path = tmp_path / "cookies.json"
    path.write_text('{"name": "a"}')
    with pytest.raises(ConfigError, match="expected a JSON list"):
        load_cookie_file(path)


def test_home_directory_is_expanded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    (tmp_path / "cookies.txt").write_text(f"example.com\tFALSE\t/\tFALSE\t{FUTURE}\ta\tb\n")
    assert set(by_name(load_cookie_file("~/cookies.txt"))) == {"a"}


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_cookie_file(tmp_path / "nope.txt")


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "cookies.txt"
    path.write_text("# Netscape HTTP Cookie File\n")
    with pytest.raises(ConfigError, match="no usable cookie"):
        load_cookie_file(path)


def test_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "cookies.txt"
    path.write_bytes(b"example.com\tFALSE\t/\tFALSE\t0\tn\t\xff\xfe\n")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_cookie_file(path)
