"""The daemon's config as the wizard writes it: edited key by key, secrets masked, loadable."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from enphase_monitor.config import load_config
from enphase_monitor.shellvars import parse_assignments
from enphase_setup import daemonconf

USER_FILE = """\
# my settings
UPS=ups
USERNAME=me@example.com
PASSWORD='old secret'
export SERIAL=111
LOADKWH=500   # tuned by hand
DISABLE_METERS=1
TOKEN="multi
line"
"""


@given(st.text(st.characters(min_codepoint=32, max_codepoint=0x2FF,
                             exclude_categories=("Cc",)), max_size=40))
def test_quote_round_trips_through_the_daemons_parser(value: str) -> None:
    text = daemonconf.edit("", {"PASSWORD": value})
    assert parse_assignments(text, {})["PASSWORD"] == value


@pytest.mark.parametrize("value", ["a\nSERIAL=1", "tab\there", "bell\x07", "del\x7f"])
def test_a_control_character_never_reaches_the_file(value: str) -> None:
    with pytest.raises(ValueError, match="control characters"):
        daemonconf.edit("", {"DESC": value})


def test_edit_keeps_unmanaged_lines_and_order() -> None:
    new = daemonconf.edit(USER_FILE, {"SERIAL": "222", "PASSWORD": None, "TOKEN": None,
                                      "POLLFREQ": "30"})
    assert new == ("# my settings\nUPS=ups\nUSERNAME=me@example.com\nexport SERIAL=222\n"
                   "LOADKWH=500   # tuned by hand\nDISABLE_METERS=1\nPOLLFREQ=30\n")


def test_unchanged_value_keeps_its_line() -> None:
    assert daemonconf.edit(USER_FILE, {"LOADKWH": "500", "UPS": "ups"}) == USER_FILE


def test_duplicate_assignments_collapse_to_one() -> None:
    text = "SERIAL=1\nX=2\nSERIAL=3\n"
    assert daemonconf.edit(text, {"SERIAL": "4"}) == "X=2\nSERIAL=4\n"


def test_mask_hides_secrets_and_says_when_they_change() -> None:
    new = daemonconf.edit(USER_FILE, {"PASSWORD": "new secret"})
    shown = daemonconf.mask(new, USER_FILE)
    assert "secret" not in shown.replace("<hidden", "")
    assert "PASSWORD=<hidden, changed>\n" in shown
    assert "TOKEN=<hidden>\n" in shown
    assert "multi" not in shown
    assert daemonconf.mask(USER_FILE).count("<hidden>") == 2


def test_rendered_config_loads_with_the_daemons_loader(tmp_path: Path) -> None:
    values = {"UPS": "ups", "USERNAME": "me@example.com", "PASSWORD": "p'$x\"`y`",
              "SERIAL": "122302045678", "ENVOY_HOST": "192.168.1.50",
              "STATE_DIR": "/var/lib/enphase-monitor",
              "PORT_FILE": "/var/lib/enphase-monitor/ups.dev", "POLLFREQ": "30",
              "GATEWAY_FINGERPRINT": "ab" * 32}
    path = tmp_path / "enphase-ups.conf"
    path.write_text(daemonconf.render("ups", values))
    path.chmod(0o640)
    config = load_config(path, env={})
    assert config.password == "p'$x\"`y`"
    assert config.port_file == Path("/var/lib/enphase-monitor/ups.dev")
    assert config.pollfreq == 30
    assert config.gateway_fingerprint == "ab" * 32
    assert not config.unknown_keys


def test_broken_config_reads_as_empty() -> None:
    assert daemonconf.read_values("X=$(reboot)\n") == {}


@pytest.mark.parametrize("value", ["plain", "with space", "it's", "$HOME", ""])
def test_quote_forms(value: str) -> None:
    quoted = daemonconf.quote(value)
    assert parse_assignments(f"K={quoted}\n", {"HOME": "/root"})["K"] == value


# every line form the daemon's parser (enphase_monitor/shellvars.py) reads as SERIAL=111
FORMS = [
    "SERIAL=111\n", "  SERIAL=111   # mine\n", "export SERIAL=111\n", "declare -x SERIAL=111\n",
    "typeset SERIAL=111\n", "readonly SERIAL=111\n", "local SERIAL=111\n",
    "export declare SERIAL=111\n", '"SERIAL"=111\n', "SERIAL='111'\n", 'SERIAL="111"\n',
    "S'ERIAL'=1\\\n11\n", "A=1 SERIAL=111 B=2\n", "A=1; SERIAL=111\n", "SERIAL=111;A=1\n",
    "SERIAL=111\r\n", 'SERIAL="1\\\n11"\n', "SERIAL=\\\n111\n",
    "SERIAL=9\nSERIAL=111\n", "SERIAL='x\ny' SERIAL=111\n",
]


def assignments_of(text: str, key: str) -> int:
    """How many times the text assigns `key` (as the daemon's lexer splits it)."""
    from enphase_setup.configscan import assignments
    return len(assignments(text).get(key, []))


@pytest.mark.parametrize("form", FORMS)
def test_every_form_the_daemon_reads_is_edited_in_place(form: str) -> None:
    text = f"# mine\nX=1\n{form}Y=2\n"
    assert parse_assignments(text, {})["SERIAL"] == "111"  # the daemon reads it
    edited = daemonconf.edit(text, {"SERIAL": "222"})
    values = parse_assignments(edited, {})
    assert values["SERIAL"] == "222" and assignments_of(edited, "SERIAL") == 1
    assert values["X"] == "1" and values["Y"] == "2"
    assert edited.startswith("# mine\nX=1\n") and edited.endswith("Y=2\n")
    assert not edited.endswith("SERIAL=222\n")  # not appended below: where it stood
    removed = daemonconf.edit(text, {"SERIAL": None})
    assert "SERIAL" not in parse_assignments(removed, {})
    assert parse_assignments(removed, {}) == {k: v for k, v in values.items() if k != "SERIAL"}
    assert daemonconf.edit(edited, {"SERIAL": "222"}) == edited  # unchanged: kept as written


@pytest.mark.parametrize("form", ["export PASSWORD='old'\n", "declare -x PASSWORD=old\n",
                                  '"PASSWORD"=old\n', "A=1 PASSWORD=old\n",
                                  "A=1; PASSWORD='old'\n"])
def test_the_daemon_loads_the_edited_config(tmp_path: Path, form: str) -> None:
    path = tmp_path / "enphase-ups.conf"
    base = ("UPS=ups\nSERIAL=111\nUSERNAME=me@example.com\nENVOY_HOST=envoy.local\n"
            f"PORT_FILE={tmp_path}/ups.dev\n")
    path.write_text(base + form)
    path.chmod(0o600)
    assert load_config(path, env={}).password == "old"
    new = daemonconf.edit(path.read_text(), {"PASSWORD": "new one", "SERIAL": "222"})
    path.write_text(new)
    config = load_config(path, env={})
    assert config.password == "new one" and config.serial == "222"
    assert assignments_of(new, "PASSWORD") == 1
    assert "old" not in new
    assert "new one" not in daemonconf.mask(new)


def test_a_byte_order_mark_at_the_start_stays() -> None:
    text = "\ufeffSERIAL=111\nX=1\n"
    assert parse_assignments(text, {})["SERIAL"] == "111"
    assert daemonconf.edit(text, {"SERIAL": "222"}) == "\ufeffSERIAL=222\nX=1\n"
    assert daemonconf.edit(text, {"SERIAL": None}) == "\ufeffX=1\n"


_KEYS = st.sampled_from(["SERIAL", "UPS", "POLLFREQ", "DESC"])
_VALUES = st.text(st.characters(min_codepoint=32, max_codepoint=0x17F,
                                exclude_categories=("Cc",)), max_size=8)
_PREFIXES = st.sampled_from(["", "export ", "declare -x ", "readonly ", "  "])
_SEPARATORS = st.sampled_from(["\n", "; ", " ", "  # note\n", "\r\n"])


@given(st.lists(st.tuples(_PREFIXES, _KEYS, _VALUES, _SEPARATORS), min_size=1, max_size=6),
       st.dictionaries(_KEYS, st.one_of(st.none(), _VALUES), min_size=1))
def test_edit_says_what_it_was_asked_and_keeps_the_rest(
        lines: list[tuple[str, str, str, str]], values: dict[str, str | None]) -> None:
    text = ""
    for index, (prefix, key, value, separator) in enumerate(lines):
        following = lines[index + 1][0] if index + 1 < len(lines) else ""
        if separator == " " and following.strip():
            separator = "\n"  # `A=1 export B=2` is not a line the daemon reads
        text += f"{prefix}{key}={daemonconf.quote(value)}{separator}"
    before = parse_assignments(text, {})
    edited = daemonconf.edit(text, values)
    expected = {k: v for k, v in {**before, **values}.items() if v is not None}
    assert parse_assignments(edited, {}) == expected
    for key in values:
        assert assignments_of(edited, key) == (values[key] is not None)
