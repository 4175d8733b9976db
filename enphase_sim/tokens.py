"""The simulator's credentials: Entrez-like JWTs, gateway session cookies, cloud sessions."""

from __future__ import annotations

import base64
import json
import secrets
import threading
import uuid

OWNER_LIFETIME_S = 365 * 24 * 3600.0
INSTALLER_LIFETIME_S = 12 * 3600.0


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def make_jwt(payload: dict[str, object]) -> str:
    """Encode a JWT like Entrez's (ES256 header, random signature; base64url without padding)."""
    header = {"kid": "sim", "typ": "JWT", "alg": "ES256"}
    parts = [json.dumps(header, separators=(",", ":")).encode(),
             json.dumps(payload, separators=(",", ":")).encode(), secrets.token_bytes(64)]
    return ".".join(_b64url(p) for p in parts)


class TokenBook:
    """Issued tokens (with their expiry), gateway session cookies and cloud login sessions."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[str, float] = {}  # token -> exp
        self._cookies: dict[str, str] = {}  # sessionId -> token
        self._sessions: dict[str, str] = {}  # cloud session_id -> username

    def issue(self, *, serial: str, username: str, user_type: str, lifetime_s: float | None,
              now: float) -> str:
        """Issue a token the gateway accepts until now + lifetime (default: by user type)."""
        if lifetime_s is None:
            lifetime_s = INSTALLER_LIFETIME_S if user_type == "installer" else OWNER_LIFETIME_S
        iat = int(now)
        exp = iat + int(lifetime_s)
        token = make_jwt({"aud": serial, "iss": "Entrez", "enphaseUser": user_type,
                          "exp": exp, "iat": iat, "jti": str(uuid.uuid4()),
                          "username": username})
        with self._lock:
            self._tokens[token] = exp
        return token

    def valid(self, token: str, now: float) -> bool:
        """True for an issued, unexpired, unrevoked token."""
        with self._lock:
            exp = self._tokens.get(token)
        return exp is not None and exp > now

    def open_cookie(self, token: str) -> str:
        """A new gateway session id (the `sessionId` cookie) for a token."""
        session = secrets.token_hex(16)
        with self._lock:
            self._cookies[session] = token
        return session

    def cookie_valid(self, session: str, now: float) -> bool:
        """True when the session cookie's token is still valid."""
        with self._lock:
            token = self._cookies.get(session)
        return token is not None and self.valid(token, now)

    def revoke(self) -> None:
        """Forget every token and session cookie: the gateway answers 401 to them."""
        with self._lock:
            self._tokens.clear()
            self._cookies.clear()

    def login(self, username: str) -> str:
        """A new cloud session id for a user who logged in."""
        session_id = secrets.token_hex(16)
        with self._lock:
            self._sessions[session_id] = username
        return session_id

    def session_user(self, session_id: str) -> str | None:
        """The user of a cloud session id, or None."""
        with self._lock:
            return self._sessions.get(session_id)
