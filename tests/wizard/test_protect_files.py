"""The editors of upsd.users, upsmon.conf, upsd.conf and nut.conf, on Debian 12's own files.

Each editor adds its marked block to the file as NUT 2.8.0-7 ships it; the result is compared
with a golden file (checked by hand: only the block is new), and removing the block gives the
shipped file back byte for byte. Regenerate the goldens with UPDATE_GOLDEN=1 and review the diff.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Callable
from pathlib import Path

import pytest

from enphase_setup import marked, upsdconf, upsdusers, upsmonconf
from enphase_setup.facts import nut_mode
from enphase_setup.nutmode import restore_mode, set_mode

DEBIAN = Path(__file__).resolve().parents[1] / "fixtures" / "nut-debian"
GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "nut-protect"
PASSWORD = "Zq3-example_password-x9"


def shipped(name: str) -> str:
    return (DEBIAN / name).read_bytes().decode("utf-8", "surrogateescape")


def add_users(text: str) -> str:
    text = upsdusers.with_user(text, "ups", "upsmon-ups", PASSWORD, "primary", "primary user")
    return upsdusers.with_user(text, "ups", "nas-ups", "n4s-pass", "secondary", "NAS user")


def add_monitor(text: str) -> str:
    return upsmonconf.with_monitor(text, "ups", "ups@localhost", "upsmon-ups", PASSWORD,
                                   "primary", "this host")


def add_listen(text: str) -> str:
    return upsdconf.with_listen(text, "ups", "192.168.1.10", "the LAN")


def add_mode(text: str) -> str:
    return set_mode(text, "ups", "netserver")


EDITORS: dict[str, tuple[Callable[[str], str], Callable[[str, str], str]]] = {
    "upsd.users": (add_users, upsdusers.without_users),
    "upsmon.conf": (add_monitor, upsmonconf.without_monitors),
    "upsd.conf": (add_listen, upsdconf.without_listens),
    "nut.conf": (add_mode, restore_mode),
}


@pytest.mark.parametrize("name", sorted(EDITORS))
def test_golden_add_and_exact_remove(name: str) -> None:
    add, remove = EDITORS[name]
    original = shipped(name)
    added = add(original)
    golden = GOLDEN / f"{name}.added"
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_bytes(added.encode("utf-8", "surrogateescape"))
    assert added == golden.read_bytes().decode("utf-8", "surrogateescape")
    removed_lines = [line for line in difflib.ndiff(original.splitlines(), added.splitlines())
                     if line.startswith("- ")]
    assert removed_lines == ([] if name != "nut.conf" else ["- MODE=none"])
    assert remove(added, "ups") == original
    assert remove(original, "ups") == original
    assert remove(added, "other") == added  # another UPS's blocks only


def test_upsd_users_reads_what_it_wrote() -> None:
    accounts = upsdusers.users(add_users(shipped("upsd.users")))
    assert accounts["upsmon-ups"] == upsdusers.User("upsmon-ups", PASSWORD, "primary", "ups")
    assert accounts["nas-ups"].role == "secondary"
    assert upsdusers.users(shipped("upsd.users")) == {}  # the examples are comments
    masked = upsdusers.mask(add_users(shipped("upsd.users")))
    assert PASSWORD not in masked and "password = <hidden>" in masked


def test_monitor_line_is_read_back_and_masked() -> None:
    text = add_monitor(shipped("upsmon.conf"))
    [line] = upsmonconf.monitors(text)
    assert (line.ups, line.host, line.port, line.user, line.password, line.role) == (
        "ups", "localhost", None, "upsmon-ups", PASSWORD, "primary")
    assert upsmonconf.monitors(shipped("upsmon.conf")) == []  # examples are comments
    assert PASSWORD not in upsmonconf.mask(text)


def test_monitor_goes_after_the_users_own_and_keeps_what_follows() -> None:
    text = "MINSUPPLIES 1\nMONITOR a@nas 1 u p secondary\nPOLLFREQ 5\n"
    added = add_monitor(text)
    assert added.splitlines()[1:5] == [
        "MONITOR a@nas 1 u p secondary", "", added.splitlines()[3],
        f"MONITOR ups@localhost 1 upsmon-ups {PASSWORD} primary"]
    assert added.endswith("POLLFREQ 5\n")
    assert upsmonconf.without_monitors(added, "ups") == text


def test_line_written_below_a_block_survives_remove() -> None:
    added = add_monitor("POLLFREQ 5\n") + "MONITOR mine@localhost 1 me pw primary\n"
    assert upsmonconf.without_monitors(added, "ups") == (
        "POLLFREQ 5\nMONITOR mine@localhost 1 me pw primary\n")


def test_settings_added_to_the_wizards_user_go_with_it() -> None:
    """Left behind, `actions = SET` would fall into the section above."""
    base = "[admin]\n\tpassword = a\n"
    added = upsdusers.with_user(base, "ups", "upsmon-ups", PASSWORD, "primary", "x")
    edited = added + "\tactions = SET\n[later]\n\tpassword = b\n"
    assert upsdusers.without_users(edited, "ups") == base + "[later]\n\tpassword = b\n"


@pytest.mark.parametrize("ending", ["\r\n", "\n"])
def test_line_endings_and_missing_blank_lines(ending: str) -> None:
    text = f"# users{ending}[admin]{ending}  password = a{ending}"
    added = upsdusers.with_user(text, "ups", "u", "p", "primary", "x")
    assert ending in added and (ending == "\n") == ("\r\n" not in added)
    assert "  password = p" in added  # the file's own indentation
    assert upsdusers.without_users(added, "ups") == text
    assert marked.insert("", ["LISTEN ::1"], "ups", "x").startswith("# enphase-setup ups: ")


def test_listen_order_keeps_loopback_last_and_the_users_lines() -> None:
    """NUT 2.8.0 exits when the last LISTEN line of the file cannot be bound (measured)."""
    added = add_listen("# upsd.conf\n")
    assert upsdconf.listens(added)[-1].address == "127.0.0.1"
    assert [i.address for i in upsdconf.listens(added)] == ["192.168.1.10", "::1", "127.0.0.1"]
    own = "MAXAGE 15\nLISTEN 10.0.0.2 3493\n"
    added = add_listen(own)
    assert [i.address for i in upsdconf.listens(added)] == ["192.168.1.10", "10.0.0.2"]
    assert upsdconf.without_listens(added, "ups") == own
    assert upsdconf.with_listen(own, "ups", "10.0.0.2", "x") == own  # served already
    assert upsdconf.with_listen("LISTEN 0.0.0.0\n", "ups", "10.0.0.3", "x") == "LISTEN 0.0.0.0\n"
    assert [i.address for i in upsdconf.listens(upsdconf.with_listen("", "u", "0.0.0.0", "x"))
            ] == ["::1", "0.0.0.0"]


def test_mode_marker_restores_the_mode_it_replaced() -> None:
    for before in ("MODE=standalone\n", "# no mode\n"):
        after = set_mode(before, "ups", "netserver")
        assert nut_mode(after) == "netserver"
        assert restore_mode(after, "ups") == before
    assert set_mode("MODE=netserver\n", "ups", "netserver") == "MODE=netserver\n"


@pytest.mark.parametrize("text", ["a\nb", "a\r\nb", "x", "MONITOR a@h 1 u p primary\n# end",
                                  "LISTEN 10.0.0.1\n# end", "[admin]\n\tpassword = p"])
@pytest.mark.parametrize("name", sorted(EDITORS))
def test_a_file_without_a_final_line_end_is_not_glued_and_comes_back(
        name: str, text: str) -> None:
    add, remove = EDITORS[name]
    added = add(text)
    for line in added.splitlines():
        assert "enphase-setup ups:" not in line or line.startswith("# enphase-setup ups:")
        assert not line.startswith(("bMONITOR", "xMODE", "bMODE", "b[", "x["))
    assert remove(added, "ups") == text
