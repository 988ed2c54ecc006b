"""Loopback guard for anything that sends load or listens for it.

Theory of operation: load tests must only reach this machine. Every target URL or bind
address passes through `check_target`/`check_host` before a socket opens; a host that is
not a loopback address (127.0.0.0/8, ::1, or a name that resolves only to those) is
refused unless the caller explicitly allows remote hosts. Servers, the replay engine and
the Locust users share this one check so the rule cannot drift between them.

A name is resolved once. The check records what it saw (`CheckedHost`: the name and the
addresses it resolved to) for the life of the process, and every client connects to
those addresses through `pinned(host)`, never to the name again: a resolver that answers
127.0.0.1 to the check and another address to the connect (DNS rebinding) cannot move
the load off loopback. The name itself is kept for the HTTP Host header and TLS SNI.
A client asking for a host nobody checked in this process gets one checked now.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import urlsplit

from simulator.validation import InputError

P = TypeVar("P", bound=asyncio.BaseProtocol)


@dataclass(frozen=True)
class CheckedHost:
    """A host as checked: its name, the addresses it resolved to, and whether the user
    allowed it off loopback."""

    host: str
    addresses: tuple[str, ...]
    remote_allowed: bool = False

    @property
    def loopback(self) -> bool:
        return bool(self.addresses) and all(_is_loopback_address(a) for a in self.addresses)


_CHECKED: dict[str, CheckedHost] = {}
_LOCK = threading.Lock()


def _key(host: str) -> str:
    return host.strip("[]").lower()


def _is_loopback_address(address: str) -> bool:
    try:
        return ipaddress.ip_address(address.split("%")[0]).is_loopback
    except ValueError:
        return False


def resolve(host: str) -> tuple[str, ...]:
    """Every address `host` names, in the resolver's order, each once; () if none.
    An IP literal is its own address (no lookup)."""
    host = host.strip("[]")
    if not host:
        return ()
    try:
        return (str(ipaddress.ip_address(host.split("%")[0])),)
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return ()
    return tuple(dict.fromkeys(str(info[4][0]) for info in infos))


def is_loopback_host(host: str) -> bool:
    """True when every address `host` names is a loopback address."""
    return CheckedHost(host, resolve(host)).loopback


def check_host(host: str, allow_remote: bool = False, field: str = "target") -> CheckedHost:
    """Resolve `host` once, refuse it unless loopback (or `allow_remote`), and record the
    addresses seen so that clients connect to exactly these."""
    checked = CheckedHost(host.strip("[]"), resolve(host), allow_remote)
    if not allow_remote and not checked.loopback:
        seen = f" (it resolves to {', '.join(checked.addresses)})" if checked.addresses else ""
        raise InputError(
            "command line",
            field,
            host,
            f"must be a loopback address (127.0.0.0/8, ::1, localhost){seen}; "
            "pass --allow-remote to send load to another host",
        )
    if checked.addresses:
        with _LOCK:
            _CHECKED[_key(host)] = checked
    return checked


def check_target(url: str, allow_remote: bool = False, field: str = "target") -> CheckedHost:
    """Refuse a target URL whose host is not loopback unless `allow_remote` is set."""
    host = urlsplit(url).hostname or ""
    if not host:
        raise InputError("command line", field, url, "must be a URL with a host")
    return check_host(host, allow_remote, field)


def pinned(host: str, allow_remote: bool = False, field: str = "target") -> CheckedHost:
    """The addresses a client may connect to for `host`: those of the check made in this
    process (no new lookup), else of a check made now. A host checked as remote stays
    usable only where remote hosts were allowed."""
    with _LOCK:
        found = _CHECKED.get(_key(host))
    if found is not None and (found.loopback or found.remote_allowed or allow_remote):
        return found
    return check_host(host, allow_remote, field)


async def create_connection(
    factory: Callable[[], P],
    checked: CheckedHost,
    port: int,
    tls: ssl.SSLContext | None = None,
    server_hostname: str | None = None,
) -> tuple[asyncio.BaseTransport, P]:
    """Connect to the first of the checked addresses that answers, never to the name.
    With a TLS context the handshake sends `server_hostname` as SNI and verifies the
    certificate against it (default: the checked name), whatever address the socket
    reached; a failed handshake is raised at once (another address would fail alike)."""
    loop = asyncio.get_running_loop()
    error: OSError = OSError(f"{checked.host} has no address")
    name = None if tls is None else server_hostname or checked.host
    for address in checked.addresses:
        try:
            return await loop.create_connection(
                factory, address, port, ssl=tls, server_hostname=name
            )
        except ssl.SSLError:
            raise
        except OSError as err:
            error = err
    raise error
