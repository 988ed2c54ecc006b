"""DNS rebinding: a name is resolved once, by the loopback check, and every client connects
to the address that was checked.

The fake resolver answers 127.0.0.1 for `rebind.test` the first time and 192.0.2.1
(TEST-NET-1) every time after, like a rebinding attacker's DNS. It never asks a real
resolver. Every socket connect is watched: one to 192.0.2.0/24 is recorded and refused
before it leaves the machine, and the test fails. Servers listen on 127.0.0.1 only.
"""

from __future__ import annotations

import contextlib
import ipaddress
import socket
import socketserver
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from simulator import safety
from simulator.replay.targets import TargetOptions, make_target
from simulator.safety import check_host, check_target, pinned
from simulator.validation import InputError

OUTSIDE = ipaddress.ip_network("192.0.2.0/24")  # TEST-NET-1: documentation only
NAME = "rebind.test"


@dataclass
class Rebinding:
    answers: list[str]  # what `rebind.test` resolves to, call by call (the last repeats)
    calls: int = 0
    outside: list[Any] = field(default_factory=list)  # connects attempted off loopback


@pytest.fixture
def rebind(monkeypatch: pytest.MonkeyPatch) -> Rebinding:
    state = Rebinding(answers=["127.0.0.1", "192.0.2.1"])
    monkeypatch.setattr(safety, "_CHECKED", {})  # no check from another test

    def getaddrinfo(
        host: Any, port: Any, family: int = 0, type: int = 0, proto: int = 0, flags: int = 0
    ) -> list[Any]:
        name = host.decode() if isinstance(host, bytes) else str(host)
        try:
            address = str(ipaddress.ip_address(name))
        except ValueError:
            if name != NAME:
                raise socket.gaierror(socket.EAI_NONAME, "fake resolver: unknown name") from None
            address = state.answers[min(state.calls, len(state.answers) - 1)]
            state.calls += 1
        port_number = int(port or 0)
        if ipaddress.ip_address(address).version == 6:
            return [(socket.AF_INET6, socket.SOCK_STREAM, 6, "", (address, port_number, 0, 0))]
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (address, port_number))]

    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex

    def watched(address: Any) -> None:
        if isinstance(address, tuple) and ipaddress.ip_address(address[0]) in OUTSIDE:
            state.outside.append(address)
            raise AssertionError(f"a client tried to connect to {address} (off loopback)")

    def connect(self: socket.socket, address: Any) -> None:
        watched(address)
        real_connect(self, address)

    def connect_ex(self: socket.socket, address: Any) -> int:
        watched(address)
        return real_connect_ex(self, address)

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
    return state


# -- loopback servers -------------------------------------------------------------------


class _Http(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.server.hosts.append(self.headers["Host"])  # type: ignore[attr-defined]
        redirect = self.server.redirect  # type: ignore[attr-defined]
        self.send_response(307 if redirect else 201)
        if redirect:
            self.send_header("Location", redirect)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        return None


@contextlib.contextmanager
def http_server(redirect: str | None = None) -> Iterator[Any]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Http)
    server.hosts = []  # type: ignore[attr-defined]
    server.redirect = redirect  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


class _Smtp(socketserver.StreamRequestHandler):
    """Just enough SMTP for one transaction: no PIPELINING, every command accepted."""

    def handle(self) -> None:
        self.wfile.write(b"220 loopback\r\n")
        while line := self.rfile.readline(1000):
            verb = line[:4].upper()
            if verb == b"DATA":
                self.wfile.write(b"354 go on\r\n")
                while self.rfile.readline(10_000) not in (b".\r\n", b""):
                    pass
                self.server.messages += 1  # type: ignore[attr-defined]
                self.wfile.write(b"250 stored\r\n")
            elif verb == b"QUIT":
                self.wfile.write(b"221 bye\r\n")
                return
            else:
                self.wfile.write(b"250 ok\r\n")


@contextlib.contextmanager
def smtp_server() -> Iterator[Any]:
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Smtp)
    server.daemon_threads = True
    server.messages = 0  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


WIRE = (
    b"MAIL FROM:<a@opm.example>\r\nRCPT TO:<b@opm.example>\r\nDATA\r\n",
    1,
    b"hi\r\n.\r\n",
    None,
)


# -- the check --------------------------------------------------------------------------


def test_check_records_what_it_saw_and_clients_reuse_it(rebind: Rebinding) -> None:
    checked = check_target(f"http://{NAME}:8080/replies")
    assert checked.addresses == ("127.0.0.1",)
    assert pinned(NAME).addresses == ("127.0.0.1",)  # no second lookup
    assert rebind.calls == 1


def test_second_answer_off_loopback_is_refused_when_nobody_checked(rebind: Rebinding) -> None:
    rebind.answers = ["192.0.2.1"]
    with pytest.raises(InputError, match=r"resolves to 192\.0\.2\.1"):
        make_target(f"http://{NAME}:8080/replies", TargetOptions(timeout_s=5.0, fast_http=True))
    with pytest.raises(InputError, match="loopback"):
        make_target(f"smtp://{NAME}:2525", TargetOptions(timeout_s=5.0))
    assert rebind.outside == []


def test_a_name_with_one_outside_address_is_refused(
    rebind: Rebinding, monkeypatch: pytest.MonkeyPatch
) -> None:
    both = [
        (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("127.0.0.1", 0)),
        (socket.AF_INET, socket.SOCK_STREAM, 6, "", ("192.0.2.1", 0)),
    ]
    monkeypatch.setattr(socket, "getaddrinfo", lambda *a, **k: both)
    with pytest.raises(InputError, match=r"127\.0\.0\.1, 192\.0\.2\.1"):
        check_host(NAME)


# -- every client connects to the checked address ------------------------------------------


async def test_lean_http_client(rebind: Rebinding) -> None:
    with http_server() as server:
        port = server.server_address[1]
        url = f"http://{NAME}:{port}/replies"
        check_target(url, field="--target")  # as `pulsecheck replay` does first
        target = make_target(url, TargetOptions(timeout_s=5.0, fast_http=True))
        session = await target.open()
        try:
            out = await session.deliver((target.auth.line("DOD"), b"{}"))  # type: ignore[attr-defined]
        finally:
            await session.close()
    assert rebind.outside == []
    assert out.status == 201
    assert server.hosts == [f"{NAME}:{port}"]  # the name stays in the Host header
    assert rebind.calls == 1


async def test_aiohttp_client(rebind: Rebinding) -> None:
    with http_server() as server:
        port = server.server_address[1]
        url = f"http://{NAME}:{port}/replies"
        check_target(url, field="--target")
        target = make_target(url, TargetOptions(timeout_s=5.0, fast_http=False))
        session = await target.open()
        try:
            out = await session.deliver((target._headers("DOD"), b"{}"))  # type: ignore[attr-defined]
        finally:
            await target.aclose()
    assert rebind.outside == []
    assert out.status == 201
    assert server.hosts == [f"{NAME}:{port}"]
    assert rebind.calls == 1


async def test_aiohttp_redirect_off_loopback_is_not_followed(rebind: Rebinding) -> None:
    with http_server(redirect="http://192.0.2.1:8080/elsewhere") as server:
        port = server.server_address[1]
        target = make_target(
            f"http://127.0.0.1:{port}/replies", TargetOptions(timeout_s=5.0, fast_http=False)
        )
        session = await target.open()
        try:
            with pytest.raises(ConnectionError, match=r"192\.0\.2\.1"):
                await session.deliver((target._headers("DOD"), b"{}"))  # type: ignore[attr-defined]
        finally:
            await target.aclose()
    assert rebind.outside == []
    assert server.hosts == [f"127.0.0.1:{port}"]


async def test_smtp_client(rebind: Rebinding) -> None:
    with smtp_server() as server:
        port = server.server_address[1]
        url = f"smtp://{NAME}:{port}"
        check_target(url, field="--target")
        target = make_target(url, TargetOptions(timeout_s=5.0))
        session = await target.open()
        try:
            out = await session.deliver(WIRE)
        finally:
            await session.close()
    assert rebind.outside == []
    assert out.status == 250
    assert server.messages == 1
    assert rebind.calls == 1
