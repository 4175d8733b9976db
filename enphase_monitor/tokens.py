"""The token manager: hands the gateway client a valid token (manual, cached or from the cloud),
renewed before expiry, under the renewal policy (renewal.py)."""

from __future__ import annotations

import enum
import logging
import time
from collections.abc import Callable

from . import credentials
from .config import Config
from .credentials import Secret
from .enlighten import EnlightenClient
from .errors import AuthError, BackoffActive, Cancelled, TokenError
from .logsetup import REDACTOR, SECRETS
from .renewal import Renewal
from .tokencache import TokenCache
from .tokeninfo import DAY, TokenInfo

log = logging.getLogger(__name__)

CLOCK_SKEW_S = DAY  # a new token issued this long "ago" means this host's clock is wrong


class Origin(enum.Enum):
    """Where the current token came from."""

    MANUAL = "manual"  # TOKEN= or a systemd credential: the user renews it
    CACHE = "cache"  # the token file
    CLOUD = "cloud"  # fetched in this process


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
        self.renewal = Renewal(monotonic)  # every wait: monotonic
        self.random_expiry = random_expiry
        self.cache = TokenCache(config.token_file)
        self.current: TokenInfo | None = None
        self.origin: Origin | None = None
        self.source = ""  # where the current token came from, for messages
        self._rejected: set[str] = set()
        self._refused = False  # the gateway refused the current token; kept until a new one
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
        if cur is not None and self.origin is Origin.MANUAL:
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
        self.renewal.gateway_accepted()

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
        can_fetch = self._password() is not None and self.renewal.allowed()
        if not self.renewal.gateway_refused(can_fetch):
            # no new token now: keep sending this one, the gateway may take it again
            self._refused = True
            return
        self._rejected.add(cur.token)
        self.current = None

    def _after_refusal(self, cur: TokenInfo, now: float) -> str:
        """The token to send while the current one is refused: a new one once allowed."""
        if not self.renewal.ready() or self._password() is None:
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
                self._use(info, Origin.MANUAL, manual.source)
                log.debug("using %s", self.describe())
                return
        cached = self.cache.load()
        if self._usable(cached, now):
            assert cached is not None
            self._use(cached, Origin.CACHE, f"token file {self.cache.path}")
            log.debug("loaded token from %s", self.cache.path)

    def _use(self, info: TokenInfo, origin: Origin, source: str) -> None:
        self.current, self.origin, self.source = info, origin, source
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

    def _renew(self, now: float) -> TokenInfo:
        self.renewal.ensure_allowed()
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
        except AuthError as exc:
            self.renewal.failed(exc)
            raise
        if info.remaining(now) <= 0:
            self.renewal.back_off()
            raise TokenError(_expired_why(info, now, self.config.serial))
        self.renewal.succeeded()
        self._use(info, Origin.CLOUD, "Enlighten login")
        self.cache.save(info)
        log.info("new %s", self.describe())
        return info


def _expired_why(info: TokenInfo, now: float, serial: str) -> str:
    """Why a token fresh from the cloud looks expired: this host's clock, or the serial."""
    if info.issued is not None and now - info.issued > CLOCK_SKEW_S:
        return (f"the new token looks expired: this host's clock is {(now - info.issued) / DAY:.0f}"
                " days ahead of the Enphase cloud's: set the clock right (NTP)")
    return f"the new token is already expired: verify SERIAL {serial}"
