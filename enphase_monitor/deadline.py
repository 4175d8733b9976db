"""One deadline for the whole of a request: name resolution, connect, TLS, send, headers, body.

The standard library only bounds each blocking call (`settimeout`), so a peer that drips one byte
per call keeps a request alive for ever. Here every blocking call waits at most `SLICE_S`, and
between slices the request's `Deadline` is checked: past it, or once the stop event is set, the
call raises `TransportError` (kind timeout or cancelled), and its keep-alive is called (the
daemon's rate-limited sd_notify WATCHDOG=1: a request that legitimately waits up to its
deadline never starves systemd's watchdog, docs/behaviour.md "Watchdog"). Retrying a socket or
TLS read or write after a slice ran out is safe: nothing was consumed (OpenSSL's documented
non-blocking retry).
"""

from __future__ import annotations

import errno
import os
import select
import socket
import ssl
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from .errors import Failure, TransportError

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer, WriteableBuffer

SLICE_S = 0.1  # the longest one blocking call waits before the deadline and stop are checked
MAX_PENDING_LOOKUPS = 4  # name look-ups still running in the background (a hung resolver)

T = TypeVar("T")
AddrInfo = tuple[int, int, int, str, Any]  # as socket.getaddrinfo returns them
Resolver = Callable[[str, int], list[AddrInfo]]


KeepAlive = Callable[[], None]


class Deadline:
    """The end of one request (monotonic clock), the stop event that cuts it short, and the
    keep-alive called between slices while it waits."""

    def __init__(self, seconds: float, stop: threading.Event | None = None,
                 keepalive: KeepAlive | None = None) -> None:
        self.seconds = seconds
        self.stop = stop
        self.keepalive = keepalive
        self.end = time.monotonic() + seconds

    def check(self) -> float:
        """Seconds left.

        Raises:
            TransportError: cancelled (stop is set) or timeout (no time left).
        """
        if self.stop is not None and self.stop.is_set():
            raise TransportError(Failure.CANCELLED, "request cancelled: the daemon is stopping")
        left = self.end - time.monotonic()
        if left <= 0:
            raise TransportError(Failure.TIMEOUT,
                                 f"no complete answer within {self.seconds:g} s")
        return left

    def slice(self) -> float:
        """How long the next blocking call may wait (raises like check()); keeps alive."""
        left = self.check()
        if self.keepalive is not None:
            self.keepalive()
        return min(left, SLICE_S)


def _sliced(sock: socket.socket, deadline: Deadline | None, call: Callable[[], T]) -> T:
    """Run a blocking socket call in slices until it completes or the deadline says stop."""
    if deadline is None:
        return call()
    while True:
        sock.settimeout(deadline.slice())
        try:
            return call()
        except TimeoutError:  # the slice ran out with nothing done: check, then wait again
            continue


class DeadlineSocket(socket.socket):
    """A socket whose reads and writes obey `deadline`: plain TCP (the proxy's CONNECT), and
    the base of DeadlineSSLSocket, where `super()` is ssl.SSLSocket's TLS read and write."""

    deadline: Deadline | None = None

    def recv(self, buflen: int = 1024, flags: int = 0) -> bytes:
        base = super().recv
        return _sliced(self, self.deadline, lambda: base(buflen, flags))

    def recv_into(self, buffer: WriteableBuffer, nbytes: int | None = None,
                  flags: int = 0) -> int:
        base = super().recv_into
        if nbytes is None:  # each class has its own default: let it apply
            return _sliced(self, self.deadline, lambda: base(buffer, flags=flags))
        return _sliced(self, self.deadline, lambda: base(buffer, nbytes, flags))

    def send(self, data: ReadableBuffer, flags: int = 0) -> int:
        base = super().send
        return _sliced(self, self.deadline, lambda: base(data, flags))

    def sendall(self, data: ReadableBuffer, flags: int = 0) -> None:
        view = memoryview(data).cast("B")
        while view:
            view = view[self.send(view, flags):]


class DeadlineSSLSocket(DeadlineSocket, ssl.SSLSocket):
    """The TLS socket (`SSLContext.sslsocket_class`): reads, writes, handshake obey `deadline`."""

    def handshake(self) -> None:
        """The TLS handshake, in slices."""
        _sliced(self, self.deadline, self.do_handshake)


_lookups = threading.BoundedSemaphore(MAX_PENDING_LOOKUPS)


def _getaddrinfo(host: str, port: int) -> list[AddrInfo]:
    return list(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM))


def resolve(host: str, port: int, deadline: Deadline, lookup: Resolver = _getaddrinfo
            ) -> list[AddrInfo]:
    """Addresses of host:port; an IP literal at once, a name in a thread bounded by the deadline.

    `getaddrinfo` cannot be interrupted, so a hung resolver leaves its thread behind (a daemon
    thread, ended by the resolver's own timeout); at most MAX_PENDING_LOOKUPS may pile up.

    Raises:
        TransportError: the name is unknown, the look-up ran past the deadline, or cancelled.
    """
    try:
        return list(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                       flags=socket.AI_NUMERICHOST))
    except socket.gaierror:
        pass
    deadline.check()
    if not _lookups.acquire(blocking=False):
        raise TransportError(Failure.CONNECTION,
                             f"name look-up of {host} not started: {MAX_PENDING_LOOKUPS}"
                             " earlier look-ups are still hanging (is DNS working?)")
    done = threading.Event()
    answer: list[list[AddrInfo] | BaseException] = []

    def work() -> None:
        try:
            answer.append(lookup(host, port))
        except (OSError, UnicodeError) as exc:
            answer.append(exc)
        finally:
            _lookups.release()
            done.set()

    threading.Thread(target=work, name=f"resolve {host}", daemon=True).start()
    while not done.wait(deadline.slice()):
        pass
    result = answer[0]
    if isinstance(result, BaseException):
        raise TransportError(Failure.CONNECTION,
                             f"cannot resolve host name {host}: {result}") from None
    return result


def _connect_one(family: int, kind: int, proto: int, addr: Any, deadline: Deadline
                 ) -> DeadlineSocket:
    sock = DeadlineSocket(family, kind, proto)
    try:
        sock.setblocking(False)
        err = sock.connect_ex(addr)
        if err in (errno.EINPROGRESS, errno.EAGAIN):
            poller = select.poll()
            poller.register(sock, select.POLLOUT)
            while not poller.poll(deadline.slice() * 1000):
                pass
            err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if err:
            raise OSError(err, os.strerror(err))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock
    except BaseException:
        sock.close()
        raise


def open_tcp(host: str, port: int, deadline: Deadline) -> DeadlineSocket:
    """A connected TCP socket to host:port (each address in turn), within the deadline.

    Raises:
        TransportError: no address answered, or the deadline passed, or cancelled.
    """
    error: OSError | None = None
    for family, kind, proto, _, addr in resolve(host, port, deadline):
        try:
            return _connect_one(family, kind, proto, addr, deadline)
        except OSError as exc:
            error = exc
    shown = f"[{host}]" if ":" in host else host
    raise TransportError(Failure.CONNECTION,
                         f"cannot connect to {shown} port {port}: {error or 'no address'}")
