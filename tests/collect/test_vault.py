"""Protection at rest, unit level: the vault's AEAD, key files, the store's sealed rows,
the append-only audit log and retention purges."""

from __future__ import annotations

import sqlite3
import stat
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from simulator.collect import store as s
from simulator.collect.vault import (
    Contents,
    Vault,
    VaultError,
    load_key,
    load_or_create_key,
)
from simulator.validation import InputError

KEY = bytes(range(32))
OTHER_KEY = bytes(range(1, 33))
ROW = "ann.lee@dhs.example/<m1@x>"


def reply(key: str, agency: str = "DHS", received_us: int = 1, body: str = "- did") -> s.Reply:
    sender = f"a@{agency.lower()}.example"
    return s.Reply(
        key, received_us, "api", "opm-hr", agency, sender, "r1", ("b@dhs.example",), "subj",
        body, 0, 10,
    )  # fmt: skip


# -- the AEAD -------------------------------------------------------------------------
TEXT = st.characters(blacklist_categories=["Cs"])  # what UTF-8 (and SQLite) can hold


@given(
    subject=st.text(TEXT, max_size=50),
    cc=st.lists(
        st.text(st.characters(blacklist_categories=["Cs"], blacklist_characters=","), min_size=1),
        max_size=4,
    ),
    body=st.text(TEXT, max_size=500),
)
def test_round_trip(subject: str, cc: list[str], body: str) -> None:
    vault = Vault(KEY)
    blob = vault.seal(ROW, "DHS", subject, cc, body)
    assert vault.open(ROW, "DHS", blob) == Contents(subject, tuple(cc), body)
    assert Vault(KEY).open(ROW, "DHS", blob).body == body  # the key alone is enough


def test_text_utf8_cannot_hold_is_refused_like_plaintext() -> None:
    # A lone surrogate fails as it would binding a plaintext row: a ValueError about
    # this one record, which the writer refuses alone, never a partial ciphertext.
    with pytest.raises(ValueError):
        Vault(KEY).seal(ROW, "DHS", "subj", [], "bad \ud800 text")


def test_nonces_are_fresh() -> None:
    vault = Vault(KEY)
    first, second = (vault.seal(ROW, "DHS", "s", [], "same") for _ in range(2))
    assert first[1:13] != second[1:13] and first != second


def test_tampering_is_detected_in_every_byte() -> None:
    vault = Vault(KEY)
    blob = vault.seal(ROW, "DHS", "subj", ["b@dhs.example"], "five bullets")
    for i in range(len(blob)):  # version, nonce, ciphertext and tag
        bad = bytearray(blob)
        bad[i] ^= 0x01
        with pytest.raises(VaultError):
            vault.open(ROW, "DHS", bytes(bad))
    with pytest.raises(VaultError):
        vault.open(ROW, "DHS", blob[:-1])  # truncated
    with pytest.raises(VaultError):
        vault.open(ROW, "DHS", b"")


def test_wrong_agency_cannot_open() -> None:
    vault = Vault(KEY)
    blob = vault.seal(ROW, "DHS", "subj", [], "body")
    with pytest.raises(VaultError):
        vault.open(ROW, "DOD", blob)  # relabelled as another agency's row
    dod_reader = Vault(agency_keys={"DOD": vault.agency_key("DOD")})
    with pytest.raises(VaultError):
        dod_reader.open(ROW, "DHS", blob)  # holds DoD's key only
    dhs_reader = Vault(agency_keys={"DHS": vault.agency_key("DHS")})
    assert dhs_reader.open(ROW, "DHS", blob).body == "body"
    assert vault.agency_key("DHS") != vault.agency_key("DOD")


def test_wrong_row_or_key_cannot_open() -> None:
    blob = Vault(KEY).seal(ROW, "DHS", "subj", [], "body")
    with pytest.raises(VaultError):
        Vault(KEY).open("ann.lee@dhs.example/<m2@x>", "DHS", blob)  # moved to another row
    with pytest.raises(VaultError):
        Vault(OTHER_KEY).open(ROW, "DHS", blob)


# -- key files ------------------------------------------------------------------------
def test_key_file_created_owner_only_and_reused(tmp_path: Path) -> None:
    path = tmp_path / "store.key"
    key = load_or_create_key(path)
    assert len(key) == 32
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_key(path) == key == load_key(path)


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o660, 0o644])
def test_key_file_readable_by_others_is_refused(tmp_path: Path, mode: int) -> None:
    path = tmp_path / "store.key"
    load_or_create_key(path)
    path.chmod(mode)
    with pytest.raises(InputError, match="chmod 600") as err:
        load_key(path)
    assert str(path) in str(err.value) and oct(mode) in str(err.value)


@pytest.mark.parametrize("text", ["", "abc", "zz" * 32, "00" * 31, "00" * 33])
def test_malformed_key_file_is_named(tmp_path: Path, text: str) -> None:
    path = tmp_path / "store.key"
    path.write_text(text)
    path.chmod(0o600)
    with pytest.raises(InputError, match="64 hex digits") as err:
        load_key(path)
    assert str(path) in str(err.value)


def test_missing_key_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found"):
        load_key(tmp_path / "nope.key")
    with pytest.raises(InputError, match="cannot create"):
        load_or_create_key(tmp_path / "no-such-dir" / "store.key")


# -- the store ------------------------------------------------------------------------
def raw_rows(path: Path) -> list[tuple[object, ...]]:
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT subject, cc, body, sealed, cc_count FROM replies").fetchall()


async def test_store_seals_in_the_writer_and_opens_per_agency(tmp_path: Path) -> None:
    db = tmp_path / "db"
    store = s.Store(db, vault=Vault(KEY))
    assert await store.submit(reply("k1", body="- secret phrase")) == "new"
    assert await store.submit(reply("k1", body="- secret phrase")) == "duplicate"
    assert await store.submit(reply("k2", agency="DOD")) == "new"
    await store.close()
    for subject, cc, body, sealed, cc_count in raw_rows(db):
        assert (subject, cc, body, cc_count) == ("", "", "", 1)
        assert isinstance(sealed, bytes) and b"secret" not in sealed
    conn = s.open_reader(db)
    [row] = s.replies_for(conn, "DHS", vault=Vault(KEY))
    assert (row["body"], row["subject"], row["cc"], row["at_rest"]) == (
        "- secret phrase",
        "subj",
        ["b@dhs.example"],
        "encrypted",
    )
    [locked] = s.replies_for(conn, "DHS")  # no key: nothing to read
    assert (locked["at_rest"], locked["body"], locked["cc"]) == ("locked", "", [])
    assert s.stats(conn) == [("DHS", "r1", "accepted", 1), ("DOD", "r1", "accepted", 1)]


async def test_moved_or_relabelled_ciphertext_reads_as_tampered(tmp_path: Path) -> None:
    db = tmp_path / "db"
    store = s.Store(db, vault=Vault(KEY))
    for key in ("k1", "k2"):
        await store.submit(reply(key, body=f"- body of {key}"))
    await store.submit(reply("k3", agency="DOD"))
    await store.close()
    with sqlite3.connect(db) as conn:  # someone with the file copies k1's blob onto k2
        conn.execute(
            "UPDATE replies SET sealed = (SELECT sealed FROM replies WHERE idem_key = 'k1') "
            "WHERE idem_key = 'k2'"
        )
        conn.execute("UPDATE replies SET agency = 'DOD' WHERE idem_key = 'k1'")  # and relabels
    conn = s.open_reader(db)
    [k2] = s.replies_for(conn, "DHS", vault=Vault(KEY))
    assert (k2["at_rest"], k2["body"]) == ("tampered", "")
    assert [r["at_rest"] for r in s.replies_for(conn, "DOD", vault=Vault(KEY))] == [
        "tampered",
        "encrypted",
    ]


async def test_store_refuses_another_key_and_plaintext_once_encrypted(tmp_path: Path) -> None:
    db = tmp_path / "db"
    store = s.Store(db, vault=Vault(KEY))
    await store.submit(reply("k1"))
    await store.close()
    with pytest.raises(InputError, match="not the key this store was written with"):
        s.Store(db, vault=Vault(OTHER_KEY))
    with pytest.raises(InputError, match="give its key file"):
        s.Store(db)
    again = s.Store(db, vault=Vault(KEY))  # the right key opens it
    assert await again.submit(reply("k2")) == "new"
    await again.close()


async def test_audit_log_is_append_only(tmp_path: Path) -> None:
    db = tmp_path / "db"
    store = s.Store(db)
    await store.submit(s.AuditEntry(5, "token:DHS@127.0.0.1", "read", "DHS", "GET /x", (1, 2)))
    await store.close()
    conn = s.open_reader(db)
    assert s.audit_log(conn) == [
        {
            "id": 1,
            "at_us": 5,
            "principal": "token:DHS@127.0.0.1",
            "action": "read",
            "agency": "DHS",
            "query": "GET /x",
            "row_count": 2,
            "row_ids": "1,2",
        }
    ]
    writer = s.connect(db)
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        writer.execute("UPDATE audit SET principal = 'nobody'")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        writer.execute("DELETE FROM audit")
    assert len(s.audit_log(writer)) == 1


# -- retention ------------------------------------------------------------------------
async def test_purge_keeps_rows_keys_and_counts_and_is_audited(tmp_path: Path) -> None:
    db = tmp_path / "db"
    store = s.Store(db, vault=Vault(KEY))
    for i in range(5):
        await store.submit(reply(f"old{i}", received_us=1_000 + i, body="- old secret"))
    await store.submit(reply("new", received_us=10**17, body="- new"))
    before = s.stats(s.open_reader(db))
    purge = s.Purge(before_us=2_000, at_us=3_000, principal="test", query="q", limit=2)
    results = [await store.submit(purge) for _ in range(4)]
    assert results == ["new", "new", "new", "duplicate"]  # 2 + 2 + 1 rows, then nothing left
    assert await store.submit(reply("old0", received_us=1_000)) == "duplicate"  # key kept
    await store.close()
    conn = s.open_reader(db)
    assert s.stats(conn) == before
    rows = s.replies_for(conn, "DHS", vault=Vault(KEY))
    assert [r["at_rest"] for r in rows] == ["purged"] * 5 + ["encrypted"]
    assert all((r["subject"], r["cc"], r["body"]) == ("", [], "") for r in rows[:5])
    assert rows[5]["body"] == "- new"
    with sqlite3.connect(db) as raw:
        sealed = raw.execute("SELECT COUNT(*) FROM replies WHERE sealed IS NOT NULL").fetchone()
        assert sealed == (1,)
    audit = s.audit_log(conn)
    assert [(a["action"], a["agency"], a["row_count"]) for a in audit] == [
        ("purge", "*", 2),
        ("purge", "*", 2),
        ("purge", "*", 1),
    ]


async def test_purge_from_a_second_connection_in_chunks(tmp_path: Path) -> None:
    db = tmp_path / "db"
    store = s.Store(db)
    for i in range(7):
        await store.submit(reply(f"k{i}", received_us=100 + i))
    await store.close()
    conn = s.connect(db)
    assert s.purge(conn, s.Purge(105, 999, "cli:test", "store purge", limit=2)) == 5
    assert s.purge(conn, s.Purge(105, 999, "cli:test", "store purge", limit=2)) == 0
    assert [a["row_count"] for a in s.audit_log(conn)] == [2, 2, 1]
    assert [r["at_rest"] for r in s.replies_for(conn, "DHS")] == ["purged"] * 5 + ["plaintext"] * 2


async def test_purge_expired_goes_through_the_writer(tmp_path: Path) -> None:
    db = tmp_path / "db"
    store = s.Store(db)
    await store.submit(reply("ancient", received_us=1))
    await store.submit(reply("fresh", received_us=2**62))
    assert await s.purge_expired(store, retain_s=86_400, principal="server:retention") == 1
    await store.close()
    rows = s.replies_for(s.open_reader(db), "DHS")
    assert [r["at_rest"] for r in rows] == ["purged", "plaintext"]


async def test_older_store_gains_the_new_columns(tmp_path: Path) -> None:
    db = tmp_path / "db"
    old_schema = s.SCHEMA.replace(",\n    sealed        BLOB,\n    purged_us     INTEGER", "")
    assert "sealed" not in old_schema.split("CREATE TABLE IF NOT EXISTS deliveries")[0]
    with sqlite3.connect(db) as conn:
        conn.executescript(old_schema)
        conn.execute(
            "INSERT INTO replies (idem_key, received_us, channel, collection, agency, sender, "
            "round, status, cc, cc_count, subject, body, attachments, size_bytes) VALUES "
            "('k0', 1, 'api', 'opm-hr', 'DHS', 'a@dhs.example', 'r1', 'accepted', '', 0, "
            "'s', 'b', 0, 1)"
        )
    store = s.Store(db, vault=Vault(KEY))
    assert await store.submit(reply("k1")) == "new"
    await store.close()
    rows = s.replies_for(s.open_reader(db), "DHS", vault=Vault(KEY))
    assert [(r["body"], r["at_rest"]) for r in rows] == [("b", "plaintext"), ("- did", "encrypted")]


async def test_purged_plaintext_leaves_no_bytes_in_the_file(tmp_path: Path) -> None:
    db = tmp_path / "db"
    store = s.Store(db)
    for i in range(50):
        await store.submit(reply(f"k{i}", received_us=1, body=f"- walrus-obsidian {i}"))
    await store.submit(reply("kept", received_us=2**62, body="- fresh"))
    await store.close()
    assert b"walrus-obsidian" in db.read_bytes()
    conn = s.connect(db)
    assert s.purge(conn, s.Purge(2, 3, "cli:test", "store purge")) == 50
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    on_disk = b"".join(p.read_bytes() for p in tmp_path.glob("db*"))
    assert b"walrus-obsidian" not in on_disk and b"- fresh" in on_disk
