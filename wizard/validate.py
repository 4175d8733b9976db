"""Live check of the credentials: Enlighten login, token for this serial, the gateway's hardware.

Each failure is classified (what failed, which answer to fix) and keeps the real reason, so
the screens and the non-interactive mode can say what went wrong and where.
"""

from __future__ import annotations

import enum
import json
import time
from collections.abc import Callable
from dataclasses import dataclass

from enphase_monitor.enlighten import EnlightenClient
from enphase_monitor.ensemble import Inventory
from enphase_monitor.errors import (
    CloudError,
    GatewayDataError,
    LoginError,
    MfaRequiredError,
    TokenError,
)
from enphase_monitor.facts import INVENTORY, LIVEDATA, SECCTRL
from enphase_monitor.models import SecCtrl
from enphase_monitor.tokeninfo import TokenInfo
from enphase_monitor.topology import SIGNAL_NAMES, Refusal, Topology, choose_signal
from enphase_monitor.transport import HttpsTransport, Transport, TransportError

from .answermodel import Answers

GATEWAY_CHECK = LIVEDATA
Progress = Callable[[str], None]


class Failure(enum.StrEnum):
    """What went wrong."""

    BAD_LOGIN = "bad-login"
    MFA = "mfa"
    SERIAL = "serial"
    CLOUD = "cloud"
    TOKEN = "token"
    GATEWAY_UNREACHABLE = "gateway-unreachable"
    GATEWAY_REFUSED = "gateway-refused"
    HARDWARE = "hardware"  # the gateway's hardware cannot act as a UPS


# which answer the user should fix, per failure
FIELD = {
    Failure.BAD_LOGIN: "password",
    Failure.MFA: "token",
    Failure.SERIAL: "serial",
    Failure.CLOUD: "username",
    Failure.TOKEN: "token",
    Failure.GATEWAY_UNREACHABLE: "host",
    Failure.GATEWAY_REFUSED: "serial",
    Failure.HARDWARE: "host",
}


@dataclass(frozen=True)
class CheckResult:
    """The outcome: ok with the token, or a failure with its message."""

    ok: bool
    message: str
    failure: Failure | None = None
    token: TokenInfo | None = None

    @property
    def field(self) -> str | None:
        """The answer to fix."""
        return FIELD[self.failure] if self.failure else None


def _cloud_transport(answers: Answers) -> Transport:
    return HttpsTransport(verify=answers.cloud_ca_file or True)


def _gateway_transport(answers: Answers) -> Transport:
    pin = answers.gateway_fingerprint if answers.pin_certificate else ""
    return HttpsTransport(verify=False, fingerprint=pin, trust_env=False)


def _token(answers: Answers, cloud: Transport, progress: Progress) -> CheckResult:
    """Log in and fetch a token, or parse the manual one."""
    if answers.use_token:
        progress("Reading the token")
        try:
            info = TokenInfo.parse(answers.token)
        except TokenError as exc:
            return CheckResult(False, f"The token is not usable: {exc}", Failure.TOKEN)
        if info.remaining(time.time()) <= 0:
            return CheckResult(False, "The token has expired: get a new one from Enphase",
                               Failure.TOKEN)
        if info.serial and answers.serial and info.serial != answers.serial:
            return CheckResult(False, f"The token is for gateway {info.serial}, not"
                               f" {answers.serial}", Failure.TOKEN)
        return CheckResult(True, info.describe(time.time()), token=info)
    client = EnlightenClient(cloud, answers.login_url, answers.tokens_url, 15.0)
    progress("Logging in to Enlighten")
    try:
        session = client.login(answers.username, answers.password)
    except MfaRequiredError:
        return CheckResult(False, "This Enlighten account uses multi-factor authentication:"
                           " no token can be fetched automatically. Get a token on Enphase's"
                           " token page (entrez.enphaseenergy.com) and use it instead.",
                           Failure.MFA)
    except LoginError:
        return CheckResult(False, f"Enlighten refused the login for {answers.username}: check"
                           " the e-mail and password", Failure.BAD_LOGIN)
    except CloudError as exc:
        return CheckResult(False, f"Could not reach Enlighten: {exc}", Failure.CLOUD)
    progress(f"Getting a token for gateway {answers.serial}")
    try:
        text = client.fetch_token(session, answers.serial, answers.username)
        info = TokenInfo.parse(text)
    except CloudError as exc:
        return CheckResult(False, f"Could not reach Enphase's token service: {exc}",
                           Failure.CLOUD)
    except TokenError:
        return CheckResult(False, f"Enphase gave no token for serial {answers.serial}: that"
                           f" gateway is not on the account {answers.username}", Failure.SERIAL)
    return CheckResult(True, info.describe(time.time()), token=info)


def _gateway(answers: Answers, info: TokenInfo, gateway: Transport,
             progress: Progress) -> CheckResult:
    """One authenticated request to the gateway."""
    progress(f"Asking the gateway at {answers.envoy_host} with the token")
    url = f"https://{answers.envoy_host}{GATEWAY_CHECK}"
    try:
        reply = gateway.request("GET", url, timeout=10.0, headers={
            "Authorization": f"Bearer {info.token}", "Accept": "application/json"})
    except TransportError as exc:
        return CheckResult(False, f"Gateway {answers.envoy_host} unreachable: {exc}",
                           Failure.GATEWAY_UNREACHABLE)
    if reply.status == 401:
        return CheckResult(False, f"The gateway at {answers.envoy_host} refused the token:"
                           f" is {answers.serial} this gateway's serial?",
                           Failure.GATEWAY_REFUSED)
    if reply.status != 200:
        return CheckResult(False, f"The gateway answered HTTP {reply.status} on"
                           f" {GATEWAY_CHECK}", Failure.GATEWAY_UNREACHABLE)
    return _hardware(answers, info, gateway, progress)


def _get_json(answers: Answers, info: TokenInfo, gateway: Transport, path: str) -> object:
    """One authenticated GET, decoded; None for a 404 (firmware without that endpoint).

    Raises:
        TransportError: no answer.
        GatewayDataError: another status, or not JSON.
    """
    reply = gateway.request("GET", f"https://{answers.envoy_host}{path}", timeout=10.0, headers={
        "Authorization": f"Bearer {info.token}", "Accept": "application/json"})
    if reply.status == 404:
        return None
    if reply.status != 200:
        raise GatewayDataError(f"HTTP {reply.status} on {path}", path, reply.status)
    try:
        return json.loads(reply.text)
    except (ValueError, RecursionError):
        raise GatewayDataError(f"{path} did not answer JSON", path) from None


def _hardware(answers: Answers, info: TokenInfo, gateway: Transport,
              progress: Progress) -> CheckResult:
    """The backup hardware, and the grid signal the daemon will use (or why it refuses)."""
    progress("Reading the gateway's backup hardware")
    try:
        raw = _get_json(answers, info, gateway, INVENTORY)
        inventory = Inventory() if raw is None else Inventory.from_api(raw)
        try:
            found = _get_json(answers, info, gateway, SECCTRL)
            secctrl = None if found is None else SecCtrl.from_api(found)
        except GatewayDataError:
            secctrl = None
    except (TransportError, GatewayDataError) as exc:
        return CheckResult(False, f"Could not read the gateway's hardware: {exc}",
                           Failure.GATEWAY_UNREACHABLE)
    topology = Topology.detect(inventory, secctrl)
    choice = choose_signal(topology)
    if isinstance(choice, Refusal):
        why = str(choice)
        return CheckResult(False, f"{why[:1].upper()}{why[1:]}. enphase-setup does not set up"
                           " this gateway as a UPS.", Failure.HARDWARE)
    return CheckResult(True, f"gateway accepted the token ({info.describe(time.time())});"
                       f" found {topology.found()}: the grid state comes from"
                       f" {SIGNAL_NAMES[choice]}", token=info)


def check_credentials(answers: Answers, progress: Progress | None = None,
                      cloud: Transport | None = None,
                      gateway: Transport | None = None) -> CheckResult:
    """Validate the credentials live.

    Args:
        answers: host, serial, username/password or token, pinning, cloud URLs.
        progress: told each step as it starts ("Logging in to Enlighten", ...).
        cloud: the cloud transport (tests); defaults to a verified session.
        gateway: the gateway transport (tests); defaults to an unverified (or pinned) one.

    Returns:
        ok with the token, or the first failure.
    """
    say = progress or (lambda _step: None)
    own_cloud, own_gateway = cloud is None, gateway is None
    cloud = cloud or _cloud_transport(answers)
    gateway = gateway or _gateway_transport(answers)
    try:
        got = _token(answers, cloud, say)
        return _gateway(answers, got.token, gateway, say) if got.ok and got.token else got
    finally:
        if own_cloud:
            cloud.close()
        if own_gateway:
            gateway.close()
