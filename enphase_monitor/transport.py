"""The HTTP layer: one keep-alive `requests` session per peer, behind a small protocol.

TEST mode swaps in its own Transport, so the cloud and gateway clients run unchanged.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from .errors import MonitorError


class TransportError(MonitorError):
    """No HTTP answer: `kind` is timeout, connection or tls."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclass(frozen=True)
class Reply:
    """An HTTP answer."""

    status: int
    text: str
    elapsed: float
    headers: Mapping[str, str] = field(default_factory=dict)


class Transport(Protocol):
    """Sends one HTTP request and returns the answer, or raises TransportError."""

    def request(
        self,
        method: str,
        url: str,
        *,
        timeout: float,
        headers: Mapping[str, str] | None = None,
        data: Mapping[str, str] | None = None,
        json_body: object = None,
    ) -> Reply: ...

    def close(self) -> None: ...


def _short(exc: BaseException) -> str:
    """The innermost reason of a requests/urllib3 error, on one line."""
    text = str(exc)
    for marker in ("Caused by ", "] "):
        if marker in text:
            text = text.rsplit(marker, 1)[-1]
    return " ".join(text.strip("()'\" ").split())[:160]


class RequestsTransport:
    """A `requests` session with keep-alive; optionally TLS-pinned to one certificate."""

    def __init__(
        self, verify: bool | str = True, fingerprint: str = "", trust_env: bool = True
    ) -> None:
        import requests  # lazy: start-up time matters for `-x` and `-h`
        from requests.adapters import HTTPAdapter

        self._requests = requests
        self.session = requests.Session()
        self.session.trust_env = trust_env
        self.session.verify = verify
        self.verify = verify  # passed per request: REQUESTS_CA_BUNDLE would override the session's
        self.session.headers["User-Agent"] = "enphase-monitor"
        if fingerprint:

            class PinnedAdapter(HTTPAdapter):
                """Checks the peer certificate's SHA-256 against the pinned one."""

                def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
                    kwargs["assert_fingerprint"] = fingerprint
                    super().init_poolmanager(*args, **kwargs)

            self.session.mount("https://", PinnedAdapter())
        if verify is False:
            from urllib3.exceptions import InsecureRequestWarning

            warnings.simplefilter("ignore", InsecureRequestWarning)

    def request(
        self,
        method: str,
        url: str,
        *,
        timeout: float,
        headers: Mapping[str, str] | None = None,
        data: Mapping[str, str] | None = None,
        json_body: object = None,
    ) -> Reply:
        exc_mod = self._requests.exceptions
        start = time.monotonic()
        try:
            resp = self.session.request(
                method, url, timeout=timeout, headers=dict(headers or {}), data=data,
                json=json_body, allow_redirects=False, verify=self.verify,
            )
            text = resp.text
        except exc_mod.SSLError as exc:
            raise TransportError("tls", f"TLS failure: {_short(exc)}") from None
        except (exc_mod.Timeout, TimeoutError):
            raise TransportError("timeout", f"no answer within {timeout:g} s") from None
        except (exc_mod.ConnectionError, exc_mod.ChunkedEncodingError, OSError) as exc:
            raise TransportError("connection", f"connection failed: {_short(exc)}") from None
        except exc_mod.RequestException as exc:
            raise TransportError("connection", f"request failed: {_short(exc)}") from None
        return Reply(resp.status_code, text, time.monotonic() - start, dict(resp.headers))

    def close(self) -> None:
        self.session.close()
