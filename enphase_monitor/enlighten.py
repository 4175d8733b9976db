"""The Enlighten cloud client: login (a session id) and a gateway token for that session."""

from __future__ import annotations

from .errors import (
    AuthError,
    CloudCancelled,
    CloudError,
    Failure,
    LoginError,
    MfaRequiredError,
    TokenError,
)
from .httplimits import decode_json
from .transport import Transport, TransportError


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
