"""Durable reply store: SQLite in WAL mode, one writer thread, group commit.

Theory of operation: the event loop hands each record to `Store.submit`, which queues it
for the single writer thread and returns a future. The writer takes everything queued
(up to `max_batch`), inserts it in one transaction and commits once, so one fsync covers
the whole batch (group commit). Only after that commit does it resolve the futures, in a
single hop back to the loop. A future resolves to "new" or "duplicate" (the idempotency
key was already stored), so callers acknowledge only what is on disk, and a retried
reply is stored exactly once. The queue is bounded: when `max_pending` records wait,
`submit` raises `Overloaded` and the caller sheds load instead of growing memory.

One bad record never disables the store. When a batch fails, the writer retries its
records one by one in a single transaction (a savepoint each): a record that cannot be
stored on its own (text that is not valid Unicode such as a lone surrogate, a number out
of range, a failed constraint) fails alone, and its future raises `InvalidRecord(reason)`;
every other record of the batch is committed and resolved as usual. Callers answer that
one request as bad input (the API: 400; the mailbox: a 5xx for that message). Only an
error that is not about one record (the disk is full or gone, an I/O error, a corrupt
file) stops the writer: it is logged (type and SQLite's message, never a record's
text), every queued and later write fails with `StoreFailed` (a `StoreClosed`), and
`failure` says why, so a health check can report it.

Exceptions a caller of `submit` can see: `Overloaded` (raised at once: shed),
`StoreClosed` (raised at once: shutting down), `StoreFailed` (the writer stopped; raised
at once or by the future), `InvalidRecord` (by the future: this record alone refused).

Readers (`counts`, `replies_for`, `stats`) open their own connections; WAL lets them read
while the writer commits.

Protection at rest (see vault.py): given a `Vault`, the writer thread seals each reply's
subject, cc and body into the `sealed` column under its agency's key; `replies_for`
opens only the asked agency's rows. Reads of contents are recorded in the append-only
`audit` table (triggers refuse UPDATE and DELETE), written through the writer like any
record (`AuditEntry`). Retention (`Purge`, `purge_expired`, `purge`) blanks subject, cc
and body of old rows in chunks but keeps each row, so idempotency and counts hold, and
audits each chunk in the same transaction.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import sqlite3
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from simulator.collect.vault import Contents, Vault, VaultError, refuse_plaintext

Outcome = Literal["new", "duplicate"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS replies (
    id            INTEGER PRIMARY KEY,
    idem_key      TEXT    NOT NULL UNIQUE,
    received_us   INTEGER NOT NULL,
    channel       TEXT    NOT NULL,
    collection    TEXT    NOT NULL,
    agency        TEXT    NOT NULL,
    sender        TEXT    NOT NULL,
    round         TEXT    NOT NULL,
    status        TEXT    NOT NULL,
    cc            TEXT    NOT NULL,
    cc_count      INTEGER NOT NULL,
    subject       TEXT    NOT NULL,
    body          TEXT    NOT NULL,
    attachments   INTEGER NOT NULL,
    size_bytes    INTEGER NOT NULL,
    sealed        BLOB,
    purged_us     INTEGER
);
CREATE TABLE IF NOT EXISTS deliveries (
    id            INTEGER PRIMARY KEY,
    idem_key      TEXT    NOT NULL UNIQUE,
    received_us   INTEGER NOT NULL,
    sender        TEXT    NOT NULL,
    round         TEXT    NOT NULL,
    rcpt_count    INTEGER NOT NULL,
    size_bytes    INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS rejections (
    id            INTEGER PRIMARY KEY,
    received_us   INTEGER NOT NULL,
    channel       TEXT    NOT NULL,
    collection    TEXT    NOT NULL,
    agency        TEXT    NOT NULL,
    round         TEXT    NOT NULL,
    rule          TEXT    NOT NULL
);
CREATE INDEX IF NOT EXISTS replies_by_agency ON replies (agency, id);
CREATE TABLE IF NOT EXISTS audit (
    id            INTEGER PRIMARY KEY,
    at_us         INTEGER NOT NULL,
    principal     TEXT    NOT NULL,
    action        TEXT    NOT NULL,
    agency        TEXT    NOT NULL,
    query         TEXT    NOT NULL,
    row_count     INTEGER NOT NULL,
    row_ids       TEXT    NOT NULL
);
CREATE TRIGGER IF NOT EXISTS audit_no_update BEFORE UPDATE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER IF NOT EXISTS audit_no_delete BEFORE DELETE ON audit
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
"""
# Columns added after the first release: (name, declaration), added to older stores on open.
_ADDED_REPLY_COLUMNS = (("sealed", "BLOB"), ("purged_us", "INTEGER"))

_INSERT_REPLY = (
    "INSERT OR IGNORE INTO replies (idem_key, received_us, channel, collection, agency, "
    "sender, round, status, cc, cc_count, subject, body, attachments, size_bytes, sealed) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, 'accepted', ?, ?, ?, ?, ?, ?, ?)"
)
_INSERT_AUDIT = (
    "INSERT INTO audit (at_us, principal, action, agency, query, row_count, row_ids) "
    "VALUES (?, ?, ?, ?, ?, ?, ?)"
)
_INSERT_DELIVERY = (
    "INSERT OR IGNORE INTO deliveries (idem_key, received_us, sender, round, rcpt_count, "
    "size_bytes) VALUES (?, ?, ?, ?, ?, ?)"
)
_INSERT_REJECTION = (
    "INSERT INTO rejections (received_us, channel, collection, agency, round, rule) "
    "VALUES (?, ?, ?, ?, ?, ?)"
)

SYNC_MODES = ("full", "normal", "off")

log = logging.getLogger("pulsecheck.collect.store")


class Overloaded(Exception):
    """The bounded write queue is full; the caller should shed this request."""


class StoreClosed(Exception):
    """The store no longer accepts writes (shutting down)."""


class StoreFailed(StoreClosed):
    """The writer stopped on an error that is not about one record (disk full or gone)."""


class InvalidRecord(ValueError):
    """This record alone cannot be stored; `reason` says why (never the record's text).

    The other records of its batch were committed. Answer the request that carried it as
    bad input; retrying the same record fails the same way.
    """

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


# Errors that one record's values cause while it is bound or inserted; anything else
# (sqlite3.OperationalError: disk full, I/O error, ...) is about the store itself.
_RECORD_ERRORS = (
    ValueError,  # UnicodeEncodeError: a lone surrogate in a text field
    TypeError,
    OverflowError,  # an integer beyond SQLite's 64 bits
    sqlite3.InterfaceError,
    sqlite3.ProgrammingError,  # a value of a type SQLite cannot bind
    sqlite3.IntegrityError,  # NOT NULL and other constraints
    sqlite3.DataError,  # a string or blob too big
)


def record_error_reason(err: BaseException) -> str:
    """Why one record was refused, without quoting any of its values."""
    if isinstance(err, UnicodeError):
        return "text is not valid Unicode (e.g. a lone surrogate) and cannot be stored"
    if isinstance(err, OverflowError):
        return "a number is out of the store's range"
    if isinstance(err, sqlite3.IntegrityError):
        return f"constraint failed ({getattr(err, 'sqlite_errorname', 'SQLITE_CONSTRAINT')})"
    if isinstance(err, sqlite3.DataError):
        return "a value is too big for the store"
    return f"a value cannot be stored ({type(err).__name__})"


def failure_reason(err: BaseException) -> str:
    """A store-level error as one line: its type and SQLite's own message (no values)."""
    if isinstance(err, sqlite3.Error):
        return f"{type(err).__name__}: {err}"  # SQLite's messages never quote bound values
    return type(err).__name__


@dataclass(frozen=True, slots=True)
class Reply:
    """One accepted reply, as stored in `replies`."""

    idem_key: str
    received_us: int
    channel: str  # "api" or "smtp"
    collection: str  # collection id
    agency: str  # sender's department code
    sender: str
    round: str
    cc: tuple[str, ...]
    subject: str
    body: str
    attachments: int
    size_bytes: int

    def row(self) -> tuple[Any, ...]:
        return (
            self.idem_key,
            self.received_us,
            self.channel,
            self.collection,
            self.agency,
            self.sender,
            self.round,
            ",".join(self.cc),
            len(self.cc),
            self.subject,
            self.body,
            self.attachments,
            self.size_bytes,
        )


@dataclass(frozen=True, slots=True)
class Delivery:
    """One non-reply SMTP transaction (e.g. a broadcast batch): counted, body not kept."""

    idem_key: str
    received_us: int
    sender: str
    round: str
    rcpt_count: int
    size_bytes: int

    def row(self) -> tuple[Any, ...]:
        return (
            self.idem_key,
            self.received_us,
            self.sender,
            self.round,
            self.rcpt_count,
            self.size_bytes,
        )


@dataclass(frozen=True, slots=True)
class Rejection:
    """A refused reply, kept for counting only (no text). Recorded best-effort."""

    received_us: int
    channel: str
    collection: str
    agency: str
    round: str
    rule: str

    def row(self) -> tuple[Any, ...]:
        return (
            self.received_us,
            self.channel,
            self.collection,
            self.agency,
            self.round,
            self.rule,
        )


@dataclass(frozen=True, slots=True)
class AuditEntry:
    """One access to reply contents: who, what (agency, rows, the query), when."""

    at_us: int
    principal: str  # e.g. "token:DHS@127.0.0.1" or "cli:alice"
    action: str  # "read" or "purge"
    agency: str  # the agency whose replies were read; "*" for every agency
    query: str  # the request as asked, e.g. "GET /agencies/DHS/replies?after=0&limit=100"
    row_ids: tuple[int, ...] = ()
    row_count: int | None = None  # default: len(row_ids)

    def row(self) -> tuple[Any, ...]:
        count = len(self.row_ids) if self.row_count is None else self.row_count
        ids = ",".join(map(str, self.row_ids))
        return (self.at_us, self.principal, self.action, self.agency, self.query, count, ids)


@dataclass(frozen=True, slots=True)
class Purge:
    """Remove subject, cc and body of up to `limit` replies received before `before_us`.

    The row, its idempotency key and its counts stay. Written by the writer thread like
    any record, so it never contends with group commits; its future resolves "new" when
    it purged rows (so there may be more) and "duplicate" when nothing was left to purge.
    The purge and its audit row commit together.
    """

    before_us: int
    at_us: int
    principal: str
    query: str
    limit: int = 2_000


Record = Reply | Delivery | Rejection | AuditEntry | Purge
_Item = tuple[Record, "asyncio.Future[Outcome] | None"]


class _Connection(sqlite3.Connection):
    """A store connection; `vault` seals every reply inserted through it (None: plaintext)."""

    vault: Vault | None = None


def connect(path: str | Path, sync: str = "full", vault: Vault | None = None) -> sqlite3.Connection:
    """Open (and create) a store database in WAL mode with the given fsync discipline."""
    if sync not in SYNC_MODES:
        raise ValueError(f"sync must be one of {SYNC_MODES}, got {sync!r}")
    conn = sqlite3.connect(
        str(path), isolation_level=None, check_same_thread=False, factory=_Connection
    )
    conn.vault = vault
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={sync.upper()}")
    conn.execute("PRAGMA busy_timeout=5000")
    conn.executescript(SCHEMA)
    _add_columns(conn)
    conn.execute("PRAGMA secure_delete=ON")  # a purge overwrites the old contents' bytes
    return conn


def _add_columns(conn: sqlite3.Connection) -> None:
    """Bring a store written by an older version up to this schema (additive only)."""
    have = {str(row[1]) for row in conn.execute("PRAGMA table_info(replies)")}
    for name, declaration in _ADDED_REPLY_COLUMNS:
        if name not in have:
            conn.execute(f"ALTER TABLE replies ADD COLUMN {name} {declaration}")
    conn.execute(
        "CREATE INDEX IF NOT EXISTS replies_unpurged ON replies (received_us) "
        "WHERE purged_us IS NULL"
    )


class Store:
    """The single writer of one database file. Create and use it inside a running loop."""

    def __init__(
        self,
        path: str | Path,
        *,
        max_pending: int = 20_000,
        max_batch: int = 2_000,
        sync: str = "full",
        commit_delay_s: float = 0.0,
        vault: Vault | None = None,
    ) -> None:
        self.path = Path(path)
        # Seals subject, cc and body of each reply in the writer thread; None: plaintext.
        self.vault = vault
        self.max_pending = max_pending
        self.max_batch = max_batch
        # Tests only: hold each group commit this long, a slow disk of known speed, so
        # capacity (max_batch / delay) does not depend on a noisy machine.
        self.commit_delay_s = commit_delay_s
        self._conn = connect(self.path, sync, vault)
        try:
            if vault is not None:
                vault.bind(self._conn, str(self.path))
            else:
                refuse_plaintext(self._conn, str(self.path))
        except BaseException:
            self._conn.close()
            raise
        self._queue: queue.SimpleQueue[_Item | None] = queue.SimpleQueue()
        self._loop = asyncio.get_running_loop()
        self._pending = 0
        self._closed = False
        self._failure: BaseException | None = None
        self.batches = 0
        self.committed = 0
        self._thread = threading.Thread(target=self._run, name="store-writer", daemon=True)
        self._thread.start()

    @property
    def pending(self) -> int:
        """Records queued or being committed."""
        return self._pending

    @property
    def full(self) -> bool:
        """Whether `submit` would raise `Overloaded` now: shed before doing any work."""
        return self._pending >= self.max_pending

    @property
    def failure(self) -> str | None:
        """Why the writer stopped (it no longer stores anything), or None while it works."""
        if self._failure is not None:
            return f"store writer failed: {failure_reason(self._failure)}"
        if not self._closed and not self._thread.is_alive():
            return "store writer thread is not running"
        return None

    def submit(self, record: Reply | Delivery | AuditEntry | Purge) -> asyncio.Future[Outcome]:
        """Queue a record; the future resolves once it is committed (or was already)."""
        if self._closed:
            raise StoreClosed("store is closing")
        if self.failure is not None:
            raise StoreFailed(self.failure)
        if self._pending >= self.max_pending:
            raise Overloaded(f"{self._pending} writes pending (limit {self.max_pending})")
        future: asyncio.Future[Outcome] = self._loop.create_future()
        self._pending += 1
        self._queue.put((record, future))
        return future

    def note(self, record: Rejection | AuditEntry) -> None:
        """Record a rejection or a refused read without waiting; dropped when the queue is full."""
        if not self._closed and self._pending < self.max_pending:
            self._pending += 1
            self._queue.put((record, None))

    async def close(self) -> None:
        """Drain everything queued, commit it, stop the writer and close the file."""
        if self._closed:
            return
        self._closed = True
        self._queue.put(None)
        await asyncio.to_thread(self._thread.join)
        with contextlib.suppress(sqlite3.Error):
            self._conn.close()

    # -- writer thread ------------------------------------------------------------
    def _run(self) -> None:
        stop = False
        while not stop:
            first = self._queue.get()
            batch, stop = self._take_batch(first)
            if batch:
                try:
                    self._commit(batch)
                except BaseException as err:  # a bug here must not strand the futures
                    self._stop_writing(err, batch)
        with contextlib.suppress(sqlite3.Error):
            self._conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def _take_batch(self, first: _Item | None) -> tuple[list[_Item], bool]:
        if first is None:
            return self._drain_rest(), True
        batch = [first]
        while len(batch) < self.max_batch:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is None:
                return batch + self._drain_rest(), True
            batch.append(item)
        return batch, False

    def _drain_rest(self) -> list[_Item]:
        rest: list[_Item] = []
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return rest
            if item is not None:
                rest.append(item)

    def _commit(self, batch: list[_Item]) -> None:
        if self._failure is not None:  # stopped: fail what is still queued, write nothing
            self._loop.call_soon_threadsafe(self._fail_batch, batch, self._failure)
            return
        if self.commit_delay_s > 0:
            time.sleep(self.commit_delay_s)
        try:
            outcomes: list[Outcome | InvalidRecord] = list(self._write(batch))
        except BaseException:  # one bad record, or the disk: find out record by record
            try:
                outcomes = self._write_each(batch)
            except BaseException as err:  # disk full, I/O error: not about one record
                self._stop_writing(err, batch)
                return
        self._loop.call_soon_threadsafe(self._resolve_batch, batch, outcomes)

    def _write(self, batch: list[_Item]) -> list[Outcome]:
        conn = self._conn
        outcomes: list[Outcome] = []
        conn.execute("BEGIN")
        try:
            for record, _ in batch:
                outcomes.append(_insert(conn, record))
            conn.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            raise
        return outcomes

    def _write_each(self, batch: list[_Item]) -> list[Outcome | InvalidRecord]:
        """The failed batch again, each record under its own savepoint, one commit."""
        conn = self._conn
        outcomes: list[Outcome | InvalidRecord] = []
        conn.execute("BEGIN")
        try:
            for record, _ in batch:
                conn.execute("SAVEPOINT record")
                try:
                    outcomes.append(_insert(conn, record))
                except _RECORD_ERRORS as err:
                    conn.execute("ROLLBACK TO record")
                    outcomes.append(InvalidRecord(record_error_reason(err)))
                    log.warning(
                        "store refused one %s record: %s",
                        type(record).__name__,
                        record_error_reason(err),
                    )
                conn.execute("RELEASE record")
            conn.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(sqlite3.Error):
                conn.execute("ROLLBACK")
            raise
        return outcomes

    def _stop_writing(self, err: BaseException, batch: list[_Item]) -> None:
        if self._failure is None:
            self._failure = err
            log.error("store writer stopped, no further writes: %s", failure_reason(err))
        self._loop.call_soon_threadsafe(self._fail_batch, batch, err)

    # -- back on the loop ---------------------------------------------------------
    def _resolve_batch(self, batch: list[_Item], outcomes: list[Outcome | InvalidRecord]) -> None:
        self._pending -= len(batch)
        self.batches += 1
        for (_, future), outcome in zip(batch, outcomes, strict=True):
            if isinstance(outcome, InvalidRecord):
                if future is not None and not future.done():
                    future.set_exception(outcome)
                continue
            self.committed += 1
            if future is not None and not future.done():
                future.set_result(outcome)

    def _fail_batch(self, batch: list[_Item], err: BaseException) -> None:
        self._pending -= len(batch)
        for _, future in batch:
            if future is not None and not future.done():
                future.set_exception(StoreFailed(f"store writer failed: {failure_reason(err)}"))


def _insert(conn: sqlite3.Connection, record: Record) -> Outcome:
    if isinstance(record, Reply):
        cursor = conn.execute(_INSERT_REPLY, _reply_row(record, getattr(conn, "vault", None)))
    elif isinstance(record, Delivery):
        cursor = conn.execute(_INSERT_DELIVERY, record.row())
    elif isinstance(record, Rejection):
        cursor = conn.execute(_INSERT_REJECTION, record.row())
    elif isinstance(record, AuditEntry):
        cursor = conn.execute(_INSERT_AUDIT, record.row())
    else:
        return "new" if purge_some(conn, record) else "duplicate"
    return "new" if cursor.rowcount == 1 else "duplicate"


def _reply_row(record: Reply, vault: Vault | None) -> tuple[Any, ...]:
    """The row to insert: plaintext, or subject, cc and body sealed into `sealed`."""
    if vault is None:
        return (*record.row(), None)
    r = record
    sealed = vault.seal(r.idem_key, r.agency, r.subject, r.cc, r.body)
    return (r.idem_key, r.received_us, r.channel, r.collection, r.agency, r.sender, r.round,
            "", len(r.cc), "", "", r.attachments, r.size_bytes, sealed)  # fmt: skip


class NullStore:
    """Stores nothing and answers at once: the storage-off baseline for benchmarks."""

    pending = 0
    batches = 0
    committed = 0
    full = False
    failure: str | None = None

    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()

    def submit(self, record: Reply | Delivery | AuditEntry | Purge) -> asyncio.Future[Outcome]:
        future: asyncio.Future[Outcome] = self._loop.create_future()
        future.set_result("new")
        return future

    def note(self, record: Rejection | AuditEntry) -> None:
        return None

    async def close(self) -> None:
        return None


AnyStore = Store | NullStore


# -- reading ----------------------------------------------------------------------
def open_reader(path: str | Path) -> sqlite3.Connection:
    """A read-only connection; the file must exist."""
    if not Path(path).exists():
        raise FileNotFoundError(str(path))
    conn = sqlite3.connect(f"file:{Path(path).resolve()}?mode=ro", uri=True)
    conn.execute("PRAGMA busy_timeout=5000")
    return conn


def stats(conn: sqlite3.Connection) -> list[tuple[str, str, str, int]]:
    """(agency, round, status, count) for accepted replies and rejections, sorted."""
    rows = conn.execute(
        "SELECT agency, round, status, COUNT(*) FROM replies GROUP BY 1, 2, 3 "
        "UNION ALL SELECT agency, round, 'rejected:' || rule, COUNT(*) FROM rejections "
        "GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"
    ).fetchall()
    return [(str(a), str(r), str(s), int(n)) for a, r, s, n in rows]


def delivery_totals(conn: sqlite3.Connection) -> tuple[int, int]:
    """(transactions, recipients) of non-reply deliveries such as the broadcast."""
    row = conn.execute("SELECT COUNT(*), COALESCE(SUM(rcpt_count), 0) FROM deliveries").fetchone()
    return int(row[0]), int(row[1])


def counts_for(conn: sqlite3.Connection, agency: str) -> dict[str, dict[str, int]]:
    """Accepted replies of one agency by round and collection."""
    rows = conn.execute(
        "SELECT round, collection, COUNT(*) FROM replies WHERE agency = ? GROUP BY 1, 2",
        (agency,),
    ).fetchall()
    out: dict[str, dict[str, int]] = {}
    for round_id, collection, count in rows:
        out.setdefault(str(round_id), {})[str(collection)] = int(count)
    return out


def replies_for(
    conn: sqlite3.Connection,
    agency: str,
    after_id: int = 0,
    limit: int = 100,
    vault: Vault | None = None,
) -> Sequence[dict[str, Any]]:
    """One page of an agency's replies, in id order, starting after `after_id`.

    Sealed rows are opened with `vault` under this agency's key only. Each row says how
    it was held in `at_rest`: "encrypted" (opened), "plaintext", "purged" (retention
    removed subject, cc and body), "locked" (sealed, no key for it given) or "tampered"
    (sealed, failed authentication: altered, moved from another row, or another key);
    the last two come with an empty subject, cc and body.
    """
    rows = conn.execute(
        "SELECT id, received_us, channel, collection, sender, round, cc, subject, body, "
        "attachments, idem_key, sealed, purged_us FROM replies "
        "WHERE agency = ? AND id > ? ORDER BY id LIMIT ?",
        (agency, after_id, limit),
    ).fetchall()
    keys = (
        "id",
        "received_us",
        "channel",
        "collection",
        "sender",
        "round",
        "cc",
        "subject",
        "body",
        "attachments",
    )
    pages = []
    for row in rows:
        page = dict(zip(keys, row[:10], strict=True))
        page["cc"] = [c for c in str(page["cc"]).split(",") if c]
        page["at_rest"] = _open_row(page, agency, row[10], row[11], row[12], vault)
        pages.append(page)
    return pages


def _open_row(
    page: dict[str, Any],
    agency: str,
    idem_key: str,
    sealed: bytes | None,
    purged_us: int | None,
    vault: Vault | None,
) -> str:
    if purged_us is not None:
        return "purged"
    if sealed is None:
        return "plaintext"
    page["subject"], page["cc"], page["body"] = "", [], ""  # only what the key opens
    if vault is None or not vault.can_open(agency):
        return "locked"
    try:
        contents: Contents = vault.open(idem_key, agency, sealed)
    except VaultError:
        return "tampered"
    page["subject"], page["cc"], page["body"] = contents.subject, list(contents.cc), contents.body
    return "encrypted"


# -- audit and retention ------------------------------------------------------------
def append_audit(conn: sqlite3.Connection, entry: AuditEntry) -> None:
    """Append one audit row (autocommit connection, e.g. the CLI's)."""
    conn.execute(_INSERT_AUDIT, entry.row())


def audit_log(conn: sqlite3.Connection, limit: int | None = None) -> list[dict[str, Any]]:
    """The audit rows, oldest first (the last `limit` when given)."""
    keys = ("id", "at_us", "principal", "action", "agency", "query", "row_count", "row_ids")
    sql = f"SELECT {', '.join(keys)} FROM audit ORDER BY id"
    if limit is not None:
        sql = f"SELECT * FROM ({sql} DESC LIMIT {int(limit)}) ORDER BY id"
    try:
        rows = conn.execute(sql).fetchall()
    except sqlite3.OperationalError as err:
        if "no such table" in str(err):
            return []  # a store written before audits existed
        raise
    return [dict(zip(keys, row, strict=True)) for row in rows]


def purge_some(conn: sqlite3.Connection, purge: Purge) -> int:
    """Purge one chunk inside the caller's transaction, auditing it; the rows purged."""
    cursor = conn.execute(
        "UPDATE replies SET subject = '', cc = '', body = '', sealed = NULL, purged_us = ? "
        "WHERE id IN (SELECT id FROM replies WHERE purged_us IS NULL AND received_us < ? "
        "LIMIT ?)",
        (purge.at_us, purge.before_us, purge.limit),
    )
    purged = cursor.rowcount
    if purged > 0:
        entry = AuditEntry(
            purge.at_us, purge.principal, "purge", "*", purge.query, row_count=purged
        )
        conn.execute(_INSERT_AUDIT, entry.row())
    return purged


def purge(conn: sqlite3.Connection, purge: Purge) -> int:
    """Purge everything `purge` covers, chunk by chunk, each chunk its own transaction.

    For a connection of its own (the CLI) while a server may be writing: each chunk
    holds the write lock only briefly, well inside the writer's busy timeout.
    """
    total = 0
    while True:
        conn.execute("BEGIN IMMEDIATE")
        try:
            purged = purge_some(conn, purge)
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        total += purged
        if purged < purge.limit:
            return total


async def purge_expired(store: Store, retain_s: float, principal: str) -> int:
    """Purge through the writer thread every reply older than `retain_s`; chunks purged."""
    now_us = time.time_ns() // 1000
    before_us = now_us - int(retain_s * 1e6)
    query = f"retention: purge replies received before {before_us} us ({retain_s:g} s)"
    chunks = 0
    while await store.submit(Purge(before_us, now_us, principal, query)) == "new":
        chunks += 1
    return chunks
