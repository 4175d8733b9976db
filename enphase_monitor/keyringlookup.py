"""The OS keyring look-up, bounded: a hung Secret Service (D-Bus) must not block the daemon.

`keyring.get_password` has no time-out and cannot be interrupted, so it runs in a daemon thread
and the caller waits at most KEYRING_TIMEOUT_S; a look-up that hangs is left behind, and while
it is still running every new one fails at once instead of piling up threads.
"""

from __future__ import annotations

import threading
import time

from .errors import AuthError, CloudCancelled

KEYRING_TIMEOUT_S = 5.0  # a working Secret Service answers in milliseconds


class KeyringMissing(Exception):
    """The Python keyring module is not installed."""


class KeyringBroken(Exception):
    """The keyring module has no working backend here; the message names the error type."""


class KeyringTimeout(AuthError):
    """The keyring did not answer in time (or an earlier look-up still hangs)."""


_lock = threading.Lock()
_pending: threading.Thread | None = None
_stop: threading.Event | None = None
SLICE_S = 0.1  # how often a waiting look-up checks the stop event


def stop_on(event: threading.Event) -> None:
    """Once `event` is set (SIGTERM), a look-up in progress stops waiting at once."""
    global _stop
    _stop = event


def _get_password(service: str, username: str) -> str | None:
    try:
        import keyring
        from keyring.errors import KeyringError
    except ImportError:
        raise KeyringMissing from None
    try:
        value = keyring.get_password(service, username)
    except (KeyringError, RuntimeError, OSError) as exc:
        raise KeyringBroken(type(exc).__name__) from None
    return value if isinstance(value, str) else None


def lookup(service: str, username: str, timeout: float | None = None) -> str | None:
    """The password stored for `username`, or None when there is none.

    Raises:
        KeyringMissing, KeyringBroken: no usable keyring here (say so and go on without it).
        KeyringTimeout: no answer within `timeout` s (default KEYRING_TIMEOUT_S), or an
            earlier look-up still hangs.
        CloudCancelled: the stop event (stop_on) was set while waiting.
    """
    global _pending
    answer: list[str | BaseException | None] = []
    done = threading.Event()

    def work() -> None:
        try:
            answer.append(_get_password(service, username))
        except Exception as exc:  # handed to the caller
            answer.append(exc)
        finally:
            done.set()

    with _lock:
        if _pending is not None and _pending.is_alive():
            raise KeyringTimeout("the system keyring has still not answered an earlier"
                                 " look-up (is the Secret Service or D-Bus hung?)")
        _pending = threading.Thread(target=work, name="keyring look-up", daemon=True)
        _pending.start()
    timeout = KEYRING_TIMEOUT_S if timeout is None else timeout
    end = time.monotonic() + timeout
    while not done.wait(min(SLICE_S, max(0.0, end - time.monotonic()))):
        if _stop is not None and _stop.is_set():
            raise CloudCancelled("keyring look-up cancelled: the daemon is stopping")
        if time.monotonic() >= end:
            raise KeyringTimeout(f"the system keyring did not answer within {timeout:g} s (is"
                                 " the Secret Service or D-Bus hung?)")
    result = answer[0]
    if isinstance(result, BaseException):
        raise result
    return result
