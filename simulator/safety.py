"""Loopback guard for anything that sends load or listens for it.

Theory of operation: load tests must only reach this machine. Every target URL or bind
address passes through `check_target` before a socket opens; a host that is not a
loopback address (127.0.0.0/8, ::1, or a name that resolves only to those) is refused
unless the caller explicitly allows remote hosts. Servers, the replay engine and the
Locust users share this one check so the rule cannot drift between them.
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from simulator.validation import InputError


def is_loopback_host(host: str) -> bool:
    """True when every address `host` names is a loopback address."""
    host = host.strip("[]")
    if not host:
        return False
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False
    addresses = {info[4][0] for info in infos}
    return bool(addresses) and all(
        ipaddress.ip_address(str(a).split("%")[0]).is_loopback for a in addresses
    )


def check_host(host: str, allow_remote: bool = False, field: str = "target") -> None:
    """Refuse a non-loopback host unless `allow_remote` is set."""
    if allow_remote or is_loopback_host(host):
        return
    raise InputError(
        "command line",
        field,
        host,
        "must be a loopback address (127.0.0.0/8, ::1, localhost); "
        "pass --allow-remote to send load to another host",
    )


def check_target(url: str, allow_remote: bool = False, field: str = "target") -> None:
    """Refuse a target URL whose host is not loopback unless `allow_remote` is set."""
    host = urlsplit(url).hostname or ""
    if not host:
        raise InputError("command line", field, url, "must be a URL with a host")
    check_host(host, allow_remote, field)
