"""The control API on the gateway's port (/__sim/...): state, faults, stats and tokens over HTTP."""

from __future__ import annotations

import dataclasses
import json
from typing import Any, Protocol

from .replies import Response, json_reply, text_reply
from .state import SimState


class Controlled(Protocol):
    """The simulator's public methods that the control API calls."""

    @property
    def state(self) -> SimState:
        """A copy of the current state."""

    def update(self, **fields: Any) -> SimState:
        """Change state fields."""

    def inject(self, target: str, kind: str, count: int | None = None,
               value: float | None = None) -> None:
        """Add a fault."""

    def clear_faults(self, target: str | None = None) -> None:
        """Remove faults."""

    def stats(self) -> dict[str, Any]:
        """Counters."""

    def reset_stats(self) -> None:
        """Zero every counter."""

    def issue_token(self, user_type: str = "owner", lifetime_s: float | None = None) -> str:
        """Issue a token."""

    def revoke_tokens(self) -> None:
        """Invalidate every token."""

    def info(self) -> dict[str, Any]:
        """Addresses and credentials."""


def answer(sim: Controlled, method: str, path: str, body: bytes) -> Response:
    """Answer a /__sim/ request: 400 with {"error": ...} for a bad one, 404 for an unknown one."""
    try:
        req = json.loads(body) if body.strip() else {}
        if not isinstance(req, dict):
            raise TypeError("JSON object expected")
        resp = _act(sim, (method, path), req)
    except (ValueError, KeyError, TypeError) as exc:
        return json_reply({"error": str(exc)}, 400)
    return resp or json_reply({"error": f"unknown control request {method} {path}"}, 404)


def _act(sim: Controlled, action: tuple[str, str], req: dict[str, Any]) -> Response | None:
    ok = {"ok": True}
    if action == ("GET", "/__sim/state"):
        return json_reply(dataclasses.asdict(sim.state))
    if action == ("POST", "/__sim/state"):
        return json_reply(dataclasses.asdict(sim.update(**req)))
    if action == ("POST", "/__sim/fault"):
        sim.inject(str(req["target"]), str(req["kind"]), req.get("count"), req.get("value"))
        return json_reply(ok)
    if action == ("POST", "/__sim/clear"):
        sim.clear_faults(req.get("target"))
        return json_reply(ok)
    if action == ("GET", "/__sim/stats"):
        return json_reply(sim.stats())
    if action == ("POST", "/__sim/reset_stats"):
        sim.reset_stats()
        return json_reply(ok)
    if action == ("POST", "/__sim/token"):
        return text_reply(sim.issue_token(str(req.get("user_type", "owner")),
                                          req.get("lifetime_s")), 200)
    if action == ("POST", "/__sim/revoke"):
        sim.revoke_tokens()
        return json_reply(ok)
    if action == ("GET", "/__sim/info"):
        return json_reply(sim.info())
    return None
