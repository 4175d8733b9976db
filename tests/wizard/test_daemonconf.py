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
