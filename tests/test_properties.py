"""Property tests: no parser lets anything but the project's own errors escape."""

from __future__ import annotations

import base64
import dataclasses
import json
import math
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from enphase_monitor.config import parse_config
from enphase_monitor.configkeys import KNOWN_KEYS, TEST_KEYS
from enphase_monitor.errors import ConfigError, TokenError
from enphase_monitor.nutvars import sanitize
from enphase_monitor.shellvars import parse_assignments
from enphase_monitor.textsafe import escape, has_control
from enphase_monitor.tokeninfo import TokenInfo

SHELLISH = st.text(alphabet=st.sampled_from(list("AB_=x1 \t\n#'\"\\$`(){};:-./")), max_size=80)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner,
                                                                 max_size=3),
    max_leaves=10,
)


@given(st.text(max_size=200) | SHELLISH)
@settings(max_examples=400)
def test_shell_parser_raises_only_config_errors(text: str) -> None:
    try:
        values = parse_assignments(text, {})
    except ConfigError as exc:
        assert "\n" not in str(exc), "errors are one line"
    else:
        assert all(isinstance(v, str) for v in values.values())


@given(st.dictionaries(st.sampled_from(sorted(KNOWN_KEYS)), st.text(max_size=20), max_size=12))
@settings(max_examples=300)
def test_config_values_raise_only_config_errors(values: dict[str, str]) -> None:
    text = "".join(f"{k}='{v.replace(chr(39), '')}'\n" for k, v in values.items())
    try:
        config = parse_config(text, Path("/x/enphase-t.conf"), "t", {})
    except ConfigError as exc:
        assert str(exc) and "\n" not in str(exc)
    else:
        assert config.pollfreq >= 5 and config.api_timeout >= 2


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@given(json_values)
def test_jwt_payload_parser_raises_only_token_errors(payload: object) -> None:
    token = f"{_b64(b'{}')}.{_b64(json.dumps(payload).encode())}.sig"
    try:
        info = TokenInfo.parse(token)
    except TokenError:
        return
    assert math.isfinite(info.expires)


@given(st.text(max_size=60))
def test_any_token_text_raises_only_token_errors(text: str) -> None:
    try:
        info = TokenInfo.parse(text)
    except TokenError:
        return
    assert info.token == text.strip() and math.isfinite(info.expires)


# ----------------------------------------------------------------- clean output, secrets

def _shows_safely(text: str) -> bool:
    return all(c == " " or c.isprintable() for c in text)


@given(st.text(max_size=200), st.none() | st.integers(min_value=3, max_value=300))
@settings(max_examples=500)
def test_escape_leaves_no_control_character(text: str, limit: int | None) -> None:
    shown = escape(text, limit)
    assert _shows_safely(shown) and not has_control(shown)
    shown.encode("utf-8")  # no lone surrogate
    assert escape(shown) == shown  # already safe text is left as it is
    if limit is not None:
        assert len(shown) <= limit
    elif _shows_safely(text):
        assert shown == text


@given(st.text(max_size=60))
def test_nut_values_are_printable_ascii_without_quote_hash_backslash(text: str) -> None:
    value = sanitize(text)
    assert all(0x20 <= ord(c) <= 0x7E and c not in '"#\\' for c in value)
    assert len(value) <= 127 and value == value.strip()


_DOCUMENTS = {k for k in TEST_KEYS if k != "TEST_TOKEN"}


@given(st.dictionaries(st.sampled_from(sorted(KNOWN_KEYS)),
                       st.text(alphabet=st.characters(codec="utf-8"), max_size=20), max_size=8))
@settings(max_examples=300)
def test_no_control_character_survives_the_config(values: dict[str, str]) -> None:
    text = BASE + "".join(f"{k}='{v.replace(chr(39), '')}'\n" for k, v in values.items())
    try:
        config = parse_config(text, Path("/x/enphase-t.conf"), "t", {})
    except ConfigError as exc:
        assert _shows_safely(str(exc))
        return
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if isinstance(value, str | Path):
            assert not has_control(str(value)), f.name
    for key, value in config.test_values.items():
        kept = value.translate(str.maketrans("", "", "\t\n\r")) if key in _DOCUMENTS else value
        assert not has_control(kept), key


# the secret's letters never occur in the parser's own words, so any 4 of them in a row in a
# message can only have come from the secret
SECRET_LETTERS = "qxzjv"
SECRETS = st.lists(st.text(alphabet=SECRET_LETTERS, min_size=4, max_size=8)
                   | st.sampled_from(list(" ;#'\"\\$`=(){}\t-")), min_size=1,
                   max_size=8).map("".join)
BASE = "UPS=t\nUSERNAME=u@x\nPASSWORD=pw\nSERIAL=1\nPORT_FILE=t.dev\n"


def _leaks(secret: str, message: str) -> list[str]:
    grams = {secret[i:i + 4] for i in range(len(secret) - 3)}
    return [g for g in grams if all(c in SECRET_LETTERS for c in g) and g in message]


@given(st.sampled_from(["PASSWORD", "TOKEN", "TEST_SESS", "TEST_TOKEN", "MY_SECRET"]),
       SECRETS,
       st.sampled_from(["{}", "'{}'", '"{}"', "{} # note", "export {}"]),
       st.sampled_from(["", "\n", "\x1b", "\r\n"]))
@settings(max_examples=600)
def test_no_part_of_a_secret_in_any_message(key: str, secret: str, form: str,
                                            inside: str) -> None:
    secret = secret[: len(secret) // 2] + inside + secret[len(secret) // 2:]
    if "'" in form or '"' in form:
        assignment = f"{key}={form.format(secret)}"
    else:  # unquoted: a line break would end the line (what follows is a new line)
        assignment = form.format(f"{key}={secret.replace(chr(10), '')}")
    text = BASE + f"PASSWORD=pw\n{assignment}\nPOLLFREQ=30\n"
    try:
        config = parse_config(text, Path("/x/enphase-t.conf"), None, {})
    except ConfigError as exc:
        assert not _leaks(secret, str(exc)), str(exc)
        return
    for label in config.unknown_keys:
        if label != "MY_SECRET":
            assert not _leaks(secret, label), label
