"""Config values from a hostile or careless hand: control characters, secrets in errors, BOM,
hosts and ports, cloud URLs, expansion bombs; unit tests, then the real daemon's command line.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest

from enphase_monitor.config import Config, parse_config
from enphase_monitor.errors import ConfigError
from enphase_monitor.netloc import HostError, https_url, normal_host, split_host
from enphase_monitor.shellvars import (
    MAX_CONFIG_CHARS,
    MAX_TOTAL_CHARS,
    MAX_VALUE_CHARS,
    parse_assignments,
    parse_lines,
)
from enphase_sim import Simulator, make_jwt
from tests.conftest import ROOT, write_setup

HERE = Path("/etc/enphase-test.conf")
BASE = "UPS=home\nUSERNAME=me@example.com\nPASSWORD=pw\nSERIAL=123456789012\nPORT_FILE=home.dev\n"
# the parts of a secret that must never appear in any message
SECRET_HEAD, SECRET_TAIL = "Qz7-Head", "Jx9-Tail"


def parse(text: str, env: Mapping[str, str] | None = None) -> Config:
    return parse_config(text, HERE, None, {} if env is None else env)


def error_of(text: str) -> str:
    with pytest.raises(ConfigError) as info:
        parse(text)
    message = str(info.value)
    assert "\n" not in message and message.isprintable(), message
    return message


# ----------------------------------------------------------------- hosts, ports, URLs

class TestHosts:
    @pytest.mark.parametrize(("text", "host", "port"), [
        ("envoy.local", "envoy.local", None), ("envoy", "envoy", None),
        ("envoy.local.", "envoy.local.", None), ("a-b.c-d", "a-b.c-d", None),
        ("x" * 63 + ".lan", "x" * 63 + ".lan", None), ("192.168.1.5", "192.168.1.5", None),
        ("192.168.1.5:443", "192.168.1.5", 443), ("envoy:1", "envoy", 1),
        ("envoy:65535", "envoy", 65535), ("[fe80::1]", "fe80::1", None),
        ("[fe80::1]:8443", "fe80::1", 8443), ("fe80::1", "fe80::1", None),
        ("2001:db8::5:443", "2001:db8::5:443", None), ("[fe80::1%eth0]:443", "fe80::1%eth0", 443),
        ("::ffff:192.0.2.1", "::ffff:192.0.2.1", None), ("123abc.lan", "123abc.lan", None),
    ])
    def test_valid(self, text: str, host: str, port: int | None) -> None:
        assert split_host(text) == (host, port)

    @pytest.mark.parametrize(("text", "normal"), [
        ("fe80::1", "[fe80::1]"), ("[fe80::1]:443", "[fe80::1]:443"),
        ("2001:db8::5:443", "[2001:db8::5:443]"), ("envoy:8443", "envoy:8443"),
    ])
    def test_one_form_ipv6_in_brackets(self, text: str, normal: str) -> None:
        assert normal_host(text) == normal

    @pytest.mark.parametrize(("text", "why"), [
        ("", "empty"), ("a..b", "1-63"), (".a", "1-63"), ("a.", None), ("-a.b", "1-63"),
        ("a-.b", "1-63"), ("a_b", "1-63"), ("x" * 64 + ".lan", "1-63"),
        ("a." * 127 + "bc", "253"), ("envoy:0", "1 to 65535"), ("envoy:65536", "1 to 65535"),
        ("envoy:123456", "1 to 65535"), ("envoy:", "1 to 65535"), ("envoy:-1", "1 to 65535"),
        ("envoy:+80", "1 to 65535"), ("envoy:８０", "1 to 65535"), ("256.1.1.1", "IPv4"),
        ("1.2.3", "IPv4"), ("[fe80::1", "']'"), ("[fe80::1]x", "':port'"),
        ("[envoy]:443", "IPv6"), ("[fe80::1%]", "zone"), ("[fe80::1%a b]", "zone"),
        ("fe80::g", "IPv6"), ("a b", "1-63"), ("énvoy", "1-63"), ("user@envoy", "1-63"),
    ])
    def test_invalid(self, text: str, why: str | None) -> None:
        if why is None:  # "a." is a valid fully-qualified name
            assert split_host(text) == (text, None)
            return
        with pytest.raises(HostError, match=why):
            split_host(text)

    def test_urlsplit_reads_the_one_form_back(self) -> None:
        from urllib.parse import urlsplit
        for text in ("[fe80::1]:8443", "envoy.local", "192.0.2.1:443", "[2001:db8::1]"):
            parts = urlsplit("https://" + normal_host(text))
            assert (parts.hostname, parts.port) == split_host(text)


class TestUrls:
    @pytest.mark.parametrize("url", [
        "https://enlighten.enphaseenergy.com/login/login.json?",
        "https://127.0.0.1:8443/tokens", "https://[::1]:443/a?b=c&d=%20e#f", "HTTPS://x.test/",
    ])
    def test_valid(self, url: str) -> None:
        assert https_url(url) == url

    @pytest.mark.parametrize(("url", "why"), [
        ("http://enlighten.enphaseenergy.com/login", "https://"), ("ftp://x/", "https://"),
        ("enlighten.enphaseenergy.com/login", "https://"), ("https://", "empty"),
        ("https://user:pw@x.test/", "user name or password"), ("https://a..b/", "1-63"),
        ("https://x.test:99999/", "65535"), ("https://x.test/a b", "spaces"),
        ("https://x.test/\"", "spaces"), ("https://x.test/ü", "spaces"),
    ])
    def test_invalid(self, url: str, why: str) -> None:
        with pytest.raises(HostError, match=why):
            https_url(url)


# ----------------------------------------------------------------- config values

class TestConfigValues:
    def test_dataclass_defaults_are_the_key_table_defaults(self) -> None:
        parsed = parse(BASE)
        required = {f.name: getattr(parsed, f.name) for f in dataclasses.fields(Config)
                    if f.default is dataclasses.MISSING
                    and f.default_factory is dataclasses.MISSING}
        assert dataclasses.replace(Config(**required), test_values=parsed.test_values) == parsed
        assert parsed.api_timeout == 5

    @pytest.mark.parametrize("key", ["USERNAME", "PASSWORD", "SERIAL", "PORT_FILE", "STATE_DIR",
                                     "TOKEN_FILE", "ENVOY_HOST", "PASSWORD_CREDENTIAL", "TEST",
                                     "TEST_TOKEN", "CLOUD_CA_FILE", "DISABLE_METERS"])
    @pytest.mark.parametrize("char", ["\n", "\r", "\t", "\x1b", "\x00", "\x7f", "\x85",
                                      "\u2028"])
    def test_control_characters_refused_naming_key_and_line_only(self, key: str,
                                                                 char: str) -> None:
        value = f"{SECRET_HEAD}{char}{SECRET_TAIL}"
        message = error_of(BASE + f"\n{key}='{value}'\n")
        assert message == (f"line 7: {key} holds a control character (a line break, tab or"
                           " escape character): remove it")

    def test_test_mode_documents_may_span_lines(self) -> None:
        text = ("UPS=t\nSTATE_DIR=.\nPORT_FILE=t.dev\nTEST=1\nUSERNAME=u\nSERIAL=1\n"
                "TEST_RELAY='{\n\t\"mains_oper_state\": \"@RELAY_STATE@\"\r\n}'\n")
        assert parse(text).test_values["TEST_RELAY"].startswith("{\n\t")
        message = error_of(text + "TEST_LIVE='{\x1b}'\n")
        assert message.startswith("line 10: TEST_LIVE holds a control character")

    def test_unknown_keys_are_not_checked(self) -> None:
        assert parse(BASE + "MY_NOTE='two\nlines'\n").unknown_keys == ("MY_NOTE",)

    def test_expanded_values_are_checked(self) -> None:
        message = error_of(BASE + "NOTE='a\nb'\nUSERNAME=$NOTE\n")
        assert message.startswith("line 8: USERNAME holds a control character")

    def test_environment_values_are_checked_when_used(self) -> None:
        with pytest.raises(ConfigError, match=r"^line 6: SERIAL holds a control"):
            parse(BASE + "SERIAL=$X\n", env={"X": "1\n2"})

    @pytest.mark.parametrize("token", [
        "a.b\r\n.c", "a.b.c d", "a.b.c\x1b", "a.b", "a.b.c.d", "a .b.c", "a.b.ç", "Bearer a.b.c",
    ])
    def test_token_must_be_jwt_text(self, token: str) -> None:
        for key in ("TOKEN", "TEST_TOKEN"):
            message = error_of(BASE + f'{key}="{token}"\n')
            assert message.startswith(f"line 6: {key} ")
            assert token.strip() not in message and "a.b" not in message

    def test_token_surrounding_whitespace_ignored(self) -> None:
        token = make_jwt({"exp": 2_000_000_000})
        assert parse(BASE + f"TOKEN=' {token} '\n").token == token

    def test_bom_is_skipped(self) -> None:
        assert parse("\ufeff" + BASE).ups == "home"
        assert parse_assignments("\ufeffA=1\n") == {"A": "1"}
        assert "line 1" in error_of("\ufeff\ufeff" + BASE)  # only one, only at the start

    def test_envoy_host_errors(self) -> None:
        message = error_of(BASE + "ENVOY_HOST=a..b\n")
        assert message.startswith("line 6: ENVOY_HOST 'a..b' is not a host name or IP address")
        assert "1-63" in message
        assert "65535" in error_of(BASE + "ENVOY_HOST=envoy:70000\n")
        assert parse(BASE + "ENVOY_HOST=fe80::1\n").envoy_host == "[fe80::1]"
        assert parse(BASE + "ENVOY_HOST='https://[fe80::1]:443/'\n").envoy_host == "[fe80::1]:443"

    @pytest.mark.parametrize("key", ["ENPHASE_LOGIN", "ENPHASE_TOKENS"])
    def test_cloud_urls(self, key: str) -> None:
        message = error_of(BASE + f"{key}=http://127.0.0.1:8000/x\n")
        assert message == (f"line 6: {key} 'http://127.0.0.1:8000/x' must start with https://"
                           " (the cloud is only reached over TLS)")
        message = error_of(BASE + f"{key}=https://me:{SECRET_HEAD}@x.test/\n")
        assert "user name or password" in message

    def test_cloud_ca_file(self, tmp_path: Path, sim: Simulator) -> None:
        assert parse(BASE + f"CLOUD_CA_FILE={sim.ca_file}\n").cloud_ca_file == str(sim.ca_file)
        assert "cannot be read" in error_of(BASE + f"CLOUD_CA_FILE={tmp_path}/none.pem\n")
        (tmp_path / "bad.pem").write_text("not a certificate\n")
        assert "no PEM CA" in error_of(BASE + f"CLOUD_CA_FILE={tmp_path}/bad.pem\n")


class TestSecretsNeverInErrors:
    @pytest.mark.parametrize("line", [
        f"PASSWORD={SECRET_HEAD} {SECRET_TAIL}",
        f"PASSWORD={SECRET_HEAD};{SECRET_TAIL}",
        f"PASSWORD={SECRET_HEAD}; {SECRET_TAIL}",
        f"PASSWORD={SECRET_HEAD}\\\n{SECRET_TAIL} {SECRET_TAIL}",
        f"export PASSWORD={SECRET_HEAD} {SECRET_TAIL}",
        f"TOKEN={SECRET_HEAD} {SECRET_TAIL}",
        f"MY_PW={SECRET_HEAD} {SECRET_TAIL}",
        f"PASSWORD='{SECRET_HEAD}' {SECRET_TAIL}",
        f"PASSWORD='{SECRET_HEAD} {SECRET_TAIL}",
        f'PASSWORD="{SECRET_HEAD} {SECRET_TAIL}',
        f"PASSWORD={SECRET_HEAD}$({SECRET_TAIL})",
        f"PASSWORD={SECRET_HEAD}${{{SECRET_TAIL}:-x}}",
        f"TEST_SESS={SECRET_HEAD} {SECRET_TAIL}",
    ])
    def test_parse_errors(self, line: str) -> None:
        message = error_of(BASE + line + "\n")
        assert message.startswith("line 6: ")
        assert SECRET_HEAD not in message and SECRET_TAIL not in message
        assert "Qz7" not in message and "Jx9" not in message

    def test_the_key_is_named(self) -> None:
        message = error_of(BASE + f"PASSWORD={SECRET_HEAD} {SECRET_TAIL}\n")
        assert message == ("line 6: the text after PASSWORD= is not a KEY=VALUE assignment:"
                           " put a value that holds spaces, line breaks, ';', '#' or quotes in"
                           " single quotes")

    def test_a_command_starting_a_line_is_still_shown(self) -> None:
        assert error_of(BASE + "curl http://evil\n").startswith("line 6: 'curl' is not a")

    @pytest.mark.parametrize("before", ["PASSWORD", "TOKEN", "MY_PW"])
    def test_not_on_the_line_after_a_secret(self, before: str) -> None:
        # a quote inside a quoted value ends it early: the rest starts the next line
        text = BASE + f"{before}='{SECRET_HEAD}'\n{SECRET_TAIL.replace('-', '')}; x'\n"
        message = error_of(text)
        assert message.startswith("line 7: this line is not a KEY=VALUE assignment")
        assert "Jx9" not in message

    def test_not_after_a_key_that_follows_a_secret(self) -> None:
        message = error_of(BASE + f"PASSWORD=a.b.c {SECRET_TAIL.replace('-', '_')}=x y\n")
        assert message.startswith("line 6: this line is not a KEY=VALUE") and "Jx9" not in message

    @pytest.mark.parametrize("before", ["PASSWORD", "TOKEN", "MY_PW"])
    def test_unknown_key_after_a_secret_is_not_named(self, before: str) -> None:
        c = parse(BASE + f"{before}=a.b.c {SECRET_TAIL.replace('-', '_')}=y\n")
        (label,) = [k for k in c.unknown_keys if k != "MY_PW"]
        assert label.startswith("on line 6 (after another key: ")
        assert "Jx9" not in label

    def test_unknown_key_after_a_plain_key_is_named(self) -> None:
        assert parse(BASE + "SERIAL=1 MY_NOTE=y\n").unknown_keys == ("MY_NOTE",)

    @pytest.mark.parametrize("key", ["PASSWORD", "TOKEN"])
    def test_value_errors(self, key: str) -> None:
        message = error_of(BASE + f"{key}='{SECRET_HEAD}\x1b{SECRET_TAIL}'\n")
        assert "Qz7" not in message and "Jx9" not in message


class TestBounds:
    def test_expansion_bomb_stops_at_the_value_bound(self) -> None:
        lines = "A0=xxxxxxxxxxxxxxxx\n" + "".join(f"A{i}=$A{i - 1}$A{i - 1}\n"
                                                  for i in range(1, 26))
        with pytest.raises(ConfigError, match=f"line 11: a value is longer than"
                                              f" {MAX_VALUE_CHARS} characters"):
            parse_assignments(lines)

    def test_many_references_in_one_word(self) -> None:
        text = f"A={'x' * 1000}\nB={'$A' * 20}\n"
        with pytest.raises(ConfigError, match="line 2: a value is longer"):
            parse_assignments(text)

    def test_all_values_together_are_bounded(self) -> None:
        big = "x" * (MAX_VALUE_CHARS - 10)
        count = MAX_TOTAL_CHARS // len(big) + 2
        text = f"A={big}\n" + "".join(f"B{i}=$A\n" for i in range(count))
        with pytest.raises(ConfigError, match="add up to more than"):
            parse_assignments(text)

    def test_config_text_is_bounded(self) -> None:
        with pytest.raises(ConfigError, match="larger than 64 KiB"):
            parse_assignments("# x\n" * (MAX_CONFIG_CHARS // 4 + 1))

    def test_a_real_sized_test_payload_fits(self) -> None:
        payload = "[" + ",".join(['{"reportType": "net-consumption"}'] * 200) + "]"
        assert len(payload) > 6000
        assert parse_assignments(f"TEST_REPORTS='{payload}'\n")["TEST_REPORTS"] == payload

    def test_lines_and_followers(self) -> None:
        found = parse_lines("A=1\nB=2 C=3; D=4\n# c\nE='x\ny'\nF=5\n")
        assert {k: (v.line, v.follows) for k, v in found.items()} == {
            "A": (1, None), "B": (2, None), "C": (2, "B"), "D": (2, "C"), "E": (4, None),
            "F": (6, None)}


# ----------------------------------------------------------------- through the real daemon

def run_cli(config: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("NOTIFY_SOCKET", "UPS", "CONFIG_FILE", "JOURNAL_STREAM",
                        "CREDENTIALS_DIRECTORY")}
    env["PYTHONPATH"] = str(ROOT)
    return subprocess.run([sys.executable, "-m", "enphase_monitor.cli", *flags, "-c",
                           str(config)], cwd=config.parent, env=env, capture_output=True,
                          text=True, timeout=60)


@pytest.mark.parametrize(("line", "says"), [
    (f"PASSWORD='{SECRET_HEAD}\n{SECRET_TAIL}'", "PASSWORD holds a control character"),
    (f"PASSWORD={SECRET_HEAD} {SECRET_TAIL}", "the text after PASSWORD= is not"),
    (f"PASSWORD={SECRET_HEAD};{SECRET_TAIL}", "the text after PASSWORD= is not"),
    (f'TOKEN="eyJ{SECRET_HEAD}.eyJ\r\n{SECRET_TAIL}.sig"', "TOKEN holds a control character"),
    (f"TOKEN=eyJ{SECRET_HEAD}.eyJ{SECRET_TAIL}.sig%", "TOKEN is not a token"),
    ("ENVOY_HOST=a..b", "ENVOY_HOST 'a..b' is not a host name"),
    ("ENVOY_HOST=127.0.0.1:70000", "the port must be a number from 1 to 65535"),
    ("ENPHASE_LOGIN=http://127.0.0.1/login", "must start with https://"),
    ("A0=0123456789\n" + "".join(f"A{i}=$A{i - 1}$A{i - 1}\n" for i in range(1, 26)),
     "a value is longer than"),
    ("CLOUD_CA_FILE=/nonexistent/ca.pem", "CLOUD_CA_FILE '/nonexistent/ca.pem' cannot be read"),
])
def test_bad_config_is_one_line_exit_one(tmp_path: Path, sim: Simulator, line: str,
                                         says: str) -> None:
    config = write_setup(tmp_path / "s", sim)
    with config.open("a") as handle:
        handle.write(line + "\n")
    done = run_cli(config, "-s")
    assert done.returncode == 1
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(f"enphase-monitor test: config {config}: line ")
    assert says in lines[0]
    for secret in ("Qz7", "Jx9", sim.state.password):
        assert secret not in done.stderr
    assert sim.stats()["logins"] == 0


def test_config_with_a_bom_works(tmp_path: Path, sim: Simulator) -> None:
    config = write_setup(tmp_path / "s", sim)
    config.write_bytes(b"\xef\xbb\xbf" + config.read_bytes())
    done = run_cli(config, "-s")
    assert done.returncode == 0, done.stderr
    assert "ups.status: OL" in (tmp_path / "s" / "test.dev").read_text()
