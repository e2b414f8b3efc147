"""Fixtures for the net tests: the scripted server, a fake clock, counters, settings."""

from __future__ import annotations

import ssl
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import trustme

from custom_wheel_offset.metrics.counters import Counters
from custom_wheel_offset.net.network import OptimizedNetworkManager
from custom_wheel_offset.net.transport import Transport
from custom_wheel_offset.settings import Settings
from proxy_helper import LocalProxy

from .helpers import FakeClock, ScriptedServer


@pytest.fixture(autouse=True)
def _no_environment_proxies(monkeypatch: pytest.MonkeyPatch) -> None:
    """requests honours *_PROXY variables; the tests talk to 127.0.0.1 directly."""
    for name in (
        "http_proxy",
        "https_proxy",
        "all_proxy",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "ALL_PROXY",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    srv = ScriptedServer()
    try:
        yield srv
    finally:
        srv.close()


@pytest.fixture(scope="module")
def authority() -> trustme.CA:
    """A throwaway certificate authority for the HTTPS tests."""
    return trustme.CA()


@pytest.fixture
def tls_server(authority: trustme.CA) -> Iterator[ScriptedServer]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert("127.0.0.1").configure_cert(context)
    srv = ScriptedServer(tls=context)
    try:
        yield srv
    finally:
        srv.close()


@pytest.fixture
def trusted_bundle(authority: trustme.CA, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    bundle = tmp_path / "ca.pem"
    authority.cert_pem.write_to_path(str(bundle))
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
    return bundle


@pytest.fixture(scope="module")
def local_proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalProxy]:
    proxy = LocalProxy(str(tmp_path_factory.mktemp("proxy") / "port"))
    try:
        yield proxy
    finally:
        proxy.close()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def counters() -> Counters:
    return Counters()


@pytest.fixture
def make_settings(server: ScriptedServer) -> Callable[..., Settings]:
    """Settings pointed at the test server, with quick timeouts and tiny backoff."""

    def make(**changes: Any) -> Settings:
        values: dict[str, Any] = {
            "api_base": server.url("/api"),
            "store_base": server.url("/store"),
            "workers": 4,
            "rate": 0.0,
            "host_concurrency": 0,
            "max_attempts": 3,
            "backoff_base": 0.01,
            "backoff_max": 0.05,
            "connect_timeout": 1.0,
            "read_timeout": 0.4,
            "max_body_bytes": 64 * 1024,
            "obey_robots": False,
        }
        values.update(changes)
        return Settings(**values)

    return make


@pytest.fixture
def make_manager(
    make_settings: Callable[..., Settings], counters: Counters
) -> Iterator[Callable[..., OptimizedNetworkManager]]:
    managers: list[OptimizedNetworkManager] = []

    def make(**kwargs: Any) -> OptimizedNetworkManager:
        extra = {k: kwargs.pop(k) for k in ("limiter", "gate", "tracker") if k in kwargs}
        mgr = OptimizedNetworkManager(make_settings(**kwargs), counters, **extra)
        managers.append(mgr)
        return mgr

    yield make
    for mgr in managers:
        mgr.close()


@pytest.fixture
def transport() -> Iterator[Transport]:
    """The real transport alone (quick timeouts), for the parts that read its responses."""
    import requests.certs

    plain = Transport(
        connect_timeout=1.0, read_timeout=1.0, total_timeout=5.0, ca_bundle=requests.certs.where()
    )
    try:
        yield plain
    finally:
        plain.close()
