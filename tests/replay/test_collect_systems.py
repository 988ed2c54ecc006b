"""Replay against the reference collection systems (`simulator.collect`), in-process.

Replies go to the HTTP collection API (with per-agency bearer tokens) and to the SMTP
mailbox; every reply the replay counts as acknowledged must be stored exactly once.
"""

import sqlite3
from pathlib import Path

import pytest

from simulator.collect import Directory, running_api, running_mailbox
from simulator.replay import ReplayOptions, replay
from simulator.replay.targets import TargetOptions, make_target
from simulator.rules import ContentRules
from simulator.tokens import mint_token, new_secret
from tests.replay.tables import schedule, workforce

pytestmark = pytest.mark.integration

WF = workforce(200)
DIRECTORY = Directory((email, "DHS") for email in WF.column("email").to_pylist())
ROUNDS = {"1": ContentRules()}
COLLECTIONS = {"opm-hr": "hr@opm.example"}


def _stored_replies(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM replies").fetchone()[0])


@pytest.mark.parametrize("fast", [True, False])
async def test_replies_to_collection_api_are_stored(tmp_path: Path, fast: bool) -> None:
    secret = new_secret()
    store = tmp_path / "api.sqlite"
    events = schedule(["reply"] * 60, gap_us=1000, collection="opm-hr")
    async with running_api(store, DIRECTORY, ROUNDS, secret=secret) as server:
        target = make_target(
            f"{server.url}/replies",
            TargetOptions(timeout_s=10.0, fast_http=fast),
            lambda agency: mint_token(secret, agency),
        )
        options = ReplayOptions(concurrency=8, collections=COLLECTIONS)
        result = await replay(events, WF, target, options)
    assert result.summary["acknowledged"] == 60, result.summary
    assert set(result.results.column("status").to_pylist()) == {201}
    assert _stored_replies(store) == 60


async def test_api_without_token_is_an_error_not_a_refusal(tmp_path: Path) -> None:
    # 401 says the credentials are wrong, not that a content rule refused the reply.
    events = schedule(["reply"] * 5, collection="opm-hr")
    async with running_api(tmp_path / "s.sqlite", DIRECTORY, ROUNDS, secret=new_secret()) as srv:
        target = make_target(f"{srv.url}/replies", TargetOptions(timeout_s=10.0, fast_http=True))
        result = await replay(events, WF, target, ReplayOptions(collections=COLLECTIONS))
    assert result.results.column("outcome").to_pylist() == ["error"] * 5
    assert set(result.results.column("status").to_pylist()) == {401}


async def test_replies_to_smtp_mailbox_are_stored(tmp_path: Path) -> None:
    store = tmp_path / "mail.sqlite"
    events = schedule(["reply"] * 60, gap_us=1000, collection="opm-hr")
    async with running_mailbox(store, DIRECTORY, ROUNDS) as server:
        target = make_target(server.url, TargetOptions(timeout_s=10.0))
        options = ReplayOptions(concurrency=8, collections=COLLECTIONS)
        result = await replay(events, WF, target, options)
    assert result.summary["acknowledged"] == 60, result.summary
    assert _stored_replies(store) == 60
