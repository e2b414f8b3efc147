"""Checks made once before a crawl starts, so a wrong setting fails in a second, not minutes.

A base URL where nothing listens (connection refused) would otherwise cost
every retry of every request, and robots.txt warnings, before the run ends
with failed items. One TCP connect per host tells at once. Only a refusal
is fatal here: a timeout or a DNS failure may be a passing fault, which the
run's own retries are for. A request that goes through a proxy is not
checked (the proxy, not this machine, connects to the host).
"""

from __future__ import annotations

import socket
import urllib.request
from typing import Any
from urllib.parse import urlsplit

from custom_wheel_offset.errors import ConfigError
from custom_wheel_offset.redact import mask_url

__all__ = ["check_reachable"]


def _proxied(settings: Any, scheme: str, host: str) -> bool:
    if settings.proxy:
        return True
    proxies = urllib.request.getproxies()
    return scheme in proxies and not urllib.request.proxy_bypass(host)


def check_reachable(settings: Any) -> None:
    """Raise :class:`ConfigError` (exit 2) when a base URL's host refuses connections."""
    checked: set[tuple[str, int]] = set()
    for option, base in (("--api-base", settings.api_base), ("--store-base", settings.store_base)):
        parts = urlsplit(base)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
        if not host or (host, port) in checked or _proxied(settings, parts.scheme, host):
            continue
        checked.add((host, port))
        try:
            socket.create_connection((host, port), timeout=settings.connect_timeout).close()
        except ConnectionRefusedError as exc:
            raise ConfigError(
                f"nothing is listening at {option} {mask_url(base)} (connection refused)",
                hint="start the sandbox (`cwo sandbox serve` prints the command to crawl it), "
                "or check --api-base and --store-base",
            ) from exc
        except OSError:
            continue  # not a refusal: the run's retries decide
