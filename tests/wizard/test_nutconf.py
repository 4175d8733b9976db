"""ups.conf editing: one section changes, every other byte stays (comments, quotes, globals)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from enphase_setup.nutconf import UpsConf, quote, split_words

OURS = {"driver": "dummy-ups", "port": "/var/lib/enphase-monitor/ups.dev",
        "mode": "dummy-loop", "desc": "Enphase IQ Gateway 122302045678"}

# Written for these tests in the shapes seen in the wild (NAS exports, distro samples,
# hand-edited files): globals, several sections, quotes with escapes, flags, odd spacing.
SEVERAL = """\
# /etc/nut/ups.conf -- edited by hand
maxretry = 3
pollinterval=5   # global, no spaces around '='

[eaton]
    driver = usbhid-ups
    port = auto
    vendorid = 0463
    desc = "Eaton 5E \\"office\\" #2"   # quotes, an escape and a hash inside
    nolock

# the solar battery, via enphase-monitor
[ups]
\tdriver = dummy-ups
\tport = /etc/nut/ups.dev
\tmode = dummy-once
\tdesc = "old description"
\toverride.battery.charge.low = 15

[apc]
\tdriver=apcsmart
\tport=/dev/ttyS0
"""


def lines_except(text: str, start: int, end: int) -> list[str]:
    lines = text.splitlines(keepends=True)
    return lines[:start] + lines[end:]


def test_words_as_parseconf_splits_them() -> None:
    assert split_words('\tdesc = "Eaton 5E \\"office\\" #2"   # note') == \
        ["desc", "=", 'Eaton 5E "office" #2']
    assert split_words("driver=apcsmart") == ["driver", "=", "apcsmart"]
    assert split_words("  # [commented]") == []
    assert split_words("nolock") == ["nolock"]


def test_parse_sections_globals_and_values() -> None:
    conf = UpsConf(SEVERAL)
    assert conf.names() == ["eaton", "ups", "apc"]
    assert conf.globals == {"maxretry": "3", "pollinterval": "5"}
    eaton = conf.section("eaton")
    assert eaton is not None
    assert eaton.settings["desc"] == 'Eaton 5E "office" #2'
    assert eaton.settings["nolock"] == ""
    apc = conf.section("apc")
    assert apc is not None and apc.settings == {"driver": "apcsmart", "port": "/dev/ttyS0"}


def test_edit_changes_only_the_lines_that_differ() -> None:
    conf = UpsConf(SEVERAL)
    new = conf.with_section("ups", OURS).text()
    before, after = SEVERAL.splitlines(), new.splitlines()
    changed = [(a, b) for a, b in zip(before, after, strict=False) if a != b]
    assert changed == [
        ("\tport = /etc/nut/ups.dev", "\tport = /var/lib/enphase-monitor/ups.dev"),
        ("\tmode = dummy-once", "\tmode = dummy-loop"),
        ('\tdesc = "old description"', '\tdesc = "Enphase IQ Gateway 122302045678"'),
    ]
    assert len(before) == len(after)
    assert "\toverride.battery.charge.low = 15" in after  # a key we do not manage stays


def test_edit_is_idempotent_and_byte_identical() -> None:
    once = UpsConf(SEVERAL).with_section("ups", OURS).text()
    assert UpsConf(once).with_section("ups", OURS).text() == once


def test_new_section_appended_and_everything_else_identical() -> None:
    new = UpsConf(SEVERAL).with_section("solar", OURS, "enphase-monitor").text()
    assert new.startswith(SEVERAL)
    assert new[len(SEVERAL):] == (  # indented as the file's first section is
        "\n[solar]\n    # enphase-monitor\n    driver = dummy-ups\n"
        "    port = /var/lib/enphase-monitor/ups.dev\n    mode = dummy-loop\n"
        '    desc = "Enphase IQ Gateway 122302045678"\n')
    solar = UpsConf(new).section("solar")
    assert solar is not None and solar.settings == OURS


def test_missing_keys_inserted_after_the_last_setting_with_its_indent() -> None:
    text = "[ups]\n    driver = dummy-ups\n    port = /x.dev\n\n# next one\n[b]\n\tdriver = x\n"
    new = UpsConf(text).with_section("ups", {"driver": "dummy-ups", "port": "/x.dev",
                                             "mode": "dummy-loop"}).text()
    assert new == ("[ups]\n    driver = dummy-ups\n    port = /x.dev\n    mode = dummy-loop\n"
                   "\n# next one\n[b]\n\tdriver = x\n")


def test_crlf_and_no_final_newline_kept() -> None:
    text = "# windows editor\r\n[ups]\r\n\tdriver = dummy-ups\r\n\tport = /old.dev"
    new = UpsConf(text).with_section("ups", {"port": "/new.dev", "mode": "dummy-loop"}).text()
    assert new == ("# windows editor\r\n[ups]\r\n\tdriver = dummy-ups\r\n\tport = /new.dev\r\n"
                   "\tmode = dummy-loop\r\n")


def test_non_utf8_bytes_survive() -> None:
    raw = b"# caf\xe9 (latin-1 comment)\n[ups]\n\tdriver = dummy-ups\n"
    text = raw.decode("utf-8", "surrogateescape")
    new = UpsConf(text).with_section("ups", {"mode": "dummy-loop"}).text()
    assert new.encode("utf-8", "surrogateescape").startswith(raw)


def test_remove_section_keeps_neighbours_and_their_comments() -> None:
    new = UpsConf(SEVERAL).without_section("ups").text()
    assert "[ups]" not in new
    assert "# the solar battery, via enphase-monitor\n\n[apc]" in new  # comment above stays
    assert new.count("\n\n\n") == 0
    assert UpsConf(new).names() == ["eaton", "apc"]
    assert new.startswith(SEVERAL[: SEVERAL.index("[ups]")])


def test_remove_last_section_leaves_no_trailing_blank() -> None:
    text = "maxretry = 3\n\n[ups]\n\tdriver = dummy-ups\n"
    assert UpsConf(text).without_section("ups").text() == "maxretry = 3\n"


def test_add_then_remove_gives_the_original_back() -> None:
    added = UpsConf(SEVERAL).with_section("solar", OURS, "enphase-monitor").text()
    assert UpsConf(added).without_section("solar").text() == SEVERAL


def test_empty_file() -> None:
    new = UpsConf("").with_section("ups", {"driver": "dummy-ups"}).text()
    assert new == "[ups]\n\tdriver = dummy-ups\n"


@pytest.mark.parametrize(("value", "shown"), [
    ("dummy-ups", "dummy-ups"), ("/var/lib/x/ups.dev", "/var/lib/x/ups.dev"),
    ("Enphase IQ Gateway 1", '"Enphase IQ Gateway 1"'), ('say "hi"', '"say \\"hi\\""'),
    ("a\\b", '"a\\\\b"'), ("#", '"#"'), ("", '""'),
])
def test_quote(value: str, shown: str) -> None:
    assert quote(value) == shown
    assert split_words(f"k = {quote(value)}")[2:] == ([value] if value or shown else [])


def test_debian_stock_ups_conf() -> None:
    """The file Debian's nut-client installs (read from this host when it is there)."""
    path = Path("/etc/nut/ups.conf")
    if not path.is_file() or "maxretry" not in path.read_text(errors="replace"):
        pytest.skip("no stock Debian ups.conf on this host")
    raw = path.read_bytes()
    text = raw.decode("utf-8", "surrogateescape")
    conf = UpsConf(text)
    assert conf.globals.get("maxretry") == "3"
    commented = [s.name for s in conf.sections]
    new = conf.with_section("ups", OURS, "enphase-monitor").text()
    assert new.encode("utf-8", "surrogateescape").startswith(raw)
    assert UpsConf(new).names() == [*commented, "ups"]
    assert UpsConf(new).without_section("ups").text() == text


_key = st.from_regex(r"[a-z][a-z_.]{0,12}", fullmatch=True).filter(
    lambda k: k not in OURS)
_value = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=20)
_section = st.tuples(st.from_regex(r"[a-z][a-z0-9_-]{0,8}", fullmatch=True),
                     st.lists(st.tuples(_key, _value), max_size=4))


@given(st.lists(_section, min_size=1, max_size=4, unique_by=lambda s: s[0]),
       st.sampled_from(["", "# a comment\n", "maxretry = 3\n"]))
def test_other_sections_never_change(sections: list[tuple[str, list[tuple[str, str]]]],
                                     preamble: str) -> None:
    text = preamble + "".join(
        f"[{name}]\n" + "".join(f"\t{k} = {quote(v)}  # c\n" for k, v in body) + "\n"
        for name, body in sections)
    target = sections[0][0]
    conf = UpsConf(text)
    new = UpsConf(conf.with_section(target, OURS).text())
    for section in conf.sections:
        if section.name == target:
            continue
        old_lines = text.splitlines()[section.start:section.end]
        moved = new.section(section.name)
        assert moved is not None
        assert new.text().splitlines()[moved.start:moved.end] == old_lines
    edited = new.section(target)
    assert edited is not None and edited.settings | OURS == edited.settings


def test_a_new_section_is_indented_as_the_file_is() -> None:
    text = "maxretry = 3\n\n[apc]\n  driver = usbhid-ups\n  port = auto\n"
    new = UpsConf(text).with_section("ups", {"driver": "dummy-ups"}, "made here").text()
    assert new == text + "\n[ups]\n  # made here\n  driver = dummy-ups\n"
    tabs = UpsConf("[apc]\n\tdriver = usbhid-ups\n").with_section("ups", {"port": "x"}).text()
    assert tabs.endswith("[ups]\n\tport = x\n")
    assert UpsConf("").with_section("ups", {"port": "x"}).text() == "[ups]\n\tport = x\n"


@pytest.mark.parametrize(("text", "indent"), [
    ("[a]\ndriver = x\nport = y\n", ""),
    ("[a]\n  driver = x\n", "  "),
    ("[a]\n\tdriver = x", "\t"),
    ("maxretry = 3", "\t"),
    ("[empty]\n[a]\n  driver = x\n", "  "),
])
def test_a_new_section_is_indented_as_the_files_sections_and_removed_exactly(
        text: str, indent: str) -> None:
    new = UpsConf(text).with_section("ups", OURS, "ours").text()
    assert f"\n[ups]\n{indent}# ours\n{indent}driver = dummy-ups\n" in new
    assert not any(line.startswith("[ups]") is False and "[ups]" in line
                   for line in new.splitlines())  # never glued to the line before
    assert UpsConf(new).without_section("ups").text() == text
