"""The store's writer survives any single bad record; a dead writer says so.

A lone surrogate (JSON's "\\ud800", or a utf-7 mail body) cannot be encoded as UTF-8, so
SQLite refuses that record. It must fail alone: the rest of its group commit is stored
and every later write still works. Only an error about the store itself (here a full
database, via `max_page_count`) stops the writer, and then `failure` says why and the
failure is logged without any record's text.
"""

from __future__ import annotations

import asyncio
import logging
import sqlite3
from pathlib import Path

import pytest

from simulator.collect import store as s
from simulator.collect.directory import Directory
from simulator.collect.servers import running_mailbox

from .conftest import COLLECTIONS, ROUNDS, SmtpClient

SURROGATE = "\ud800"
PHRASE = "walrus-topaz-marker"


def reply(key: str, body: str = "- did", sender: str = "a@dhs.example") -> s.Reply:
    return s.Reply(key, 1, "api", "opm-hr", "DHS", sender, "r1", (), "subj", body, 0, 10)


def keys(db: Path) -> list[str]:
    with sqlite3.connect(db) as conn:
        return [k for (k,) in conn.execute("SELECT idem_key FROM replies ORDER BY id")]


async def test_one_bad_record_fails_alone_and_the_writer_goes_on(tmp_path: Path) -> None:
    store = s.Store(tmp_path / "db")
    batch = [
        store.submit(reply("good-1")),
        store.submit(reply("bad", body=f"{PHRASE} {SURROGATE}")),
        store.submit(reply("good-2")),
    ]  # queued together: one group commit
    outcomes = await asyncio.gather(*batch, return_exceptions=True)
    assert outcomes[0] == "new" and outcomes[2] == "new"
    assert isinstance(outcomes[1], s.InvalidRecord)
    assert "Unicode" in outcomes[1].reason and PHRASE not in outcomes[1].reason
    assert store.failure is None
    assert await store.submit(reply("later")) == "new"  # the store still writes
    assert await store.submit(reply("good-1")) == "duplicate"
    await store.close()
    assert keys(tmp_path / "db") == ["good-1", "good-2", "later"]


async def test_bad_values_of_other_kinds_fail_alone(tmp_path: Path) -> None:
    store = s.Store(tmp_path / "db")
    too_big = s.Reply("big", 1, "api", "opm-hr", "DHS", "a@x.example", "r1", (), "", "", 2**70, 1)
    bad_sender = reply("surrogate-sender", sender=f"a{SURROGATE}@dhs.example")
    futures = [store.submit(too_big), store.submit(bad_sender), store.submit(reply("ok"))]
    outcomes = await asyncio.gather(*futures, return_exceptions=True)
    assert outcomes[2] == "new"
    assert [type(o) for o in outcomes[:2]] == [s.InvalidRecord, s.InvalidRecord]
    store.note(s.Rejection(1, "api", "opm-hr", "DHS", "r1", f"rule{SURROGATE}"))  # best effort
    assert await store.submit(reply("after-note")) == "new"
    await store.close()
    assert keys(tmp_path / "db") == ["ok", "after-note"]


async def test_a_full_disk_stops_the_writer_and_says_why(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="pulsecheck.collect.store")
    store = s.Store(tmp_path / "db")
    assert await store.submit(reply("before")) == "new"
    pages = store._conn.execute("PRAGMA page_count").fetchone()[0]
    store._conn.execute(f"PRAGMA max_page_count = {pages}")  # the disk is full from here
    big = [store.submit(reply(f"k{i}", body=PHRASE * 500)) for i in range(4)]
    outcomes = await asyncio.gather(*big, return_exceptions=True)
    assert all(isinstance(o, s.StoreFailed) for o in outcomes), outcomes
    assert store.failure is not None and "full" in store.failure
    with pytest.raises(s.StoreFailed):
        store.submit(reply("late"))
    await store.close()
    assert "store writer stopped" in caplog.text and "full" in caplog.text
    assert PHRASE not in caplog.text
    assert keys(tmp_path / "db") == ["before"]


async def test_a_utf7_surrogate_mail_does_not_disable_the_mailbox(
    tmp_path: Path, directory: Directory
) -> None:
    """The mailbox's store: after the bad message, another client's message gets 250."""
    db = tmp_path / "db"
    async with running_mailbox(db, directory, ROUNDS, collections=COLLECTIONS) as srv:
        bad = await SmtpClient.connect(srv.host, srv.port)
        await bad.send(b"EHLO bad.example\r\n")
        head = b"Message-ID: <bad-1@x.example>\r\nContent-Type: text/plain; charset=utf-7\r\n"
        first = await bad.mail("ann.lee@dhs.example", ["hr@opm.example"], b"+2AA-", head)
        await bad.close()
        good = await SmtpClient.connect(srv.host, srv.port)
        await good.send(b"EHLO good.example\r\n")
        second = await good.mail(
            "cy.diaz@dod.example",
            ["hr@opm.example"],
            b"- did the work",
            b"Message-ID: <good-1@x.example>\r\n",
        )
        await good.close()
    assert second[-1].startswith("250"), second
    stored = keys(db)
    assert any("<good-1@x.example>" in k for k in stored)
    if first[-1].startswith("250"):  # a mailbox may store the text repaired: then it is there
        assert any("<bad-1@x.example>" in k for k in stored)
