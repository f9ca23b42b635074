"""Block connections to anything but loopback, in tests and their subprocesses.

conftest.py puts this folder on PYTHONPATH, so every Python process a test
starts imports it; a blocked attempt raises NetworkAccessBlocked naming the
address, and is appended to $MODELDECK_NETGUARD_LOG so the test fails even
when the code under test swallows the error.
"""

from __future__ import annotations

import ipaddress
import os
import socket


class NetworkAccessBlocked(RuntimeError):
    """A test tried to reach a non-loopback address."""


def is_local(host) -> bool:
    if host is None:
        return True
    host = host.decode() if isinstance(host, bytes) else str(host)
    if host in ("localhost", "") or host.startswith("/"):
        return True
    try:
        return ipaddress.ip_address(host.split("%")[0]).is_loopback
    except ValueError:
        return False


def is_ip(host) -> bool:
    host = host.decode() if isinstance(host, bytes) else str(host)
    try:
        ipaddress.ip_address(host.split("%")[0])
        return True
    except ValueError:
        return False


def blocked(what: str) -> NetworkAccessBlocked:
    log = os.environ.get("MODELDECK_NETGUARD_LOG")
    if log:
        with open(log, "a") as f:
            f.write(what + "\n")
    return NetworkAccessBlocked(f"Tests must not use the network: blocked {what}")


def install() -> None:
    if getattr(socket, "_modeldeck_guard", False):
        return
    real_connect, real_connect_ex, real_getaddrinfo = socket.socket.connect, socket.socket.connect_ex, socket.getaddrinfo

    def check(sock, address):
        if sock.family in (socket.AF_INET, socket.AF_INET6) and not is_local(address[0]):
            raise blocked(f"connection to {address[0]}:{address[1]}")

    def connect(self, address):
        check(self, address)
        return real_connect(self, address)

    def connect_ex(self, address):
        check(self, address)
        return real_connect_ex(self, address)

    def getaddrinfo(host, *args, **kwargs):
        if not is_local(host) and not is_ip(host):  # an IP literal needs no lookup; connect() decides
            raise blocked(f"name lookup of {host}")
        return real_getaddrinfo(host, *args, **kwargs)

    socket.socket.connect, socket.socket.connect_ex, socket.getaddrinfo = connect, connect_ex, getaddrinfo
    socket._modeldeck_guard = True


if os.environ.get("MODELDECK_NETGUARD") == "1":
    install()
