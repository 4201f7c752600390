"""The listening sockets of ``serve``: one set per worker slot with ``SO_REUSEPORT``.

The supervisor binds them before forking, so a worker that dies is replaced on the same socket
and connections waiting in its accept queue are not lost.
"""

from __future__ import annotations

import errno
import socket
import sys

BACKLOG = 4096  # thousands of clients may connect at once (bench: 5,000 slow streams)
REUSE_PORT = hasattr(socket, "SO_REUSEPORT") and sys.platform.startswith("linux")


def listen(host: str, port: int, n: int) -> list[list[socket.socket]]:
    """Listening sockets for ``n`` slots: one set per slot with ``SO_REUSEPORT``, else one
    set shared by all. ``OSError`` (``EADDRINUSE``) if anything else holds the port."""
    addrs = _addresses(host, port)
    _check_free(addrs)
    if not REUSE_PORT:
        shared = [_bind(family, addr, reuse_port=False) for family, addr in addrs]
        return [shared] * n
    out: list[list[socket.socket]] = []
    try:
        for _ in range(n):
            out.append([_bind(family, addr, reuse_port=True) for family, addr in addrs])
    except OSError:
        for socks in out:
            for s in socks:
                s.close()
        raise
    return out


def _addresses(host: str, port: int) -> list[tuple[int, tuple[object, ...]]]:
    infos = socket.getaddrinfo(
        host, port, socket.AF_UNSPEC, socket.SOCK_STREAM, 0, socket.AI_PASSIVE
    )
    seen: dict[tuple[int, object], tuple[int, tuple[object, ...]]] = {}
    for family, _type, _proto, _name, addr in infos:
        if family in (socket.AF_INET, socket.AF_INET6):
            seen.setdefault((family, addr[0]), (family, tuple(addr)))
    if not seen:
        raise OSError(errno.EADDRNOTAVAIL, f"{host} has no IP address to listen on")
    return list(seen.values())


def check_port_free(host: str, port: int) -> None:
    """``OSError`` (``EADDRINUSE``, ``EADDRNOTAVAIL``, ...) if ``host:port`` cannot be bound."""
    _check_free(_addresses(host, port))


def _check_free(addrs: list[tuple[int, tuple[object, ...]]]) -> None:
    """A plain bind fails while anything — another gateway's ``SO_REUSEPORT`` sockets too —
    holds the port, where our own ``SO_REUSEPORT`` bind would silently share it."""
    for family, addr in addrs:
        _bind(family, addr, reuse_port=False, listen=False).close()


def _bind(
    family: int, addr: tuple[object, ...], *, reuse_port: bool, listen: bool = True
) -> socket.socket:
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)  # as asyncio does
        sock.bind(addr)
        if listen:
            sock.listen(BACKLOG)
            sock.set_inheritable(True)
        return sock
    except BaseException:
        sock.close()
        raise
