"""Hosts and redirects: which host a URL talks to, and which redirects cwo follows.

:func:`host_key` is the one notion of a host in cwo (limiter, challenge gate,
robots cache, processor). :func:`same_site_redirect` is the rule for
following a redirect: the same origin, or the same site with ``www.`` added or
dropped and ``http`` upgraded to ``https``; :class:`SameSiteRedirects` applies
it and says once per host that such a redirect costs a request per page.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING
from urllib.parse import urljoin, urlsplit

from custom_wheel_offset.errors import PermanentFetchError
from custom_wheel_offset.redact import mask_text

if TYPE_CHECKING:
    from custom_wheel_offset.metrics.counters import Counters
    from custom_wheel_offset.net.transport import TransportResponse

__all__ = [
    "MAX_REDIRECTS",
    "SameSiteRedirects",
    "as_host_key",
    "host_key",
    "origin",
    "redirect_target",
    "same_site_redirect",
    "scheme_and_authority",
]

log = logging.getLogger(__name__)

MAX_REDIRECTS = 5


def host_key(url: str) -> str:
    """The host a URL talks to, as limiter and gate know it: ``host`` or ``host:port``.

    Lower case, without credentials or the scheme's default port:
    ``https://www.Example.com:443/x`` is ``www.example.com``, and
    ``http://127.0.0.1:8765/`` is ``127.0.0.1:8765``.
    """
    if "://" not in url:
        return _host_key(url)
    # Asked for every request: the scheme and authority alone are looked up (and
    # remembered), instead of splitting a fitment URL with its long query each time.
    return _origin_host_key(scheme_and_authority(url))


def scheme_and_authority(url: str) -> str:
    """``scheme://authority``: the URL up to its path, query or fragment (all of it without ``://``)."""
    start = url.find("://")
    if start == -1:
        return url
    end = len(url)
    for separator in "/?#":
        found = url.find(separator, start + 3, end)
        if found != -1:
            end = found
    return url[:end]


@functools.lru_cache(maxsize=256)
def _origin_host_key(scheme_and_authority: str) -> str:
    return _host_key(scheme_and_authority)


def _host_key(url: str) -> str:
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    if ":" in host:
        host = f"[{host}]"  # IPv6 literal
    try:
        port = parts.port
    except ValueError:
        port = None
    default = {"http": 80, "https": 443}.get(parts.scheme.lower())
    return f"{host}:{port}" if port is not None and port != default else host


def as_host_key(host_or_url: str) -> str:
    """Accept a URL (``scheme://netloc/...``) or an existing :func:`host_key`."""
    return host_key(host_or_url) if "://" in host_or_url else host_or_url.lower()


def origin(url: str) -> tuple[str, str]:
    """Scheme and :func:`host_key`: what a same-origin redirect keeps."""
    return (urlsplit(url).scheme.lower(), host_key(url))


def _site(url: str) -> tuple[str, str]:
    """Host (without a leading ``www.``) and port: what a same-site redirect keeps."""
    key = host_key(url)
    if key.endswith("]") or ":" not in key:
        return (key.removeprefix("www."), "")  # no port, or an IPv6 literal without one
    host, _, port = key.rpartition(":")
    return (host.removeprefix("www."), port)


def same_site_redirect(current: str, target: str) -> bool:
    """Whether a redirect from ``current`` to ``target`` stays on the same site.

    Same origin; or the same host (or the same domain with and without
    ``www.``), keeping the scheme and port or upgrading ``http`` to ``https``
    (which moves the port too, 80 to 443): the live store answers ``http://``
    and apex addresses with ``302`` to ``https://www.customwheeloffset.com/``.
    A downgrade to ``http``, another port or any other host is not.
    """
    if origin(target) == origin(current):
        return True
    schemes = (urlsplit(current).scheme.lower(), urlsplit(target).scheme.lower())
    (host, port), (target_host, target_port) = _site(current), _site(target)
    if schemes == ("http", "https"):
        return host == target_host
    return schemes in {("http", "http"), ("https", "https")} and (host, port) == (
        target_host,
        target_port,
    )


def redirect_target(
    current: str, resp: TransportResponse, scrub: Callable[[str], str] = mask_text
) -> str:
    """The absolute URL a redirect points to, decoded and quoted as requests does.

    A Location that is not UTF-8 or not a URL (``http://[::1/x``) is a fault
    of this answer that no retry cures: :class:`PermanentFetchError`.
    """
    from requests.exceptions import InvalidURL
    from requests.utils import requote_uri

    raw = resp.headers.get("Location", "")
    try:
        # http.client reads headers as latin-1; a UTF-8 Location is undone here
        # (what requests' get_redirect_target does).
        location = raw.encode("latin1").decode("utf8")
        target = requote_uri(urljoin(current, location))
        host_key(target)  # urlsplit checks the host part only when asked for it
    except (UnicodeError, ValueError, InvalidURL) as exc:
        raise PermanentFetchError(
            f"invalid Location header {scrub(ascii(raw)[:120])} in the redirect "
            f"from {mask_text(current)}: {type(exc).__name__}: {exc}"[:400],
            url=mask_text(current),
            status=resp.status_code,
            code="invalid_header",
        ) from exc
    return target


class SameSiteRedirects:
    """The redirects :meth:`get` follows: same site only; a move is warned about once per host.

    ``scrub`` cleans a bad Location header of secrets (:class:`redact.Scrubber`).
    """

    def __init__(self, counters: Counters, scrub: Callable[[str], str] = mask_text) -> None:
        self._counters = counters
        self._scrub = scrub
        self._lock = threading.Lock()
        self._moved: set[str] = set()

    def next_hop(self, url: str, current: str, resp: TransportResponse) -> str:
        """Where the redirect ``resp`` (of ``current``, asked for as ``url``) leads.

        :raises PermanentFetchError: a bad Location, or another site (``redirect_refused``).
        """
        target = redirect_target(current, resp, self._scrub)
        if not same_site_redirect(current, target):
            raise PermanentFetchError(
                f"redirect from {mask_text(current)} to another host ({mask_text(target)}) refused",
                url=mask_text(url),
                status=resp.status_code,
                code="redirect_refused",
            )
        if origin(target) != origin(current):
            self.note_moved(url, target)
        return target

    def note_moved(self, url: str, target: str) -> bool:
        """Say once per host that a same-site redirect costs a request per page.

        True the first time for ``url``'s host (counted in ``redirects/same_site_hosts``).
        """
        moved_from = host_key(url)
        with self._lock:
            if moved_from in self._moved:
                return False
            self._moved.add(moved_from)
        self._counters.incr("redirects/same_site_hosts")
        parts = urlsplit(target)
        log.warning(
            "%s redirects to %s://%s: change the base URL (--api-base/--store-base) to %s://%s; "
            "every request now costs an extra redirect",
            moved_from,
            parts.scheme,
            parts.netloc,
            parts.scheme,
            parts.netloc,
        )
        return True
