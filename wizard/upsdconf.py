"""upsd.conf: where upsd listens (LISTEN lines); the wizard adds the LAN address, marked.

Without any LISTEN line upsd listens on 127.0.0.1 and ::1, port 3493 (upsd.conf(5), and the
comment in Debian's file). The first LISTEN line replaces that default, so when the wizard adds
a LAN address to a file that has none it also adds the loopback ones: upsmon on this host keeps
reaching upsd at localhost. LISTEN changes need a restart of upsd, not a reload.

Order matters (measured with NUT 2.8.0, docs/wizard.md): upsd binds the LISTEN lines from the
last to the first and exits ("no listening interface available") when the *last line of the
file* cannot be bound, even if others were; an address that is missing at boot (DHCP not up
yet) or ::1 on a host without IPv6 must therefore never be last. The wizard writes its lines
as ``<LAN address>``, ``::1``, ``127.0.0.1``, and puts them before the file's own LISTEN lines.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from . import marked
from .nutconf import split_words

FILE = "upsd.conf"
KEYWORD = "LISTEN"
PORT = 3493  # NUT's port (IANA "nut")
LOOPBACK = ("127.0.0.1", "::1")
WILDCARD = ("0.0.0.0", "::")


@dataclass(frozen=True)
class Listen:
    """One LISTEN line."""

    index: int
    address: str
    port: int


def listens(text: str | None) -> list[Listen]:
    """The LISTEN lines (the keyword is case-sensitive, as upsd reads it)."""
    found: list[Listen] = []
    for index, line in enumerate((text or "").splitlines()):
        words = split_words(line)
        if len(words) >= 2 and words[0] == KEYWORD:
            port = int(words[2]) if len(words) >= 3 and words[2].isdigit() else PORT
            found.append(Listen(index, words[1], port))
    return found


def serves(text: str | None, address: str) -> bool:
    """upsd already listens on `address` (port 3493), itself or through a wildcard."""
    items = listens(text)
    if not items:
        return address in LOOPBACK
    return any(i.port == PORT and (i.address == address or i.address in WILDCARD)
               for i in items)


def local_port(text: str | None) -> int | None:
    """The port upsd serves on loopback (None: it does not listen on loopback)."""
    items = listens(text)
    if not items:
        return PORT
    for item in items:
        if item.address in (*LOOPBACK, *WILDCARD, "localhost"):
            return item.port
        try:
            if ipaddress.ip_address(item.address).is_loopback:
                return item.port
        except ValueError:
            continue
    return None


def accept(words: list[str], first: bool) -> bool:
    """A line of one of the wizard's blocks: a LISTEN line."""
    return bool(words) and words[0] == KEYWORD


def with_listen(text: str | None, ups: str, address: str, why: str) -> str:
    """upsd.conf listening on `address` too (and on loopback, when it used the default)."""
    if serves(text, address):
        return text or ""
    items = listens(text)
    if items or address == "::":  # "::" takes IPv4 too (v4-mapped): 127.0.0.1 would clash
        wanted = [address]
    elif address == "0.0.0.0":
        wanted = ["::1", address]
    else:
        wanted = [address, *reversed(LOOPBACK)]
    after = items[0].index - 1 if items else None
    return marked.insert(text or "", [f"{KEYWORD} {a}" for a in wanted], ups, why, after)


def without_listens(text: str, ups: str) -> str:
    """upsd.conf without the LISTEN lines the wizard added for `ups`."""
    return marked.remove(text, ups, accept)
