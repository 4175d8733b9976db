"""The facts of the outside world, defined once for the daemon, the wizard and the simulator.

The gateway's endpoints and wire values (docs/hardware.md), Enphase's cloud, the names
of the credentials and the keyring entry the packaged unit and the wizard agree on, the rule
for a UPS name (NUT's section names) and the words that mean "yes" in a config. The config's
keys with their defaults and ranges are in configkeys.py; where files go is in paths.py.
"""

from __future__ import annotations

import enum
import re

# --------------------------------------------------------------------------- the gateway

INFO = "/info.xml"  # serial and firmware, no token needed
INFO_LEGACY = "/info"  # the same on older firmware
CHECK_JWT = "/auth/check_jwt"
RELAY = "/ivp/ensemble/relay"
LIVEDATA = "/ivp/livedata/status"
SECCTRL = "/ivp/ensemble/secctrl"
INVENTORY = "/ivp/ensemble/inventory"
REPORTS = "/ivp/meters/reports"
METERS = "/ivp/meters"
DATA_ENDPOINTS = (RELAY, LIVEDATA, SECCTRL, REPORTS, METERS, INVENTORY)  # need a token


class CtKind(enum.StrEnum):
    """A CT's `reportType` in /ivp/meters/reports (`measurementType` in /ivp/meters)."""

    PRODUCTION = "production"
    NET = "net-consumption"
    TOTAL = "total-consumption"
    STORAGE = "storage"


class RelayState(enum.StrEnum):
    """The relay's `mains_oper_state`: closed is on grid; every `open...` value is off grid."""

    CLOSED = "closed"
    OPEN = "open"


# --------------------------------------------------------------------------- the cloud

LOGIN_URL = "https://enlighten.enphaseenergy.com/login/login.json?"
TOKENS_URL = "https://entrez.enphaseenergy.com/tokens"
ENVOY_HOST = "envoy.local"  # the gateway's mDNS name

# --------------------------------------------------------------------------- credentials

PASSWORD_CREDENTIAL = "enphase-password"  # systemd credential names the unit loads
TOKEN_CREDENTIAL = "enphase-token"
KEYRING_SERVICE = "enphase-monitor"  # keyring service; the user name is USERNAME
CREDSTORE_FILE = "enphase-monitor-{ups}.{kind}"  # in the credential store; kind: password, token


def credstore_file(ups: str, kind: str) -> str:
    """The credential store's file of one UPS's secret (`ups` "%i" in a unit)."""
    return CREDSTORE_FILE.format(ups=ups, kind=kind)

# --------------------------------------------------------------------------- config words

UPS_NAME = re.compile(r"[A-Za-z0-9_.\-]+")
UPS_NAME_RULE = "letters, digits, '_', '-' and '.' only"
TRUE_WORDS = frozenset({"1", "yes", "y", "true", "on"})
FALSE_WORDS = frozenset({"0", "no", "n", "false", "off"})


def is_true(text: str) -> bool:
    """A config's or answer's yes (`TRUE_WORDS`, any case, spaces around ignored)."""
    return text.strip().lower() in TRUE_WORDS
