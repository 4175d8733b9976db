"""A gateway token (JWT): what its payload says, read without checking the signature."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from .errors import TokenError
from .jwtpayload import jwt_payload

DAY = 86400.0
RENEW_BEFORE_MAX = 30 * DAY  # Home Assistant's threshold for year-long owner tokens
RENEW_BEFORE_MIN = 3600.0


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
