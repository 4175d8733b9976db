"""When the cloud may be asked for a new token: the policy that keeps the account from lock-out.

Timed on the monotonic clock (backoff.py): a wall-clock jump neither cuts a wait short nor
stretches it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from .backoff import Backoff
from .errors import BackoffActive, CloudError, LoginError, MfaRequiredError, TokenError

log = logging.getLogger(__name__)

BACKOFF_S = (120.0, 600.0, 1800.0, 3600.0)  # at most about four cloud attempts an hour
BAD_LOGIN_WAIT_S = 3600.0


class Renewal:
    """Back off after cloud failures, wait an hour after a refused login, stop for good after a
    multi-factor challenge; after a gateway 401, one new token at once, then back off.

    Args:
        clock: a monotonic clock in seconds (tests pass their own).
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.backoff = Backoff(BACKOFF_S, clock)
        self.mfa: MfaRequiredError | None = None  # the account needs a one-time code: final
        self.retried_401 = False  # a new token was fetched after a 401; the gateway's word due

    def ready(self) -> bool:
        """No back-off is running."""
        return self.backoff.ready()

    def allowed(self) -> bool:
        """The cloud may be asked now."""
        return self.mfa is None and self.backoff.ready()

    def ensure_allowed(self) -> None:
        """Raise unless the cloud may be asked now.

        Raises:
            MfaRequiredError: the account asked for a one-time code (no automatic token).
            BackoffActive: a back-off is running (the message says for how long).
        """
        if self.mfa is not None:
            raise self.mfa
        if not self.backoff.ready():
            left = self.backoff.remaining()
            raise BackoffActive(f"no valid token; next cloud attempt in {int(left)} s", left)

    def failed(self, exc: Exception) -> None:
        """Asking the cloud failed with `exc`: wait as it deserves (a stop: no wait)."""
        if isinstance(exc, MfaRequiredError):
            self.mfa = exc
        elif isinstance(exc, LoginError):
            self.backoff.hold(BAD_LOGIN_WAIT_S)
        elif isinstance(exc, CloudError | TokenError):
            self.back_off()

    def back_off(self) -> None:
        """Count a failure and log when the next attempt is allowed."""
        log.warning("next token attempt in %d s", int(self.backoff.fail()))

    def succeeded(self) -> None:
        """The cloud gave a usable token. After a 401 only the gateway's acceptance resets
        the count of failures (a token the gateway refuses again backs off further)."""
        if self.retried_401:
            self.backoff.clear()
        else:
            self.backoff.reset()

    def gateway_refused(self, can_fetch: bool) -> bool:
        """The gateway answered 401. Returns True when the token should be dropped and a new
        one fetched at once: the first time, if `can_fetch` (a password, and `allowed()`).
        Otherwise the token is kept (the gateway may take it again) and, if a fetch was
        possible, the next one waits for a back-off."""
        if self.retried_401 or not can_fetch:
            if can_fetch:
                self.back_off()
            return False
        self.retried_401 = True
        return True

    def gateway_accepted(self) -> None:
        """The gateway took the token: a 401 retry that worked resets the back-off."""
        if self.retried_401:
            self.retried_401 = False
            self.backoff.reset()
