"""An HTTP answer of the simulator, and the small builders for it."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass


@dataclass
class Response:
    """Status, body, content type and extra headers of one answer."""

    status: int
    body: bytes
    content_type: str = "application/json"
    headers: list[tuple[str, str]] = dataclasses.field(default_factory=list)


def json_reply(obj: object, status: int = 200) -> Response:
    """A JSON answer."""
    return Response(status, json.dumps(obj).encode())


def text_reply(text: str, status: int) -> Response:
    """A text/plain answer."""
    return Response(status, text.encode(), "text/plain")


def unauthorized(info: str = "Not authorized") -> Response:
    """The gateway's JSON 401."""
    return json_reply({"status": 401, "error": "", "info": info, "moreInfo": ""}, 401)
