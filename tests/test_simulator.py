"""Tests for the HTTPS gateway + cloud simulator: real TLS, real HTTP, no mocks."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import queue
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from enphase_monitor.errors import TokenError
from enphase_monitor.jwtpayload import jwt_payload as decode_jwt_payload
from enphase_sim import (
    SimState,
    Simulator,
    generate_certificate,
    make_jwt,
)
from tests.conftest import wait_until

REPO_ROOT = Path(__file__).resolve().parents[1]
USER = {"user[email]": "demo@example.com", "user[password]": "demo-password"}
TIMEOUT = 5.0


def fixtures_root() -> Path:
    """The pyenphase fixtures copied into the repository (tests/fixtures/pyenphase)."""
    return REPO_ROOT / "tests" / "fixtures" / "pyenphase"


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with Simulator() as s:
        yield s


@pytest.fixture(autouse=True)
def _clean(request: pytest.FixtureRequest) -> Iterator[None]:
    """Reset faults and state after each test that used the shared simulator."""
    yield
    if "sim" in request.fixturenames:
        s: Simulator = request.getfixturevalue("sim")
        s.clear_faults()
        s.update(**dataclasses.asdict(SimState()))


def get(sim: Simulator, path: str, token: str | None = None, **kw: Any) -> requests.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    kw.setdefault("timeout", TIMEOUT)
    return requests.get(sim.gateway_url + path, headers=headers, verify=str(sim.ca_file), **kw)


def login(sim: Simulator, data: dict[str, str] | None = None) -> requests.Response:
    return requests.post(sim.login_url, data=data or USER, verify=str(sim.ca_file),
                         headers={"Accept": "application/json"}, timeout=TIMEOUT)


def cloud_token(sim: Simulator, **overrides: str) -> requests.Response:
    body = {"session_id": login(sim).json()["session_id"], "serial_num": sim.state.serial,
            "username": "demo@example.com", **overrides}
    return requests.post(sim.tokens_url, json=body, verify=str(sim.ca_file), timeout=TIMEOUT)


def session(sim: Simulator) -> requests.Session:
    s = requests.Session()
    s.trust_env = False  # REQUESTS_CA_BUNDLE would otherwise override s.verify
    s.verify = str(sim.ca_file)
    return s


# ---------------------------------------------------------------- TLS and certificate

def test_certificate_fingerprint_matches_served_cert(sim: Simulator) -> None:
    ctx = ssl.create_default_context(cafile=str(sim.ca_file))
    with socket.create_connection(("127.0.0.1", sim.gateway_port), timeout=TIMEOUT) as raw, \
            ctx.wrap_socket(raw, server_hostname="localhost") as tls:
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    assert hashlib.sha256(der).hexdigest() == sim.cert_sha256
    assert len(sim.cert_sha256) == 64 and sim.cert_sha256 == sim.cert_sha256.lower()


def test_tls_verified_against_ca_file_for_both_servers(sim: Simulator) -> None:
    assert get(sim, "/info.xml").status_code == 200
    assert login(sim).status_code == 200
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(sim.gateway_url + "/info.xml", verify=True, timeout=TIMEOUT)
    # the certificate also names "localhost"
    url = f"https://localhost:{sim.cloud_port}/tokens"
    assert requests.post(url, json={}, verify=str(sim.ca_file), timeout=TIMEOUT).status_code == 401


def test_openssl_fallback_certificate(tmp_path: Path) -> None:
    if shutil.which("openssl") is None:
        pytest.skip("no openssl command")
    cert, key = generate_certificate(tmp_path, prefer_openssl=True)
    assert b"BEGIN CERTIFICATE" in cert.read_bytes()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)


# ---------------------------------------------------------------- cloud

def test_login_ok_bad_and_mfa(sim: Simulator) -> None:
    r = login(sim)
    assert r.status_code == 200
    body = r.json()
    assert len(body["session_id"]) >= 16 and body["is_consumer"] is True
    assert {"manager_token", "user_id", "user_name"} <= body.keys()

    r = login(sim, {"user[email]": "demo@example.com", "user[password]": "wrong"})
    assert r.status_code == 401
    assert r.json() == {"message": "Invalid email or password"}

    sim.update(mfa=True)
    r = login(sim)
    assert r.status_code == 200
    assert r.json() == {"success": True, "isBlocked": False}
    assert "login_otp_nonce" in r.cookies


def test_token_issue_and_jwt_payload(sim: Simulator) -> None:
    r = cloud_token(sim)
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/plain")
    token = r.text
    assert token.count(".") == 2 and "=" not in token
    payload = decode_jwt_payload(token)
    now = time.time()
    assert payload["aud"] == sim.state.serial
    assert payload["iss"] == "Entrez"
    assert payload["enphaseUser"] == "owner"
    assert payload["username"] == "demo@example.com"
    assert abs(payload["iat"] - now) < 5
    assert abs(payload["exp"] - payload["iat"] - 365 * 86400) < 5
    assert payload["jti"]
    assert get(sim, "/ivp/ensemble/relay", token).status_code == 200

    sim.update(user_type="installer")
    installer = decode_jwt_payload(cloud_token(sim).text)
    assert installer["enphaseUser"] == "installer"
    assert abs(installer["exp"] - installer["iat"] - 12 * 3600) < 5


def test_token_errors(sim: Simulator) -> None:
    r = cloud_token(sim, serial_num="999999999999")
    assert r.status_code == 403 and "serial not found" in r.text
    r = cloud_token(sim, session_id="nope")
    assert r.status_code == 401
    assert sim.stats()["token_requests"] >= 2


def test_make_jwt_roundtrip() -> None:
    token = make_jwt({"exp": 123, "aud": "x"})
    header = json.loads(__import__("base64").urlsafe_b64decode(token.split(".")[0] + "=="))
    assert header == {"kid": "sim", "typ": "JWT", "alg": "ES256"}
    assert decode_jwt_payload(token) == {"exp": 123, "aud": "x"}
    with pytest.raises(TokenError):
        decode_jwt_payload("garbage")


# ---------------------------------------------------------------- gateway auth

def test_gateway_requires_a_valid_token(sim: Simulator) -> None:
    assert get(sim, "/info.xml").status_code == 200
    assert get(sim, "/info").status_code == 200
    before = sim.stats()["unauthorized"]
    r = get(sim, "/ivp/livedata/status")
    assert r.status_code == 401 and r.json()["status"] == 401
    assert get(sim, "/ivp/livedata/status", make_jwt({"exp": 2**40})).status_code == 401
    assert sim.stats()["unauthorized"] == before + 2
    token = sim.issue_token()
    for path in ("/ivp/ensemble/relay", "/ivp/livedata/status", "/ivp/ensemble/secctrl",
                 "/ivp/meters/reports", "/ivp/meters"):
        assert get(sim, path, token).status_code == 200, path
    assert get(sim, "/ivp/nothing", token).status_code == 404


def test_check_jwt_cookie_then_cookie_only(sim: Simulator) -> None:
    token = sim.issue_token()
    s = session(sim)
    assert s.get(sim.gateway_url + "/auth/check_jwt", timeout=TIMEOUT).status_code == 401
    r = s.get(sim.gateway_url + "/auth/check_jwt", headers={"Authorization": f"Bearer {token}"},
              timeout=TIMEOUT)
    assert r.status_code == 200
    assert "Valid token." in r.text
    assert "Secure" in r.headers["Set-Cookie"] and "HttpOnly" in r.headers["Set-Cookie"]
    assert s.cookies.get("sessionId")
    assert s.get(sim.gateway_url + "/ivp/ensemble/relay", timeout=TIMEOUT).status_code == 200
    sim.revoke_tokens()
    assert s.get(sim.gateway_url + "/ivp/ensemble/relay", timeout=TIMEOUT).status_code == 401


def test_token_expiry_and_revocation(sim: Simulator) -> None:
    short = sim.issue_token(lifetime_s=60)
    long = sim.issue_token()
    assert get(sim, "/ivp/meters", short).status_code == 200
    sim.update(clock_offset_s=120)
    assert get(sim, "/ivp/meters", short).status_code == 401
    assert get(sim, "/ivp/meters", long).status_code == 200
    sim.revoke_tokens()
    assert get(sim, "/ivp/meters", long).status_code == 401


# ---------------------------------------------------------------- payloads

def test_relay_and_livedata_follow_state(sim: Simulator) -> None:
    token = sim.issue_token()
    relay = get(sim, "/ivp/ensemble/relay", token).json()
    assert relay["mains_oper_state"] == "closed" and relay["Enchg_grid_mode"] == "multimode-ongrid"
    sim.update(grid="open", soc=15)
    relay = get(sim, "/ivp/ensemble/relay", token).json()
    assert relay["mains_oper_state"] == "open" and relay["mains_admin_state"] == "closed"
    assert relay["Enchg_grid_mode"] == "multimode-offgrid"
    meters = get(sim, "/ivp/livedata/status", token).json()["meters"]
    assert meters["soc"] == 15 and meters["enc_agg_soc"] == 15
    assert meters["enc_agg_energy"] == int(10080 * 15 / 100)
    assert meters["backup_soc"] == 20 and meters["is_split_phase"] == 1
    assert meters["grid"]["agg_p_mw"] == 0
    assert meters["storage"]["agg_p_mw"] == 1500 * 1000  # discharging covers the load
    sec = get(sim, "/ivp/ensemble/secctrl", token).json()
    assert sec["agg_soc"] == 15 and sec["Max_energy"] == 10080


def test_live_stale_freezes_livedata_as_it_was(sim: Simulator) -> None:
    token = sim.issue_token()
    sim.update(soc=70.0)
    sim.update(live_stale=True)
    frozen = get(sim, "/ivp/livedata/status", token).content
    sim.update(soc=20.0, clock_offset_s=600.0, load_w=300.0)
    assert get(sim, "/ivp/livedata/status", token).content == frozen
    meters = json.loads(frozen)["meters"]
    assert meters["soc"] == 70 and meters["last_update"] < sim.now() - 590
    assert get(sim, "/ivp/ensemble/secctrl", token).json()["agg_soc"] == 20  # not frozen
    sim.update(live_stale=False)
    meters = get(sim, "/ivp/livedata/status", token).json()["meters"]
    assert meters["soc"] == 20 and meters["last_update"] >= int(sim.now()) - 1
    with Simulator(workdir=sim.workdir / "again", state=dataclasses.replace(
            sim.state, live_stale=True)) as stale_from_start:
        token = stale_from_start.issue_token()
        first = get(stale_from_start, "/ivp/livedata/status", token).content
        stale_from_start.update(soc=90.0)
        assert get(stale_from_start, "/ivp/livedata/status", token).content == first


def test_livedata_energy_balance_on_grid(sim: Simulator) -> None:
    token = sim.issue_token()
    sim.update(pv_w=4000.0, load_w=1000.0, soc=50.0)
    m = get(sim, "/ivp/livedata/status", token).json()["meters"]
    pv, st, grid, load = (m[k]["agg_p_mw"] for k in ("pv", "storage", "grid", "load"))
    assert st < 0  # charging
    assert load == pv + st + grid
    assert m["load"]["agg_p_ph_a_mw"] == m["load"]["agg_p_ph_b_mw"] == 500_000
    assert m["load"]["agg_p_ph_c_mw"] == 0


def test_meters_reports_phases(sim: Simulator) -> None:
    token = sim.issue_token()
    reports = {r["reportType"]: r for r in get(sim, "/ivp/meters/reports", token).json()}
    assert set(reports) == {"production", "net-consumption", "total-consumption"}
    total = reports["total-consumption"]
    assert len(total["lines"]) == 2 and total["cumulative"]["currW"] == 1500
    assert 235 < total["cumulative"]["rmsVoltage"] < 250
    assert 115 < total["lines"][0]["rmsVoltage"] < 125

    sim.update(phases="three", has_storage_ct=True)
    reports = {r["reportType"]: r for r in get(sim, "/ivp/meters/reports", token).json()}
    assert "storage" in reports
    assert all(len(r["lines"]) == 3 for r in reports.values())
    assert 220 < reports["production"]["cumulative"]["rmsVoltage"] < 240
    meters = get(sim, "/ivp/meters", token).json()
    assert {m["phaseMode"] for m in meters} == {"three"}

    sim.update(phases="single", has_ct=False, has_storage_ct=False)
    reports = get(sim, "/ivp/meters/reports", token).json()
    assert [r["reportType"] for r in reports] == ["production"]
    assert len(reports[0]["lines"]) == 1


def test_no_relay_gives_404(sim: Simulator) -> None:
    sim.update(has_relay=False)
    assert get(sim, "/ivp/ensemble/relay", sim.issue_token()).status_code == 404


def test_update_rejects_bad_fields(sim: Simulator) -> None:
    with pytest.raises(ValueError):
        sim.update(nope=1)
    with pytest.raises(ValueError):
        sim.update(phases="four")
    with pytest.raises(ValueError):
        sim.update(soc="high")


def test_fixture_mode_serves_files_verbatim() -> None:
    fixture = fixtures_root() / "8.3.5433_tot_is_net_cons"
    if not fixture.is_dir():
        pytest.skip("pyenphase fixtures not available")
    with Simulator(fixture_dir=fixture) as fsim:
        assert fsim.state.firmware == "D8.3.5433"
        token = fsim.issue_token()
        r = get(fsim, "/ivp/ensemble/secctrl", token)
        assert r.content == (fixture / "ivp_ensemble_secctrl").read_bytes()
        assert get(fsim, "/info.xml").content == (fixture / "info").read_bytes()
        assert get(fsim, "/ivp/ensemble/relay", token).json()["Enchg_grid_mode"] == "unknown"
        assert "meters" in get(fsim, "/ivp/livedata/status", token).json()


# ---------------------------------------------------------------- faults

def test_fault_timeout(sim: Simulator) -> None:
    sim.inject("/ivp/ensemble/relay", "timeout", value=1.5)
    with pytest.raises(requests.exceptions.Timeout):
        get(sim, "/ivp/ensemble/relay", sim.issue_token(), timeout=0.5)


def test_fault_reset(sim: Simulator) -> None:
    sim.inject("*", "reset")
    with pytest.raises(requests.exceptions.ConnectionError):
        get(sim, "/info.xml")


def test_fault_tls(sim: Simulator) -> None:
    sim.inject("*", "tls", count=1)
    with pytest.raises(requests.exceptions.ConnectionError):  # SSLError is a subclass
        get(sim, "/info.xml")
    assert get(sim, "/info.xml").status_code == 200
    sim.inject("login", "tls", count=1)
    with pytest.raises(requests.exceptions.ConnectionError):
        login(sim)
    assert sim.stats()["tls_faults"] >= 2


@pytest.mark.parametrize("kind", ["status", "401", "garbage", "empty", "truncated"])
def test_fault_bodies(sim: Simulator, kind: str) -> None:
    token = sim.issue_token()
    sim.inject("/ivp/livedata/status", kind, value=503 if kind == "status" else None)
    r = get(sim, "/ivp/livedata/status", token)
    expected = {"status": 503, "401": 401}.get(kind, 200)
    assert r.status_code == expected
    if kind == "empty":
        assert r.content == b""
    if kind in ("garbage", "truncated"):
        assert r.content
        with pytest.raises(ValueError):
            r.json()
    # other paths are unaffected
    assert get(sim, "/ivp/ensemble/relay", token).json()["mains_oper_state"] == "closed"


def test_fault_wrong_types(sim: Simulator) -> None:
    token = sim.issue_token()
    sim.update(soc=85)
    sim.inject("*", "wrong_types")
    meters = get(sim, "/ivp/livedata/status", token).json()["meters"]
    assert meters["soc"] == "85"
    assert isinstance(meters["last_update"], str)
    assert meters["enc_agg_energy"] is None
    reports = get(sim, "/ivp/meters/reports", token).json()
    assert isinstance(reports[0]["cumulative"]["currW"], str)


def test_fault_slow(sim: Simulator) -> None:
    sim.inject("/ivp/meters", "slow", value=0.4)
    start = time.monotonic()
    assert get(sim, "/ivp/meters", sim.issue_token()).status_code == 200
    assert time.monotonic() - start >= 0.4


def test_fault_count_one_and_cloud_faults(sim: Simulator) -> None:
    token = sim.issue_token()
    sim.inject("/ivp/ensemble/relay", "status", count=1)
    assert get(sim, "/ivp/ensemble/relay", token).status_code == 500
    assert get(sim, "/ivp/ensemble/relay", token).status_code == 200
    sim.inject("login", "down")
    with pytest.raises(requests.exceptions.ConnectionError):
        login(sim)
    sim.clear_faults("login")
    assert login(sim).status_code == 200
    sim.inject("tokens", "status", value=502, count=1)
    assert cloud_token(sim).status_code == 502
    assert cloud_token(sim).status_code == 200
    with pytest.raises(ValueError):
        sim.inject("*", "nonsense")


def test_keep_alive_reuses_one_connection(sim: Simulator) -> None:
    s = session(sim)
    s.headers["Authorization"] = f"Bearer {sim.issue_token()}"
    sim.reset_stats()
    for _ in range(20):
        r = s.get(sim.gateway_url + "/ivp/livedata/status", timeout=TIMEOUT)
        assert r.status_code == 200
    stats = sim.stats()
    assert stats["handshakes"]["gateway"] == 1
    assert stats["requests"]["/ivp/livedata/status"] == 20


def test_stop_is_prompt_with_sleeping_request() -> None:
    fsim = Simulator().start()
    fsim.inject("*", "timeout", value=30)
    errors: list[BaseException] = []

    def call() -> None:
        try:
            get(fsim, "/info.xml", timeout=10)
        except requests.RequestException as exc:
            errors.append(exc)

    thread = threading.Thread(target=call)
    thread.start()
    # held now (a fixed sleep could stop the simulator before the TLS handshake was done)
    wait_until(lambda: fsim.stats()["requests"].get("/info.xml", 0) > 0)
    start = time.monotonic()
    fsim.stop()
    assert time.monotonic() - start < 15  # a hang guard: the held request lasts 30 s
    thread.join(timeout=15)
    assert not thread.is_alive()
    assert errors and not fsim.workdir.exists()


# ---------------------------------------------------------------- control API and CLI

def test_http_control_api(sim: Simulator) -> None:
    base, ca = sim.gateway_url, str(sim.ca_file)
    r = requests.post(f"{base}/__sim/state", json={"soc": 42, "grid": "open synchronizing"},
                      verify=ca, timeout=TIMEOUT)
    assert r.status_code == 200 and r.json()["soc"] == 42
    state = requests.get(f"{base}/__sim/state", verify=ca, timeout=TIMEOUT).json()
    assert state["grid"] == "open synchronizing"
    assert requests.post(f"{base}/__sim/state", json={"bogus": 1}, verify=ca,
                         timeout=TIMEOUT).status_code == 400
    requests.post(f"{base}/__sim/fault", json={"target": "/ivp/meters", "kind": "status",
                                               "value": 503, "count": None},
                  verify=ca, timeout=TIMEOUT).raise_for_status()
    token = sim.issue_token()
    assert get(sim, "/ivp/meters", token).status_code == 503
    requests.post(f"{base}/__sim/clear", verify=ca, timeout=TIMEOUT).raise_for_status()
    assert get(sim, "/ivp/meters", token).status_code == 200
    requests.post(f"{base}/__sim/reset_stats", verify=ca, timeout=TIMEOUT).raise_for_status()
    get(sim, "/ivp/meters", token)
    stats = requests.get(f"{base}/__sim/stats", verify=ca, timeout=TIMEOUT).json()
    assert stats["requests"] == {"/ivp/meters": 1}
    remote = requests.post(f"{base}/__sim/token", json={}, verify=ca, timeout=TIMEOUT).text
    assert get(sim, "/ivp/meters", remote).status_code == 200


def _read_until_ready(proc: subprocess.Popen[str], timeout: float) -> list[str]:
    """Collect stdout lines up to ``ready`` (a reader thread, so a hung child cannot block)."""
    assert proc.stdout is not None
    stdout = proc.stdout
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:
        for line in stdout:
            lines.put(line.strip())
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    seen: list[str] = []
    deadline = time.monotonic() + timeout
    while (left := deadline - time.monotonic()) > 0:
        try:
            line = lines.get(timeout=left)
        except queue.Empty:
            break
        if line is None:
            break
        seen.append(line)
        if line == "ready":
            return seen
    raise AssertionError(f"simulator did not print ready: {seen}")


def test_cli_subprocess(tmp_path: Path) -> None:
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT))
    proc = subprocess.Popen(
        [sys.executable, "-m", "enphase_sim", "--workdir", str(tmp_path),
         "--soc", "55", "--grid", "open"],
        stdout=subprocess.PIPE, text=True, env=env, cwd=REPO_ROOT)
    try:
        lines = _read_until_ready(proc, 60)  # a hang guard: a loaded start takes seconds
        facts = dict(ln.split("=", 1) for ln in lines if "=" in ln)
        info = json.loads((tmp_path / "simulator.json").read_text())
        assert info["pid"] == proc.pid
        assert info["gateway_host"] == facts["gateway_host"]
        assert facts["login_url"].endswith("/login/login.json?")
        ca = info["ca_file"]
        base = f"https://{info['gateway_host']}"
        assert info["serial"] in requests.get(f"{base}/info.xml", verify=ca, timeout=TIMEOUT).text
        token = requests.post(f"{base}/__sim/token", verify=ca, timeout=TIMEOUT).text
        live = requests.get(f"{base}/ivp/livedata/status", verify=ca, timeout=TIMEOUT,
                            headers={"Authorization": f"Bearer {token}"}).json()
        assert live["meters"]["soc"] == 55
        r = requests.post(info["login_url"], verify=ca, timeout=TIMEOUT,
                          data={"user[email]": info["username"],
                                "user[password]": info["password"]})
        assert "session_id" in r.json()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
