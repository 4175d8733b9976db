"""portfile.py + fileutil.py: reading like dummy-ups, merging, atomic writes, the nocomms rename."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from enphase_monitor.errors import FileTooLarge, PortFileError, PortFileMissing, UnsafeFileError
from enphase_monitor.fileutil import atomic_write, read_regular
from enphase_monitor.nutvars import GENERATED, USER_DEFAULTS
from enphase_monitor.paths import NOCOMMS_SUFFIX
from enphase_monitor.portfile import PortContent, PortFile, parse_line, render

OTHER_ID = 65534  # nobody / nogroup

# ---------------------------------------------------------------- parse_line


@pytest.mark.parametrize(("raw", "expected"), [
    ("battery.charge: 85", ("battery.charge", "85")),
    ("battery.charge:85", ("battery.charge", "85")),
    ("battery.charge 85", ("battery.charge", "85")),
    ("  battery.charge:   85  ", ("battery.charge", "85")),
    ("ups.status: OB LB", ("ups.status", "OB LB")),
    ('ups.mfr: "Enphase  Energy"', ("ups.mfr", "Enphase  Energy")),
    ('x.note: "a # b" trailing', ("x.note", "a # b")),
    ('x.empty: ""', ("x.empty", "")),
    ('x.open: "unterminated', ("x.open", "unterminated")),
    ("battery.charge: 85 # the charge", ("battery.charge", "85")),
    ("battery.charge: # nothing", ("battery.charge", "")),
    ("battery.charge:", ("battery.charge", None)),
    ("battery.charge", ("battery.charge", None)),
    ("battery.charge: 85\r", ("battery.charge", "85")),
    ("# battery.charge: 85", (None, None)),
    ("   # indented comment", (None, None)),
    ("", (None, None)),
    ("   \t ", (None, None)),
    (": 85", (None, None)),
])
def test_parse_line(raw: str, expected: tuple[str | None, str | None]) -> None:
    assert parse_line(raw) == expected


def test_parse_content() -> None:
    text = "# c\nbattery.charge: 10\n\nups.status:OL\nbattery.charge: 20\nflag\n"
    content = PortContent.parse(text)
    assert content.text == text
    assert content.lines == ["# c", "battery.charge: 10", "", "ups.status:OL",
                             "battery.charge: 20", "flag"]
    assert content.values == {"battery.charge": "20", "ups.status": "OL", "flag": ""}
    assert PortContent.parse("") == PortContent("", [], {})
    # only "\n" ends a line, as for dummy-ups: a form feed or U+2028 inside a line stays inside
    odd = PortContent.parse("# a\x0cbattery.charge: 5\nx: 1\u2028y\r\n")
    assert odd.lines == ["# a\x0cbattery.charge: 5", "x: 1\u2028y\r"]
    assert "battery.charge" not in odd.values


# ---------------------------------------------------------------- render

USER_TEXT = (
    "# my UPS\n"
    "ups.delay.shutdown: 120\n"
    "ups.status: OL\n"
    "\n"
    "battery.charge.low: 35\n"
    "x.vendor.thing: \"keep   this\"  # note\n"
    "battery.charge: 99\n"
    "ups.status: OB\n"
    "battery.charge: 98\n"
    "device.mfr: ACME\n"
    "  # indented comment: with colon\n"
)


def test_render_keeps_user_lines_and_replaces_generated_in_place() -> None:
    content = PortContent.parse(USER_TEXT)
    out = render(content, {"ups.status": "OB LB", "battery.charge": "15",
                           "battery.runtime": "600"}).split("\n")
    assert out[:9] == [
        "# my UPS",
        "ups.delay.shutdown: 120",
        "ups.status: OB LB",               # replaced where it stood
        "",
        "battery.charge.low: 35",          # the user's value kept
        "x.vendor.thing: \"keep   this\"  # note",
        "battery.charge: 15",
        "device.mfr: ACME",                # the duplicates of generated lines are gone
        "  # indented comment: with colon",
    ]
    rest = out[9:]
    assert rest[-1] == ""                  # ends with a newline
    # the missing user defaults, then the new generated values
    assert rest[:-1] == [
        "battery.voltage.high: 86.4",
        "battery.voltage.nominal: 76.8",
        "battery.voltage.low: 68.5",
        "device.model: IQ Gateway",
        "battery.runtime: 600",
    ]


def test_render_adds_every_default_to_an_empty_file() -> None:
    out = render(PortContent.parse(""), {"ups.status": "OL", "battery.current": None})
    assert out == "".join(f"{k}: {v}\n" for k, v in USER_DEFAULTS.items()) + "ups.status: OL\n"
    assert USER_DEFAULTS["battery.charge.low"] == "20"


def test_render_keeps_user_set_defaults() -> None:
    text = "".join(f"{k}: custom{i}\n" for i, k in enumerate(USER_DEFAULTS))
    assert render(PortContent.parse(text), {}) == text


def test_render_fixes_missing_space_after_colon() -> None:
    text = ("battery.charge.low:35\nups.delay.shutdown:120\nx.url: http://a:b\n"
            "# comment:x\nups.status:OB\nempty:\n  indented.var:5\n")
    out = render(PortContent.parse(text), {"ups.status": "OL"}).split("\n")
    assert out[:7] == ["battery.charge.low: 35", "ups.delay.shutdown: 120", "x.url: http://a:b",
                       "# comment:x", "ups.status: OL", "empty:", "  indented.var: 5"]


def test_render_blanks_values_that_vanished() -> None:
    content = PortContent.parse("battery.runtime: 100\nups.load:5\nbattery.charge: 50\n")
    out = render(content, {"battery.runtime": None, "ups.load": "", "battery.charge": "51",
                           "output.voltage": None})
    lines = out.split("\n")
    assert lines[:3] == ['battery.runtime: ""', 'ups.load: ""', "battery.charge: 51"]
    assert "output.voltage" not in out
    # stable: rendering its own output again changes nothing
    again = render(PortContent.parse(out), {"battery.runtime": None, "ups.load": "",
                                            "battery.charge": "51", "output.voltage": None})
    assert again == out


def test_render_then_parse_round_trip() -> None:
    values = {"ups.status": "OB LB", "battery.charge": "15", "ups.mfr": "Enphase Energy"}
    parsed = PortContent.parse(render(PortContent.parse(USER_TEXT), values)).values
    for name, value in values.items():
        assert parsed[name] == value
    assert parsed["ups.delay.shutdown"] == "120"
    assert parsed["x.vendor.thing"] == "keep   this"


# ---------------------------------------------------------------- PortFile: locate, hide, write


@pytest.fixture
def port(tmp_path: Path) -> Path:
    path = tmp_path / "enphase.dev"
    path.write_text("# mine\nups.status: OL\n")
    path.chmod(0o640)
    return path


def test_locate_under_either_name(port: Path) -> None:
    pf = PortFile(port)
    assert pf.nocomms_path == port.with_name("enphase.dev" + NOCOMMS_SUFFIX)
    assert pf.locate() == port and not pf.hidden
    port.rename(pf.nocomms_path)
    assert pf.locate() == pf.nocomms_path
    assert PortFile(port).hidden               # a new object: mypy narrowed pf.hidden
    assert pf.read().values == {"ups.status": "OL"}


def test_missing_port_file(tmp_path: Path) -> None:
    pf = PortFile(tmp_path / "gone.dev")
    for action in (pf.locate, pf.read, pf.hide):
        with pytest.raises(PortFileMissing) as info:
            action()
        message = str(info.value)
        assert "gone.dev" in message and "create it" in message
    assert isinstance(info.value, PortFileError)
    assert list(tmp_path.iterdir()) == []      # the monitor never creates the file


def test_unreadable_port_file(tmp_path: Path) -> None:
    (tmp_path / "dir.dev").mkdir()               # a directory: read() fails even as root
    with pytest.raises(PortFileError, match="is a directory, not a regular file"):
        PortFile(tmp_path / "dir.dev").read()


def _owner(path: Path) -> tuple[int, int, int]:
    st_ = path.stat()
    return stat.S_IMODE(st_.st_mode), st_.st_uid, st_.st_gid


def _give_away(path: Path) -> tuple[int, int, int]:
    """chmod 0640 and, as root, chown to nobody:nogroup; the expected (mode, uid, gid)."""
    path.chmod(0o640)
    if os.geteuid() == 0:
        os.chown(path, OTHER_ID, OTHER_ID)
    return _owner(path)


def test_write_keeps_mode_and_owner(port: Path) -> None:
    before = _give_away(port)
    if os.geteuid() == 0:
        assert before[1:] == (OTHER_ID, OTHER_ID)
    PortFile(port).write("ups.status: OB\n")
    assert port.read_text() == "ups.status: OB\n"
    assert _owner(port) == before == (0o640, *before[1:])


def test_hide_and_restore(port: Path) -> None:
    before = _give_away(port)
    pf = PortFile(port)
    assert pf.hide() is True
    assert not port.exists() and pf.hidden
    assert pf.nocomms_path.read_text() == "# mine\nups.status: OL\n"
    assert _owner(pf.nocomms_path) == before
    assert pf.hide() is False                  # already hidden
    assert pf.nocomms_path.exists()
    pf.write("ups.status: OB\n")               # back under the main name, with the new content
    assert port.read_text() == "ups.status: OB\n"
    assert not pf.nocomms_path.exists() and not PortFile(port).hidden
    assert _owner(port) == before
    assert sorted(p.name for p in port.parent.iterdir()) == ["enphase.dev"]
    assert pf.hide() is True                   # and hidden again
    assert PortFile(port).hidden
    assert pf.nocomms_path.read_text() == "ups.status: OB\n"


def test_hide_replaces_a_stale_nocomms_twin(port: Path) -> None:
    pf = PortFile(port)
    pf.nocomms_path.write_text("stale\n")
    assert pf.locate() == port                 # the main name wins
    assert pf.hide() is True
    assert pf.nocomms_path.read_text() == "# mine\nups.status: OL\n"
    assert not port.exists()


def test_write_never_copies_setuid_setgid_or_sticky(port: Path) -> None:
    port.chmod(0o7750)
    PortFile(port).write("ups.status: OB\n")
    assert stat.S_IMODE(port.stat().st_mode) == 0o750


def test_write_takes_the_metadata_of_the_file_read(port: Path) -> None:
    """Owner and mode come from the descriptor read, not from the path at write time."""
    pf = PortFile(port)
    content = pf.read()
    port.chmod(0o600)  # changed behind the daemon's back after its read
    pf.write("ups.status: OB\n", content.meta)
    assert stat.S_IMODE(port.stat().st_mode) == 0o640


def test_atomic_write_refuses_a_symlink_to_copy_from(tmp_path: Path) -> None:
    target = tmp_path / "target"
    target.write_text("x")
    (tmp_path / "link").symlink_to(target)
    with pytest.raises(PortFileError, match="is a symbolic link"):
        atomic_write(tmp_path / "new", b"y", like=tmp_path / "link")
    assert not (tmp_path / "new").exists()


def test_read_regular_is_bounded(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"x" * 100)
    assert read_regular(path, 100, "file").data == b"x" * 100
    with pytest.raises(FileTooLarge, match="larger than 99 bytes"):
        read_regular(path, 99, "file")


def test_read_regular_refuses_symlinks_and_special_files(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    (tmp_path / "link").symlink_to(tmp_path / "f")
    (tmp_path / "dangling").symlink_to(tmp_path / "nothing")
    os.mkfifo(tmp_path / "fifo")
    for name, what in (("link", "symbolic link"), ("dangling", "symbolic link"),
                       ("fifo", "a FIFO"), (".", "a directory")):
        with pytest.raises(UnsafeFileError, match=what):
            read_regular(tmp_path / name, 100, "file")
    with pytest.raises(FileNotFoundError):
        read_regular(tmp_path / "nothing", 100, "file")


# ---------------------------------------------------------------- atomic write under stress

READER = r"""
import json, os, sys
path, stop, first, second = sys.argv[1:5]
good = {open(first, "rb").read(), open(second, "rb").read()}
reads, bad = 0, []
print("ready", flush=True)
while not os.path.exists(stop):
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except FileNotFoundError:
        data = b"<missing>"
    reads += 1
    if data not in good and len(bad) < 5:
        bad.append(data[:60].decode("latin-1"))
print(json.dumps({"reads": reads, "bad": bad}), flush=True)
"""


def test_concurrent_reader_sees_only_whole_files(tmp_path: Path) -> None:
    first = "".join(f"battery.charge: {i}\n" for i in range(40))
    second = "# other\n" + "".join(f"input.L{i}.realpower: {i * 1000.5}\n" for i in range(90))
    (tmp_path / "a").write_text(first)
    (tmp_path / "b").write_text(second)
    live = tmp_path / "port"
    live.mkdir()
    path, stop = live / "ups.dev", tmp_path / "stop"
    path.write_text(first)
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(path), str(stop), str(tmp_path / "a"),
         str(tmp_path / "b")], stdout=subprocess.PIPE, text=True)
    try:
        assert reader.stdout is not None
        assert reader.stdout.readline().strip() == "ready"
        pf = PortFile(path)
        for i in range(2000):
            pf.write(second if i % 2 == 0 else first)
        stop.touch()
        out, _ = reader.communicate(timeout=30)
    finally:
        if reader.poll() is None:
            reader.kill()
            reader.wait()
    result = json.loads(out)
    assert result["bad"] == []
    assert result["reads"] > 0
    assert path.read_text() == first
    assert sorted(p.name for p in live.iterdir()) == ["ups.dev"]   # no temp file left


@contextlib.contextmanager
def failing(monkeypatch: pytest.MonkeyPatch, name: str, err: int, after: int = 0) -> Iterator[
        list[int]]:
    """Make os.<name> (as enphase_monitor.fileutil calls it) fail with `err` after `after` calls;
    the first call to os.write writes only part of its data."""
    real = getattr(os, name)
    calls: list[int] = []

    def fake(fd: int, *args: object) -> object:
        calls.append(fd)
        if len(calls) > after:
            raise OSError(err, os.strerror(err))
        if name == "write":
            data = args[0]
            assert isinstance(data, bytes | memoryview)
            return real(fd, bytes(data[:7]))
        return real(fd, *args)

    with monkeypatch.context() as patch:
        patch.setattr(f"enphase_monitor.fileutil.os.{name}", fake)
        yield calls


def test_enospc_keeps_the_old_file(port: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = port.read_bytes()
    with failing(monkeypatch, "write", errno.ENOSPC, after=1) as calls, \
            pytest.raises(PortFileError, match="No space left") as info:
        PortFile(port).write("ups.status: OB\n" * 50)
    assert len(calls) == 2                      # a partial write, then the failure
    assert str(port) in str(info.value)
    assert port.read_bytes() == before
    assert sorted(p.name for p in port.parent.iterdir()) == ["enphase.dev"]


def test_enospc_while_hidden_keeps_it_hidden(port: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    pf = PortFile(port)
    pf.hide()
    with failing(monkeypatch, "write", errno.ENOSPC), pytest.raises(PortFileError):
        pf.write("ups.status: OL\n")
    assert pf.hidden and pf.nocomms_path.read_text() == "# mine\nups.status: OL\n"
    assert sorted(p.name for p in port.parent.iterdir()) == ["enphase.dev-nocomms"]


def test_fsync_error_keeps_the_old_file(port: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = port.read_bytes()
    with failing(monkeypatch, "fsync", errno.EIO), \
            pytest.raises(PortFileError, match="Input/output"):
        PortFile(port).write("ups.status: OB\n")
    assert port.read_bytes() == before
    assert sorted(p.name for p in port.parent.iterdir()) == ["enphase.dev"]


def test_read_only_directory(tmp_path: Path) -> None:
    """No write access to the directory: PortFileError, the old file intact.

    As root chmod does not stop root, so a forked child drops to nobody instead.
    """
    directory = Path(tempfile.mkdtemp(dir="/tmp" if os.geteuid() == 0 else tmp_path))
    try:
        directory.chmod(0o755)
        path = directory / "ups.dev"
        path.write_text("ups.status: OL\n")
        path.chmod(0o644)
        if os.geteuid() != 0:
            directory.chmod(0o555)
            try:
                with pytest.raises(PortFileError, match="temporary file"):
                    PortFile(path).write("ups.status: OB\n")
            finally:
                directory.chmod(0o755)
        else:
            pid = os.fork()
            if pid == 0:  # pragma: no cover - the child
                code = 1
                try:
                    os.setgroups([])
                    os.setgid(OTHER_ID)
                    os.setuid(OTHER_ID)
                    try:
                        PortFile(path).write("ups.status: OB\n")
                        code = 2
                    except PortFileError as exc:
                        code = 3 if "temporary file" in str(exc) else 4
                finally:
                    os._exit(code)
            _, status = os.waitpid(pid, 0)
            assert os.waitstatus_to_exitcode(status) == 3
        assert path.read_text() == "ups.status: OL\n"
        assert sorted(p.name for p in directory.iterdir()) == ["ups.dev"]
    finally:
        shutil.rmtree(directory)


# ---------------------------------------------------------------- properties

_NAMES = st.sampled_from(sorted(GENERATED) + sorted(USER_DEFAULTS)
                         + ["ups.delay.shutdown", "x.y", "#x", "a:b"])
_LINE = st.one_of(
    st.text(max_size=30),
    st.builds("{}: {}".format, _NAMES, st.text(max_size=12)),
    st.builds("{}:{}".format, _NAMES, st.text(max_size=12)),
    st.builds("{} {}".format, _NAMES, st.text(max_size=12)),
    st.builds('{}: "{}"'.format, _NAMES, st.text(max_size=12)),
)
PORT_TEXT = st.lists(_LINE, max_size=15).map("\n".join) | st.text(max_size=200)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=80))
def test_parse_line_never_raises(raw: str) -> None:
    name, value = parse_line(raw)
    if name is None:
        assert value is None
    else:
        assert name and ":" not in name and not any(ch.isspace() for ch in name)
        assert value is None or isinstance(value, str)


def _user_lines(text: str) -> list[str]:
    return [line for line in PortContent.parse(text).lines if parse_line(line)[0] not in GENERATED]


@settings(max_examples=300, deadline=None)
@given(PORT_TEXT)
def test_render_keeps_every_non_generated_line(text: str) -> None:
    content = PortContent.parse(text)
    out = render(content, {})
    assert out.endswith("\n")
    kept = _user_lines(out)
    missing = [f"{k}: {v}" for k, v in USER_DEFAULTS.items() if k not in content.values]
    expected = _user_lines(text)
    assert len(kept) == len(expected) + len(missing)
    for raw, written in zip(expected, kept, strict=False):
        # verbatim, or `name:value` given its missing space (and still the same variable)
        assert written == raw or (written == raw.replace(":", ": ", 1)
                                  and parse_line(written) == parse_line(raw))
    assert kept[len(expected):] == missing
    # every generated name appears once, blanked (nothing was computed)
    generated = [line for line in PortContent.parse(out).lines
                 if parse_line(line)[0] in GENERATED]
    assert len(generated) == len({parse_line(line)[0] for line in generated})
    assert all(line.endswith(': ""') for line in generated)
    # and rendering is stable
    assert render(PortContent.parse(out), {}) == out


@settings(max_examples=100, deadline=None)
@given(PORT_TEXT, st.dictionaries(st.sampled_from(sorted(GENERATED)),
                                  st.none() | st.sampled_from(["OL", "12.5", "OB LB"])))
def test_render_is_stable_with_values(text: str, values: dict[str, str | None]) -> None:
    once = render(PortContent.parse(text), values)
    assert render(PortContent.parse(once), values) == once
    parsed = PortContent.parse(once).values
    for name, value in values.items():
        assert parsed.get(name, "") == (value or "")
