"""The project's exceptions: one base, subclasses that carry what explains the error."""

from __future__ import annotations

from enum import StrEnum

from .textsafe import escape


class MonitorError(Exception):
    """Base of every error this package raises on purpose."""


class Cancelled(MonitorError):
    """The daemon is stopping: a request was cut short. Not a fault of the gateway or cloud."""


class Failure(StrEnum):
    """Why an HTTP request got no usable answer (`TransportError.kind`)."""

    TIMEOUT = "timeout"  # the request's deadline passed
    CONNECTION = "connection"  # name resolution, connect, reset, closed early
    TLS = "tls"  # handshake failed or the pinned certificate did not match
    PROTOCOL = "protocol"  # not well-formed HTTP/1.1
    LIMIT = "limit"  # an answer over a size or count limit
    REDIRECT = "redirect"  # a 3xx answer: redirects are not followed
    REQUEST = "request"  # the request itself is refused (URL, header value, proxy setting)
    CANCELLED = "cancelled"  # the stop event was set


class TransportError(MonitorError):
    """No usable HTTP answer: `kind` says why; `status` is the HTTP status if one came."""

    def __init__(self, kind: Failure, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.kind = kind
        self.status = status


class ConfigError(MonitorError):
    """The config file, the command line or the environment is wrong."""


class InsecureFileError(ConfigError):
    """A file holding secrets (or its directory) has unsafe permissions."""

    def __init__(self, kind: str, path: str, problem: str, fix: str) -> None:
        super().__init__(f"{problem} on {kind} {path}: {fix}")
        self.kind = kind
        self.path = path


class UnsafeFileError(MonitorError):
    """A file is not what it must be: a symbolic link, not a regular file, or too large."""

    def __init__(self, path: object, message: str) -> None:
        super().__init__(message)
        self.path = str(path)


class FileTooLarge(UnsafeFileError):
    """A file is larger than anything it may legitimately hold."""


class PortFileError(MonitorError):
    """The dummy-ups port file is missing, unreadable or cannot be written."""


class PortFileMissing(PortFileError):
    """Neither the port file nor its `-nocomms` twin exists."""


class AuthError(MonitorError):
    """Getting or using an Enlighten token failed."""


class LoginError(AuthError):
    """The cloud refused the login (bad e-mail or password)."""


class MfaRequiredError(AuthError):
    """The account uses multi-factor authentication: no automatic token is possible."""


class TokenError(AuthError):
    """A token is malformed, expired or refused."""


class CloudCancelled(AuthError, Cancelled):
    """A cloud request was cut short by a stop: no failure, no back-off."""


class CloudError(AuthError):
    """The Enlighten cloud could not be reached or answered with an error."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class BackoffActive(AuthError):
    """A cloud request is held back to protect the account from lock-out."""

    def __init__(self, message: str, retry_in: float) -> None:
        super().__init__(message)
        self.retry_in = retry_in


class GatewayError(MonitorError):
    """A request to the IQ Gateway failed."""

    def __init__(self, message: str, path: str = "", status: int | None = None) -> None:
        super().__init__(message)
        self.path = path
        self.status = status


class GatewayUnreachable(GatewayError):
    """No answer: connection refused or reset, TLS failure or timeout."""


class GatewayCancelled(GatewayUnreachable, Cancelled):
    """A gateway request was cut short by a stop: never retried."""


class GatewayUnauthorized(GatewayError):
    """The gateway answered 401: the token is missing, expired or not accepted."""


class GatewayHTTPError(GatewayError):
    """The gateway answered with an unexpected HTTP status."""


class GatewayDataError(GatewayError):
    """The gateway answered 200 with a body that cannot be used."""


class GatewayImplausible(GatewayDataError):
    """A value no real gateway sends (NaN, 1e308, a negative count...): the whole poll fails,
    even from an endpoint that may otherwise be missing (docs/behaviour.md)."""


class UnsupportedHardware(MonitorError):
    """The gateway's hardware cannot act as a UPS: no grid signal that can change, or no battery.

    `at_start` is True until a usable topology has been seen: then the daemon exits; later
    (a gateway that lists nothing while it reboots, say) it is a failed poll.
    """

    def __init__(self, message: str, at_start: bool) -> None:
        super().__init__(message)
        self.at_start = at_start


def describe(exc: BaseException) -> str:
    """One escaped line: our own errors' message; `Type: message` for anything else."""
    text = str(exc) if isinstance(exc, MonitorError) else f"{type(exc).__name__}: {exc}"
    return escape(text, 500)
