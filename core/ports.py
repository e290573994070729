"""Ports for the servers the project starts itself (private services, test and bench servers).

A port the kernel hands out for bind(0) comes from the ephemeral range, the same range every
outgoing connection takes its source port from. Between choosing such a port and a server binding
it, a client's connection (a simulator's 10,000 MQTT sockets, a test's WebSocket) could take it,
and the server failed with "Address already in use". Ports below that range are never taken that
way, so they are chosen there, at random, and checked free."""

from __future__ import annotations

import random
import socket
from pathlib import Path

LOWEST = 10_000
EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")


def ephemeral_low() -> int:
    try:
        return int(EPHEMERAL_RANGE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32_768  # Linux's default


def free_port(host: str = "127.0.0.1") -> int:
    """A port of ``host`` that nothing listens on, below the ephemeral range where there is room."""
    high = ephemeral_low()
    if high - LOWEST > 1_000:
        for _ in range(100):
            port = random.randrange(LOWEST, high)
            with socket.socket() as s:
                try:
                    s.bind((host, port))
                except OSError:
                    continue
                return port
    with socket.socket() as s:  # no room below the range: the kernel's choice
        s.bind((host, 0))
        return s.getsockname()[1]
