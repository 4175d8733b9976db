"""The local HTTPS client of the IQ Gateway: token, timeouts, one retry, typed endpoints."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from .enlighten import TokenManager
from .ensemble import Inventory
from .errors import (
    Failure,
    GatewayCancelled,
    GatewayDataError,
    GatewayError,
    GatewayHTTPError,
    GatewayImplausible,
    GatewayUnauthorized,
    GatewayUnreachable,
)
from .facts import CHECK_JWT, INFO, INVENTORY, LIVEDATA, RELAY, REPORTS, SECCTRL
from .httplimits import decode_json
from .logsetup import TRACE
from .models import GatewayInfo, LiveData, MeterReports, Relay, SecCtrl
from .transport import Reply, Transport, TransportError

log = logging.getLogger(__name__)

_RETRY_STATUS = frozenset({408, 429, 500, 502, 503, 504})

T = TypeVar("T")


@dataclass
class EndpointStat:
    """The last request to one endpoint: HTTP status (None: no answer), latency, error."""

    path: str
    status: int | None = None
    latency: float | None = None
    error: str | None = None


class GatewayClient:
    """Reads the gateway's endpoints over one keep-alive session."""

    def __init__(self, host: str, timeout: float, transport: Transport, tokens: TokenManager):
        self.base = f"https://{host}"
        self.timeout = timeout
        self.transport = transport
        self.tokens = tokens
        self.stats: dict[str, EndpointStat] = {}
        self._checked_token: str | None = None

    def _request(self, path: str, headers: dict[str, str]) -> Reply:
        stat = self.stats.setdefault(path, EndpointStat(path))
        try:
            reply = self.transport.request("GET", self.base + path, timeout=self.timeout,
                                           headers=headers)
        except TransportError as exc:
            stat.status, stat.latency, stat.error = exc.status, None, f"{exc.kind}: {exc}"
            raise _gateway_error(exc, path) from None
        stat.status, stat.latency, stat.error = reply.status, reply.elapsed, None
        log.log(TRACE, "GET %s -> %d in %.3f s: %s", path, reply.status, reply.elapsed,
                reply.text[:2000])
        return reply

    def _check_jwt(self, token: str) -> None:
        """Present a new token once at /auth/check_jwt, as pyenphase does (keeps a cookie)."""
        self._checked_token = token
        try:
            reply = self._request(CHECK_JWT, {"Authorization": f"Bearer {token}"})
        except GatewayCancelled:
            raise
        except GatewayError:
            return
        if reply.status == 401:
            self.tokens.unauthorized()
            raise GatewayUnauthorized(f"{CHECK_JWT}: the gateway refused the token", CHECK_JWT, 401)

    def get(self, path: str, auth: bool = True) -> Reply:
        """GET with one retry (its own deadline) on a timeout, a reset, a 5xx or a first 401.

        A cancelled request (the daemon is stopping) is never retried.

        Raises:
            GatewayError: subclasses say what failed.
            AuthError: no token could be had.
        """
        for attempt in (1, 2):
            headers = {"Accept": "application/json"}
            if auth:
                token = self.tokens.token()
                if token != self._checked_token:
                    try:
                        self._check_jwt(token)
                    except GatewayUnauthorized:
                        if attempt == 2:
                            raise
                        continue
                headers["Authorization"] = f"Bearer {token}"
            try:
                reply = self._request(path, headers)
            except GatewayCancelled:
                raise
            except GatewayUnreachable:
                if attempt == 2:
                    raise
                log.debug("%s failed, retrying once", path)
                continue
            if reply.status == 401 and auth:
                self.tokens.unauthorized()
                current = self.tokens.current
                if attempt == 2 or (current is not None and current.token == token):
                    raise GatewayUnauthorized(f"{path}: HTTP 401, the token was refused", path, 401)
                continue
            if reply.status in _RETRY_STATUS and attempt == 1:
                continue
            if reply.status != 200:
                raise GatewayHTTPError(f"{path}: HTTP {reply.status}", path, reply.status)
            if auth:
                self.tokens.accepted()
            return reply
        raise GatewayError(f"{path}: no answer", path)  # pragma: no cover - loop always returns

    def get_json(self, path: str) -> object:
        """GET and decode JSON, bounded (httplimits.decode_json: UTF-8, depth, size).

        Raises:
            GatewayDataError: empty, truncated, non-UTF-8, too deep or non-JSON body.
        """
        reply = self.get(path)
        try:
            return decode_json(reply.data)
        except ValueError as exc:
            raise GatewayDataError(f"{path}: {exc}", path, reply.status) from None

    def _model(self, path: str, build: Callable[[object], T]) -> T:
        """The typed answer of `path`.

        Raises:
            GatewayImplausible: a value no real gateway sends (models.num).
            GatewayError, AuthError: as get_json.
        """
        payload = self.get_json(path)
        try:
            return build(payload)
        except GatewayImplausible as exc:
            raise GatewayImplausible(f"{path}: {exc}", path) from None

    def relay(self) -> Relay:
        return self._model(RELAY, Relay.from_api)

    def livedata(self) -> LiveData:
        return self._model(LIVEDATA, LiveData.from_api)

    def secctrl(self) -> SecCtrl:
        return self._model(SECCTRL, SecCtrl.from_api)

    def inventory(self) -> Inventory:
        return self._model(INVENTORY, Inventory.from_api)

    def meter_reports(self) -> MeterReports:
        return self._model(REPORTS, MeterReports.from_api)

    def info(self) -> GatewayInfo:
        text = self.get(INFO, auth=False).text
        try:
            return GatewayInfo.from_xml(text)
        except GatewayImplausible as exc:
            raise GatewayImplausible(f"{INFO}: {exc}", INFO) from None

    def close(self) -> None:
        self.transport.close()


def _gateway_error(exc: TransportError, path: str) -> GatewayError:
    """The GatewayError for a failed request: only transient failures are GatewayUnreachable."""
    message = f"{path}: {exc}"
    if exc.kind is Failure.CANCELLED:
        return GatewayCancelled(message, path)
    if exc.kind is Failure.REDIRECT:
        return GatewayHTTPError(message, path, exc.status)
    if exc.kind is Failure.LIMIT:
        return GatewayDataError(message, path, exc.status)
    if exc.kind is Failure.REQUEST:
        return GatewayError(message, path)
    return GatewayUnreachable(message, path)
