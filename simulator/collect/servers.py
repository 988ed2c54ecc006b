"""Start and stop the collection servers: in-process (async context managers) or in a child process.

Theory of operation: `running_api` and `running_mailbox` open the store, start the
server on a loopback port (0 picks a free one) and yield a handle with its address;
leaving the block stops accepting, lets in-flight writes commit, and closes the store.
`serve` runs one server until SIGTERM/SIGINT with the same drain-flush-close order.
`ServerProcess` runs `serve` in a separate process (multiprocessing, spawn) so a load
client on the other core can drive it; it learns the bound address over a pipe.
Binding anything but loopback needs `allow_remote=True`.
Protection at rest: `store_key` (a master key, see vault.py) seals reply contents per
agency; `retain_days` purges contents older than that, once before the server reports
its address and then every `retention_every_s()` seconds, through the store's writer.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import multiprocessing
import os
import signal
import socket
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

from simulator.collect.api import DEFAULT_READ_TIMEOUT_S, ApiConfig, build_app, runner_options
from simulator.collect.directory import Directory
from simulator.collect.mailbox import Mailbox, MailboxConfig, idle_sweeper
from simulator.collect.policy import Policy
from simulator.collect.store import (
    AnyStore,
    NullStore,
    Overloaded,
    Store,
    StoreClosed,
    purge_expired,
)
from simulator.collect.vault import Vault
from simulator.collections import (
    Collection,
    CollectionIndex,
    CollectionLike,
    default_collections,
)
from simulator.rules import ContentRules
from simulator.tokens import RevocationList
from simulator.validation import InputError

DEFAULT_HOST = "127.0.0.1"
DRAIN_SECONDS = 10.0


def check_bind(host: str, allow_remote: bool = False) -> None:
    """Refuse a non-loopback bind address unless remote binding was asked for."""
    if allow_remote or host == "localhost":
        return
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise InputError(
            "--host",
            "host",
            host,
            "must be a loopback address (127.0.0.0/8, ::1); pass --allow-remote to bind elsewhere",
        )


@dataclass
class ServerSpec:
    """Everything a server needs, picklable so a child process can rebuild it."""

    kind: str  # "api" or "mailbox"
    store_path: str | None  # None: storage off (benchmark baseline)
    rules_by_round: Mapping[str, ContentRules]
    directory: Directory | None = None
    workforce_path: str | None = None  # loaded in the server process when no directory
    collections: list[Collection] = field(default_factory=default_collections)
    host: str = DEFAULT_HOST
    port: int = 0
    allow_remote: bool = False
    secret: bytes = b""
    policy: Policy = field(default_factory=Policy)
    time_scale: float = 1.0
    broadcast_sender: str = "hr@opm.example"
    max_pending: int = 20_000
    max_batch: int = 2_000
    max_message_bytes: int = 1_000_000
    # mailbox only: time limits, session caps and the input buffer budget (MailboxConfig)
    command_timeout: float = 300.0
    data_timeout: float = 600.0
    max_sessions_per_client: int = 500
    max_buffered_bytes: int = 64 * 2**20
    sync: str = "full"
    commit_delay_s: float = 0.0  # tests only: a slow disk of known speed
    use_uvloop: bool = True
    read_timeout_s: float = DEFAULT_READ_TIMEOUT_S  # API: request head, and body, within this
    revoked_path: str | None = None  # file of revoked token key ids, re-read on change
    store_key: bytes | None = None  # master key: seal reply contents per agency; None: plaintext
    retain_days: float | None = None  # purge reply contents older than this; None: keep

    @property
    def vault(self) -> Vault | None:
        return None if self.store_key is None else Vault(self.store_key)

    def load_directory(self) -> Directory:
        if self.directory is not None:
            return self.directory
        if self.workforce_path is None:
            raise InputError("server", "workforce", None, "give a directory or a workforce file")
        rules = [*self.rules_by_round.values(), *(c.rules for c in self.collections if c.rules)]
        with_names = any(r.no_coworker_names for r in rules)
        return Directory.from_parquet(self.workforce_path, with_names=with_names)


@dataclass
class Running:
    """A started server: where it listens and its store."""

    kind: str
    host: str
    port: int
    store: AnyStore
    mailbox: Mailbox | None = None  # the mailbox's shared state (its own accounting)

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}" if self.kind == "api" else f"smtp://{host}:{self.port}"


def _open_store(spec: ServerSpec) -> AnyStore:
    if spec.store_path is None:
        return NullStore()
    return Store(
        spec.store_path,
        max_pending=spec.max_pending,
        max_batch=spec.max_batch,
        sync=spec.sync,
        commit_delay_s=spec.commit_delay_s,
        vault=spec.vault,
    )


RETENTION_PRINCIPAL = "server:retention"


def retention_every_s(retain_days: float) -> float:
    """How often a server sweeps: 1/24 of the retention, between 1 s and 1 h."""
    return min(3600.0, max(1.0, retain_days * 86_400 / 24))


@contextlib.asynccontextmanager
async def _retention(store: AnyStore, retain_days: float | None) -> AsyncIterator[None]:
    """Purge expired contents now, then sweep in the background until the block ends."""
    if retain_days is None or not isinstance(store, Store):
        yield
        return
    retain_s = retain_days * 86_400

    async def sweep() -> None:
        with contextlib.suppress(Overloaded, StoreClosed):  # busy or closing: next time
            await purge_expired(store, retain_s, RETENTION_PRINCIPAL)

    async def sweeper() -> None:
        while True:
            await asyncio.sleep(retention_every_s(retain_days))
            await sweep()

    await sweep()
    task = asyncio.create_task(sweeper())
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


@contextlib.asynccontextmanager
async def running_api(
    store_path: str | Path | None,
    directory: Directory,
    rules_by_round: Mapping[str, ContentRules],
    *,
    secret: bytes,
    collections: Iterable[CollectionLike] | None = None,
    host: str = DEFAULT_HOST,
    port: int = 0,
    allow_remote: bool = False,
    max_pending: int = 20_000,
    sync: str = "full",
    read_timeout_s: float = DEFAULT_READ_TIMEOUT_S,
    revoked_path: str | Path | None = None,
    store_key: bytes | None = None,
    retain_days: float | None = None,
) -> AsyncIterator[Running]:
    """Run the HTTP collection API inside the current loop for the block's duration."""
    spec = ServerSpec(
        "api",
        None if store_path is None else str(store_path),
        rules_by_round,
        directory,
        collections=_collections(collections),
        host=host,
        port=port,
        allow_remote=allow_remote,
        secret=secret,
        max_pending=max_pending,
        sync=sync,
        read_timeout_s=read_timeout_s,
        revoked_path=None if revoked_path is None else str(revoked_path),
        store_key=store_key,
        retain_days=retain_days,
    )
    async with _api(spec) as running:
        yield running


@contextlib.asynccontextmanager
async def running_mailbox(
    store_path: str | Path | None,
    directory: Directory,
    rules_by_round: Mapping[str, ContentRules],
    *,
    collections: Iterable[CollectionLike] | None = None,
    host: str = DEFAULT_HOST,
    port: int = 0,
    allow_remote: bool = False,
    policy: Policy | None = None,
    time_scale: float = 1.0,
    broadcast_sender: str = "hr@opm.example",
    max_pending: int = 20_000,
    max_message_bytes: int = 1_000_000,
    sync: str = "full",
    store_key: bytes | None = None,
    retain_days: float | None = None,
    secret: bytes = b"",
    revoked_path: str | None = None,
    command_timeout: float = 300.0,
    data_timeout: float = 600.0,
    max_sessions_per_client: int = 500,
    max_buffered_bytes: int = 64 * 2**20,
) -> AsyncIterator[Running]:
    """Run the SMTP mailbox inside the current loop for the block's duration.

    With a `secret` it offers AUTH (user = agency code, password = its token); without
    one, collections internal to an agency cannot be written to."""
    spec = ServerSpec(
        "mailbox",
        None if store_path is None else str(store_path),
        rules_by_round,
        directory,
        collections=_collections(collections),
        host=host,
        port=port,
        allow_remote=allow_remote,
        policy=policy or Policy(),
        time_scale=time_scale,
        broadcast_sender=broadcast_sender,
        max_pending=max_pending,
        max_message_bytes=max_message_bytes,
        sync=sync,
        store_key=store_key,
        retain_days=retain_days,
        secret=secret,
        revoked_path=revoked_path,
        command_timeout=command_timeout,
        data_timeout=data_timeout,
        max_sessions_per_client=max_sessions_per_client,
        max_buffered_bytes=max_buffered_bytes,
    )
    async with _mailbox(spec) as running:
        yield running


def _collections(
    items: Iterable[CollectionLike] | None,
) -> list[Collection]:
    return CollectionIndex(default_collections() if items is None else items).all


@contextlib.asynccontextmanager
async def _api(spec: ServerSpec) -> AsyncIterator[Running]:
    check_bind(spec.host, spec.allow_remote)
    if not spec.read_timeout_s > 0:
        raise InputError("server", "read_timeout_s", spec.read_timeout_s, "must be > 0")
    revoked = None if spec.revoked_path is None else RevocationList(spec.revoked_path)
    store = _open_store(spec)
    config = ApiConfig(
        spec.load_directory(),
        spec.rules_by_round,
        CollectionIndex(spec.collections),
        spec.secret,
        spec.store_path,
        revoked=revoked,
        read_timeout_s=spec.read_timeout_s,
        vault=store.vault if isinstance(store, Store) else None,
    )
    runner = web.AppRunner(build_app(config, store), **runner_options(spec.read_timeout_s))
    await runner.setup()
    try:
        async with _retention(store, spec.retain_days):
            site = web.TCPSite(runner, spec.host, spec.port, backlog=1024)
            await site.start()
            host, port = _bound(runner.addresses[0])
            yield Running("api", host, port, store)
    finally:
        await runner.cleanup()  # stops accepting, waits for in-flight handlers
        await store.close()


@contextlib.asynccontextmanager
async def _mailbox(spec: ServerSpec) -> AsyncIterator[Running]:
    check_bind(spec.host, spec.allow_remote)
    store = _open_store(spec)
    rounds = spec.rules_by_round
    config = MailboxConfig(
        spec.load_directory(),
        CollectionIndex(spec.collections),
        rounds,
        next(iter(rounds)),
        broadcast_sender=spec.broadcast_sender.lower(),
        max_message_bytes=spec.max_message_bytes,
        policy=spec.policy,
        time_scale=spec.time_scale,
        max_sessions_per_client=spec.max_sessions_per_client,
        command_timeout=spec.command_timeout,
        data_timeout=spec.data_timeout,
        max_buffered_bytes=spec.max_buffered_bytes,
        secret=spec.secret,
        revoked=None if spec.revoked_path is None else RevocationList(spec.revoked_path),
    )
    mailbox = Mailbox(config, store)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(mailbox.protocol, spec.host, spec.port, backlog=1024)
    sweeper = asyncio.create_task(idle_sweeper(mailbox))
    try:
        async with _retention(store, spec.retain_days):
            host, port = _bound(server.sockets[0].getsockname())
            yield Running("mailbox", host, port, store, mailbox)
    finally:
        sweeper.cancel()
        await _drain_mailbox(mailbox, server)
        await store.close()


async def _drain_mailbox(mailbox: Mailbox, server: asyncio.Server) -> None:
    mailbox.accepting = False
    server.close()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + DRAIN_SECONDS
    while any(s.busy for s in mailbox.sessions) and loop.time() < deadline:
        await asyncio.sleep(0.01)
    for session in list(mailbox.sessions):
        if session.transport is not None:
            session.transport.write(b"421 4.3.2 shutting down\r\n")
            session.transport.close()
    await server.wait_closed()


def _bound(address: Any) -> tuple[str, int]:
    return str(address[0]), int(address[1])


# -- run until a signal --------------------------------------------------------------
async def serve(spec: ServerSpec, on_ready: Callable[[Running], None]) -> None:
    """Run one server until SIGTERM or SIGINT, then drain, flush and close."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    starter = _api if spec.kind == "api" else _mailbox
    async with starter(spec) as running:
        on_ready(running)
        await stop.wait()


def run_blocking(spec: ServerSpec, on_ready: Callable[[Running], None]) -> None:
    """`serve` on a fresh event loop (uvloop when available and asked for)."""
    if spec.use_uvloop:
        with contextlib.suppress(ImportError):
            import uvloop

            uvloop.run(serve(spec, on_ready))
            return
    asyncio.run(serve(spec, on_ready))


PARENT_POLL_S = 1.0  # how often a server child checks that its parent is alive


def _drain_when_orphaned() -> None:
    """SIGTERM this process (the server's drain) once the process that started it is
    gone, so a parent killed outright leaves no server behind holding its port."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(PARENT_POLL_S)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _child(spec: ServerSpec, conn: Any) -> None:
    _drain_when_orphaned()

    def ready(running: Running) -> None:
        conn.send((running.host, running.port))
        conn.close()

    try:
        run_blocking(spec, ready)
    except BaseException as err:
        with contextlib.suppress(OSError):
            conn.send(("error", repr(err)))
        raise


class ServerProcess:
    """A server in a child process: `start()` returns (host, port); `stop()` drains it."""

    def __init__(self, spec: ServerSpec) -> None:
        self.spec = spec
        ctx = multiprocessing.get_context("spawn")
        self._parent, child = ctx.Pipe()
        self.process = ctx.Process(target=_child, args=(spec, child), daemon=True)
        self.host = ""
        self.port = 0

    def start(self, timeout: float = 60.0) -> tuple[str, int]:
        self.process.start()
        if not self._parent.poll(timeout):
            self.process.kill()
            raise RuntimeError("collection server did not start in time")
        host, port = self._parent.recv()
        if host == "error":
            raise RuntimeError(f"collection server failed to start: {port}")
        self.host, self.port = str(host), int(port)
        return self.host, self.port

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM, wait for the drain; SIGKILL only if it does not exit in time."""
        if self.process.is_alive() and self.process.pid is not None:
            self.process.terminate()
            self.process.join(timeout)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
        return self.process.exitcode

    def __enter__(self) -> ServerProcess:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def free_port(host: str = DEFAULT_HOST) -> int:
    """A currently free TCP port on `host` (racy; for tests that restart a server)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])
