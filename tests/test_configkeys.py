"""The key table (enphase_monitor/configkeys.py) is the one definition of the config's keys:
the parser, the Config defaults, docs/config.md and the wizard's rules all follow it."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from enphase_monitor.config import Config, parse_config
from enphase_monitor.configkeys import (
    BY_NAME,
    FIELD_KEYS,
    KEYS,
    KNOWN_KEYS,
    PATH_KEYS,
    SECRET_KEYS,
    TEST_KEYS,
    Key,
    Kind,
    docs_tables,
    with_docs_tables,
)
from enphase_monitor.errors import ConfigError
from enphase_setup import rules

ROOT = Path(__file__).resolve().parents[1]
BASE = "USERNAME=me@example.com\nPASSWORD=pw\nSERIAL=123456789012\nPORT_FILE=home.dev\n"
INTS = [k for k in KEYS if k.kind is Kind.INT]


def test_docs_config_md_lists_every_key_as_the_table_says() -> None:
    text = (ROOT / "docs/config.md").read_text()
    assert with_docs_tables(text) == text, (
        "docs/config.md is out of date: run python -m enphase_monitor.configkeys docs/config.md")
    tables = docs_tables()
    for spec in KEYS:
        assert f"| `{spec.name}` | {spec.docs_default()} | {spec.doc} |" in tables
    for spec in INTS:
        assert f"({spec.low} to {spec.high})" in spec.docs_default()


def test_every_key_is_read_once() -> None:
    fields = {f.name for f in dataclasses.fields(Config)}
    assert {k.field for k in FIELD_KEYS} <= fields
    rest = KNOWN_KEYS - {k.name for k in FIELD_KEYS}
    assert rest == {"UPS", *PATH_KEYS, *TEST_KEYS}
    assert len(KEYS) == len(KNOWN_KEYS)
    assert {"PASSWORD", "TOKEN", "TEST_TOKEN", "TEST_SESS"} == SECRET_KEYS


def test_config_defaults_are_the_tables() -> None:
    """The dataclass's defaults (used by code that builds a Config) equal what parsing an
    empty key gives, and the INT keys' defaults are the table's (API_TIMEOUT=5, as the seed)."""
    parsed = parse_config(BASE, Path("/etc/x.conf"), "home", {})
    for item in dataclasses.fields(Config):
        if item.name in {k.field for k in FIELD_KEYS} and item.default is not dataclasses.MISSING:
            assert getattr(parsed, item.name) == item.default, item.name
    for spec in INTS:
        assert getattr(parsed, spec.field) == spec.default
        assert spec.low <= spec.int_default <= spec.high
    assert parsed.api_timeout == 5


@pytest.mark.parametrize("spec", INTS, ids=lambda k: k.name)
def test_int_ranges_are_enforced(spec: Key) -> None:
    at_top = parse_config(BASE + f"{spec.name}={spec.high}\n", Path("/x.conf"), "home", {})
    assert getattr(at_top, spec.field) == spec.high
    with pytest.raises(ConfigError, match=f"{spec.name} is too large"):
        parse_config(BASE + f"{spec.name}={spec.high + 1}\n", Path("/x.conf"), "home", {})


def test_wizard_rules_take_the_tables_range() -> None:
    spec = BY_NAME["POLLFREQ"]
    assert (rules.POLLFREQ.low, rules.POLLFREQ.high) == (spec.low, spec.high)
    assert rules.answer_problem("pollfreq", str(spec.low)) is None
    assert rules.answer_problem("pollfreq", str(spec.high + 1)) is not None
    assert rules.answer_problem("pollfreq", str(spec.low - 1)) is not None


def test_man_page_defaults_are_the_tables() -> None:
    """enphase-monitor(8) says "Default N, minimum M" in its own words: the numbers agree."""
    text = (ROOT / "packaging/man/enphase-monitor.8").read_text()
    checked = 0
    for spec in INTS:
        start = text.find(f".TP\n.B {spec.name}\n")
        if start < 0:
            continue
        entry = text[start:text.find(".TP", start + 3)]
        default = re.search(r"Default (\d+)", entry)
        minimum = re.search(r"minimum (\d+)", entry)
        if default:
            assert int(default.group(1)) == spec.default, spec.name
            checked += 1
        if minimum:
            assert int(minimum.group(1)) == spec.low, spec.name
    assert checked >= 3
