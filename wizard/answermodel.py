"""The answers of the flow: every field, where the secret goes, and the check the plan needs.

Reading them: the answers file (`answersfile.py`), the current files (`prefill.py`).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field, fields
from pathlib import PurePosixPath

from enphase_monitor.configkeys import default_int
from enphase_monitor.facts import ENVOY_HOST, LOGIN_URL, TOKENS_URL, credstore_file

from .facts import CREDSTORE, STATE_DIR, Facts
from .rules import answer_problem

CHARGE_LOW = "battery.charge.low"


class SecretStore(enum.StrEnum):
    """Where the Enlighten password (or a manual token) goes."""

    CREDENTIAL = "systemd-creds"
    KEYRING = "keyring"
    CONFIG = "config"


class AnswerError(ValueError):
    """An answer is missing or invalid; the message names it."""


@dataclass
class Answers:
    """Every answer of the flow; field names double as answers-file keys (upper case)."""

    ups: str = "ups"
    envoy_host: str = ENVOY_HOST
    serial: str = ""
    firmware: str = ""
    username: str = ""
    password: str = field(default="", repr=False)
    token: str = field(default="", repr=False)  # a manual token (MFA accounts)
    use_token: bool = False
    pin_certificate: bool = False
    gateway_fingerprint: str = ""
    charge_low: int = 20
    runtime_low: int = 0  # battery.runtime.low in seconds; 0: not used
    pollfreq: int = default_int("POLLFREQ")
    port_file: str = ""
    desc: str = ""
    secret_store: SecretStore = SecretStore.CONFIG
    keep_secret: bool = False  # re-run: the stored secret (credential, keyring) stays
    adopt_section: bool = False  # take over a ups.conf section enphase-setup did not make
    enphase_login: str = ""  # the cloud URLs: only for tests and the simulator
    enphase_tokens: str = ""
    cloud_ca_file: str = ""

    @property
    def port_path(self) -> PurePosixPath:
        """The port file (default: STATE_DIR/<ups>.dev)."""
        return PurePosixPath(self.port_file or str(STATE_DIR / f"{self.ups}.dev"))

    @property
    def state_dir(self) -> PurePosixPath:
        """STATE_DIR: the port file's directory (the token file goes there too)."""
        return self.port_path.parent

    @property
    def description(self) -> str:
        """`desc` for ups.conf."""
        return self.desc or f"Enphase IQ Gateway {self.serial}".strip()

    @property
    def login_url(self) -> str:
        """Enlighten's login URL (or the simulator's)."""
        return self.enphase_login or LOGIN_URL

    @property
    def tokens_url(self) -> str:
        """Entrez's token URL (or the simulator's)."""
        return self.enphase_tokens or TOKENS_URL

    def secret(self) -> str:
        """The secret that gets stored: the token on the manual path, else the password."""
        return self.token if self.use_token else self.password

    def check(self) -> None:
        """Validate the answers the plan needs: each by its rules, then what the flow needs.

        Raises:
            AnswerError: the first problem found, naming the answer.
        """
        for item in fields(self):
            value = getattr(self, item.name)
            problem = answer_problem(item.name, value if isinstance(value, str) else str(value))
            if problem:
                raise AnswerError(problem)
        missing = [
            (not self.serial.strip(), "SERIAL is needed (the gateway's serial number)"),
            (not self.use_token and not self.username, "USERNAME (Enlighten e-mail) is needed"),
            (not self.secret() and not self.keep_secret,
             "TOKEN is needed" if self.use_token else "PASSWORD is needed"),
        ]
        for bad, message in missing:
            if bad:
                raise AnswerError(message)


ANSWER_KEYS = tuple(f.name.upper() for f in fields(Answers))


def credential_path(ups: str, kind: str) -> PurePosixPath:
    """/etc/credstore.encrypted/enphase-monitor-<ups>.<kind> (kind: password or token)."""
    return CREDSTORE / credstore_file(ups, kind)


def default_store(facts: Facts) -> SecretStore:
    """A systemd credential where possible, else the config file."""
    return SecretStore.CREDENTIAL if facts.systemd.encrypted_credentials else SecretStore.CONFIG
