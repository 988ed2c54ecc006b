"""Bearer tokens: signed over every field, expiring, revocable one key id at a time."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from simulator.collect.directory import Directory
from simulator.tokens import (
    RevocationList,
    TokenRejected,
    agency_of,
    check_token,
    kid_of,
    mint_token,
    revoke,
)

from .conftest import SECRET, api_session

S = b"s" * 32
NOW = 1_800_000_000.0


def reason(token: str, **kw: Any) -> str:
    with pytest.raises(TokenRejected) as err:
        check_token(S, token, **kw)
    return err.value.reason


def test_round_trip_and_fresh_key_ids() -> None:
    token = mint_token(S, "DHS", ttl_s=3600, now=NOW)
    agency, kid, expiry, mac = token.split(".")
    assert (agency, int(expiry), len(mac)) == ("DHS", int(NOW) + 3600, 32)
    principal = check_token(S, token, now=NOW + 10)
    assert (principal.agency, principal.kid) == ("DHS", kid)
    assert kid != kid_of(mint_token(S, "DHS"))  # each token its own key id
    assert agency_of(S, f"Bearer {mint_token(S, 'DOD')}") == "DOD"  # callers keep working


def test_the_mac_covers_every_field() -> None:
    agency, kid, expiry, mac = mint_token(S, "DHS", ttl_s=60, now=NOW).split(".")
    for forged in (
        f"DOD.{kid}.{expiry}.{mac}",  # another agency
        f"{agency}.{kid}x.{expiry}.{mac}",  # another key id (dodging a revocation)
        f"{agency}.{kid}.{int(expiry) + 86400}.{mac}",  # a later expiry
    ):
        assert reason(forged, now=NOW) == "invalid token signature"
    assert "signature" in reason(mint_token(b"t" * 32, "DHS", now=NOW), now=NOW)


def test_expired_and_revoked_say_which() -> None:
    token = mint_token(S, "DHS", ttl_s=60, now=NOW)
    assert reason(token, now=NOW + 60).startswith("token expired at ")
    assert reason(token, now=NOW, revoked=frozenset({kid_of(token)})).startswith("token revoked")
    check_token(S, token, now=NOW, revoked=frozenset({"someone-else"}))  # others unaffected


@pytest.mark.parametrize(
    "token",
    ["", "DHS", "DHS.abc", "DHS.k.1.2.3", "DHS.é.1.00", "DHS.k.99.zz", "ΔHS.k.1." + "0" * 32],
)
def test_malformed_tokens_are_refused_not_crashed_on(token: str) -> None:
    assert reason(token, now=NOW).startswith("malformed token")
    assert agency_of(S, f"Bearer {token}") is None


def test_minting_checks_its_fields() -> None:
    for bad in ("", "D.HS", "DHS\n"):
        with pytest.raises(ValueError):
            mint_token(S, bad)
    with pytest.raises(ValueError):
        mint_token(S, "DHS", ttl_s=0)


def test_revocation_file_is_re_read_when_it_changes(tmp_path: Path) -> None:
    path = tmp_path / "revoked"
    listed = RevocationList(path)
    assert listed.current() == frozenset()  # missing: nothing revoked
    assert revoke(path, "k1") and not revoke(path, "k1")
    assert listed.current() == {"k1"}
    path.write_text("# revoked 2026-12-01\nk1\n\nk2  # leaked in a ticket\n")
    assert listed.current() == {"k1", "k2"}
    path.write_text("not a key id!\n")  # a broken edit keeps the list last read
    assert listed.current() == {"k1", "k2"}
    with pytest.raises(ValueError, match="revoked:1"):
        RevocationList(path)  # ... and stops a server from starting on it


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "simulator", "serve", *args]
    return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=60, env=os.environ)


def test_serve_token_and_revoke(tmp_path: Path) -> None:
    minted = run_cli("token", "--agency", "DHS", "--ttl", "8h", cwd=tmp_path)
    assert minted.returncode == 0, minted.stderr
    token = minted.stdout.strip()
    secret = (tmp_path / ".pulsecheck-secret").read_bytes().strip()
    principal = check_token(secret, token)
    assert principal.agency == "DHS" and 8 * 3600 - 60 < principal.expires - time.time() <= 8 * 3600
    assert principal.kid in minted.stderr and token not in minted.stderr
    revoked = run_cli("revoke", "--token", token, cwd=tmp_path)
    assert revoked.returncode == 0, revoked.stderr
    assert RevocationList(tmp_path / ".pulsecheck-revoked").current() == {principal.kid}
    bad = run_cli("token", "--agency", "DHS", "--ttl", "8 hours", cwd=tmp_path)
    assert bad.returncode == 2 and "--ttl" in bad.stderr and "8 hours" in bad.stderr
    assert run_cli("token", cwd=tmp_path).returncode == 2  # --agency is required
    helptext = run_cli("--help", cwd=tmp_path).stdout
    assert "serve token --agency DHS --ttl 8h" in helptext
    assert "serve revoke --token" in helptext


@pytest.fixture
async def api(tmp_path: Path, directory: Directory) -> AsyncIterator[tuple[Any, Path]]:
    revoked = tmp_path / "revoked"
    async with (
        api_session(tmp_path, directory, revoked_path=revoked) as (_srv, http),
    ):
        yield http, revoked


async def counts(http: Any, token: str) -> tuple[int, Any]:
    async with http.get("/counts", headers={"Authorization": f"Bearer {token}"}) as r:
        return r.status, json.loads(await r.text())


async def test_api_refuses_expired_and_revoked_tokens_naming_which(api: Any) -> None:
    http, revoked = api
    expired = mint_token(SECRET, "DHS", ttl_s=60, now=time.time() - 120)
    status, answer = await counts(http, expired)
    assert status == 401 and answer["reason"].startswith("token expired")
    leaked, other = mint_token(SECRET, "DHS"), mint_token(SECRET, "DHS")
    assert (await counts(http, leaked))[0] == 200
    revoke(revoked, kid_of(leaked))  # the running server sees it on the next request
    status, answer = await counts(http, leaked)
    assert status == 401 and answer["reason"] == f"token revoked (key id {kid_of(leaked)})"
    assert (await counts(http, other))[0] == 200  # one token revoked, not the agency
    payload = {
        "sender": "ann.lee@dhs.example",
        "round": "r1",
        "to": "hr@opm.example",
        "bullets": ["did a"],
        "idempotency_key": "t-1",
    }
    headers = {"Authorization": f"Bearer {leaked}"}
    async with http.post("/replies", json=payload, headers=headers) as r:
        assert r.status == 401 and "revoked" in (await r.json())["reason"]
