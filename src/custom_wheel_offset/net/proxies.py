"""Which forward proxy a request goes through: ``--proxy``, the environment's, or none."""

from __future__ import annotations

import os
import threading
from urllib.parse import urlsplit

from custom_wheel_offset.errors import ConfigError, PermanentFetchError
from custom_wheel_offset.net.redirects import host_key
from custom_wheel_offset.net.transport import Proxy
from custom_wheel_offset.redact import mask_text

__all__ = ["ProxyChooser", "configured_proxy"]

# Redirects of robots.txt may go anywhere: the remembered origins stay bounded.
_MAX_ORIGINS = 64


def configured_proxy(url: str | None) -> Proxy | None:
    """``--proxy`` as the transport uses it; ConfigError when it cannot be used."""
    if not url:
        return None
    try:
        return Proxy.from_url(url)
    except ValueError as exc:
        raise ConfigError(f"--proxy {mask_text(url)} cannot be used: {exc}") from exc


class ProxyChooser:
    """The proxy of each origin: ``--proxy`` for all, else the environment's per origin.

    ``--proxy`` is checked here, so a proxy cwo cannot use fails the run
    before any request. Without it, proxy variables (and their ``NO_PROXY``
    exceptions) are honoured the way requests does it.
    """

    def __init__(self, proxy_url: str | None) -> None:
        self._proxy = configured_proxy(proxy_url)
        self._from_env = not proxy_url and any(
            key.lower().endswith("_proxy") and key.lower() != "no_proxy" for key in os.environ
        )
        self._lock = threading.Lock()
        self._by_origin: dict[tuple[str, str], Proxy | None] = {}

    def __call__(self, url: str) -> Proxy | None:
        """The proxy for ``url``'s origin (remembered per origin), or None to go direct."""
        if self._proxy is not None or not self._from_env:
            return self._proxy
        origin = (urlsplit(url).scheme.lower(), host_key(url))
        try:
            return self._by_origin[origin]
        except KeyError:
            pass
        proxy = self._from_environment(url)
        with self._lock:
            if len(self._by_origin) >= _MAX_ORIGINS:
                self._by_origin.clear()
            self._by_origin[origin] = proxy
        return proxy

    @staticmethod
    def _from_environment(url: str) -> Proxy | None:
        from requests.utils import get_environ_proxies, select_proxy

        chosen = select_proxy(url, get_environ_proxies(url))
        try:
            return Proxy.from_url(chosen) if chosen else None
        except ValueError as exc:
            raise PermanentFetchError(
                f"proxy {mask_text(chosen or '')} from the environment cannot be used: {exc}",
                url=mask_text(url),
                code="proxy",
            ) from exc
