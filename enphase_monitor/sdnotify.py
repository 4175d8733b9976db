"""systemd's notify protocol: READY=1, WATCHDOG=1, STATUS= over $NOTIFY_SOCKET.

The protocol is `KEY=value` lines in one datagram, so a value with a line break could add a
line of its own (`WATCHDOG=trigger`, `READY=1`, `MAINPID=`...): every value is escaped here,
in the one place that builds the datagram.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Mapping

from .textsafe import escape

log = logging.getLogger(__name__)

MAX_VALUE_CHARS = 1024  # systemd reads at most a few kB per datagram; STATUS is one line


def datagram(*fields: str) -> bytes:
    """`KEY=value` fields as one datagram: one line each, every value escaped and bounded."""
    lines = []
    for field in fields:
        key, eq, value = field.partition("=")
        lines.append(f"{escape(key, 64)}{eq}{escape(value, MAX_VALUE_CHARS)}")
    return "\n".join(lines).encode()


class Notifier:
    """Sends datagrams to $NOTIFY_SOCKET; does nothing when not run by systemd."""

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        env = os.environ if env is None else env
        address = env.get("NOTIFY_SOCKET", "")
        self.address = "\0" + address[1:] if address.startswith("@") else address
        usec = env.get("WATCHDOG_USEC", "")
        pid = env.get("WATCHDOG_PID", "")
        watchdog = usec.isdigit() and int(usec) > 0 and (not pid or pid == str(os.getpid()))
        self.watchdog_interval = int(usec) / 2e6 if watchdog else None
        self.ready = False
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

    def stopping(self) -> None:
        self.send("STOPPING=1")
