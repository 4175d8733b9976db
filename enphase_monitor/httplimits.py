"""Size, count and depth limits on every HTTP answer, enforced while it streams in.

The largest real answer in the 38 firmware captures of tests/fixtures/pyenphase is 31,681 bytes
(`/ivp/ensemble/status`, which the daemon does not read); the largest the daemon reads is
4,941 bytes (`/ivp/meters/reports`, three phases). MAX_BODY is 256 KiB: 8 times the former,
50 times the latter. The deepest capture nests 7 levels (MAX_JSON_DEPTH is 32) and holds 133
objects and arrays (MAX_JSON_CONTAINERS is 10,000): an empty object costs 21 times its 3 bytes,
so without that bound a 256 KiB body could take 13 MiB as Python objects. Peak memory under
each attack is measured in benchmarks/attacks.py.
"""

from __future__ import annotations

import http.client
import io
import json
import re
import socket

from .errors import Failure, TransportError

MAX_BODY = 256 * 1024  # bytes of body (after de-chunking)
MAX_HEAD = 64 * 1024  # bytes of status lines and header lines, 1xx answers included
MAX_STATUS_LINE = 1024
MAX_HEADER_LINE = 16 * 1024  # a 4 KiB cookie with its attributes fits with room to spare
MAX_HEADERS = 100  # lines in one head, status and 1xx answers included (http.client: 100)
MAX_CHUNK_LINE = 1024  # a chunk-size line, extensions included
MAX_CHUNKS = 4096  # chunk-size and trailer lines in one body
MAX_JSON_DEPTH = 32
MAX_JSON_CONTAINERS = 10_000  # objects + arrays; the captures have at most 133
_READ = 64 * 1024
_HEX = re.compile(rb"\s*([0-9A-Fa-f]+)\s*(?:;.*)?\r?\n?", re.DOTALL)
_JSON_STRUCT = re.compile(rb'[\[\]{}"\\]')
def _limit(message: str) -> TransportError:
    return TransportError(Failure.LIMIT, message)


class LimitedReader(io.BufferedReader):
    """The response stream: counts header bytes and lines, chunk lines, refuses absurd chunks."""

    def __init__(self, raw: io.RawIOBase) -> None:
        super().__init__(raw, 8192)
        self.in_head = True
        self.want_status = True
        self.used = 0
        self.lines = 0

    def start_body(self) -> None:
        """The head is read: from now on, lines are chunk sizes and trailers."""
        self.in_head, self.lines = False, 0

    def readline(self, size: int | None = -1) -> bytes:
        if self.in_head:
            return self._head_line()
        line = super().readline(MAX_CHUNK_LINE + 1)
        self.lines += 1
        if len(line) > MAX_CHUNK_LINE:
            raise _limit(f"a chunk-size line longer than {MAX_CHUNK_LINE} bytes")
        if self.lines > MAX_CHUNKS:
            raise _limit(f"more than {MAX_CHUNKS} chunks")
        found = _HEX.fullmatch(line)
        digits = found[1].lstrip(b"0") if found else b""
        if len(digits) > 8 or (digits and int(digits, 16) > MAX_BODY):
            raise _limit(f"a chunk size of 0x{digits[:20].decode()} bytes, over the"
                         f" {MAX_BODY // 1024} KiB limit")
        return line

    def _head_line(self) -> bytes:
        cap = MAX_STATUS_LINE if self.want_status else MAX_HEADER_LINE
        cap = min(cap, MAX_HEAD - self.used)
        line = super().readline(cap + 1)
        self.used += len(line)
        if len(line) > cap:
            what = "status line" if self.want_status else "header line"
            raise _limit(f"a {what} longer than {cap} bytes, or headers over"
                         f" {MAX_HEAD // 1024} KiB in all")
        self.want_status = line in (b"\r\n", b"\n")  # a 1xx answer's head ended
        self.lines += 1
        if self.lines > MAX_HEADERS:  # before http.client's own count (a protocol error)
            raise _limit(f"more than {MAX_HEADERS} header lines (1xx answers included)")
        return line


class BoundedResponse(http.client.HTTPResponse):
    """http.client's response, reading through a LimitedReader."""

    def __init__(self, sock: socket.socket, debuglevel: int = 0, method: str | None = None,
                 url: str | None = None) -> None:
        super().__init__(sock, debuglevel, method, url)
        self.fp = LimitedReader(self.fp.detach())

    def begin(self) -> None:
        super().begin()
        if isinstance(self.fp, LimitedReader):
            self.fp.start_body()


def read_body(resp: http.client.HTTPResponse, cap: int = MAX_BODY) -> bytes:
    """The whole body, refused as soon as it grows past `cap` (never read first, then refused).

    Raises:
        TransportError: over the limit, or Content-Length headers that disagree.
    """
    lengths = set(resp.headers.get_all("Content-Length") or ())
    if len(lengths) > 1:
        raise TransportError(Failure.PROTOCOL, "the answer has conflicting Content-Length headers")
    if resp.length is not None and resp.length > cap:
        raise _limit(f"an answer of {resp.length} bytes (Content-Length), over the"
                     f" {cap // 1024} KiB limit")
    body = bytearray()
    while chunk := resp.read(min(_READ, cap + 1 - len(body))):
        body += chunk
        if len(body) > cap:
            raise _limit(f"an answer larger than the {cap // 1024} KiB limit")
    if resp.length:  # http.client's read(amt) returns short at EOF instead of raising
        raise TransportError(Failure.CONNECTION, "the connection closed before the whole"
                             f" answer ({len(body)} of {len(body) + resp.length} bytes)")
    return bytes(body)


def json_shape(raw: bytes, limit: int = MAX_JSON_DEPTH) -> None:
    """Refuse JSON nested deeper than `limit`, or with too many objects and arrays, before a
    parser recurses into it or builds them (an empty object costs 21 times its 3 bytes).

    Linear in the size: only brackets, quotes and backslashes are visited.

    Raises:
        ValueError: nested too deeply, or too many objects and arrays.
    """
    opened = raw.count(b"[") + raw.count(b"{")  # brackets in strings too: an upper bound
    if opened > MAX_JSON_CONTAINERS:
        raise ValueError(f"JSON with more than {MAX_JSON_CONTAINERS} objects and arrays")
    if opened <= limit:
        return
    depth, in_string, skip = 0, False, -1
    for match in _JSON_STRUCT.finditer(raw):
        pos = match.start()
        if pos < skip:
            continue
        char = raw[pos]
        if in_string:
            if char == 0x5C:  # backslash: the next byte is escaped
                skip = pos + 2
            elif char == 0x22:
                in_string = False
        elif char == 0x22:
            in_string = True
        elif char in (0x5B, 0x7B):
            depth += 1
            if depth > limit:
                raise ValueError(f"JSON nested deeper than {limit} levels")
        elif char in (0x5D, 0x7D):
            depth -= 1


def decode_json(raw: bytes) -> object:
    """Bounded JSON decoding: strict UTF-8 (a BOM allowed), depth and size checked first.

    Strings keep what the peer sent, control characters included: every sink (log, STATUS=,
    report) escapes them (textsafe.escape), the port file cleans them (nutvars.sanitize).

    Raises:
        ValueError: empty, not UTF-8, too deep, or not JSON (the message says which).
    """
    if not raw.strip():
        raise ValueError("empty answer")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ValueError(f"answer is not valid UTF-8 (byte {exc.start})") from None
    json_shape(raw)
    try:
        return json.loads(text)
    except ValueError:  # JSONDecodeError, and int() of more than 4300 digits
        raise ValueError("answer is not valid JSON") from None
