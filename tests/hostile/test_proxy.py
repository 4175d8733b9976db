"""https_proxy through a real CONNECT proxy: credentials, no_proxy, IPv6 targets, refusals."""

from __future__ import annotations

import base64
import logging

import pytest

from enphase_monitor.enlighten import EnlightenClient
from enphase_monitor.errors import Failure, TransportError
from enphase_monitor.transport import HttpsTransport
from enphase_sim import Simulator
from tests.hostile.proxy import ConnectProxy
from tests.hostile.server import HostileGateway

PASSWORD = "s3cr@t:pw"  # an @ and a : that must be percent-encoded in the URL
URL_PASSWORD = "s3cr%40t%3Apw"


def test_a_proxy_with_credentials_carries_the_cloud_login(
    sim: Simulator, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with ConnectProxy("me", PASSWORD) as proxy:
        monkeypatch.setenv("https_proxy", f"http://me:{URL_PASSWORD}@127.0.0.1:{proxy.port}")
        monkeypatch.delenv("no_proxy", raising=False)
        monkeypatch.delenv("NO_PROXY", raising=False)
        http = HttpsTransport(verify=str(sim.ca_file))
        try:
            state = sim.state
            cloud = EnlightenClient(http, sim.login_url, sim.tokens_url, timeout=5)
            assert cloud.login(state.username, state.password)
        finally:
            http.close()
    assert proxy.heads and proxy.heads[0].startswith(f"CONNECT 127.0.0.1:{sim.cloud_port} ")
    expected = base64.b64encode(f"me:{PASSWORD}".encode()).decode()
    assert f"Proxy-Authorization: Basic {expected}" in proxy.heads[0]
    assert PASSWORD not in caplog.text and URL_PASSWORD not in caplog.text
    assert expected not in caplog.text


def test_a_proxy_that_wants_credentials_is_a_clear_failure(
    hostile: HostileGateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    with ConnectProxy("me", PASSWORD) as proxy:
        monkeypatch.setenv("https_proxy", f"http://me:wrong-pw@127.0.0.1:{proxy.port}")
        http = HttpsTransport(verify=False)
        with pytest.raises(TransportError) as info:
            http.request("GET", f"https://{hostile.host}/info.xml", timeout=5)
    message = str(info.value)
    assert "HTTP 407" in message and "user:password@" in message
    assert "wrong-pw" not in message and f"127.0.0.1:{proxy.port}" in message


def test_no_proxy_and_the_gateway_go_direct(hostile: HostileGateway,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    with ConnectProxy() as proxy:
        monkeypatch.setenv("https_proxy", f"http://127.0.0.1:{proxy.port}")
        monkeypatch.setenv("no_proxy", "localhost,127.0.0.1")
        assert HttpsTransport(verify=False).request(
            "GET", f"https://{hostile.host}/info.xml", timeout=5).status == 200
        monkeypatch.delenv("no_proxy")
        assert HttpsTransport(verify=False, trust_env=False).request(
            "GET", f"https://{hostile.host}/info.xml", timeout=5).status == 200
        assert proxy.heads == []
        assert HttpsTransport(verify=False).request(
            "GET", f"https://{hostile.host}/info.xml", timeout=5).status == 200
        assert len(proxy.heads) == 1


def test_an_ipv6_target_is_bracketed_in_the_connect(sim: Simulator,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    with ConnectProxy() as proxy:
        monkeypatch.setenv("https_proxy", f"127.0.0.1:{proxy.port}")  # no scheme: http://
        with pytest.raises(TransportError):  # nothing listens there; the proxy says so
            HttpsTransport(verify=False).request("GET", "https://[::1]:9/x", timeout=5)
    assert proxy.heads[0].startswith("CONNECT [::1]:9 HTTP/1.1\r\nHost: [::1]:9")


def test_an_https_proxy_url_is_refused_in_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("https_proxy", "https://me:hunter2@proxy.lan:3128")
    with pytest.raises(TransportError) as info:
        HttpsTransport().request("GET", "https://enlighten.example/x", timeout=5)
    assert info.value.kind is Failure.REQUEST and "hunter2" not in str(info.value)
