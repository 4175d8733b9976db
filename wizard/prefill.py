"""Answers prefilled from the current files: a re-run is an edit of what is set up."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field, replace
from pathlib import Path, PurePosixPath

from enphase_monitor import paths
from enphase_monitor.errors import ConfigError
from enphase_monitor.facts import is_true
from enphase_monitor.nutvars import RUNTIME_LOW
from enphase_monitor.portfile import PortContent

from . import daemonconf
from .answermodel import CHARGE_LOW, Answers, SecretStore, credential_path
from .facts import Facts
from .nutconf import UpsConf
from .system import System


@dataclass(frozen=True)
class Existing:
    """What is already set up for one UPS (empty when nothing)."""

    ups: str
    config_text: str | None = None
    section: dict[str, str] = field(default_factory=dict)
    port_text: str | None = None
    daemon: paths.DaemonPaths | None = None  # the files the daemon writes for this config
    config_problem: daemonconf.Problem | None = None  # the daemon refuses the config as it is
    section_port: PurePosixPath | None = None  # the file the section's driver reads

    @property
    def port_file(self) -> PurePosixPath | None:
        """The port file the daemon writes (None: not known)."""
        found = self.daemon.port_file if self.daemon is not None else None
        return None if found is None else PurePosixPath(found)

    @property
    def owns_section(self) -> bool:
        """The config is the section's set-up: its daemon writes the port the section's driver
        reads (not so a config kept by --remove when the user's own section went back)."""
        port, section = self.port_file, self.section_port
        return self.configured and (port is None or section is None or port == section)

    @property
    def token_file(self) -> PurePosixPath | None:
        """The token cache the daemon keeps (None: not known)."""
        return None if self.daemon is None else PurePosixPath(self.daemon.token_file)

    @property
    def configured(self) -> bool:
        """A config file exists for this UPS."""
        return self.config_text is not None

    @property
    def values(self) -> dict[str, str]:
        """The config's assignments."""
        return daemonconf.read_values(self.config_text)


def existing_upses(system: System, facts: Facts) -> list[str]:
    """UPS names with an enphase-<ups>.conf in the NUT dir (managed ones: undo.managed_upses)."""
    names = (paths.ups_of_config(name) for name in system.list_dir(facts.nut.confdir))
    return [ups for ups in names if ups is not None]


def daemon_paths(values: dict[str, str], section: dict[str, str], ups: str,
                 system: System, facts: Facts) -> paths.DaemonPaths | None:
    """The daemon's files for a config's `values` (enphase_monitor.paths: the daemon's rules).

    Without PORT_FILE the port is the ups.conf section's, as dummy-ups reads it. None when
    there is neither a config nor a section, or a path names a `~user` without a home.
    """
    if not values and not section:
        return None
    try:
        found = paths.DaemonPaths.of(values, ups, system.env)
    except ConfigError:
        return None
    port = section.get("port", "")
    if found.port_file is None and port:
        found = replace(found, port_file=paths.driver_port(port, Path(facts.nut.confdir)))
    return found


def load_existing(system: System, facts: Facts, ups: str) -> Existing:
    """Read the current files for `ups` (config, ups.conf section, port file)."""
    config_path = facts.nut.config_file(ups)
    found_config = system.read_file(config_path)
    config = None if found_config is None else found_config.data.decode("utf-8",
                                                                         "surrogateescape")
    daemon_user = system.accounts.user(facts.nut.user)
    problem = None if found_config is None else daemonconf.file_problem(
        config_path, found_config.meta, system.path(config_path.parent),
        None if daemon_user is None else daemon_user.uid)
    conf = UpsConf(system.read_text(facts.nut.ups_conf) or "")
    found = conf.section(ups)
    section = dict(found.settings) if found else {}
    daemon = daemon_paths(daemonconf.read_values(config), section, ups, system, facts)
    given = section.get("port", "")
    driver = PurePosixPath(paths.driver_port(given, Path(facts.nut.confdir))) if given else None
    existing = Existing(ups, config, section, None, daemon, problem, driver)
    port = existing.port_file
    port_text = system.read_text(port) if port else None
    if port and port_text is None:
        port_text = system.read_text(PurePosixPath(paths.nocomms_file(Path(port))))
    return replace(existing, port_text=port_text)


def _port_number(port_text: str | None, variable: str) -> int | None:
    """A whole number from the port file's `variable` line (the last one, as dummy-ups reads
    the file: enphase_monitor.portfile), None when absent or not a number."""
    value = PortContent.parse(port_text or "").values.get(variable)
    if not value:
        return None
    try:
        return int(float(value))
    except (ValueError, OverflowError):  # not a number, nan, inf
        return None


def prefill(existing: Existing, facts: Facts, base: Answers | None = None) -> Answers:
    """Answers taken from the current files (a re-run is an edit)."""
    ans = replace(base) if base is not None else Answers()
    ans.ups = existing.ups
    if not existing.configured and not existing.section:
        return ans
    v = existing.values
    ans.envoy_host = v.get("ENVOY_HOST") or ans.envoy_host
    ans.serial = v.get("SERIAL") or ans.serial
    ans.username = v.get("USERNAME") or ans.username
    ans.password = v.get("PASSWORD") or ans.password
    ans.token = v.get("TOKEN") or ans.token
    ans.use_token = bool(v.get("TOKEN")) and not v.get("USERNAME")
    ans.gateway_fingerprint = v.get("GATEWAY_FINGERPRINT") or ""
    ans.pin_certificate = bool(ans.gateway_fingerprint)
    with contextlib.suppress(ValueError):
        ans.pollfreq = int(v.get("POLLFREQ") or ans.pollfreq)
    ans.enphase_login = v.get("ENPHASE_LOGIN", "")
    ans.enphase_tokens = v.get("ENPHASE_TOKENS", "")
    ans.cloud_ca_file = v.get("CLOUD_CA_FILE", "")
    if existing.port_file is not None:
        ans.port_file = str(existing.port_file)
    ans.desc = existing.section.get("desc", "")
    low = _port_number(existing.port_text, CHARGE_LOW)
    ans.charge_low = ans.charge_low if low is None else low
    ans.runtime_low = _port_number(existing.port_text, RUNTIME_LOW) or 0
    stored = [credential_path(existing.ups, kind) for kind in ("password", "token")]
    if facts.system.exists(stored[1]) and not v.get("PASSWORD"):
        ans.use_token = True
    if any(facts.system.exists(path) for path in stored):
        ans.secret_store = SecretStore.CREDENTIAL
    elif is_true(v.get("PASSWORD_KEYRING", "")):
        ans.secret_store = SecretStore.KEYRING
    else:
        ans.secret_store = SecretStore.CONFIG
    ans.keep_secret = not ans.secret() and ans.secret_store is not SecretStore.CONFIG
    return ans
