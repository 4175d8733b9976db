"""Cloud login, token fetch, JWT expiry, the token cache file and the renewal policy."""

from __future__ import annotations

import contextlib
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from . import credentials
from .backoff import Backoff
from .config import Config, check_dir_perms, check_secret
from .credentials import Secret
from .errors import (
    AuthError,
    BackoffActive,
    Cancelled,
    CloudCancelled,
    CloudError,
    ConfigError,
    Failure,
    FileTooLarge,
    LoginError,
    MfaRequiredError,
    MonitorError,
    TokenError,
    UnsafeFileError,
)
from .fileutil import atomic_write, read_regular
from .httplimits import decode_json
from .jwtpayload import jwt_payload
from .logsetup import REDACTOR, SECRETS
from .transport import Transport, TransportError

log = logging.getLogger(__name__)

DAY = 86400.0
RENEW_BEFORE_MAX = 30 * DAY  # Home Assistant's threshold for year-long owner tokens
RENEW_BEFORE_MIN = 3600.0
BACKOFF_S = (120.0, 600.0, 1800.0, 3600.0)  # at most about four cloud attempts an hour
BAD_LOGIN_WAIT_S = 3600.0
CLOCK_SKEW_S = DAY  # a new token issued this long "ago" means this host's clock is wrong
TOKEN_FILE_MAX = 16 * 1024  # a gateway JWT is ~1 KiB


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None


@dataclass(frozen=True)
class TokenInfo:
    """A gateway token (JWT) and what its payload says."""

    token: str = field(repr=False)
    expires: float
    issued: float | None = None
    user_type: str | None = None
    serial: str | None = None
    username: str | None = None

    @classmethod
    def parse(cls, token: str) -> TokenInfo:
        """Read the payload without checking the signature (the gateway does that).

        Raises:
            TokenError: not a JWT (shape or alphabet: a line break, a space...), or no
                numeric `exp`. The message never shows the token.
        """
        token = token.strip()
        payload = jwt_payload(token)
        exp = _number(payload.get("exp"))
        if exp is None:
            raise TokenError("token payload has no expiry (exp)")
        iat = payload.get("iat")
        aud = payload.get("aud")
        return cls(
            token=token,
            expires=float(exp),
            issued=_number(iat),
            user_type=str(payload["enphaseUser"]) if payload.get("enphaseUser") else None,
            serial=str(aud) if isinstance(aud, str | int) and not isinstance(aud, bool) else None,
            username=str(payload["username"]) if payload.get("username") else None,
        )

    def remaining(self, now: float) -> float:
        """Seconds until expiry (negative once expired)."""
        return self.expires - now

    @property
    def renew_margin(self) -> float:
        """Renew this long before expiry: a quarter of the lifetime, between 1 h and 30 days."""
        if self.issued is None or self.expires <= self.issued:
            return RENEW_BEFORE_MAX if self.user_type == "owner" else RENEW_BEFORE_MIN
        return min(RENEW_BEFORE_MAX, max(RENEW_BEFORE_MIN, (self.expires - self.issued) / 4))

    def describe(self, now: float) -> str:
        """`owner token, expires in 212.4 days` (no secret)."""
        left = self.remaining(now)
        days = abs(left) / DAY
        when = f"expired {days:.1f} days ago" if left <= 0 else f"expires in {days:.1f} days"
        return f"{self.user_type or 'unknown'} token, {when}"


class EnlightenClient:
    """The two cloud calls: login (session id) and token (JWT for one gateway)."""

    def __init__(self, transport: Transport, login_url: str, tokens_url: str, timeout: float):
        self.transport = transport
        self.login_url = login_url
        self.tokens_url = tokens_url
        self.timeout = timeout

    def login(self, username: str, password: str) -> str:
        """Log in and return the session id.

        Raises:
            LoginError: wrong e-mail or password.
            MfaRequiredError: the account answers with a one-time-code challenge.
            CloudError: the cloud is unreachable or failing.
        """
        try:
            reply = self.transport.request(
                "POST", self.login_url, timeout=self.timeout,
                headers={"Accept": "application/json"},
                data={"user[email]": username, "user[password]": password},
            )
        except TransportError as exc:
            raise _cloud_error("Enlighten login", exc) from None
        if reply.status in (401, 403):
            raise LoginError(
                f"Enlighten login refused for user {username}: check USERNAME and PASSWORD"
            )
        if reply.status != 200:
            raise CloudError(f"Enlighten login answered HTTP {reply.status}", reply.status)
        try:
            body = decode_json(reply.data)
        except ValueError as exc:
            raise CloudError(f"Enlighten login answered with something other than JSON"
                             f" ({exc})") from None
        session = body.get("session_id") if isinstance(body, dict) else None
        if isinstance(session, str) and session:
            return session
        if isinstance(body, dict) and body.get("success") is False:
            raise LoginError(f"Enlighten login refused for user {username}: {body.get('message')}")
        raise MfaRequiredError(
            f"Enlighten account {username} uses multi-factor authentication, so no token can be"
            " fetched automatically: get a token on Enphase's token web page and set TOKEN= in"
            " the config (or put it in the token file)"
        )

    def fetch_token(self, session_id: str, serial: str, username: str) -> str:
        """Exchange a session for a gateway token.

        Raises:
            TokenError: the cloud refused (usually: the serial is not on this account).
            CloudError: the cloud is unreachable or failing.
        """
        try:
            reply = self.transport.request(
                "POST", self.tokens_url, timeout=self.timeout,
                json_body={"session_id": session_id, "serial_num": serial, "username": username},
            )
        except TransportError as exc:
            raise _cloud_error("Enlighten token service", exc) from None
        if reply.status >= 500:
            raise CloudError(f"Enlighten token service answered HTTP {reply.status}", reply.status)
        if reply.status != 200 or not reply.text.strip():
            raise TokenError(
                f"failed to get a token for user {username}, serial {serial}"
                f" (HTTP {reply.status}): check SERIAL is this account's gateway"
            )
        return reply.text.strip()


def _cloud_error(what: str, exc: TransportError) -> AuthError:
    """A cancelled request is no cloud failure (no back-off); anything else is."""
    if exc.kind is Failure.CANCELLED:
        return CloudCancelled(f"{what}: {exc}")
    return CloudError(f"{what} unreachable: {exc}", exc.status)


class TokenCache:
    """The token file in STATE_DIR (0600, written atomically)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> TokenInfo | None:
        """The cached token, or None if absent or unusable.

        Raises:
            InsecureFileError: another user could read or change the file (as the seed: refuse
                to go on); ConfigError: a symlink or not a regular file.
        """
        try:
            found = read_regular(self.path, TOKEN_FILE_MAX, "token file")
        except FileNotFoundError:
            return None
        except FileTooLarge as exc:
            log.warning("%s: getting a new token", exc)
            return None
        except UnsafeFileError as exc:
            raise ConfigError(str(exc)) from None
        except OSError as exc:
            log.warning("token file %s unreadable (%s): getting a new token", self.path,
                        exc.strerror)
            return None
        check_secret("token file", self.path, found.meta)
        check_dir_perms("token file", self.path.parent)
        try:
            text = found.data.decode("utf-8").strip()
        except UnicodeDecodeError:
            log.warning("token file %s is not text: getting a new token", self.path)
            return None
        if not text:
            return None
        try:
            return TokenInfo.parse(text)
        except TokenError as exc:
            log.warning("token file %s is corrupt (%s): getting a new token", self.path, exc)
            return None

    def save(self, info: TokenInfo) -> None:
        """Store a new token; a failure is logged, the token is still used."""
        try:
            check_dir_perms("token", self.path.parent)
            atomic_write(self.path, info.token.encode(), mode=0o600, error=AuthError)
            log.info("saved new token to %s", self.path)
        except MonitorError as exc:
            log.warning("token not cached: %s", exc)

    def remove(self) -> None:
        with contextlib.suppress(OSError):
            self.path.unlink()


class TokenManager:
    """Hands out a valid gateway token: manual, cached or fresh from the cloud.

    Renews well before expiry; after a 401 from the gateway gets a new token once, then backs
    off; backs off on cloud failures so that the account is never locked out.
    """

    def __init__(
        self,
        config: Config,
        cloud: EnlightenClient,
        clock: Callable[[], float] = time.time,
        random_expiry: Callable[[], bool] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.config = config
        self.cloud = cloud
        self.clock = clock  # the wall clock: only to compare with a token's `exp`
        self.backoff = Backoff(BACKOFF_S, monotonic)  # every wait: monotonic
        self.random_expiry = random_expiry
        self.cache = TokenCache(config.token_file)
        self.current: TokenInfo | None = None
        self.source = ""
        self.fresh = False  # current came from the cloud in this process
        self._rejected: set[str] = set()
        self._retried_401 = False
        self._refused = False  # the gateway refused the current token; kept until a new one
        self._mfa: MfaRequiredError | None = None
        self._warned_day = -1

    # -- the public surface -------------------------------------------------------------
    def token(self) -> str:
        """A token to send to the gateway.

        Raises:
            AuthError: no valid token and none can be had now (the message says why).
        """
        now = self.clock()
        if self.current is not None and self.random_expiry is not None and self.random_expiry():
            log.info("TEST: randomly expiring the token")
            self.current = None
            return self._renew(now).token
        if self.current is None or self.current.remaining(now) <= 0:
            self._pick_stored(now)
        cur = self.current
        if self._refused and cur is not None and cur.remaining(now) > 0:
            return self._after_refusal(cur, now)
        manual = cur is not None and self.source.startswith(("TOKEN", "systemd"))
        if cur is not None and manual:
            self._warn_manual(cur, now)
        if cur is not None and cur.remaining(now) > cur.renew_margin:
            return cur.token
        try:  # a hung keyring (KeyringTimeout) fails the renewal, not a valid token
            if cur is not None and cur.remaining(now) > 0 and self._password() is None:
                self._warn_manual(cur, now)  # nothing to renew with: a daily warning, no retries
                return cur.token
            return self._renew(now).token
        except AuthError as exc:
            if cur is not None and cur.remaining(now) > 0:
                if not isinstance(exc, BackoffActive | Cancelled):
                    log.warning("token renewal failed, still using the current one: %s", exc)
                return cur.token
            raise

    def accepted(self) -> None:
        """The gateway took the current token."""
        self._refused = False
        if self._retried_401:
            self._retried_401 = False
            self.backoff.reset()

    def unauthorized(self) -> None:
        """The gateway answered 401.

        The first time, the token is dropped and a new one may be fetched at once. If the new
        one is refused too (or none can be had), it is kept and sent again at each poll, so a
        gateway that refused it for a moment (while booting, say) is back at once, while the
        cloud is asked again only after a back-off.
        """
        cur = self.current
        if cur is None:
            return
        log.warning("gateway refused the token from %s (HTTP 401)", self.source or "?")
        has_password = self._password() is not None
        can_renew = has_password and self._mfa is None and self.backoff.ready()
        if self._retried_401 or not can_renew:
            # no new token now: keep sending this one, the gateway may take it again
            self._refused = True
            if can_renew:
                self._back_off()
            return
        self._rejected.add(cur.token)
        self.current = None
        self._retried_401 = True

    def _after_refusal(self, cur: TokenInfo, now: float) -> str:
        """The token to send while the current one is refused: a new one once allowed."""
        if not self.backoff.ready() or self._password() is None:
            return cur.token
        try:
            return self._renew(now).token
        except AuthError as exc:
            log.warning("no new token (%s): sending the refused one again", exc)
            return cur.token

    def describe(self) -> str:
        """Where the token comes from and when it expires (no secret)."""
        if self.current is None:
            return "no token yet"
        return f"{self.current.describe(self.clock())} (from {self.source})"

    # -- the policy -----------------------------------------------------------------------
    def _usable(self, info: TokenInfo | None, now: float) -> bool:
        if info is None or info.token in self._rejected or info.remaining(now) <= 0:
            return False
        if info.serial and self.config.serial and info.serial != self.config.serial:
            log.warning("token is for gateway %s, not SERIAL %s: not using it", info.serial,
                        self.config.serial)
            return False
        return True

    def _pick_stored(self, now: float) -> None:
        self.current = None
        manual = credentials.manual_token(self.config)
        if manual is not None:
            try:
                info = TokenInfo.parse(manual.value)
            except TokenError as exc:
                raise TokenError(f"{manual.source}: {exc}") from None
            if info.remaining(now) <= 0 and self._password() is None:
                raise TokenError(
                    f"{manual.source} expired {-info.remaining(now) / DAY:.1f} days ago:"
                    " get a new token from Enphase and replace it"
                )
            if self._usable(info, now):
                self._use(info, manual.source)
                log.debug("using %s", self.describe())
                return
        cached = self.cache.load()
        if self._usable(cached, now):
            assert cached is not None
            self._use(cached, f"token file {self.cache.path}")
            log.debug("loaded token from %s", self.cache.path)

    def _use(self, info: TokenInfo, source: str, fresh: bool = False) -> None:
        self.current, self.source, self.fresh = info, source, fresh
        self._refused = False
        REDACTOR.add(info.token, token=True)
        log.log(SECRETS, "token from %s: %s", source, info.token)

    def _password(self) -> Secret | None:
        return credentials.password(self.config)

    def _warn_manual(self, info: TokenInfo, now: float) -> None:
        left_days = info.remaining(now) / DAY
        day = int(now // DAY)
        if left_days < self.config.token_warn_days and day != self._warned_day:
            self._warned_day = day
            log.warning("the token from %s expires in %.1f days: get a new one before then",
                        self.source, left_days)

    def _back_off(self) -> None:
        log.warning("next token attempt in %d s", int(self.backoff.fail()))

    def _renew(self, now: float) -> TokenInfo:
        if self._mfa is not None:
            raise self._mfa
        if not self.backoff.ready():
            left = self.backoff.remaining()
            raise BackoffActive(f"no valid token; next cloud attempt in {int(left)} s", left)
        secret = self._password()
        if secret is None or not self.config.username:
            raise TokenError(
                "no valid token and no password to get one: set USERNAME and PASSWORD (or a"
                " credential), or TOKEN= with a token from Enphase"
            )
        log.info("getting a new token from Enlighten for %s", self.config.username)
        try:
            return self._fetch(secret, now)
        finally:
            self.cloud.transport.close()  # months until the next use: no idle connection kept

    def _fetch(self, secret: Secret, now: float) -> TokenInfo:
        try:
            session = self.cloud.login(self.config.username, secret.value)
            info = TokenInfo.parse(self.cloud.fetch_token(session, self.config.serial,
                                                          self.config.username))
        except MfaRequiredError as exc:
            self._mfa = exc
            raise
        except LoginError:
            self.backoff.hold(BAD_LOGIN_WAIT_S)
            raise
        except (CloudError, TokenError):
            self._back_off()
            raise
        if info.remaining(now) <= 0:
            self._back_off()
            raise TokenError(_expired_why(info, now, self.config.serial))
        if self._retried_401:  # after a 401, only the gateway's acceptance resets the count
            self.backoff.clear()
        else:
            self.backoff.reset()
        self._use(info, "Enlighten login", fresh=True)
        self.cache.save(info)
        log.info("new %s", self.describe())
        return info


def _expired_why(info: TokenInfo, now: float, serial: str) -> str:
    """Why a token fresh from the cloud looks expired: this host's clock, or the serial."""
    if info.issued is not None and now - info.issued > CLOCK_SKEW_S:
        return (f"the new token looks expired: this host's clock is {(now - info.issued) / DAY:.0f}"
                " days ahead of the Enphase cloud's: set the clock right (NTP)")
    return f"the new token is already expired: verify SERIAL {serial}"
