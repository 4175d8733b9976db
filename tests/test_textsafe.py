"""Clean output: the one escape function, and each sink that uses it (log, sd_notify, report).

The daemon-level proofs (a hostile gateway through the real CLI) are in
tests/test_clean_output_cli.py; the property tests in tests/test_properties.py.
"""

from __future__ import annotations

import io
import logging
import socket
import sys
import unicodedata
from pathlib import Path

import pytest

from enphase_monitor import logsetup
from enphase_monitor.diagnose import Report
from enphase_monitor.logsetup import BAD_ARGUMENTS, Formatter, Redactor
from enphase_monitor.sdnotify import Notifier, datagram
from enphase_monitor.textsafe import escape, has_control, is_jwt_text

HOSTILE = "x\nWATCHDOG=trigger\r\nREADY=1\x1b[2J\x9b31m\u202eevil\u2028y\udcff\x00\x7f\t"
UNSAFE_CATEGORIES = {"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"}


def safe(text: str) -> bool:
    """One line of characters a terminal shows as themselves."""
    return all(c == " " or c.isprintable() for c in text)


class TestEscape:
    @pytest.mark.parametrize(("raw", "shown"), [
        ("a\nb", "a\\nb"), ("a\r\nb", "a\\r\\nb"), ("\t", "\\t"), ("\x1b[31m", "\\x1b[31m"),
        ("\x00", "\\x00"), ("\x7f", "\\x7f"), ("\x9b", "\\x9b"), ("\u202e", "\\u202e"),
        ("\u2028", "\\u2028"), ("\ufeff", "\\ufeff"), ("\udcff", "\\udcff"),
        ("\U000e0041", "\\U000e0041"), ("\xa0", "\\xa0"),
    ])
    def test_escapes(self, raw: str, shown: str) -> None:
        assert escape(raw) == shown

    @pytest.mark.parametrize("text", ["", "plain text", "Müller 25 °C", "日本語", "a \\ b",
                                      "emoji \U0001f600", "quotes ' \" # ;"])
    def test_printable_text_unchanged(self, text: str) -> None:
        assert escape(text) == text

    def test_hostile_text_is_one_safe_line(self) -> None:
        shown = escape(HOSTILE)
        assert safe(shown)
        assert "\n" not in shown and "\x1b" not in shown
        shown.encode("utf-8")  # a lone surrogate would raise here

    def test_limit(self) -> None:
        assert escape("abcdef", 5) == "ab..."
        assert escape("abcde", 5) == "abcde"
        assert escape("\n" * 10, 8) == "\\n\\n\\..."
        assert len(escape("x" * 10000, 100)) == 100

    def test_every_unsafe_code_point_escaped(self) -> None:
        """Complete by construction: every code point of every unsafe category."""
        for code in range(sys.maxunicode + 1):
            char = chr(code)
            if unicodedata.category(char) in UNSAFE_CATEGORIES:
                shown = escape(char)
                assert shown != char and safe(shown) and shown.isascii(), hex(code)

    def test_has_control(self) -> None:
        for char in ("\n", "\r", "\t", "\x00", "\x1b", "\x7f", "\x85", "\x9f", "\u2028",
                     "\u2029"):
            assert has_control(f"a{char}b"), repr(char)
        assert not has_control("p@ss word;#'\"\\$ Müller \u00a0")

    @pytest.mark.parametrize("text", ["a.b.c", "a.b.", "eyJh_-.eyJ-_9.sig-_"])
    def test_jwt_text(self, text: str) -> None:
        assert is_jwt_text(text)

    @pytest.mark.parametrize("text", ["", "a.b", "a.b.c.d", ".b.c", "a..c", "a.b\n.c",
                                      "a.b.c\r\n", "a b.c.d", "a.b.c=", "a.b.ç",
                                      "a.b." + "c" * 9000])
    def test_not_jwt_text(self, text: str) -> None:
        assert not is_jwt_text(text)


# ----------------------------------------------------------------- the log

def record(msg: object, *args: object, level: int = logging.WARNING,
           exc: bool = False) -> logging.LogRecord:
    exc_info = None
    if exc:
        try:
            raise ValueError("inside\nthe traceback \x1b[2J")
        except ValueError:
            exc_info = sys.exc_info()
    return logging.LogRecord("enphase_monitor.x", level, __file__, 1, msg, args, exc_info)


class TestLogLines:
    @pytest.mark.parametrize("journald", [False, True])
    @pytest.mark.parametrize("level", [logging.ERROR, logging.WARNING, logging.INFO,
                                       logging.DEBUG])
    def test_one_line_whatever_the_message(self, journald: bool, level: int) -> None:
        line = Formatter(journald, "enphase-monitor t: ").format(
            record("relay says %s", HOSTILE, level=level))
        assert safe(line)
        assert "\\nWATCHDOG=trigger\\r\\nREADY=1\\x1b[2J" in line
        if journald:
            priority = {logging.ERROR: 3, logging.WARNING: 4, logging.INFO: 6}.get(level, 7)
            assert line.startswith(f"<{priority}>relay says x\\n")

    def test_debug_traceback_stays_on_the_line(self) -> None:
        line = Formatter(False, "").format(record("failed", level=logging.DEBUG, exc=True))
        assert safe(line)
        assert line.startswith("DEBUG: failed\\nTraceback")
        assert "the traceback \\x1b[2J" in line

    def test_a_huge_message_is_cut(self) -> None:
        line = Formatter(True, "").format(record("%s", "x" * 1_000_000))
        assert len(line) <= logsetup.MAX_LINE_CHARS + 3 and line.endswith("...")


class TestBadLogArguments:
    def test_bad_format_shows_the_format_string_never_the_arguments(self) -> None:
        r = Redactor()
        rec = record("token %d for %s", "Secret-Arg-1", "x")
        assert r.filter(rec) is True
        assert rec.getMessage() == f"token %d for %s {BAD_ARGUMENTS}"
        assert "Secret-Arg-1" not in rec.getMessage()

    def test_too_few_arguments(self) -> None:
        rec = record("%s %s", "Secret-Arg-2")
        Redactor().filter(rec)
        assert rec.getMessage() == f"%s %s {BAD_ARGUMENTS}"

    def test_an_argument_whose_str_raises(self) -> None:
        class Bad:
            def __str__(self) -> str:
                raise RuntimeError("Secret-Arg-3")

        rec = record("value %s", Bad())
        Redactor().filter(rec)
        assert rec.getMessage() == f"value %s {BAD_ARGUMENTS}"

    def test_a_secret_in_the_format_string_is_still_hidden(self) -> None:
        r = Redactor()
        r.add("Secret-In-Format")
        rec = record("pw Secret-In-Format %d", "x")
        r.filter(rec)
        assert rec.getMessage() == f"pw <hidden> %d {BAD_ARGUMENTS}"

    def test_formatter_alone_never_shows_them_either(self) -> None:
        line = Formatter(False, "").format(record("n=%d", "Secret-Arg-4"))
        assert "Secret-Arg-4" not in line and BAD_ARGUMENTS in line


def test_a_bad_logging_call_prints_one_safe_line(package_logging: io.StringIO,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    logsetup.setup(1, False, prefix="enphase-monitor t: ", stream=package_logging)
    log = logging.getLogger("enphase_monitor.test")
    log.warning("token %d", "Secret-Arg-5\nfake line")
    log.warning("state %s", HOSTILE)
    lines = package_logging.getvalue().splitlines()
    assert lines == [f"enphase-monitor t: warning: token %d {BAD_ARGUMENTS}",
                     f"enphase-monitor t: warning: state {escape(HOSTILE)}"]
    err = capsys.readouterr().err
    assert "Logging error" not in err and "Secret-Arg-5" not in err


def test_fatal_is_one_safe_line() -> None:
    out = io.StringIO()
    logsetup.fatal(f"enphase-monitor t: bad value {HOSTILE}", out)
    assert out.getvalue().count("\n") == 1
    assert safe(out.getvalue().rstrip("\n"))


# ----------------------------------------------------------------- sd_notify

def lines_of(data: bytes) -> list[str]:
    return data.decode().split("\n")


class TestNotify:
    def test_datagram_escapes_every_value(self) -> None:
        lines = lines_of(datagram("READY=1", f"STATUS=nocomms: relay says '{HOSTILE}'"))
        assert len(lines) == 2
        assert lines[0] == "READY=1"
        assert lines[1].startswith("STATUS=nocomms: relay says 'x\\nWATCHDOG=trigger")
        assert all(safe(line) for line in lines)

    def test_status_is_bounded(self) -> None:
        (line,) = lines_of(datagram("STATUS=" + "y" * 100_000))
        assert len(line) < 1100

    def test_on_a_real_socket(self, tmp_path: Path) -> None:
        address = str(tmp_path / "notify")
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.bind(address)
            sock.settimeout(5)
            notifier = Notifier({"NOTIFY_SOCKET": address})
            notifier.status(HOSTILE)
            notifier.notify_ready(HOSTILE)
            first, second = sock.recv(65536), sock.recv(65536)
        assert lines_of(first) == [f"STATUS={escape(HOSTILE)}"]
        assert [line.split("=", 1)[0] for line in lines_of(second)] == ["READY", "STATUS"]


# ----------------------------------------------------------------- the -v -s report

def test_report_lines_are_escaped() -> None:
    out = io.StringIO()
    rep = Report(out)
    rep.head(f"Gateway {HOSTILE}")
    rep.row("firmware", HOSTILE)
    rep.row(f"key{HOSTILE}", "v")
    rep.line(HOSTILE, "  - ")
    lines = out.getvalue().split("\n")
    assert lines[0] == "" and lines[-1] == ""
    assert len(lines) == 6  # blank, head, 2 rows, 1 line, end
    assert all(safe(line) for line in lines)
    assert lines[2] == f"  {'firmware':<22} {escape(HOSTILE)}"
