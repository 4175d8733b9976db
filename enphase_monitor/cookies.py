"""A small, bounded cookie jar: one per origin (scheme, host, port), never shared between them.

The daemon needs cookies for one thing: the gateway's `sessionId` after `/auth/check_jwt`.
So cookies are host-only (a `Domain` attribute never widens them to other hosts; one that does
not cover the host refuses the cookie), `Path` is honoured, `Max-Age`/`Expires` are turned into
a monotonic deadline when the cookie arrives (a wall-clock jump neither keeps nor drops it), and
each origin keeps at most MAX_COOKIES cookies and MAX_JAR_BYTES bytes, the oldest dropped first.
`http.cookiejar` is not used: it keeps one jar for all hosts, expires by the wall clock and has
no bound on the number or size of cookies.
"""

from __future__ import annotations

import re
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

MAX_COOKIE_BYTES = 4096  # name + value (RFC 6265 section 6.1: at least 4096 must be kept)
MAX_COOKIES = 50  # per origin (RFC 6265 section 6.1)
MAX_JAR_BYTES = 64 * 1024  # per origin, names and values
MAX_ORIGINS = 8

Origin = tuple[str, str, int]
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_VALUE = re.compile(r'"?[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]*"?')
_MAX_AGE = re.compile(r"-?[0-9]{1,12}")


@dataclass(frozen=True)
class Cookie:
    """One stored cookie; `expires` is on the monotonic clock (None: until the process ends)."""

    name: str
    value: str
    path: str
    expires: float | None

    @property
    def size(self) -> int:
        return len(self.name) + len(self.value)


def default_path(request_path: str) -> str:
    """RFC 6265 section 5.1.4: the directory of the request path."""
    if not request_path.startswith("/") or request_path.count("/") == 1:
        return "/"
    return request_path[: request_path.rindex("/")]


def path_matches(cookie_path: str, request_path: str) -> bool:
    """RFC 6265 section 5.1.4 path-match."""
    if request_path == cookie_path:
        return True
    return request_path.startswith(cookie_path) and (
        cookie_path.endswith("/") or request_path[len(cookie_path)] == "/")


def _domain_covers(domain: str, host: str) -> bool:
    domain = domain.strip().lstrip(".").lower()
    return host == domain or host.endswith("." + domain)


class CookieJar:
    """Cookies per origin, scoped, expiring and bounded."""

    def __init__(self, clock: Callable[[], float] = time.monotonic,
                 wall: Callable[[], float] = time.time) -> None:
        self.clock = clock
        self.wall = wall
        self._jars: OrderedDict[Origin, OrderedDict[tuple[str, str], Cookie]] = OrderedDict()

    def _expiry(self, attrs: dict[str, str]) -> float | None:
        """Seconds on the monotonic clock, from Max-Age (preferred) or Expires; None: session."""
        age = attrs.get("max-age", "")
        if _MAX_AGE.fullmatch(age):
            return self.clock() + int(age)
        when = attrs.get("expires", "")
        if when:
            try:
                stamp = parsedate_to_datetime(when[:64]).timestamp()
            except (TypeError, ValueError, OverflowError, IndexError):
                return None
            return self.clock() + (stamp - self.wall())
        return None

    def parse(self, header: str, host: str, request_path: str) -> Cookie | None:
        """One Set-Cookie value as a Cookie, or None when it is malformed, too big or foreign."""
        pair, *rest = header.split(";", 20)
        name, eq, value = pair.partition("=")
        name, value = name.strip(), value.strip()
        if not eq or not _TOKEN.fullmatch(name) or not _VALUE.fullmatch(value):
            return None
        if len(name) + len(value) > MAX_COOKIE_BYTES:
            return None
        attrs: dict[str, str] = {}
        for item in rest:
            key, _, val = item.partition("=")
            attrs[key.strip().lower()] = val.strip()
        if "domain" in attrs and not _domain_covers(attrs["domain"], host):
            return None
        path = attrs.get("path", "")
        if not path.startswith("/"):
            path = default_path(request_path)
        return Cookie(name, value, path, self._expiry(attrs))

    def store(self, origin: Origin, request_path: str, headers: Iterable[str]) -> None:
        """Take the Set-Cookie values of one answer; an expired cookie deletes its namesake."""
        jar = self._jars.pop(origin, None) or OrderedDict()
        self._jars[origin] = jar  # most recently used origin last
        now = self.clock()
        for header in headers:
            cookie = self.parse(header, origin[1], request_path)
            if cookie is None:
                continue
            key = (cookie.name, cookie.path)
            jar.pop(key, None)
            if cookie.expires is None or cookie.expires > now:
                jar[key] = cookie
        self._trim(jar, now)
        while len(self._jars) > MAX_ORIGINS:
            self._jars.popitem(last=False)

    def _trim(self, jar: OrderedDict[tuple[str, str], Cookie], now: float) -> None:
        for key in [k for k, c in jar.items() if c.expires is not None and c.expires <= now]:
            del jar[key]
        total = sum(c.size for c in jar.values())
        while jar and (len(jar) > MAX_COOKIES or total > MAX_JAR_BYTES):
            total -= jar.popitem(last=False)[1].size

    def header(self, origin: Origin, request_path: str) -> str:
        """The Cookie header for a request ("" when none applies); longest paths first."""
        jar = self._jars.get(origin)
        if not jar:
            return ""
        self._trim(jar, self.clock())
        sent = [c for c in jar.values() if path_matches(c.path, request_path)]
        sent.sort(key=lambda c: -len(c.path))
        return "; ".join(f"{c.name}={c.value}" for c in sent)

    def cookies(self, origin: Origin) -> list[Cookie]:
        """The cookies kept for an origin (oldest first)."""
        return list(self._jars.get(origin, {}).values())

    def origins(self) -> list[Origin]:
        """The origins that have a jar, the least recently stored to first (at most
        MAX_ORIGINS)."""
        return list(self._jars)

    def clear(self) -> None:
        self._jars.clear()
