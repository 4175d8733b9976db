"""The HTTP layer's parts on their own: cookie jar, JSON bounds, proxy settings, name look-up."""

from __future__ import annotations

import base64
import json
import threading
import time

import pytest

from enphase_monitor import deadline as deadline_mod
from enphase_monitor.cookies import (
    MAX_COOKIES,
    MAX_JAR_BYTES,
    MAX_ORIGINS,
    CookieJar,
    default_path,
)
from enphase_monitor.deadline import Deadline, resolve
from enphase_monitor.errors import Failure, TransportError
from enphase_monitor.httplimits import MAX_BODY, MAX_JSON_DEPTH, decode_json, json_shape
from enphase_monitor.proxy import bypassed, parse_proxy, proxy_for
from tests.conftest import fixture_dirs

GATEWAY = ("https", "192.168.1.5", 443)
CLOUD = ("https", "enlighten.enphaseenergy.com", 443)


class Clock:
    """A hand-turned clock for expiry tests."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


# -- cookies -----------------------------------------------------------------------------

def test_a_cookie_goes_back_only_to_its_origin_and_path() -> None:
    jar = CookieJar()
    jar.store(GATEWAY, "/auth/check_jwt", ["sessionId=abc; Secure; HttpOnly; Path=/"])
    jar.store(CLOUD, "/login/login.json", ["_enlighten_session=xyz; path=/login"])
    assert jar.header(GATEWAY, "/ivp/ensemble/relay") == "sessionId=abc"
    assert jar.header(CLOUD, "/login/login.json") == "_enlighten_session=xyz"
    assert jar.header(CLOUD, "/tokens") == ""
    assert jar.header(("https", "192.168.1.5", 8443), "/") == ""  # another port, another jar


def test_domain_never_widens_a_cookie_and_a_foreign_domain_is_refused() -> None:
    jar = CookieJar()
    jar.store(CLOUD, "/", ["a=1; Domain=.enphaseenergy.com", "b=2; Domain=evil.example"])
    assert jar.header(CLOUD, "/") == "a=1"
    assert jar.header(("https", "entrez.enphaseenergy.com", 443), "/") == ""


def test_max_age_and_expires_run_on_the_monotonic_clock() -> None:
    mono, wall = Clock(50.0), Clock(1_700_000_000.0)
    jar = CookieJar(clock=mono, wall=wall)
    jar.store(GATEWAY, "/", ["short=1; Max-Age=10",
                             "dated=2; Expires=Tue, 14 Nov 2023 22:14:20 GMT",  # wall + 1 h
                             "gone=3; Max-Age=0"])
    assert jar.header(GATEWAY, "/") == "short=1; dated=2"
    wall.now += 400 * 86400  # the wall clock jumps 400 days: nothing changes
    assert jar.header(GATEWAY, "/") == "short=1; dated=2"
    mono.now += 11
    assert jar.header(GATEWAY, "/") == "dated=2"
    mono.now += 3600
    assert jar.header(GATEWAY, "/") == ""


def test_an_expired_cookie_deletes_its_namesake() -> None:
    jar = CookieJar()
    jar.store(GATEWAY, "/", ["sessionId=abc; Path=/"])
    jar.store(GATEWAY, "/", ["sessionId=; Path=/; Max-Age=-1"])
    assert jar.header(GATEWAY, "/") == ""


def test_a_flood_of_cookies_is_bounded() -> None:
    jar = CookieJar()
    for answer in range(100):  # 90 new 60 kB cookies per answer, then many small ones
        jar.store(GATEWAY, "/", [f"big{answer}_{i}={'v' * 60_000}" for i in range(90)])
        jar.store(GATEWAY, "/", [f"c{answer}_{i}={'v' * 3000}" for i in range(90)])
    kept = jar.cookies(GATEWAY)
    assert 0 < len(kept) <= MAX_COOKIES
    assert sum(c.size for c in kept) <= MAX_JAR_BYTES
    assert all(c.name.startswith("c99_") for c in kept)  # the newest kept, oldest dropped
    for host in range(100):
        jar.store(("https", f"h{host}", 443), "/", ["x=1"])
    assert jar.origins() == [("https", f"h{host}", 443) for host in range(92, 100)]
    assert len(jar.origins()) == MAX_ORIGINS


@pytest.mark.parametrize("header", [
    "bad name=1", "n=v\x1b[2J", "n=v\x00", "n=caf\u00e9", "=nameless", "noequals",
])
def test_malformed_cookies_are_ignored(header: str) -> None:
    jar = CookieJar()
    jar.store(GATEWAY, "/", [header])
    assert jar.cookies(GATEWAY) == []


def test_default_path_is_the_request_directory() -> None:
    assert default_path("/auth/check_jwt") == "/auth"
    assert default_path("/info.xml") == "/"
    assert default_path("") == "/"


# -- JSON bounds -------------------------------------------------------------------------

def test_every_captured_answer_decodes_within_the_bounds() -> None:
    seen = 0
    for directory in fixture_dirs():
        for path in directory.iterdir():
            raw = path.read_bytes()
            assert len(raw) <= MAX_BODY / 8, path  # the cap has a wide margin
            try:
                json.loads(raw)
            except ValueError:
                continue  # XML and text captures
            decode_json(raw)
            seen += 1
    assert seen > 150


@pytest.mark.parametrize("raw, words", [
    (b"[" * 100_000 + b"]" * 100_000, "more than 10000 objects and arrays"),
    (b"[" * 9000 + b"]" * 9000, "nested deeper"),
    (b'{"a":' * (MAX_JSON_DEPTH + 1) + b"1" + b"}" * (MAX_JSON_DEPTH + 1), "nested deeper"),
    (b'{"a": "\xff"}', "UTF-8"),
    (b'{"a": 1}\x00', "not valid JSON"),
    (b"  \n", "empty"),
    (b"1" * 5000, "not valid JSON"),  # int() of more than 4300 digits
], ids=["100000-deep", "9000-deep", "33-deep", "not-utf8", "nul", "blank", "5000-digits"])
def test_bad_json_is_a_clean_value_error(raw: bytes, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        decode_json(raw)


def test_brackets_inside_strings_do_not_count() -> None:
    deep_text = json.dumps({"a": "[" * 1000 + '\\"{' * 500, "b": [[[1]]]}).encode()
    assert decode_json(deep_text) == json.loads(deep_text)
    json_shape(b'"\\\\"' + b"[" * 3, 5)  # an escaped backslash ends before the quote


def test_depth_check_is_linear_on_hostile_strings() -> None:
    raw = b'"' + b'\\"' * (MAX_BODY // 2)  # an unterminated string of escaped quotes
    start = time.process_time()
    with pytest.raises(ValueError):
        decode_json(raw + b"[" * 40)
    assert time.process_time() - start < 30  # a hang guard, not a speed test


def test_a_bom_is_accepted() -> None:
    assert decode_json(b'\xef\xbb\xbf{"a": 1}') == {"a": 1}


# -- proxy settings ----------------------------------------------------------------------

def test_proxy_credentials_become_proxy_authorization_and_are_never_shown() -> None:
    proxy = parse_proxy("http://us%40er:p%3Ass@word@[fd00::5]:3128")
    assert (proxy.host, proxy.port) == ("fd00::5", 3128)
    assert base64.b64decode(proxy.authorization.split()[1]) == b"us@er:p:ss@word"
    assert "word" not in str(proxy) + repr(proxy) and str(proxy) == "[fd00::5]:3128"
    assert parse_proxy("proxy.lan").port == 80 and parse_proxy("proxy.lan").authorization == ""


@pytest.mark.parametrize("url, words", [
    ("https://user:hunter2@proxy:3128", "only http://"),
    ("socks5://user:hunter2@proxy:1080", "only http://"),
    ("http://user:hunter2@proxy:99999", "port"),
    ("http://user:hunter2@:3128", "no host"),
])
def test_unusable_proxy_settings_are_one_line_without_secrets(url: str, words: str) -> None:
    with pytest.raises(TransportError) as info:
        parse_proxy(url)
    assert words in str(info.value) and "hunter2" not in str(info.value)
    assert info.value.kind is Failure.REQUEST


@pytest.mark.parametrize("host, port, no_proxy, expected", [
    ("envoy.local", 443, "local", True),
    ("envoy.local", 443, ".local", True),
    ("notlocal", 443, "local", False),
    ("a.example.com", 443, "example.com:443", True),
    ("a.example.com", 443, "example.com:8443", False),
    ("::1", 443, "[::1]", True),
    ("fd00::5", 443, "[fd00::5]:443, other", True),
    ("anything", 1, "*", True),
    ("anything", 1, "", False),
])
def test_no_proxy(host: str, port: int, no_proxy: str, expected: bool) -> None:
    assert bypassed(host, port, no_proxy) is expected


def test_proxy_for_reads_the_environment() -> None:
    env = {"HTTPS_PROXY": "http://p:1", "no_proxy": "enphaseenergy.com"}
    assert proxy_for("enlighten.enphaseenergy.com", 443, env) is None
    found = proxy_for("example.org", 443, env)
    assert found is not None and str(found) == "p:1"
    assert proxy_for("example.org", 443, {}) is None


# -- name look-up ------------------------------------------------------------------------

def test_a_real_name_is_resolved() -> None:
    assert resolve("localhost", 443, Deadline(10))


def test_an_ip_literal_needs_no_look_up() -> None:
    def refuse(host: str, port: int) -> list[deadline_mod.AddrInfo]:
        raise AssertionError("looked up")
    assert resolve("::1", 443, Deadline(1), refuse)[0][4][0] == "::1"


def test_a_hung_look_up_is_bounded_by_the_deadline_and_the_stop() -> None:
    release = threading.Event()

    def hang(host: str, port: int) -> list[deadline_mod.AddrInfo]:
        release.wait(60)
        return []

    try:
        with pytest.raises(TransportError) as info:
            resolve("gateway.example", 443, Deadline(0.5), hang)
        assert info.value.kind is Failure.TIMEOUT
        stop = threading.Event()
        threading.Timer(0.3, stop.set).start()
        with pytest.raises(TransportError) as info:
            resolve("gateway.example", 443, Deadline(60, stop), hang)
        assert info.value.kind is Failure.CANCELLED
        for _ in range(deadline_mod.MAX_PENDING_LOOKUPS):  # fill the pending look-ups
            with pytest.raises(TransportError):
                resolve("gateway.example", 443, Deadline(0.05), hang)
        with pytest.raises(TransportError, match="still hanging"):
            resolve("gateway.example", 443, Deadline(1), hang)
    finally:
        release.set()

