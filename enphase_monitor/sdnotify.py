"""systemd's notify protocol: READY=1, WATCHDOG=1, STATUS= over $NOTIFY_SOCKET.

The protocol is `KEY=value` lines in one datagram, so a value with a line break could add a
line of its own (`WATCHDOG=trigger`, `READY=1`, `MAINPID=`...): every value is escaped here,
in the one place that builds the datagram.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections.abc import Callable, Mapping

from .textsafe import escape

log = logging.getLogger(__name__)

MAX_VALUE_CHARS = 1024  # systemd reads at most a few kB per datagram; STATUS is one line
# Before READY=1, every keep-alive lets the start-up run this much longer (EXTEND_TIMEOUT_USEC):
# a first poll that waits on the network is never killed by TimeoutStartSec, a hung one is
# (longer than the longest wait without a request, CONFIRM_DELAY's maximum of 60 s)
EXTEND_START_S = 120


def datagram(*fields: str) -> bytes:
    """`KEY=value` fields as one datagram: one line each, every value escaped and bounded."""
    lines = []
    for field in fields:
        key, eq, value = field.partition("=")
        lines.append(f"{escape(key, 64)}{eq}{escape(value, MAX_VALUE_CHARS)}")
    return "\n".join(lines).encode()


class Notifier:
    """Sends datagrams to $NOTIFY_SOCKET; does nothing when not run by systemd."""

    def __init__(self, env: Mapping[str, str] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        env = os.environ if env is None else env
        address = env.get("NOTIFY_SOCKET", "")
        self.address = "\0" + address[1:] if address.startswith("@") else address
        usec = env.get("WATCHDOG_USEC", "")
        pid = env.get("WATCHDOG_PID", "")
        watchdog = usec.isdigit() and int(usec) > 0 and (not pid or pid == str(os.getpid()))
        self.watchdog_interval = int(usec) / 2e6 if watchdog else None
        self.ready = False
        self.clock = clock
        # keep-alives from inside a request: at most every quarter of WatchdogSec (and often
        # enough to extend a start-up well before the last extension runs out)
        quarter = self.watchdog_interval / 2 if self.watchdog_interval else EXTEND_START_S
        self.keepalive_every = min(quarter, EXTEND_START_S / 4)
        self._last_alive = clock()
        self._sock: socket.socket | None = None

    @property
    def enabled(self) -> bool:
        return bool(self.address)

    def send(self, *fields: str) -> bool:
        """Send `KEY=value` lines in one datagram; False if not sent."""
        if not self.address:
            return False
        try:
            if self._sock is None:
                self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
            self._sock.sendto(datagram(*fields), self.address)
            return True
        except OSError as exc:
            log.debug("sd_notify failed: %s", exc)
            return False

    def notify_ready(self, status: str) -> None:
        """READY=1, once."""
        if not self.ready:
            self.ready = self.send("READY=1", f"STATUS={status}") or not self.enabled

    def status(self, text: str) -> None:
        self.send(f"STATUS={text}")

    def watchdog(self) -> None:
        if self.watchdog_interval is not None:
            self.send("WATCHDOG=1")
        self._last_alive = self.clock()

    def keepalive(self) -> None:
        """From inside a bounded wait (a request in flight): WATCHDOG=1 and, before READY=1,
        EXTEND_TIMEOUT_USEC; rate-limited (`keepalive_every`), so it may be called at will."""
        if not self.address or (self.ready and self.watchdog_interval is None):
            return
        now = self.clock()
        if now - self._last_alive < self.keepalive_every:
            return
        self._last_alive = now
        fields = ["WATCHDOG=1"] if self.watchdog_interval is not None else []
        if not self.ready:
            fields.append(f"EXTEND_TIMEOUT_USEC={EXTEND_START_S * 1_000_000}")
        self.send(*fields)

    def stopping(self) -> None:
        self.send("STOPPING=1")

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
