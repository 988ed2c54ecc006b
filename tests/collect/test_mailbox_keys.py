"""Every 250 means "this (message, collection) is stored exactly once".

The idempotency key is (principal, Message-ID or digest, collection) whatever the number
of collections one transaction names, so an MTA may split a message's recipients over
transactions, or retry the ones refused with a 4xx, and each collection still gets the
message once.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from simulator.collect import store as store_mod
from simulator.collect.directory import Directory
from simulator.collect.policy import Policy
from simulator.collect.servers import running_mailbox
from simulator.collections import Collection

from .conftest import ROUNDS, SmtpClient

pytestmark = pytest.mark.integration
ANN, BO = "ann.lee@dhs.example", "bo.chan@dhs.example"
HR, BOARD = "hr@opm.example", "board@opm.example"
TWO_OPEN = [Collection("opm-hr", HR), Collection("opm-board", BOARD)]
MID = b"Message-ID: <1234.7@pulsecheck.example>\r\n"


@pytest.fixture
def policy() -> Policy:
    return Policy(per_hour=1)


@pytest.fixture
async def smtp(tmp_path: Path, directory: Directory, policy: Policy) -> AsyncIterator[SmtpClient]:
    async with running_mailbox(
        tmp_path / "db", directory, ROUNDS, collections=TWO_OPEN, policy=policy
    ) as srv:
        client = await SmtpClient.connect(srv.host, srv.port)
        await client.send(b"EHLO t\r\n")
        yield client
        await client.close()


def stored(tmp_path: Path) -> list[tuple[str, str]]:
    reader = store_mod.open_reader(tmp_path / "db")
    rows = reader.execute("SELECT collection, idem_key FROM replies ORDER BY collection")
    return [(str(c), str(k)) for c, k in rows]


async def test_split_per_collection_stores_one_row_each(smtp: SmtpClient, tmp_path: Path) -> None:
    assert (await smtp.mail(ANN, [HR, BO], b"- a", MID))[-1].startswith("250")
    assert (await smtp.mail(ANN, [BOARD], b"- a", MID))[-1].startswith("250")
    assert [c for c, _ in stored(tmp_path)] == ["opm-board", "opm-hr"]


async def test_reverse_split_stores_each_collection_once(
    smtp: SmtpClient, tmp_path: Path, policy: Policy
) -> None:
    assert (await smtp.mail(ANN, [HR, BOARD], b"- a", MID))[-1].startswith("250")
    policy._tokens.clear()  # an hour later
    assert (await smtp.mail(ANN, [HR], b"- a", MID))[-1].startswith("250")  # a retry of one
    assert [c for c, _ in stored(tmp_path)] == ["opm-board", "opm-hr"]


async def test_retry_after_452_is_stored(smtp: SmtpClient, tmp_path: Path, policy: Policy) -> None:
    other = b"Message-ID: <other@x>\r\n"
    assert (await smtp.mail(ANN, [BOARD], b"- earlier", other))[-1].startswith("250")
    answers = await smtp.mail(ANN, [HR, BOARD], b"- a", MID)
    assert answers[2].startswith("452 4.2.1") and answers[-1].startswith("250")
    policy._tokens.clear()  # the hour passes: the board's mailbox takes mail again
    assert (await smtp.mail(ANN, [BOARD], b"- a", MID))[-1].startswith("250")
    keys = stored(tmp_path)
    assert [c for c, _ in keys] == ["opm-board", "opm-board", "opm-hr"]
    assert sum("<1234.7@pulsecheck.example>" in k for _, k in keys) == 2


async def test_key_is_channel_principal_message_id_and_collection(
    smtp: SmtpClient, tmp_path: Path
) -> None:
    assert (await smtp.mail(ANN, [HR], b"- a", MID))[-1].startswith("250")
    assert stored(tmp_path) == [("opm-hr", "smtp:anon/<1234.7@pulsecheck.example>#opm-hr")]
