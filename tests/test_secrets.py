"""Secrets in the output: the CLI as a subprocess against the simulator, and the log plumbing.

The password never appears at any debug level; the token only from `-d -d` on (as the seed's
`-d -d` "exposes secrets"); under systemd (JOURNAL_STREAM) every line carries a `<N>` prefix.
"""

from __future__ import annotations

import io
import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from enphase_monitor import logsetup
from enphase_monitor.logsetup import SECRETS, TRACE, Formatter, Redactor, level_for
from enphase_sim import Simulator
from tests.conftest import ROOT, write_setup

PASSWORD = "Pw-7hQ2-never-shown"


def run(config: Path, *flags: str, env: dict[str, str] | None = None,
        stderr: int | io.TextIOWrapper | None = None) -> subprocess.CompletedProcess[str]:
    full = {k: v for k, v in os.environ.items()
            if k not in ("NOTIFY_SOCKET", "UPS", "CONFIG_FILE", "JOURNAL_STREAM",
                         "CREDENTIALS_DIRECTORY")}
    full["PYTHONPATH"] = str(ROOT)
    full.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "enphase_monitor.cli", *flags, "-c", str(config)],
        cwd=config.parent, env=full, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE if stderr is None else stderr, text=True, timeout=60,
    )


@pytest.fixture
def config(tmp_path: Path, sim: Simulator) -> Path:
    sim.update(password=PASSWORD)
    return write_setup(tmp_path / "state", sim)


def token_of(config: Path) -> str:
    token = (config.parent / "enphase-test.token").read_text().strip()
    assert token.count(".") == 2
    return token


def output(done: subprocess.CompletedProcess[str]) -> str:
    return (done.stdout or "") + (done.stderr or "")


class TestCommandLine:
    @pytest.mark.parametrize("flags", [("-s",), ("-d", "-s"), ("-d", "-d", "-s"),
                                       ("-d", "-d", "-d", "-s"), ("-v", "-s")])
    def test_password_never_shown(self, config: Path, sim: Simulator,
                                  flags: tuple[str, ...]) -> None:
        done = run(config, *flags)
        assert done.returncode == 0, output(done)
        assert sim.stats()["logins"] == 1
        assert PASSWORD not in output(done)
        if "-d" in flags:
            assert "DEBUG" in done.stderr  # the debug output is there, the password is not

    def test_password_not_shown_when_the_login_fails(self, config: Path,
                                                     sim: Simulator) -> None:
        sim.update(password="something-else")
        done = run(config, "-d", "-d", "-d", "-s")
        assert "Enlighten login refused" in done.stderr
        assert PASSWORD not in output(done)

    def test_password_from_a_systemd_credential_never_shown(self, config: Path, tmp_path: Path,
                                                            sim: Simulator) -> None:
        creds = tmp_path / "creds"
        creds.mkdir(mode=0o700)
        (creds / "enphase-password").write_text("Cred-9xK-secret\n")
        sim.update(password="Cred-9xK-secret")
        done = run(config, "-d", "-d", "-d", "-s", env={"CREDENTIALS_DIRECTORY": str(creds)})
        assert done.returncode == 0, output(done)
        assert "Cred-9xK-secret" not in output(done)
        assert PASSWORD not in output(done)

    def test_token_hidden_at_d_and_in_diagnostics(self, config: Path) -> None:
        done = run(config, "-d", "-s")
        assert done.returncode == 0, output(done)
        token = token_of(config)
        assert token not in output(done)
        assert token.split(".")[1] not in output(done)
        again = run(config, "-v", "-s")  # the cached token now: still not shown
        assert again.returncode == 0, output(again)
        assert "token" in again.stdout
        assert token not in output(again)

    def test_manual_token_hidden_at_d(self, config: Path, sim: Simulator) -> None:
        token = sim.issue_token("owner", 300 * 86400)
        with config.open("a") as handle:
            handle.write(f"TOKEN={token}\n")
        done = run(config, "-d", "-s")
        assert done.returncode == 0, output(done)
        assert sim.stats()["logins"] == 0
        assert token not in output(done)

    def test_token_shown_at_d_d(self, config: Path) -> None:
        done = run(config, "-d", "-d", "-s")
        assert done.returncode == 0, output(done)
        assert token_of(config) in done.stderr

    def test_debug_from_the_config_file_is_honoured(self, config: Path) -> None:
        with config.open("a") as handle:
            handle.write("DEBUG=1\n")
        done = run(config, "-s")
        assert done.returncode == 0, output(done)
        assert "DEBUG" in done.stderr
        assert PASSWORD not in output(done)
        assert token_of(config) not in output(done)


class TestJournald:
    def run_with_stderr_file(self, config: Path, path: Path, journal: str | None,
                             *flags: str) -> tuple[int, list[str]]:
        with path.open("w") as err:
            st = os.fstat(err.fileno())
            env = {} if journal is None else {
                "JOURNAL_STREAM": journal.format(dev=st.st_dev, ino=st.st_ino)}
            done = run(config, *flags, env=env, stderr=err)
        return done.returncode, [line for line in path.read_text().splitlines() if line]

    def test_syslog_prefixes_under_journald(self, config: Path, tmp_path: Path) -> None:
        code, lines = self.run_with_stderr_file(config, tmp_path / "err", "{dev}:{ino}",
                                                "-d", "-s")
        assert code == 0, lines
        assert lines
        for line in lines:
            assert re.match(r"<[0-7]>", line), line
        assert any(line.startswith("<7>") for line in lines)  # debug
        assert any(line.startswith("<6>") for line in lines)  # info: new token
        assert not any("DEBUG:" in line for line in lines)

    def test_warnings_are_priority_4(self, config: Path, tmp_path: Path) -> None:
        with config.open("a") as handle:
            handle.write("UNKNOWN_KEY=1\n")
        code, lines = self.run_with_stderr_file(config, tmp_path / "err", "{dev}:{ino}", "-s")
        assert code == 0, lines
        assert any(line.startswith("<4>") and "UNKNOWN_KEY" in line for line in lines)

    @pytest.mark.parametrize("journal", [None, "{dev}:1", "garbage"])
    def test_no_prefixes_elsewhere(self, config: Path, tmp_path: Path,
                                   journal: str | None) -> None:
        code, lines = self.run_with_stderr_file(config, tmp_path / "err", journal, "-d", "-s")
        assert code == 0, lines
        assert lines
        assert not any(re.match(r"<\d>", line) for line in lines)
        assert any(line.startswith("DEBUG: ") for line in lines)


# ----------------------------------------------------------------- in-process units

def record(msg: str, *args: object, level: int = logging.WARNING) -> logging.LogRecord:
    return logging.LogRecord("enphase_monitor.x", level, __file__, 1, msg, args, None)


class TestRedactor:
    def test_password_always_hidden_token_only_below_d_d(self) -> None:
        r = Redactor()
        r.add("hunter2-password")
        r.add("tok.en.value", token=True)
        rec = record("login %s with token %s", "hunter2-password", "tok.en.value")
        assert r.filter(rec) is True
        assert rec.getMessage() == "login <hidden> with token <hidden>"
        r.show_tokens = True
        rec = record("login %s with token %s", "hunter2-password", "tok.en.value")
        r.filter(rec)
        assert rec.getMessage() == "login <hidden> with token tok.en.value"

    def test_in_the_format_string_too(self) -> None:
        r = Redactor()
        r.add("hunter2-password")
        rec = record("password=hunter2-password!")
        r.filter(rec)
        assert rec.getMessage() == "password=<hidden>!"

    def test_every_occurrence(self) -> None:
        r = Redactor()
        r.add("abcd1234")
        rec = record("%s %s", "abcd1234", "xabcd1234x")
        r.filter(rec)
        assert rec.getMessage() == "<hidden> x<hidden>x"

    def test_short_values_ignored(self) -> None:
        r = Redactor()
        r.add("")
        r.add("abc")
        rec = record("a b abc")
        r.filter(rec)
        assert rec.getMessage() == "a b abc"

    def test_longest_secret_first(self) -> None:
        for i in range(32):  # many pairs, so that set order cannot hide a wrong order
            r = Redactor()
            r.add(f"pw{i}x")
            r.add(f"pw{i}x-inside-a-longer-token", token=True)
            rec = record("%s", f"pw{i}x-inside-a-longer-token")
            r.filter(rec)
            assert rec.getMessage() == "<hidden>"

    def test_bad_format_does_not_raise(self) -> None:
        r = Redactor()
        r.add("secret-value")
        rec = record("%d", "not a number")
        assert r.filter(rec) is True

    def test_nothing_to_hide_leaves_record_alone(self) -> None:
        rec = record("x %s", "y")
        assert Redactor().filter(rec) is True
        assert (rec.msg, rec.args) == ("x %s", ("y",))


class TestSetup:
    @pytest.mark.parametrize(("debug", "verbose", "level"), [
        (0, False, logging.WARNING), (0, True, logging.INFO), (1, False, logging.DEBUG),
        (2, False, SECRETS), (3, False, TRACE), (5, True, TRACE),
    ])
    def test_levels(self, debug: int, verbose: bool, level: int) -> None:
        assert level_for(debug, verbose) == level
        assert TRACE < SECRETS < logging.DEBUG

    @pytest.mark.parametrize(("debug", "shown"), [(1, False), (2, True), (3, True)])
    def test_setup_hides_tokens_below_d_d(self, package_logging: io.StringIO, debug: int,
                                          shown: bool) -> None:
        logsetup.setup(debug, False, prefix="enphase-monitor t: ", stream=package_logging)
        logsetup.REDACTOR.add("Sekrit-Pass-1")
        logsetup.REDACTOR.add("Tok.Value.9", token=True)
        log = logging.getLogger("enphase_monitor.test")
        log.warning("pw %s token %s", "Sekrit-Pass-1", "Tok.Value.9")
        log.log(SECRETS, "secret level %s", "Tok.Value.9")
        text = package_logging.getvalue()
        assert "Sekrit-Pass-1" not in text
        assert ("Tok.Value.9" in text) is shown
        assert "enphase-monitor t: warning: pw <hidden> token" in text
        assert ("secret level" in text) is shown

    def test_plain_format(self) -> None:
        f = Formatter(journald=False, prefix="enphase-monitor u: ")
        assert f.format(record("w")) == "enphase-monitor u: warning: w"
        assert f.format(record("e", level=logging.ERROR)) == "enphase-monitor u: error: e"
        assert f.format(record("i", level=logging.INFO)) == "i"
        assert f.format(record("d", level=logging.DEBUG)) == "DEBUG: d"
        assert f.format(record("t", level=TRACE)) == "DEBUG: t"

    def test_journald_format(self) -> None:
        f = Formatter(journald=True, prefix="ignored: ")
        levels = {logging.CRITICAL: "<2>", logging.ERROR: "<3>", logging.WARNING: "<4>",
                  logging.INFO: "<6>", logging.DEBUG: "<7>", SECRETS: "<7>", TRACE: "<7>"}
        for level, prefix in levels.items():
            assert f.format(record("m", level=level)) == f"{prefix}m"

    def test_under_journald_matches_the_stream(self, tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
        with (tmp_path / "a").open("w") as a, (tmp_path / "b").open("w") as b:
            st = os.fstat(a.fileno())
            monkeypatch.setenv("JOURNAL_STREAM", f"{st.st_dev}:{st.st_ino}")
            assert logsetup.under_journald(a)
            assert not logsetup.under_journald(b)
            assert not logsetup.under_journald(io.StringIO())
            monkeypatch.setenv("JOURNAL_STREAM", "")
            assert not logsetup.under_journald(a)
