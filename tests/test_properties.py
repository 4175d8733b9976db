"""Property tests: no parser lets anything but the project's own errors escape."""

from __future__ import annotations

import base64
import json
import math
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from enphase_monitor.config import KNOWN_KEYS, parse_config
from enphase_monitor.enlighten import TokenInfo
from enphase_monitor.errors import ConfigError, TokenError
from enphase_monitor.shellvars import parse_assignments

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
