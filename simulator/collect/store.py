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
    size_bytes    INTEGER NOT NULL
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
"""

_INSERT_REPLY = (
    "INSERT OR IGNORE INTO replies (idem_key, received_us, channel, collection, agency, "
    "sender, round, status, cc, cc_count, subject, body, attachments, size_bytes) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, 'accepted', ?, ?, ?, ?, ?, ?)"
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


Record = Reply | Delivery | Rejection
_Item = tuple[Record, "asyncio.Future[Outcome] | None"]


def connect(path: str | Path, sync: str = "full") -> sqlite3.Connection:
    """Open (and create) a store database in WAL mode with the given fsync discipline."""
    if sync not in SYNC_MODES:
        raise ValueError(f"sync must be one of {SYNC_MODES}, got {sync!r}")
    conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={sync.upper()}")
    conn.execute("PRAGMA busy_timeout=5000")
    conn.executescript(SCHEMA)
    return conn


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
    ) -> None:
        self.path = Path(path)
        self.max_pending = max_pending
        self.max_batch = max_batch
        # Tests only: hold each group commit this long, a slow disk of known speed, so
        # capacity (max_batch / delay) does not depend on a noisy machine.
        self.commit_delay_s = commit_delay_s
        self._conn = connect(self.path, sync)
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

    def submit(self, record: Reply | Delivery) -> asyncio.Future[Outcome]:
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

    def note(self, record: Rejection) -> None:
        """Record a rejection without waiting; dropped when the queue is full."""
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
        cursor = conn.execute(_INSERT_REPLY, record.row())
    elif isinstance(record, Delivery):
        cursor = conn.execute(_INSERT_DELIVERY, record.row())
    else:
        cursor = conn.execute(_INSERT_REJECTION, record.row())
    return "new" if cursor.rowcount == 1 else "duplicate"


class NullStore:
    """Stores nothing and answers at once: the storage-off baseline for benchmarks."""

    pending = 0
    batches = 0
    committed = 0
    full = False
    failure: str | None = None

    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()

    def submit(self, record: Reply | Delivery) -> asyncio.Future[Outcome]:
        future: asyncio.Future[Outcome] = self._loop.create_future()
        future.set_result("new")
        return future

    def note(self, record: Rejection) -> None:
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
    conn: sqlite3.Connection, agency: str, after_id: int = 0, limit: int = 100
) -> Sequence[dict[str, Any]]:
    """One page of an agency's replies, in id order, starting after `after_id`."""
    rows = conn.execute(
        "SELECT id, received_us, channel, collection, sender, round, cc, subject, body, "
        "attachments FROM replies WHERE agency = ? AND id > ? ORDER BY id LIMIT ?",
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
    pages = [dict(zip(keys, row, strict=True)) for row in rows]
    for page in pages:
        page["cc"] = [c for c in str(page["cc"]).split(",") if c]
    return pages
