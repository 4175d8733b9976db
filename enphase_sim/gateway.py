"""The simulated IQ Gateway's answers: /info, /auth/check_jwt and the /ivp endpoints."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

from enphase_monitor.facts import (
    CHECK_JWT,
    DATA_ENDPOINTS,
    INFO,
    INFO_LEGACY,
    INVENTORY,
    LIVEDATA,
    METERS,
    RELAY,
    REPORTS,
    SECCTRL,
)

from . import payloads, topology
from .replies import Response, json_reply, text_reply, unauthorized
from .state import SimState
from .tokens import TokenBook

INFO_PATHS = (INFO_LEGACY, INFO)
GATEWAY_PATHS = DATA_ENDPOINTS
_FIXTURE_FILES = {SECCTRL: "ivp_ensemble_secctrl", REPORTS: "ivp_meters_reports",
                  METERS: "ivp_meters", RELAY: "ivp_ensemble_relay",
                  INVENTORY: "ivp_ensemble_inventory"}


class Gateway:
    """Answers gateway requests from a SimState, or from a pyenphase fixture directory."""

    def __init__(self, tokens: TokenBook, fixture_dir: Path | None) -> None:
        self.tokens = tokens
        self.fixture_dir = fixture_dir
        self._energy = payloads.EnergyCounters()
        self._lock = threading.Lock()  # the energy counters and the frozen livedata
        self._frozen_live: bytes | None = None

    def answer(self, method: str, path: str, headers: dict[str, str], state: SimState,
               now: float) -> Response:
        """Answer one request (after faults) with the state at `now` (the simulator's clock)."""
        if path not in (*INFO_PATHS, CHECK_JWT, *GATEWAY_PATHS):
            return text_reply("Not Found", 404)
        if method != "GET":
            return text_reply("Method Not Allowed", 405)
        if path in INFO_PATHS:
            return Response(200, self._fixture(path) or payloads.info_xml(state, now), "text/xml")
        authorization = headers.get("Authorization", "")
        if path == CHECK_JWT:
            return self._check_jwt(_bearer(authorization), now)
        if not self._authorized(authorization, headers.get("Cookie", ""), now):
            return unauthorized()
        if path == RELAY and not state.has_relay:
            return text_reply("Not Found", 404)
        fixture = self._fixture(path)
        if fixture is not None:
            return Response(200, fixture)
        if path == REPORTS:
            with self._lock:
                return json_reply(payloads.meters_reports(state, now, self._energy))
        battery = topology.battery_view(state)
        if path == LIVEDATA:
            return Response(200, self._livedata(battery, now))
        builders: dict[str, Callable[[], object]] = {
            RELAY: lambda: topology.relay(state),
            SECCTRL: lambda: payloads.secctrl(battery),
            METERS: lambda: payloads.meters(state),
            INVENTORY: lambda: topology.inventory(state, now),
        }
        return json_reply(builders[path]())

    def freeze_live(self, state: SimState, now: float) -> None:
        """Freeze livedata as it is at `now` (state.live_stale just became true)."""
        body = json_reply(payloads.livedata(topology.battery_view(state), now)).body
        with self._lock:
            self._frozen_live = body

    def _livedata(self, battery: SimState, now: float) -> bytes:
        """The livedata body: live, or frozen as it was when `live_stale` became true."""
        with self._lock:
            if not battery.live_stale:
                self._frozen_live = None
            elif self._frozen_live is None:  # stale from the start: frozen at the first request
                self._frozen_live = json_reply(payloads.livedata(battery, now)).body
            if self._frozen_live is not None:
                return self._frozen_live
        return json_reply(payloads.livedata(battery, now)).body

    def _check_jwt(self, token: str, now: float) -> Response:
        if not self.tokens.valid(token, now):
            return unauthorized()
        session = self.tokens.open_cookie(token)
        return Response(200, b"<!DOCTYPE html><h2>Valid token.</h2>", "text/html",
                        [("Set-Cookie", f"sessionId={session}; Secure; HttpOnly; Path=/")])

    def _authorized(self, authorization: str, cookie_header: str, now: float) -> bool:
        if self.tokens.valid(_bearer(authorization), now):
            return True
        for part in cookie_header.split(";"):
            name, _, value = part.strip().partition("=")
            if name == "sessionId" and self.tokens.cookie_valid(value, now):
                return True
        return False

    def _fixture(self, path: str) -> bytes | None:
        name = "info" if path in INFO_PATHS else _FIXTURE_FILES.get(path)
        if self.fixture_dir is None or name is None:
            return None
        file = self.fixture_dir / name
        return file.read_bytes() if file.is_file() else None


def _bearer(authorization: str) -> str:
    """The token of a `Bearer` Authorization header, else ""."""
    return authorization[7:].strip() if authorization.lower().startswith("bearer ") else ""
