"""Injectable faults: what they are, which request they hit, and how they alter an answer."""

from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import urlsplit

from enphase_monitor.facts import LOGIN_URL, TOKENS_URL

from . import payloads
from .replies import Response

FAULT_KINDS = frozenset({
    "timeout", "reset", "tls", "status", "401", "garbage", "empty", "truncated", "slow",
    "wrong_types", "down",
})
# the paths of Enlighten's login and Entrez's token URLs
CLOUD_TARGETS = {"login": urlsplit(LOGIN_URL).path, "tokens": urlsplit(TOKENS_URL).path}


@dataclass
class Fault:
    """One injected fault: its target, kind, remaining count (None: until cleared), value."""

    target: str
    kind: str
    count: int | None
    value: float | None

    def hits_server(self, server: str) -> bool:
        """For a tls fault: True when it targets this server ("gateway" or "cloud")."""
        cloud = self.target in CLOUD_TARGETS or self.target == "cloud"
        return (server == "cloud") == cloud

    def hits_request(self, server: str, path: str) -> bool:
        """For a request-level fault: True when it targets this request."""
        if server == "cloud":
            return CLOUD_TARGETS.get(self.target) == path or self.target == "cloud"
        return self.target in ("*", "gateway", path)


def check(kind: str, count: int | None) -> None:
    """Raise ValueError for an unknown kind or a count that is not an int >= 1 (or None)."""
    if kind not in FAULT_KINDS:
        raise ValueError(f"unknown fault kind {kind!r}; expected one of {sorted(FAULT_KINDS)}")
    if count is not None and (isinstance(count, bool) or int(count) != count or count < 1):
        raise ValueError("count must be an int >= 1 or None")


def alter(fault: Fault, resp: Response) -> Response:
    """Apply a fault that alters the real answer (truncated, wrong_types)."""
    if fault.kind == "truncated":
        return Response(200, resp.body[: len(resp.body) // 2], resp.content_type)
    if fault.kind == "wrong_types":
        try:
            data = json.loads(resp.body)
        except ValueError:
            return resp
        return Response(resp.status, json.dumps(payloads.wrong_types(data)).encode(),
                        resp.content_type, resp.headers)
    return resp
