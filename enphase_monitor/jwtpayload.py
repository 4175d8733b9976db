"""A JWT's payload, read without checking its signature (the gateway checks it).

The daemon reads the expiry, serial and user of its tokens from here (through tokeninfo.py, as
the wizard does too; the simulator's tests decode its tokens with it), so a token is decoded one
way only.
"""

from __future__ import annotations

import base64
import binascii

from .errors import TokenError
from .httplimits import decode_json
from .textsafe import JWT_CHARACTERS, is_jwt_text


def b64url_decode(part: str) -> bytes:
    """base64url without padding (as JWTs carry it) to bytes.

    Raises:
        binascii.Error: not base64url.
    """
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def jwt_payload(token: str) -> dict[str, object]:
    """The payload of a JWT as a JSON object (spaces around the token ignored).

    Raises:
        TokenError: not a JWT (shape or alphabet: a line break, a space...), or a payload
            that is not base64url JSON of an object. The message never shows the token.
    """
    token = token.strip()
    parts = token.split(".")
    if len(parts) != 3 or not all(parts[:2]):
        raise TokenError("token is not a JWT (three dot-separated parts)")
    if not is_jwt_text(token):
        raise TokenError(f"token is not a JWT: it must hold only {JWT_CHARACTERS}")
    try:
        payload = decode_json(b64url_decode(parts[1]))
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise TokenError("token payload is not base64url JSON") from None
    if not isinstance(payload, dict):
        raise TokenError("token payload is not a JSON object")
    return payload
