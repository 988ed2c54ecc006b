"""Protection at rest, end to end: replies sent through the API and the mailbox are stored
encrypted, read back only by their agency (audited), purged on retention; the CLI."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from simulator.cli import build_parser, main, serve
from simulator.collect import store as s
from simulator.collect.directory import Directory
from simulator.collect.servers import running_api, running_mailbox
from simulator.collect.vault import Vault, load_or_create_key
from simulator.tokens import mint_token
from simulator.validation import InputError

from .conftest import COLLECTIONS, ROUNDS, SECRET, SmtpClient, api_session

pytestmark = pytest.mark.integration
DHS = {"Authorization": f"Bearer {mint_token(SECRET, 'DHS')}"}
DOD = {"Authorization": f"Bearer {mint_token(SECRET, 'DOD')}"}
PHRASE = "zebra-quartz-lantern"  # appears nowhere but in the replies


def api_reply(key: str) -> dict[str, Any]:
    return {
        "sender": "ann.lee@dhs.example",
        "round": "r1",
        "to": "hr@opm.example",
        "cc": ["bo.chan@dhs.example"],
        "subject": f"Re: week {PHRASE}-subject",
        "bullets": [f"did {PHRASE}-api"],
        "idempotency_key": key,
    }


async def post(http: aiohttp.ClientSession, payload: dict[str, Any]) -> int:
    async with http.post("/replies", data=json.dumps(payload), headers=DHS) as r:
        return r.status


def store_bytes(tmp_path: Path) -> bytes:
    """Every byte the store left on disk: the database, WAL and shared-memory files."""
    return b"".join(p.read_bytes() for p in sorted(tmp_path.glob("db*")))


async def send_both_ways(tmp_path: Path, directory: Directory, key: bytes) -> None:
    db = tmp_path / "db"
    async with running_mailbox(db, directory, ROUNDS, collections=COLLECTIONS, store_key=key) as m:
        smtp = await SmtpClient.connect(m.host, m.port)
        await smtp.send(b"EHLO test\r\n")
        headers = f"Message-ID: <m1@x>\r\nSubject: {PHRASE}-mail-subject\r\n".encode()
        answers = await smtp.mail(
            "ann.lee@dhs.example",
            ["hr@opm.example", "bo.chan@dhs.example"],
            f"- did {PHRASE}-smtp".encode(),
            headers,
        )
        assert answers[-1].startswith("250"), answers
        await smtp.close()
    async with (
        running_api(
            db, directory, ROUNDS, secret=SECRET, collections=COLLECTIONS, store_key=key
        ) as a,
        aiohttp.ClientSession(a.url) as http,
    ):
        assert await post(http, api_reply("k-1")) == 201


async def test_replies_are_encrypted_and_read_only_by_their_agency(
    tmp_path: Path, directory: Directory
) -> None:
    key = load_or_create_key(tmp_path / "store.key")
    await send_both_ways(tmp_path, directory, key)
    on_disk = store_bytes(tmp_path)
    assert PHRASE.encode() not in on_disk  # body and subject of both replies
    assert b"bo.chan@dhs.example" not in on_disk  # the manager's cc
    assert b"did " not in on_disk
    db = tmp_path / "db"
    async with (
        running_api(
            db, directory, ROUNDS, secret=SECRET, collections=COLLECTIONS, store_key=key
        ) as a,
        aiohttp.ClientSession(a.url) as http,
    ):
        async with http.get("/agencies/DHS/replies", headers=DHS) as r:
            assert r.status == 200
            replies = (await r.json())["replies"]
        async with http.get("/agencies/DHS/replies", headers=DOD) as r:
            assert r.status == 403
        async with http.get("/agencies/DOD/replies", headers=DOD) as r:
            assert (await r.json())["replies"] == []
    assert [(x["channel"], x["at_rest"]) for x in replies] == [
        ("smtp", "encrypted"),
        ("api", "encrypted"),
    ]
    assert replies[0]["body"].rstrip() == f"- did {PHRASE}-smtp"
    assert replies[0]["subject"] == f"{PHRASE}-mail-subject"
    assert replies[1]["body"] == f"- did {PHRASE}-api"
    assert all(x["cc"] == ["bo.chan@dhs.example"] for x in replies)
    audit = s.audit_log(s.open_reader(db))
    ids = ",".join(str(x["id"]) for x in replies)
    assert [(a["action"], a["agency"], a["row_count"], a["row_ids"]) for a in audit] == [
        ("read", "DHS", 2, ids),
        ("denied", "DHS", 0, ""),
        ("read", "DOD", 0, ""),
    ]
    assert audit[0]["principal"] == "token:DHS@127.0.0.1"
    assert audit[1]["principal"] == "token:DOD@127.0.0.1"
    assert audit[0]["query"] == "GET /agencies/DHS/replies"
    # With the file alone, or one agency's key, another agency's rows stay shut.
    dod_only = Vault(agency_keys={"DOD": Vault(key).agency_key("DOD")})
    rows = s.replies_for(s.open_reader(db), "DHS", vault=dod_only)
    assert [(x["at_rest"], x["body"]) for x in rows] == [("locked", "")] * 2
    assert [x["at_rest"] for x in s.replies_for(s.open_reader(db), "DHS")] == ["locked"] * 2


async def test_without_a_key_the_store_holds_plaintext(
    tmp_path: Path, directory: Directory
) -> None:
    async with (
        running_api(
            tmp_path / "db", directory, ROUNDS, secret=SECRET, collections=COLLECTIONS
        ) as a,
        aiohttp.ClientSession(a.url) as http,
    ):
        assert await post(http, api_reply("k-1")) == 201
    assert PHRASE.encode() in store_bytes(tmp_path)  # the contrast the test above relies on


async def test_retention_purges_at_start_and_the_key_still_dedups(
    tmp_path: Path, directory: Directory
) -> None:
    key = load_or_create_key(tmp_path / "store.key")
    db = tmp_path / "db"
    kwargs: dict[str, Any] = {"secret": SECRET, "collections": COLLECTIONS, "store_key": key}
    async with (
        running_api(db, directory, ROUNDS, **kwargs) as a,
        aiohttp.ClientSession(a.url) as http,
    ):
        assert await post(http, api_reply("k-old")) == 201
    with sqlite3.connect(db) as conn:  # that reply is now 40 days old
        conn.execute("UPDATE replies SET received_us = received_us - 40 * 86400 * 1000000")
    async with (
        running_api(db, directory, ROUNDS, retain_days=30, **kwargs) as a,
        aiohttp.ClientSession(a.url) as http,
    ):
        assert await post(http, api_reply("k-old")) == 200  # purged, same key: still a repeat
        assert await post(http, api_reply("k-new")) == 201
        async with http.get("/agencies/DHS/replies", headers=DHS) as r:
            replies = (await r.json())["replies"]
        async with http.get("/counts", headers=DHS) as r:
            assert (await r.json())["counts"] == {"r1": {"opm-hr": 2}}
    assert [(x["at_rest"], x["body"], x["subject"], x["cc"]) for x in replies] == [
        ("purged", "", "", []),
        ("encrypted", f"- did {PHRASE}-api", f"Re: week {PHRASE}-subject", ["bo.chan@dhs.example"]),
    ]
    audit = s.audit_log(s.open_reader(db))
    assert [(a["principal"], a["action"], a["row_count"]) for a in audit] == [
        ("server:retention", "purge", 1),
        ("token:DHS@127.0.0.1", "read", 2),
    ]


# -- the command line -----------------------------------------------------------------
@dataclass
class Ran:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def cli(capsys: pytest.CaptureFixture[str]) -> Callable[..., Ran]:
    """`pulsecheck ARGS` in this process (main() maps bad input to exit 2 as the script does)."""

    def run(*argv: str) -> Ran:
        code = main(list(argv))
        out, err = capsys.readouterr()
        return Ran(code, out, err)

    return run


async def test_store_cli_reads_audits_and_purges(
    tmp_path: Path, directory: Directory, cli: Callable[..., Ran]
) -> None:
    key_file = tmp_path / "store.key"
    await send_both_ways(tmp_path, directory, load_or_create_key(key_file))
    db = str(tmp_path / "db")
    read = cli("store", "replies", db, "--agency", "DHS", "--key-file", str(key_file))
    assert read.returncode == 0, read.stderr
    assert f"{PHRASE}-smtp" in read.stdout and f"{PHRASE}-api" in read.stdout
    assert "2 replies of DHS" in read.stdout
    locked = cli("store", "replies", db, "--agency", "DHS", "--json")  # no key given
    assert locked.returncode == 0 and PHRASE not in locked.stdout
    assert [r["at_rest"] for r in json.loads(locked.stdout)["replies"]] == ["locked"] * 2
    other = tmp_path / "other.key"
    load_or_create_key(other)
    wrong = cli("store", "replies", db, "--agency", "DHS", "--key-file", str(other))
    assert wrong.returncode == 2 and str(other) in wrong.stderr and "fingerprint" in wrong.stderr
    purge = cli("store", "purge", db, "--older-than", "0", "--principal", "cli:records-officer")
    assert purge.returncode == 0 and "of 2 replies" in purge.stdout
    audit = cli("store", "audit", db, "--json")
    rows = json.loads(audit.stdout)
    assert [(r["action"], r["agency"], r["row_count"]) for r in rows] == [
        ("read", "DHS", 2),
        ("read", "DHS", 2),
        ("purge", "*", 2),
    ]
    assert rows[2]["principal"] == "cli:records-officer"
    assert "--older-than 0" in rows[2]["query"]
    assert "purge" in cli("store", "audit", db).stdout
    stats = json.loads(cli("store", "stats", db, "--json").stdout)
    assert stats["accepted"] == 2  # counts survive the purge
    bad = cli("store", "purge", db, "--older-than", "-1")
    assert bad.returncode == 2 and "--older-than" in bad.stderr


def test_serve_flags(tmp_path: Path) -> None:
    wf = tmp_path / "wf.parquet"
    wf.write_bytes(b"")  # build_spec only checks that it exists
    base = ["serve", "api", "--store", str(tmp_path / "db"), "--workforce", str(wf)]
    base += ["--secret-file", str(tmp_path / "secret")]
    key_file = tmp_path / "store.key"
    spec = serve.build_spec(
        build_parser().parse_args([*base, "--key-file", str(key_file), "--retain-days", "30"])
    )
    assert spec.store_key == load_or_create_key(key_file) and spec.retain_days == 30
    assert oct(key_file.stat().st_mode & 0o777) == "0o600"
    assert "encrypted per agency" in serve.protection(spec, str(key_file))
    plain = serve.build_spec(build_parser().parse_args(base))
    assert plain.store_key is None and plain.retain_days is None
    with pytest.raises(InputError, match="--retain-days"):
        serve.build_spec(build_parser().parse_args([*base, "--retain-days", "0"]))


async def test_no_contents_without_an_audit_row(tmp_path: Path, directory: Directory) -> None:
    async with (
        api_session(tmp_path, directory, max_pending=0) as (_a, http),
        http.get("/agencies/DHS/replies", headers=DHS) as r,
    ):
        assert r.status == 503 and r.headers["Retry-After"] == "1"
        assert "replies" not in await r.json()
