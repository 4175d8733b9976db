"""Text from outside (the gateway's /info.xml and mDNS, the cloud, the live check's errors) as
the wizard shows it: escaped by the daemon's own rule (enphase_monitor/textsafe.py), one line,
bounded. The values themselves stay as read: the answers' rules judge those."""

from __future__ import annotations

from enphase_monitor.textsafe import escape

SHORT = 64  # a serial, firmware or part number is under 20 characters
LONG = 600  # a live check's message: one sentence and the reason it quotes


def short(text: str | None) -> str:
    """A serial, firmware version or part number as shown ('' for None)."""
    return escape(text or "", SHORT)


def message(text: str) -> str:
    """A message that may quote what a gateway or the cloud said, as shown."""
    return escape(text, LONG)
