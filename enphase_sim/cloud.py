"""The simulated Enphase cloud: Enlighten's login and Entrez's token endpoint."""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable
from urllib.parse import parse_qs

from .faults import CLOUD_TARGETS
from .replies import Response, json_reply, text_reply
from .state import SimState
from .tokens import TokenBook


class Cloud:
    """Answers cloud requests: a form login, then a token for the account's gateway."""

    def __init__(self, tokens: TokenBook, issue: Callable[[str, str], str]) -> None:
        """`issue(username, user_type)` makes a token the gateway accepts."""
        self.tokens = tokens
        self.issue = issue

    def answer(self, method: str, path: str, body: bytes, state: SimState) -> Response:
        """Answer one request (after faults)."""
        if path not in CLOUD_TARGETS.values():
            return text_reply("Not Found", 404)
        if method != "POST":
            return text_reply("Method Not Allowed", 405)
        if path == CLOUD_TARGETS["login"]:
            return self._login(body, state)
        return self._token(body, state)

    def _login(self, body: bytes, state: SimState) -> Response:
        form = parse_qs(body.decode("utf-8", "replace"))
        email = (form.get("user[email]") or [""])[0]
        password = (form.get("user[password]") or [""])[0]
        if email != state.username or password != state.password:
            return json_reply({"message": "Invalid email or password"}, 401)
        if state.mfa:
            nonce = secrets.token_hex(16)
            return Response(200, json.dumps({"success": True, "isBlocked": False}).encode(),
                            headers=[("Set-Cookie", f"login_otp_nonce={nonce}; Path=/")])
        return json_reply({"session_id": self.tokens.login(email),
                           "manager_token": secrets.token_hex(24), "is_consumer": True,
                           "user_id": 1, "user_name": email.split("@")[0]})

    def _token(self, body: bytes, state: SimState) -> Response:
        try:
            req = json.loads(body or b"{}")
        except ValueError:
            return text_reply("bad request: JSON expected", 400)
        if not isinstance(req, dict):
            return text_reply("bad request: JSON object expected", 400)
        user = self.tokens.session_user(str(req.get("session_id")))
        if user is None or user != req.get("username"):
            return text_reply("Unauthorized: unknown or expired session", 401)
        if req.get("serial_num") != state.serial:
            return text_reply("serial not found on this account", 403)
        return Response(200, self.issue(user, state.user_type).encode(), "text/plain")
