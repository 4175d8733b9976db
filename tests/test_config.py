"""The seed-compatible config: bash syntax without bash, keys, defaults, validation, permissions."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

import pytest

from enphase_monitor.config import (
    Config,
    check_secret_file,
    check_state_dir,
    config_path_for,
    load_config,
    parse_config,
)
from enphase_monitor.errors import ConfigError, InsecureFileError
from enphase_monitor.facts import LOGIN_URL, TOKENS_URL
from enphase_monitor.grid import GridSignal
from enphase_monitor.paths import config_dir
from enphase_monitor.shellvars import parse_assignments
from enphase_monitor.tokencache import TokenCache
from enphase_sim import Simulator

HERE = Path("/etc/enphase-test.conf")
BASE = "UPS=home\nUSERNAME=me@example.com\nPASSWORD=pw\nSERIAL=123456789012\nPORT_FILE=home.dev\n"


@pytest.fixture(autouse=True)
def _logs(caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    """Capture the package's warnings even if an earlier test set up the CLI's logging."""
    monkeypatch.setattr(logging.getLogger("enphase_monitor"), "propagate", True)
    caplog.set_level(logging.DEBUG, logger="enphase_monitor")


def parse(text: str, env: Mapping[str, str] | None = None, ups: str | None = None) -> Config:
    return parse_config(text, HERE, ups, {} if env is None else env)


def error_of(text: str, env: Mapping[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as info:
        parse(text, env)
    message = str(info.value)
    assert "\n" not in message, f"message is not one line: {message!r}"
    return message


# ----------------------------------------------------------------- shell syntax

class TestShellSyntax:
    def test_plain_and_quoted_values(self) -> None:
        text = "A=plain\nB='single $A \"x\" \\n'\nC=\"double $A 'y'\"\nD=\nE=''\n"
        assert parse_assignments(text) == {
            "A": "plain", "B": 'single $A "x" \\n', "C": "double plain 'y'", "D": "", "E": "",
        }

    def test_quotes_spanning_lines_and_line_numbers_after_them(self) -> None:
        text = "A='one\ntwo'\nB=\"three\nfour\"\nC=5\nnot an assignment\n"
        with pytest.raises(ConfigError, match=r"^line 6: 'not' is not a KEY=VALUE"):
            parse_assignments(text, known={"A", "B", "C"})
        with pytest.raises(ConfigError, match=r"^line 6: this line is not a KEY=VALUE"):
            parse_assignments(text)  # C might be a secret: the next line's word is not shown
        assert parse_assignments(text.rsplit("not", 1)[0]) == {
            "A": "one\ntwo", "B": "three\nfour", "C": "5",
        }

    def test_adjacent_quoted_parts_join_into_one_word(self) -> None:
        assert parse_assignments("A=a'b c'\"d e\"f") == {"A": "ab cd ef"}

    def test_backslash_escapes(self) -> None:
        text = (
            'A=a\\ b\\$c\\"d\n'          # unquoted: every escaped char is literal
            'B="q\\"q \\\\ \\$x \\`t\\` \\n"\n'  # in double quotes: only " \\ $ ` are escapes
            "C=abc\\\ndef\n"             # line continuation
            "D='no\\escape'\n"
        )
        assert parse_assignments(text) == {
            "A": 'a b$c"d', "B": 'q"q \\ $x `t` \\n', "C": "abcdef", "D": "no\\escape",
        }

    def test_export_declare_and_friends(self) -> None:
        text = ("export A=1\ndeclare -i B=2\nexport C=3 D=4\nreadonly E=5\ntypeset -r F=6\n"
                "export\n")
        assert parse_assignments(text) == {
            "A": "1", "B": "2", "C": "3", "D": "4", "E": "5", "F": "6",
        }

    def test_comments_full_line_and_trailing(self) -> None:
        text = ("# a comment\n   # indented comment\nA=1 # trailing\nB='x # y' #c\n"
                "C=pass#word\nD=\"#\"\n\n\r\nE=2;F=3 ; # end\n")
        assert parse_assignments(text) == {
            "A": "1", "B": "x # y", "C": "pass#word", "D": "#", "E": "2", "F": "3",
        }

    def test_crlf_lines(self) -> None:
        assert parse_assignments("A=1\r\nB='two'\r\n") == {"A": "1", "B": "two"}

    def test_expansion_from_earlier_keys_then_environment(self) -> None:
        env = {"HOME": "/home/nut", "A": "from-env", "LATER": "env-later"}
        text = ("A=file\nB=$A/x\nC=${A}y\nD=\"$HOME/${A}\"\nE='$A'\nF=\\$A\nG=$LATER\n"
                "LATER=file-later\nH=$UNSET.\nI=$\n")
        assert parse_assignments(text, env) == {
            "A": "file", "B": "file/x", "C": "filey", "D": "/home/nut/file", "E": "$A",
            "F": "$A", "G": "env-later", "LATER": "file-later", "H": ".", "I": "$",
        }

    def test_later_assignment_overrides(self) -> None:
        assert parse_assignments("A=1\nA=2\n") == {"A": "2"}

    @pytest.mark.parametrize("text", [
        "A=$(id)", 'A="$(id)"', "A=`id`", 'A="x`id`"', "A=x$(cat /etc/passwd)y",
    ])
    def test_command_substitution_is_refused(self, text: str) -> None:
        with pytest.raises(ConfigError, match="command substitution"):
            parse_assignments("B=1\n" + text)

    @pytest.mark.parametrize("text", ["A=${B:-x}", "A=$B${C:-x}", 'A="${B#x}"', "A=${"])
    def test_other_expansions_are_refused(self, text: str) -> None:
        with pytest.raises(ConfigError, match=r"^line 2: only plain \$\{NAME\}"):
            parse_assignments("B=1\n" + text)

    @pytest.mark.parametrize(("text", "line"), [
        ("A=1\nB=2\necho hello\n", 3),
        ("A=1\n\n# c\n  rm -rf /\n", 4),
        ("A=1\nsource /etc/other\n", 2),
        ("A=1\nif true; then B=2; fi\n", 2),
        ("A = 1\n", 1),
        ("1A=x\n", 1),
        ("A=1\nB-C=2\n", 2),
        ("A=1\nexport -n\nB\n", 3),
    ])
    def test_non_assignment_refused_with_line_number(self, text: str, line: int) -> None:
        with pytest.raises(ConfigError, match=rf"^line {line}: .* is not a KEY=VALUE"):
            parse_assignments(text)

    def test_refused_word_is_shown_on_one_line(self) -> None:
        with pytest.raises(ConfigError) as info:
            parse_assignments("'multi\nline word'\n")
        assert "\n" not in str(info.value)
        assert str(info.value).startswith("line 1:")

    @pytest.mark.parametrize(("text", "what"), [
        ("A=1\nB='open\n", "line 2: a single quote"),
        ('A=1\nB="open\nC=2\n', "line 2: a double quote"),
    ])
    def test_unclosed_quotes(self, text: str, what: str) -> None:
        with pytest.raises(ConfigError, match=what):
            parse_assignments(text)


# ----------------------------------------------------------------- keys and values

class TestKeys:
    def test_every_seed_key(self) -> None:
        text = (
            "USERNAME='me@example.com'\nPASSWORD='p@ss word$1'\nSERIAL=122233445566\n"
            "PORT_FILE=ups.dev\nDISABLE_METERS=yes\nENVOY_HOST=192.168.1.20:8443\n"
            "STATE_DIR=/srv/ups\nPOLLFREQ=30\nPOLLFREQALERT=7\nTOKEN_FILE=/srv/tok/t.jwt\n"
            "LOADKWH=500\nLOGIN_TIMEOUT=20\nAPI_TIMEOUT=4\nUPS=garage\nDEBUG=2\n"
            "ENPHASE_LOGIN=https://login.test/login.json?\nENPHASE_TOKENS=https://tok.test/t\n"
        )
        c = parse(text)
        assert (c.username, c.password, c.serial) == ("me@example.com", "p@ss word$1",
                                                      "122233445566")
        assert c.port_file == Path("/srv/ups/ups.dev")
        assert c.disable_meters is True
        assert c.envoy_host == "192.168.1.20:8443"
        assert c.state_dir == Path("/srv/ups")
        assert (c.pollfreq, c.pollfreqalert, c.loadkwh) == (30, 7, 500)
        assert c.token_file == Path("/srv/tok/t.jwt")
        assert (c.login_timeout, c.api_timeout, c.debug) == (20, 4, 2)
        assert c.ups == "garage"
        assert (c.login_url, c.tokens_url) == ("https://login.test/login.json?",
                                               "https://tok.test/t")
        assert c.test is False
        assert c.unknown_keys == ()

    def test_test_keys(self) -> None:
        text = ("UPS=test\nSTATE_DIR=.\nPORT_FILE=test.dev\nTEST=1\nUSERNAME=u\nSERIAL=1\n"
                "TEST_SESS='{\"session_id\":\"s\"}'\nTEST_TOKEN=a.b.c\n"
                "TEST_RELAY='{\"mains_oper_state\":\"@RELAY_STATE@\"}'\nTEST_LIVE=\n"
                "TEST_REPORTS='[]'\nTEST_SECCTRL='{}'\nTEST_INFO='<envoy_info/>'\n")
        c = parse(text)  # TEST mode needs no password
        assert c.test is True
        assert c.test_values["TEST_SESS"] == '{"session_id":"s"}'
        assert c.test_values["TEST_RELAY"] == '{"mains_oper_state":"@RELAY_STATE@"}'
        assert c.test_values["TEST_LIVE"] == ""
        assert c.test_values["TEST_INFO"] == "<envoy_info/>"
        assert c.port_file == Path("test.dev")
        assert c.nocomms_after == 1  # the seed's TEST cycle shows nocomms after one failure
        assert c.unknown_keys == ()

    def test_new_keys(self, sim: Simulator) -> None:
        fp = "AB:" * 31 + "CD"
        text = BASE + (
            "NOCOMMS_AFTER=4\nRELAY_CHECK=0\nCONFIRM_DELAY=9\nTOKEN=x.y.z\nTOKEN_WARN_DAYS=30\n"
            f"GATEWAY_FINGERPRINT=sha256:{fp}\nCLOUD_CA_FILE={sim.ca_file}\n"
            "PASSWORD_KEYRING=yes\nPASSWORD_CREDENTIAL=my-pw\nTOKEN_CREDENTIAL=my-token\n"
        )
        c = parse(text)
        assert (c.nocomms_after, c.relay_check, c.confirm_delay) == (4, 0, 9)
        assert (c.token, c.token_warn_days) == ("x.y.z", 30)
        assert c.gateway_fingerprint == "ab" * 31 + "cd"
        assert c.cloud_ca_file == str(sim.ca_file)
        assert c.password_keyring is True
        assert (c.password_credential, c.token_credential) == ("my-pw", "my-token")
        assert c.unknown_keys == ()

    def test_defaults(self) -> None:
        c = parse(BASE)
        assert (c.pollfreq, c.pollfreqalert, c.loadkwh) == (60, 20, 768)
        # the seed's documented defaults: LOGIN_TIMEOUT=10, API_TIMEOUT=5
        assert (c.login_timeout, c.api_timeout) == (10, 5)
        assert (c.nocomms_after, c.relay_check, c.confirm_delay) == (2, 5, 3)
        assert (c.token_warn_days, c.debug) == (14, 0)
        assert c.envoy_host == "envoy.local"
        assert c.disable_meters is False
        assert c.state_dir == Path("/var/lib/ups")
        assert c.token_file == Path("/var/lib/ups/enphase-home.token")
        assert (c.login_url, c.tokens_url) == (LOGIN_URL, TOKENS_URL)
        assert (c.token, c.gateway_fingerprint, c.cloud_ca_file) == ("", "", "")
        assert c.password_keyring is False
        assert (c.password_credential, c.token_credential) == ("enphase-password",
                                                               "enphase-token")
        assert c.test is False

    @pytest.mark.parametrize(("key", "given", "used"), [
        ("POLLFREQ", "1", 5), ("POLLFREQALERT", "0", 5), ("LOGIN_TIMEOUT", "1", 5),
        ("API_TIMEOUT", "1", 2), ("POLLFREQ", "-30", 5), ("NOCOMMS_AFTER", "0", 1),
    ])
    def test_minimum_clamps_with_a_warning(self, key: str, given: str, used: int,
                                           caplog: pytest.LogCaptureFixture) -> None:
        c = parse(BASE + f"{key}={given}\n")
        assert getattr(c, key.lower()) == used
        assert any(key in r.getMessage() and "minimum" in r.getMessage()
                   for r in caplog.records if r.levelno == logging.WARNING)

    @pytest.mark.parametrize("value", ["5", "05", "' 5 '", "'5'", '" 5"'])
    def test_numbers_at_the_minimum_are_kept(self, value: str) -> None:
        assert parse(BASE + f"POLLFREQ={value}\n").pollfreq == 5

    @pytest.mark.parametrize("key", [
        "POLLFREQ", "POLLFREQALERT", "LOADKWH", "LOGIN_TIMEOUT", "API_TIMEOUT", "NOCOMMS_AFTER",
        "RELAY_CHECK", "CONFIRM_DELAY", "TOKEN_WARN_DAYS", "DEBUG",
    ])
    @pytest.mark.parametrize("value", ["abc", "1.5", "10s", "'1\n2'", "0x10"])
    def test_bad_numbers_name_the_key(self, key: str, value: str) -> None:
        message = error_of(BASE + f"{key}={value}\n")
        what = "holds a control character" if "\n" in value else "must be a whole number"
        assert message.startswith(f"line 6: {key} {what}")

    def test_too_large_names_the_key(self) -> None:
        assert error_of(BASE + "POLLFREQ=9999999\n").startswith(
            "line 6: POLLFREQ is too large (9999999;")

    @pytest.mark.parametrize(("value", "host"), [
        ("envoy.local", "envoy.local"), ("192.168.1.5", "192.168.1.5"),
        ("192.168.1.5:443", "192.168.1.5:443"), ("envoy:8443", "envoy:8443"),
        ("https://envoy.local/", "envoy.local"), ("'[fe80::1]:443'", "[fe80::1]:443"),
        ("' envoy.lan '", "envoy.lan"),
    ])
    def test_envoy_host(self, value: str, host: str) -> None:
        assert parse(BASE + f"ENVOY_HOST={value}\n").envoy_host == host

    @pytest.mark.parametrize("value", ["'a b'", "envoy/path", "host:port", "'x\ny'", "a:123456"])
    def test_bad_envoy_host(self, value: str) -> None:
        assert error_of(BASE + f"ENVOY_HOST={value}\n").startswith("line 6: ENVOY_HOST ")

    @pytest.mark.parametrize("value", ["abc", "12:34", "ab" * 31, "ab" * 33, "zz" * 32])
    def test_bad_fingerprint(self, value: str) -> None:
        assert error_of(BASE + f"GATEWAY_FINGERPRINT={value}\n").startswith(
            "line 6: GATEWAY_FINGERPRINT")

    @pytest.mark.parametrize(("value", "on"), [
        ("1", True), ("yes", True), ("TRUE", True), ("on", True), ("0", False), ("no", False),
        ("", False),
    ])
    def test_password_keyring_flag(self, value: str, on: bool) -> None:
        assert parse(BASE + f"PASSWORD_KEYRING={value}\n").password_keyring is on

    def test_disable_meters_any_value(self) -> None:
        assert parse(BASE + "DISABLE_METERS=1\n").disable_meters is True
        assert parse(BASE + "DISABLE_METERS=\n").disable_meters is False

    def test_missing_required_keys_are_all_listed(self) -> None:
        message = error_of("UPS=home\n")
        assert message.startswith(f"config {HERE} requires values for")
        for key in ("USERNAME", "PASSWORD", "SERIAL", "PORT_FILE"):
            assert key in message

    def test_missing_one_key(self) -> None:
        message = error_of(BASE.replace("SERIAL=123456789012\n", ""))
        assert message.endswith("requires values for SERIAL")

    def test_password_not_required_with_a_token_a_credential_or_the_keyring(self) -> None:
        no_pw = BASE.replace("PASSWORD=pw\n", "")
        assert "PASSWORD" in error_of(no_pw)
        assert parse(no_pw + "TOKEN=a.b.c\n").password == ""
        assert parse(no_pw.replace("USERNAME=me@example.com\n", "") + "TOKEN=a.b.c\n")
        assert parse(no_pw, env={"CREDENTIALS_DIRECTORY": "/run/credentials/x"})
        assert parse(no_pw + "PASSWORD_KEYRING=1\n").password_keyring
        # PASSWORD_KEYRING=0 turns the keyring off, so the password is still needed
        assert "PASSWORD" in error_of(no_pw + "PASSWORD_KEYRING=0\n")

    def test_ups_name(self) -> None:
        text = BASE.replace("UPS=home\n", "")
        assert "UPS must be set" in error_of(text)
        assert parse(text, env={"UPS": "fromenv"}).ups == "fromenv"
        assert parse(text, ups="cli").ups == "cli"
        assert parse(BASE, ups="cli").ups == "cli"  # the command line names the UPS
        assert "UPS name" in error_of(text + "UPS='bad name'\n")
        assert "UPS name" in error_of(text + "UPS='../etc'\n")

    def test_relative_paths_resolve_under_state_dir(self) -> None:
        text = BASE.replace("PORT_FILE=home.dev", "PORT_FILE=sub/home.dev")
        c = parse(text + "STATE_DIR=/srv/nut\nTOKEN_FILE=tok/enphase.token\n")
        assert c.port_file == Path("/srv/nut/sub/home.dev")
        assert c.token_file == Path("/srv/nut/tok/enphase.token")
        c = parse(text + "STATE_DIR=/srv/nut\nTOKEN_FILE=/var/tmp/x.token\n")
        assert c.token_file == Path("/var/tmp/x.token")
        c = parse(BASE.replace("PORT_FILE=home.dev", "PORT_FILE=/run/nut/home.dev"))
        assert c.port_file == Path("/run/nut/home.dev")

    @pytest.mark.parametrize(("env", "state"), [
        ({"NUT_LOCALSTATE": "/a", "NUT_STATEPATH": "/b"}, "/a"),
        ({"NUT_STATEPATH": "/b"}, "/b"),
        ({}, "/var/lib/ups"),
    ])
    def test_default_state_dir_from_environment(self, env: dict[str, str], state: str) -> None:
        c = parse(BASE, env=env)
        assert c.state_dir == Path(state)
        assert c.port_file == Path(state) / "home.dev"
        assert c.token_file == Path(state) / "enphase-home.token"

    def test_state_dir_in_config_beats_environment(self) -> None:
        c = parse(BASE + "STATE_DIR=/c\n", env={"NUT_LOCALSTATE": "/a"})
        assert c.state_dir == Path("/c")

    def test_api_timeout_not_shorter_than_pollfreq_warns(
            self, caplog: pytest.LogCaptureFixture) -> None:
        parse(BASE + "POLLFREQ=5\nAPI_TIMEOUT=5\n")
        assert any("API_TIMEOUT" in r.getMessage() for r in caplog.records)
        caplog.clear()
        parse(BASE + "POLLFREQ=6\nAPI_TIMEOUT=5\n")
        assert not any("API_TIMEOUT" in r.getMessage() for r in caplog.records)

    def test_secrets_are_not_shown(self) -> None:
        c = parse(BASE.replace("PASSWORD=pw", "PASSWORD=Sup3rS3cret") + "TOKEN=Tok3nValue.x.y\n")
        shown = dict(c.shown())
        assert shown["PASSWORD"] == shown["TOKEN"] == "<hidden>"
        text = repr(c) + repr(c.shown())
        assert "Sup3rS3cret" not in text
        assert "Tok3nValue" not in text


# ----------------------------------------------------------------- where the config is

class TestConfigPath:
    def test_explicit_config_wins(self) -> None:
        env = {"CONFIG_FILE": "/env.conf", "UPS": "envups", "NUT_SYSCONFIG": "/sys"}
        assert config_path_for("ups", "/cli.conf", env) == Path("/cli.conf")
        assert config_path_for(None, None, env) == Path("/env.conf")

    def test_from_ups_name(self) -> None:
        env = {"NUT_SYSCONFIG": "/etc/sys", "NUT_CONFPATH": "/etc/conf"}
        assert config_path_for("home", None, env) == Path("/etc/sys/enphase-home.conf")
        assert config_path_for("home", None, {"NUT_CONFPATH": "/etc/conf"}) == Path(
            "/etc/conf/enphase-home.conf")
        assert config_path_for(None, None, {"UPS": "garage", "NUT_CONFPATH": "/c"}) == Path(
            "/c/enphase-garage.conf")
        assert config_path_for("cli", None, {"UPS": "env", "NUT_SYSCONFIG": "/s"}) == Path(
            "/s/enphase-cli.conf")

    def test_default_dir(self) -> None:
        expected = Path("/etc/ups") if Path("/etc/ups").is_dir() else Path("/etc/nut")
        assert config_dir({}) == expected
        assert config_path_for("x", None, {}) == expected / "enphase-x.conf"

    def test_nothing_given(self) -> None:
        with pytest.raises(ConfigError, match="-c <config>"):
            config_path_for(None, None, {})

    @pytest.mark.parametrize("name", ["../../etc/passwd", "a b", "x/y", ""])
    def test_bad_ups_name(self, name: str) -> None:
        with pytest.raises(ConfigError):
            config_path_for(name or None, None, {"UPS": name} if name else {})


# ----------------------------------------------------------------- files and permissions

def write_config(directory: Path, text: str, mode: int = 0o600, dir_mode: int = 0o700) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "enphase-home.conf"
    path.write_text(text)
    path.chmod(mode)
    directory.chmod(dir_mode)
    return path


class TestLoadConfig:
    def test_loads(self, tmp_path: Path) -> None:
        path = write_config(tmp_path / "etc", BASE + f"STATE_DIR={tmp_path}\n")
        c = load_config(path, env={})
        assert c.path == path
        assert c.port_file == tmp_path / "home.dev"

    @pytest.mark.parametrize("mode", [0o640, 0o600, 0o400])
    def test_private_modes_accepted(self, tmp_path: Path, mode: int) -> None:
        assert load_config(write_config(tmp_path / "etc", BASE, mode=mode), env={})

    @pytest.mark.parametrize("mode", [0o644, 0o604, 0o602, 0o666])
    def test_world_readable_config_refused(self, tmp_path: Path, mode: int) -> None:
        path = write_config(tmp_path / "etc", BASE, mode=mode)
        with pytest.raises(InsecureFileError) as info:
            load_config(path, env={})
        assert str(path) in str(info.value)
        assert "chmod" in str(info.value)

    @pytest.mark.parametrize("dir_mode", [0o777, 0o1777, 0o702])
    def test_config_in_world_writable_dir_refused(self, tmp_path: Path, dir_mode: int) -> None:
        path = write_config(tmp_path / "etc", BASE, dir_mode=dir_mode)
        try:
            with pytest.raises(InsecureFileError, match="world write"):
                load_config(path, env={})
        finally:
            path.parent.chmod(0o700)

    def test_missing_config(self, tmp_path: Path) -> None:
        with pytest.raises(ConfigError, match="unable to read config"):
            load_config(tmp_path / "nope.conf", env={})

    def test_not_utf8(self, tmp_path: Path) -> None:
        path = write_config(tmp_path / "etc", "")
        path.write_bytes(b"PASSWORD=\xff\xfe\n")
        with pytest.raises(ConfigError, match="not UTF-8"):
            load_config(path, env={})

    def test_errors_name_the_file(self, tmp_path: Path) -> None:
        path = write_config(tmp_path / "etc", BASE + "POLLFREQ=often\n")
        with pytest.raises(ConfigError) as info:
            load_config(path, env={})
        message = str(info.value)
        assert message.startswith(f"config {path}: line 6: POLLFREQ")
        assert "\n" not in message

    def test_syntax_errors_name_file_and_line(self, tmp_path: Path) -> None:
        path = write_config(tmp_path / "etc", BASE + "curl http://evil\n")
        with pytest.raises(ConfigError, match=rf"^config {path}: line 6: 'curl'"):
            load_config(path, env={})

    def test_unknown_keys_warned_not_fatal(self, tmp_path: Path,
                                           caplog: pytest.LogCaptureFixture) -> None:
        path = write_config(tmp_path / "etc", BASE + "POLFREQ=10\nMY_NOTE=x\n")
        c = load_config(path, env={})
        assert c.unknown_keys == ("POLFREQ", "MY_NOTE")
        assert c.pollfreq == 60
        warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
        assert any("unknown key POLFREQ" in w for w in warnings)
        assert any("unknown key MY_NOTE" in w for w in warnings)

    def test_environment_used_for_expansion(self, tmp_path: Path) -> None:
        path = write_config(tmp_path / "etc", BASE + "TOKEN_FILE=$TOKDIR/t\n")
        assert load_config(path, env={"TOKDIR": "/x"}).token_file == Path("/x/t")


class TestSecretFiles:
    def test_world_readable_token_file_refused(self, tmp_path: Path) -> None:
        tmp_path.chmod(0o700)
        token = tmp_path / "enphase-home.token"
        token.write_text("a.b.c")
        token.chmod(0o644)
        with pytest.raises(InsecureFileError, match="token file"):
            TokenCache(token).load()
        with pytest.raises(InsecureFileError):
            check_secret_file("token file", token)
        token.chmod(0o600)
        check_secret_file("token file", token)
        assert TokenCache(token).load() is None  # private again, but not a JWT

    def test_token_file_in_world_writable_dir_refused(self, tmp_path: Path) -> None:
        d = tmp_path / "tok"
        d.mkdir()
        token = d / "t"
        token.write_text("a.b.c")
        token.chmod(0o600)
        d.chmod(0o777)
        with pytest.raises(InsecureFileError, match="world write"):
            TokenCache(token).load()

    def test_missing_secret_file(self, tmp_path: Path) -> None:
        with pytest.raises(ConfigError, match="cannot open"):
            check_secret_file("config", tmp_path / "none")


class TestStateDir:
    def config(self, tmp_path: Path, extra: str = "") -> Config:
        return parse(BASE + f"STATE_DIR={tmp_path / 'state'}\n" + extra)

    def test_ok(self, tmp_path: Path) -> None:
        (tmp_path / "state").mkdir(mode=0o750)
        check_state_dir(self.config(tmp_path))

    def test_missing_state_dir(self, tmp_path: Path) -> None:
        with pytest.raises(ConfigError, match=r"STATE_DIR .* not writable"):
            check_state_dir(self.config(tmp_path))

    def test_state_dir_is_a_file(self, tmp_path: Path) -> None:
        (tmp_path / "state").write_text("")
        with pytest.raises(ConfigError, match="STATE_DIR"):
            check_state_dir(self.config(tmp_path))

    def test_world_writable_state_dir(self, tmp_path: Path) -> None:
        (tmp_path / "state").mkdir()
        (tmp_path / "state").chmod(0o777)
        with pytest.raises(InsecureFileError, match="state directory"):
            check_state_dir(self.config(tmp_path))

    def test_port_file_dir_missing(self, tmp_path: Path) -> None:
        (tmp_path / "state").mkdir(mode=0o700)
        c = parse(BASE.replace("PORT_FILE=home.dev", "PORT_FILE=nodir/home.dev")
                  + f"STATE_DIR={tmp_path / 'state'}\n")
        with pytest.raises(ConfigError, match="port file directory"):
            check_state_dir(c)


# ----------------------------------------------------------------- GRID_SIGNAL

@pytest.mark.parametrize(("value", "expected"), [
    ("", None), ("auto", None), ("AUTO", None), ("relay", GridSignal.RELAY),
    (" Collar ", GridSignal.COLLAR),
])
def test_grid_signal_values(value: str, expected: GridSignal | None) -> None:
    config = parse(BASE + f"GRID_SIGNAL='{value}'\n")
    assert config.grid_signal is expected
    assert ("GRID_SIGNAL", expected or "auto") in config.shown()
    assert "GRID_SIGNAL" not in config.unknown_keys


def test_grid_signal_default_is_auto() -> None:
    assert parse(BASE).grid_signal is None


def test_bad_grid_signal_is_one_line_naming_the_choices() -> None:
    message = error_of(BASE + "GRID_SIGNAL='meter[2J'\n")
    assert message == "line 6: GRID_SIGNAL must be auto or relay or collar (got 'meter[2j')"
    message = error_of(BASE + "GRID_SIGNAL='meter\x1b[2J'\n")
    assert message.startswith("line 6: GRID_SIGNAL holds a control character")
    assert "\x1b" not in message


@pytest.mark.parametrize("key", ["PORT_FILE", "TOKEN_FILE"])
def test_tilde_of_an_unknown_user_is_one_line(key: str) -> None:
    text = ("UPS=t\nUSERNAME=u@x\nPASSWORD=pw\nSERIAL=1\nPORT_FILE=t.dev\nTOKEN_FILE=t.token\n"
            f"{key}=~no-such-user-0/x\n")
    with pytest.raises(ConfigError, match=f"{key} '~no-such-user-0/x': no such user's home"):
        parse_config(text, Path("/x/enphase-t.conf"), "t", {})
