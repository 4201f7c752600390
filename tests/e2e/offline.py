"""Running a real npm client with nothing but loopback to talk to, and proving it.

Both end-to-end harnesses (Codex CLI, Claude Code) start their client with a scrubbed
environment whose proxies point at a bound-but-closed loopback port (so any stray HTTP fails at
once) and trace its connections with strace; any non-loopback address fails the test.
"""

from __future__ import annotations

import ipaddress
import os
import re
import socket
from collections.abc import Mapping

PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy")
LOOPBACK_HOSTS = "127.0.0.1,localhost,::1"


def offline_env(
    scrub_prefixes: tuple[str, ...], dead_port: int, values: Mapping[str, str]
) -> dict[str, str]:
    """This process's environment without the client's own settings (``scrub_prefixes``),
    with ``values``, no proxy for loopback and a dead proxy for everything else."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.upper().startswith(scrub_prefixes) and k.upper() != "NO_PROXY"
    }
    env.update(values)
    env.update(
        {
            "NO_PROXY": LOOPBACK_HOSTS,
            "no_proxy": LOOPBACK_HOSTS,
            "NO_COLOR": "1",
            "TERM": "dumb",
            "GIT_TERMINAL_PROMPT": "0",
        }
    )
    for var in PROXY_VARS:
        env[var] = f"http://127.0.0.1:{dead_port}"
    return env


# -- network audit -----------------------------------------------------------------------------

_INET4 = re.compile(r'sin_addr=inet_addr\("([^"]+)"\)')
_INET6 = re.compile(r'inet_pton\(AF_INET6, "([^"]+)"')
_PORT = re.compile(r"sin6?_port=htons\((\d+)\)")


def _is_local(addr: str) -> bool:
    try:
        ip = ipaddress.ip_address(addr)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback


def outbound_attempts(strace_text: str) -> list[str]:
    """Every non-loopback address in traced connect/sendto/sendmsg calls, as "addr:port | line"."""
    found = []
    for line in strace_text.splitlines():
        if not any(call in line for call in ("connect(", "sendto(", "sendmsg(")):
            continue
        addrs = _INET4.findall(line) + _INET6.findall(line)
        for addr in addrs:
            if not _is_local(addr):
                port = _PORT.search(line)
                found.append(f"{addr}:{port.group(1) if port else '?'} | {line.strip()[:240]}")
    return found


class DeadPort:
    """A loopback TCP port that is bound but never listens: connecting is refused at once."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]

    def close(self) -> None:
        self.sock.close()
