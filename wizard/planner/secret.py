"""Where the secret goes: the config keys that say so, systemd-creds or the daemon user's
keyring, and the token cache the live check filled."""

from __future__ import annotations

import time
from pathlib import Path, PurePosixPath

from enphase_monitor import paths
from enphase_monitor.errors import ConfigError, TokenError
from enphase_monitor.facts import PASSWORD_CREDENTIAL, TOKEN_CREDENTIAL, credstore_file
from enphase_monitor.tokeninfo import TokenInfo

from ..answermodel import Answers, SecretStore, credential_path
from ..changes import Change, DeleteFile, RunCommand
from ..facts import CREDSTORE, MIN_SYSTEMD_CREDS, Facts
from ..runner import cmd
from ..userkeyring import DELETE_SCRIPT, KEYRING_SERVICE, SET_SCRIPT, keyring_argv
from .context import Context, dir_change, file_change

# the config keys that say where the secret is (what a re-authentication rewrites)
SECRET_STORE_KEYS = ("PASSWORD", "TOKEN", "PASSWORD_KEYRING", "PASSWORD_CREDENTIAL",
                     "TOKEN_CREDENTIAL")
CREDENTIAL_NAMES = {"password": PASSWORD_CREDENTIAL, "token": TOKEN_CREDENTIAL}


def config_values(ans: Answers) -> dict[str, str | None]:
    """The config keys the wizard manages (None: the key is removed)."""
    store = ans.secret_store
    values: dict[str, str | None] = {
        "UPS": ans.ups,
        "USERNAME": ans.username or None,
        "SERIAL": ans.serial,
        "ENVOY_HOST": ans.envoy_host,
        "STATE_DIR": str(ans.state_dir),
        "PORT_FILE": str(ans.port_path),
        "POLLFREQ": str(ans.pollfreq),
        "GATEWAY_FINGERPRINT": ans.gateway_fingerprint if ans.pin_certificate else None,
        "ENPHASE_LOGIN": ans.enphase_login or None,
        "ENPHASE_TOKENS": ans.enphase_tokens or None,
        "CLOUD_CA_FILE": ans.cloud_ca_file or None,
    }
    values.update(secret_values(ans))
    if ans.keep_secret:
        for key in ("PASSWORD", "TOKEN"):
            values.pop(key, None)
    if store is SecretStore.CREDENTIAL and not ans.username:
        values.pop("USERNAME")
    return values


def secret_values(ans: Answers) -> dict[str, str | None]:
    """The config keys that say where the secret is."""
    store, token = ans.secret_store, ans.use_token
    in_config = store is SecretStore.CONFIG or (store is SecretStore.KEYRING and token)
    return {
        "PASSWORD": ans.password if in_config and not token else None,
        "TOKEN": ans.token if in_config and token else None,
        "PASSWORD_KEYRING": "yes" if store is SecretStore.KEYRING and not token else None,
        "PASSWORD_CREDENTIAL": PASSWORD_CREDENTIAL
        if store is SecretStore.CREDENTIAL and not token else None,
        "TOKEN_CREDENTIAL": TOKEN_CREDENTIAL if store is SecretStore.CREDENTIAL and token else None,
    }


def store_problem(ans: Answers, facts: Facts) -> str | None:
    """Why the secret cannot go where the answers say (None: it can)."""
    store = ans.secret_store
    if store is SecretStore.CREDENTIAL and not facts.systemd.encrypted_credentials:
        version = facts.systemd.version
        found = f"this host has {version}" if version else "systemd not found"
        return (f"SECRET_STORE=systemd-creds needs systemd {MIN_SYSTEMD_CREDS} or later with"
                f" systemd-creds ({found}): choose keyring or config")
    if store is SecretStore.KEYRING and ans.use_token:
        return ("SECRET_STORE=keyring holds only a password (the daemon reads no token from it):"
                " choose systemd-creds or config")
    if store is SecretStore.KEYRING and not ans.keep_secret and not facts.keyring().usable:
        return f"SECRET_STORE=keyring: {facts.keyring().note}"
    return None


def secret_changes(ans: Answers, ctx: Context) -> list[Change]:
    """Store the secret: systemd-creds encrypt, or the daemon user's keyring (config: none)."""
    changes: list[Change | None] = []
    kind = "token" if ans.use_token else "password"
    for other in CREDENTIAL_NAMES:
        stale = credential_path(ans.ups, other)
        leaving = ans.secret_store is not SecretStore.CREDENTIAL or other != kind
        if leaving and ctx.system.exists(stale):
            changes.append(DeleteFile(stale, "credential no longer used"))
    if ans.keep_secret:
        return [c for c in changes if c is not None]
    if ans.secret_store is SecretStore.CREDENTIAL:
        path = credential_path(ans.ups, kind)
        name = CREDENTIAL_NAMES[kind]
        changes.append(dir_change(ctx, CREDSTORE, 0o700, ("root", "root"),
                                  "systemd's encrypted credential store"))
        changes.append(RunCommand(
            cmd("systemd-creds", "encrypt", f"--name={name}", "-", str(path),
                stdin=ans.secret()),
            why=f"encrypt the {kind} for this host; the unit loads it from the credential"
                f" store (LoadCredentialEncrypted={name}:{credstore_file('%i', kind)})",
            writes=path, mode=0o600, name=f"Encrypt the {kind} with systemd-creds"))
    elif ans.secret_store is SecretStore.KEYRING and not ans.use_token:
        user = ctx.nut.user
        changes.append(RunCommand(
            cmd(*keyring_argv(user, SET_SCRIPT, KEYRING_SERVICE, ans.username),
                stdin=ans.password),
            why=f"store the password in user {user}'s keyring (service {KEYRING_SERVICE})",
            undo=cmd(*keyring_argv(user, DELETE_SCRIPT, KEYRING_SERVICE, ans.username)),
            name=f"Store the password in {user}'s keyring"))
    return [c for c in changes if c is not None]


def cached_token_good(text: str | None, ans: Answers, now: float) -> bool:
    """The token cache holds a token for this gateway and account, far from its renewal."""
    try:
        info = TokenInfo.parse(text or "")
    except TokenError:
        return False
    if info.serial and info.serial != ans.serial:
        return False
    if info.username and ans.username and info.username != ans.username:
        return False
    return info.remaining(now) > info.renew_margin


def token_path(ans: Answers, ctx: Context) -> PurePosixPath:
    """The token cache the daemon reads once the config is written: the config's TOKEN_FILE
    (the edit keeps it) under the new STATE_DIR, by the daemon's rule (enphase_monitor.paths)."""
    kept = ctx.existing.values.get("TOKEN_FILE", "") if ctx.existing.ups == ans.ups else ""
    try:
        return PurePosixPath(paths.token_file(kept, ans.ups, Path(ans.state_dir)))
    except ConfigError:  # a `~user` without a home: the daemon refuses that config
        return PurePosixPath(paths.token_file("", ans.ups, Path(ans.state_dir)))


def token_change(ans: Answers, ctx: Context, token: TokenInfo | None) -> Change | None:
    """Save the token the live check fetched, so the daemon starts without a cloud login.

    A cached token that is still good is kept (the daemon renews it itself): with the same
    answers the plan stays empty.
    """
    if token is None or ans.use_token:
        return None
    path = token_path(ans, ctx)
    now = time.time()
    old = ctx.system.read_text(path)
    if old is not None and cached_token_good(old, ans, now):
        return file_change(ctx, path, old, mode=0o600, owner=ctx.daemon, secret=True,
                           purpose="token cache (kept: still good)")
    return file_change(ctx, path, token.token, mode=0o600, owner=ctx.daemon, secret=True,
                       purpose=f"token cache: {token.describe(now)}")
