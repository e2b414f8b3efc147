"""One GET on the wire: the thread's session headers and cookies, the proxy, errors mapped.

Every request, through a proxy or not, is sent by the one transport
(:mod:`custom_wheel_offset.net.transport`) on the thread's own kept-alive
connections, with that thread's session headers and cookies
(:class:`~custom_wheel_offset.net.cookies.SessionPool`). What the transport
raises becomes a cwo error (:mod:`custom_wheel_offset.net.failures`), its text
cleaned of the run's secrets.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from custom_wheel_offset.errors import PermanentFetchError
from custom_wheel_offset.net.cookies import SessionPool, load_cookie_file
from custom_wheel_offset.net.failures import TRANSPORT_ERRORS, transport_error
from custom_wheel_offset.net.proxies import ProxyChooser
from custom_wheel_offset.net.transport import Transport, TransportResponse
from custom_wheel_offset.redact import Scrubber, mask_text

if TYPE_CHECKING:
    import http.cookiejar

    import requests

    from custom_wheel_offset.settings import Settings

__all__ = ["Sender"]

# A URL that cwo built itself: ASCII, every name already percent-encoded. Any
# other (a redirect target, a base URL given with spaces) is quoted first, as
# requests would; dot segments are never resolved away.
_PLAIN_URL = re.compile(r"^https?://[A-Za-z0-9.\-:\[\]]+(?:/[A-Za-z0-9\-._~%!$&'()*+,;=:@/?]*)?$")


class Sender:
    """Sends one GET, streamed, no redirects followed; see the module docstring.

    ``scrub`` (a :class:`~custom_wheel_offset.redact.Scrubber` of the proxy
    password and the cookie values) and ``sessions`` are shared with the
    other parts of the network manager.
    """

    def __init__(
        self,
        transport: Transport,
        sessions: SessionPool,
        proxies: ProxyChooser,
        scrub: Scrubber,
    ) -> None:
        self.transport = transport
        self.sessions = sessions
        self.proxies = proxies
        self.scrub = scrub

    @classmethod
    def from_settings(cls, settings: Settings) -> Sender:
        """Built from the run's settings; ConfigError for an unusable proxy or cookie file."""
        # Both checked here, so a bad proxy or cookie file fails the run before any request.
        proxies = ProxyChooser(settings.proxy)
        cookies = load_cookie_file(settings.cookies) if settings.cookies else None
        transport = Transport(
            connect_timeout=settings.connect_timeout,
            read_timeout=settings.read_timeout,
            total_timeout=settings.total_timeout,
            ca_bundle=_ca_bundle(),
        )
        sessions = SessionPool(settings.effective_user_agent, cookies)
        return cls(transport, sessions, proxies, Scrubber(_secrets(settings.proxy, cookies)))

    def send(self, url: str, headers: Mapping[str, str] | None = None) -> TransportResponse:
        """One GET of ``url`` with ``headers`` on top of the session's; cwo errors only."""
        from requests.utils import requote_uri

        session = self.sessions.session()
        if not _PLAIN_URL.match(url):
            url = requote_uri(url)
        proxy = self.proxies(url)
        try:
            resp = self.transport.get(url, self.sessions.headers(session, url, headers), proxy)
        except TRANSPORT_ERRORS as exc:
            raise transport_error(exc, url, via_proxy=proxy is not None, scrub=self.scrub) from exc
        except ValueError as exc:
            # A URL no connection can be made for ("http://[::1/x", a bad port).
            raise PermanentFetchError(
                f"invalid URL {mask_text(url)}: {self.scrub(str(exc))[:200]}",
                url=mask_text(url),
                code="invalid_url",
            ) from exc
        if "set-cookie" in resp.headers:
            # The store keeps the selected vehicle in its session cookie.
            self._store_cookies(session, resp, url)
        return resp

    def _store_cookies(self, session: requests.Session, resp: TransportResponse, url: str) -> None:
        """Cookies of ``resp`` into the session; the response is closed if that fails."""
        try:
            self.sessions.store_cookies(session, resp, url)
        except ValueError as exc:
            resp.close()
            where = mask_text(url)
            detail = self.scrub(f"{type(exc).__name__}: {exc}")[:300]
            raise PermanentFetchError(
                f"invalid header (Set-Cookie) in the answer from {where}: {detail}",
                url=where,
                code="invalid_header",
            ) from exc
        except BaseException:
            resp.close()
            raise

    def close(self) -> None:
        """Close every session and every kept-alive connection."""
        self.sessions.close()
        self.transport.close()

    def stats(self) -> dict[str, int]:
        """Sessions and connections, for the network manager's stats."""
        return {
            **self.sessions.stats(),
            "connections_opened": self.transport.connections_opened,
            "connections_open": self.transport.open_connections(),
            # Exchanges the transport's watchdog ended (read or total timeout).
            "deadline_timeouts": self.transport.timeouts,
        }


def _secrets(proxy: str | None, cookies: http.cookiejar.CookieJar | None) -> list[str]:
    """Strings that must never appear in a message: the proxy password, cookie values."""
    found = [c.value for c in cookies or () if c.value]
    password = urlsplit(proxy).password if proxy else None
    return [password, *found] if password else found


def _ca_bundle() -> str:
    """The CA bundle requests would use: its environment variables, else certifi's."""
    import requests.certs

    bundle = os.environ.get("REQUESTS_CA_BUNDLE") or os.environ.get("CURL_CA_BUNDLE")
    return bundle or requests.certs.where()
