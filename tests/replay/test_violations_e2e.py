"""Rule-breaking replies, end to end: schedule -> replay -> reference collection systems.

A schedule built with co-worker-name and attachment violations is replayed against the
SMTP mailbox and the HTTP API in-process, under a round whose rules forbid both. Every
violating reply must be refused naming its rule (550 5.7.1 / 422), or, for a message over
the mailbox's size limit, with 552; every clean reply must be stored.
"""

from __future__ import annotations

import sqlite3
from collections import Counter
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from simulator.collect import Directory, running_api, running_mailbox
from simulator.replay import ReplayOptions, replay
from simulator.replay.targets import TargetOptions, make_target
from simulator.rules import ContentRules
from simulator.schedule.build import build_schedule
from simulator.tokens import mint_token, new_secret
from simulator.traffic.payload import Payload
from tests.schedule.fixtures import ROUND1, make_workforce, scenario

pytestmark = pytest.mark.integration

SEED = 21
MAX_MESSAGE = 1_000_000  # the mailbox's default limit
# The default rules (no links, attachments or classification markings) plus co-worker
# names; half the replies are HTML, screened on their visible text.
RULES = """
[rounds.rules]
no_coworker_names = true
"""
OFTEN = "content.attachment = 0.15\ncontent.coworker_name = 0.15\ncontent.html = 0.5"
ONLY_THESE = ContentRules(no_coworker_names=True)
FIRST = ["Alice", "Bruno", "Carmen", "Dmitri", "Elena", "Farid", "Greta", "Hiro", "Ines"]
LAST = ["Abbott", "Baptiste", "Castillo", "Dunmore", "Ellison", "Fairweather", "Galloway"]
ROUND_RULES = {"r1": ONLY_THESE}
COLLECTIONS = {"opm-hr": "hr@opm.example"}


def _workforce() -> pa.Table:
    """Two units (heads in cc of their staff), every name a "First Last" of letters."""
    wf = make_workforce([("DHS", "TSA", 70), ("DOD", "NAVY", 50)], seed=2)
    n = wf.num_rows
    first = [FIRST[i % len(FIRST)] for i in range(n)]
    last = [f"{LAST[i % len(LAST)]}-{LAST[i // len(LAST) % len(LAST)]}" for i in range(n)]
    wf = wf.set_column(wf.schema.get_field_index("first_name"), "first_name", pa.array(first))
    return wf.set_column(wf.schema.get_field_index("last_name"), "last_name", pa.array(last))


def _replies(wf: pa.Table) -> pa.Table:
    """The round's replies, 2 ms apart from now on (sizes, cc and violations as built)."""
    events = build_schedule(scenario(ROUND1 + RULES, behaviour=OFTEN), wf, SEED)
    events = events.filter(pc.equal(pc.cast(events.column("kind"), pa.string()), "reply"))
    t0 = events.column("t_intended").cast(pa.int64())[0].as_py()
    times = pa.array(t0 + np.arange(events.num_rows, dtype=np.int64) * 2000)
    index = events.schema.get_field_index("t_intended")
    field = events.schema.field("t_intended")
    return events.set_column(index, field, times.cast(field.type))


def _directory(wf: pa.Table) -> Directory:
    emails = wf.column("email").to_pylist()
    depts = pc.cast(wf.column("department"), pa.string()).to_pylist()
    names = [
        f"{f} {s}"
        for f, s in zip(
            wf.column("first_name").to_pylist(), wf.column("last_name").to_pylist(), strict=True
        )
    ]
    return Directory(zip(emails, depts, strict=True), name_of=zip(emails, names, strict=True))


def _rules(store: Path) -> Counter[str]:
    with sqlite3.connect(store) as conn:
        return Counter(rule for (rule,) in conn.execute("SELECT rule FROM rejections"))


def _stored(store: Path) -> set[str]:
    with sqlite3.connect(store) as conn:
        return {key for (key,) in conn.execute("SELECT idem_key FROM replies")}


@pytest.fixture(scope="module")
def setup() -> tuple[pa.Table, pa.Table]:
    wf = _workforce()
    events = _replies(wf)
    violations = Counter(pc.cast(events.column("violation"), pa.string()).to_pylist())
    assert violations["attachment"] >= 5 and violations["coworker_name"] >= 5, violations
    assert violations[""] >= 20
    return wf, events


async def test_the_mailbox_refuses_coworker_names_and_attachments(
    tmp_path: Path, setup: tuple[pa.Table, pa.Table]
) -> None:
    wf, events = setup
    store = tmp_path / "mail.sqlite"
    options = ReplayOptions(concurrency=4, collections=COLLECTIONS, seed=SEED, html_share=0.5)
    async with running_mailbox(store, _directory(wf), ROUND_RULES) as server:
        result = await replay(
            events, wf, make_target(server.url, TargetOptions(timeout_s=10.0)), options
        )
    payload = Payload(events, wf, COLLECTIONS, seed=SEED, html_share=0.5)
    assert any(payload.is_html(i) for i in range(len(payload)))
    messages = payload.smtp_messages(0, len(payload))
    status = dict(
        zip(
            result.results.column("event_id").to_pylist(),
            result.results.column("status").to_pylist(),
            strict=True,
        )
    )
    expected_rules: Counter[str] = Counter()
    clean = set()
    for i, message in enumerate(messages):
        event_id, violation = int(payload.event_id[i]), str(payload.violation[i])
        if violation == "attachment" and len(message.data) > MAX_MESSAGE:
            assert status[event_id] == 552  # refused on size before it is screened
        elif violation:
            assert status[event_id] == 550, (violation, status[event_id])
            expected_rules[violation] += 1
        else:
            assert status[event_id] == 250
            clean.add(f"smtp:anon/<{event_id}.{SEED}@pulsecheck.example>#opm-hr")
    assert expected_rules["attachment"] > 0 and expected_rules["coworker_name"] > 0
    assert _rules(store) == expected_rules
    assert _stored(store) == clean


async def test_the_api_refuses_coworker_names_and_attachments(
    tmp_path: Path, setup: tuple[pa.Table, pa.Table]
) -> None:
    wf, events = setup
    store, secret = tmp_path / "api.sqlite", new_secret()
    options = ReplayOptions(concurrency=4, collections=COLLECTIONS, seed=SEED, html_share=0.5)
    async with running_api(store, _directory(wf), ROUND_RULES, secret=secret) as server:
        target = make_target(
            f"{server.url}/replies",
            TargetOptions(timeout_s=10.0),
            lambda agency: mint_token(secret, agency),
        )
        result = await replay(events, wf, target, options)
    payload = Payload(events, wf, COLLECTIONS, seed=SEED, html_share=0.5)
    assert any(payload.is_html(i) for i in range(len(payload)))
    status = dict(
        zip(
            result.results.column("event_id").to_pylist(),
            result.results.column("status").to_pylist(),
            strict=True,
        )
    )
    violations = [str(v) for v in payload.violation.tolist()]
    for event_id, violation in zip(payload.event_id.tolist(), violations, strict=True):
        assert status[event_id] == (422 if violation else 201), (violation, status[event_id])
    assert _rules(store) == Counter(v for v in violations if v)
    clean = {
        f"api:{payload.agency_of(i)}:{payload.sender_address(i)}/{SEED}-{int(payload.event_id[i])}"
        for i, violation in enumerate(violations)
        if not violation
    }
    assert _stored(store) == clean
