"""Every config key, once: its kind, default, range, whether it is secret, and what it means.

The table drives config.py (what is read, and how), the key tables of docs/config.md (checked
by tests/test_configkeys.py; ``python -m enphase_monitor.configkeys docs/config.md`` rewrites
them) and the wizard's rules (wizard/rules.py takes ranges and patterns from here).
"""

from __future__ import annotations

import enum
import sys
from dataclasses import dataclass
from pathlib import Path

from .facts import ENVOY_HOST, LOGIN_URL, PASSWORD_CREDENTIAL, TOKEN_CREDENTIAL, TOKENS_URL

GRID_SIGNAL_AUTO = "auto"  # GRID_SIGNAL's default: chosen by the hardware found


class Kind(enum.StrEnum):
    """How a key's value is read (configvalues.Values has one reader per kind)."""

    TEXT = "text"  # as written (a password keeps its spaces)
    WORD = "word"  # spaces around it dropped
    INT = "int"  # a whole number in [low, high]; below low is raised to it
    FLAG = "flag"  # any value turns it on (as the seed)
    YES = "yes"  # facts.TRUE_WORDS turn it on
    HOST = "host"
    URL = "url"
    TOKEN = "token"
    FINGERPRINT = "fingerprint"
    CA_FILE = "ca-file"
    GRID_SIGNAL = "grid-signal"
    PATH = "path"  # resolved by paths.py
    DOCUMENT = "document"  # a TEST mode answer: JSON or XML that may span lines


@dataclass(frozen=True)
class Key:
    """One config key.

    Args:
        name: the key as written in the file.
        kind: how its value is read.
        default: the value when unset (an int for INT keys, text otherwise).
        doc: one line for docs/config.md.
        low, high: the range of an INT key.
        secret: its value is never shown in a message or the docs.
        seed: the seed reads it (docs list these first).
        field: the Config attribute ("": none of its own).
        shown: the default as docs/config.md shows it, when not just `default`.
    """

    name: str
    kind: Kind
    default: int | str
    doc: str
    low: int = 0
    high: int = 0
    secret: bool = False
    seed: bool = False
    field: str = ""
    shown: str = ""

    @property
    def int_default(self) -> int:
        """The default of an INT key."""
        return self.default if isinstance(self.default, int) else 0

    def docs_default(self) -> str:
        """The default column of docs/config.md (with the range of an INT key)."""
        shown = self.shown or (f"`{self.default}`" if self.default != "" else "empty")
        if self.kind is Kind.INT:
            return f"{shown} ({self.low} to {self.high})"
        return shown


def _int(name: str, default: int, low: int, high: int, doc: str, *, seed: bool = True,
         shown: str = "") -> Key:
    return Key(name, Kind.INT, default, doc, low, high, seed=seed, field=name.lower(),
               shown=shown or str(default))


def _test(name: str, doc: str, kind: Kind = Kind.DOCUMENT, secret: bool = False) -> Key:
    return Key(name, kind, "", f"TEST mode: {doc}", secret=secret, seed=True)


KEYS: tuple[Key, ...] = (
    Key("USERNAME", Kind.TEXT, "", "Enlighten login (e-mail)", seed=True, field="username",
        shown="required*"),
    Key("PASSWORD", Kind.TEXT, "", "Enlighten password (see credentials below for better"
        " places)", secret=True, seed=True, field="password", shown="required*"),
    Key("SERIAL", Kind.WORD, "", "gateway serial number (tokens are issued per serial)",
        seed=True, field="serial", shown="required"),
    Key("PORT_FILE", Kind.PATH, "", "the `port` of the ups.conf section; relative to"
        " `STATE_DIR` unless absolute", seed=True, shown="required"),
    Key("ENVOY_HOST", Kind.HOST, ENVOY_HOST, "gateway host name or IP, optionally `:port`;"
        " IPv6 as `[fe80::1]` or `[fe80::1]:443` (see below)", seed=True, field="envoy_host"),
    Key("STATE_DIR", Kind.PATH, "", "writable, not world-writable", seed=True,
        shown="`$NUT_LOCALSTATE`, `$NUT_STATEPATH`, `/var/lib/ups`"),
    Key("TOKEN_FILE", Kind.PATH, "enphase-<ups>.token", "token cache, relative to"
        " `STATE_DIR`; written 0600", seed=True),
    _int("POLLFREQ", 60, 5, 86400, "seconds between full polls when on line"),
    _int("POLLFREQALERT", 20, 5, 86400, "seconds between full polls on battery or without"
         " contact"),
    Key("DISABLE_METERS", Kind.FLAG, "", "any value: skip `/ivp/meters/reports` (power then"
        " comes from live data)", seed=True, field="disable_meters"),
    _int("LOADKWH", 768, 0, 100000, "max load (W) per kWh of battery, for `ups.load`; 0"
         " disables it"),
    _int("LOGIN_TIMEOUT", 10, 5, 300, "seconds for the whole of each cloud request (look-up,"
         " connect, TLS, answer)"),
    _int("API_TIMEOUT", 5, 2, 120, "seconds for the whole of each gateway request (one retry,"
         " with its own deadline, after a timeout)"),
    Key("UPS", Kind.WORD, "", "UPS name, when not given as an argument", seed=True,
        shown="from the command line"),
    _int("DEBUG", 0, 0, 9, "like `-d` repeated"),
    Key("ENPHASE_LOGIN", Kind.URL, LOGIN_URL, "Enlighten's login URL (tests point it at the"
        " simulator); `https://` only", seed=True, field="login_url"),
    Key("ENPHASE_TOKENS", Kind.URL, TOKENS_URL, "Entrez's token URL (tests point it at the"
        " simulator); `https://` only", seed=True, field="tokens_url"),
    Key("TEST", Kind.FLAG, "", "any value: the seed's TEST mode (answers from the TEST_ keys,"
        " no network)", seed=True, field="test"),
    _test("TEST_SESS", "the login's answer (JSON)", secret=True),
    _test("TEST_TOKEN", "the token (a JWT)", Kind.TOKEN, secret=True),
    _test("TEST_RELAY", "`/ivp/ensemble/relay` (JSON)"),
    _test("TEST_LIVE", "`/ivp/livedata/status` (JSON)"),
    _test("TEST_REPORTS", "`/ivp/meters/reports` (JSON)"),
    _test("TEST_SECCTRL", "`/ivp/ensemble/secctrl` (JSON)"),
    _test("TEST_INFO", "`/info.xml` (XML)"),
    _int("NOCOMMS_AFTER", 2, 1, 100, "consecutive failed polls before nocomms (1 in TEST mode"
         " when unset); 1 is the seed's behaviour", seed=False),
    _int("RELAY_CHECK", 5, 0, 3600, "seconds between light relay-only checks between full"
         " polls; 0 turns them off", seed=False),
    Key("GRID_SIGNAL", Kind.GRID_SIGNAL, GRID_SIGNAL_AUTO, "where the grid state comes from: `auto`"
        " chooses by the hardware found (IQ System Controller: its relay; IQ Meter Collar: the"
        " Collar) and refuses hardware that cannot tell an outage; `relay` or `collar` uses"
        " that signal whatever was found (see [hardware.md](hardware.md))",
        field="grid_signal"),
    _int("CONFIRM_DELAY", 3, 1, 60, "seconds before the confirming relay read when a first"
         " poll says off-grid", seed=False),
    Key("TOKEN", Kind.TOKEN, "", "a token obtained by hand (for MFA accounts); used as long as"
        " it is valid; letters, digits, `-`, `_` and two dots only", secret=True,
        field="token"),
    _int("TOKEN_WARN_DAYS", 14, 0, 365, "warn (daily) when a manual token expires within this"
         " many days", seed=False),
    Key("GATEWAY_FINGERPRINT", Kind.FINGERPRINT, "", "SHA-256 of the gateway's certificate"
        " (hex, colons allowed); when set, any other certificate is refused",
        field="gateway_fingerprint"),
    Key("CLOUD_CA_FILE", Kind.CA_FILE, "", "CA bundle (PEM) to verify the Enphase cloud with"
        " (the cloud is always verified); must load when the daemon starts",
        field="cloud_ca_file", shown="system CAs"),
    Key("PASSWORD_KEYRING", Kind.YES, "no", "`yes` (or `y`, `1`, `true`, `on`): read the"
        " password from the system keyring (service `enphase-monitor`, user `USERNAME`)",
        field="password_keyring", shown="no"),
    Key("PASSWORD_CREDENTIAL", Kind.WORD, PASSWORD_CREDENTIAL, "name of the systemd credential"
        " holding the password", field="password_credential"),
    Key("TOKEN_CREDENTIAL", Kind.WORD, TOKEN_CREDENTIAL, "name of the systemd credential"
        " holding a manual token", field="token_credential"),
)
BY_NAME = {key.name: key for key in KEYS}
KNOWN_KEYS = frozenset(BY_NAME)
SECRET_KEYS = frozenset(key.name for key in KEYS if key.secret)  # values never shown
TEST_KEYS = tuple(key.name for key in KEYS if key.name.startswith("TEST_"))
DOCUMENT_KEYS = frozenset(key.name for key in KEYS if key.kind is Kind.DOCUMENT)
FIELD_KEYS = tuple(key for key in KEYS if key.field)  # read straight into Config
PATH_KEYS = tuple(key.name for key in KEYS if key.kind is Kind.PATH)  # resolved by paths.py


def key(name: str) -> Key:
    """The key named `name` (KeyError: no such key)."""
    return BY_NAME[name]


def default_int(name: str) -> int:
    """The default of an INT key."""
    return BY_NAME[name].int_default


# --------------------------------------------------------------------------- docs/config.md

BEGIN = "<!-- keys: generated from enphase_monitor/configkeys.py -->"
END = "<!-- end of generated keys -->"
SEED_TITLE = "## Keys the seed reads (unchanged meaning)"
NEW_TITLE = "## New keys"


def _table(keys: list[Key]) -> str:
    rows = [f"| `{k.name}` | {k.docs_default()} | {k.doc} |" for k in keys]
    return "\n".join(["| key | default | meaning |", "|---|---|---|", *rows])


def docs_tables() -> str:
    """The key tables of docs/config.md, markers included."""
    seed = [k for k in KEYS if k.seed]
    new = [k for k in KEYS if not k.seed]
    return (f"{BEGIN}\n{SEED_TITLE}\n\n{_table(seed)}\n\n\\* not needed when a token is given"
            " (`TOKEN`, a token credential or a token file) or the password\ncomes from a"
            " credential or the keyring.\n\nValues below a minimum are raised to it with a"
            " warning (the seed does the same silently); a value\nthat is not a whole number,"
            f" or above its maximum, is an error naming the key.\n\n{NEW_TITLE}\n\n"
            f"{_table(new)}\n{END}")


def with_docs_tables(text: str) -> str:
    """`text` (docs/config.md) with its generated section replaced by `docs_tables()`.

    Raises:
        ValueError: the markers are missing.
    """
    start, end = text.find(BEGIN), text.find(END)
    if start < 0 or end < start:
        raise ValueError(f"the markers {BEGIN} ... {END} are missing")
    return text[:start] + docs_tables() + text[end + len(END):]


def main(argv: list[str]) -> int:
    """Rewrite the key tables of the docs file named in `argv` (docs/config.md)."""
    if len(argv) != 1:
        print("usage: python -m enphase_monitor.configkeys docs/config.md", file=sys.stderr)
        return 2
    path = Path(argv[0])
    path.write_text(with_docs_tables(path.read_text()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
