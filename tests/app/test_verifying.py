"""The read-back check's pure part: which events a mailbox should hold, and the tally.

`Payload.addressed_to` must agree with the SMTP envelope the replay sends (every
recipient of every event), and `tally` must count stored, lost, duplicated and
unaccounted-for messages exactly as they were put together.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.app.record import StoreCheck
from simulator.app.verifying import expected_events, tally
from simulator.cli import main
from simulator.columns import NO_ID
from simulator.replay.engine import ReplayOptions
from simulator.scenario import load_scenario
from simulator.traffic.outcomes import partly_refused
from simulator.traffic.payload import Payload
from simulator.validation import InputError
from tests.replay.tables import schedule, workforce

SEED = 7
COLLECTIONS = {"opm": "HR@opm.example"}
SENDER = "hr@opm.example"  # the broadcast sender is also the collection address here


def _mid(event: int, seed: int = SEED) -> str:
    return f"<{event}.{seed}@pulsecheck.example>"


def _events() -> pa.Table:
    kinds = ["broadcast", "reply", "reply", "reply", "auto_reply", "bounce", "reply"]
    events = schedule(
        kinds,
        rcpt_first=[0, NO_ID, NO_ID, NO_ID, NO_ID, NO_ID, 10],
        rcpt_count=[20, 2, 2, 2, 1, 1, 5],
        cc=[NO_ID, 0, 3, NO_ID, NO_ID, NO_ID, 2],
    )
    content = events.column("content").cast(pa.string()).to_pylist()
    content[6] = "reply_all"  # a reply-all to members 10..14, cc the manager 2
    index = events.schema.get_field_index("content")
    column = pa.array(content).dictionary_encode().cast(events.schema.field("content").type)
    return events.set_column(index, events.schema.field("content"), column)


def test_addressed_to_follows_the_routing() -> None:
    payload = Payload(_events(), workforce(40), COLLECTIONS, broadcast_sender="hr@other.example")
    assert payload.addressed_to("hr@opm.example").tolist() == [0, 1, 1, 1, 0, 0, 0]
    assert payload.addressed_to("USER0@dhs.example").tolist() == [1, 1, 0, 0, 0, 0, 0]
    assert payload.addressed_to("user3@dhs.example").tolist() == [1, 0, 1, 0, 0, 0, 0]
    assert payload.addressed_to("user2@dhs.example").tolist() == [1, 0, 0, 0, 0, 0, 1]
    assert payload.addressed_to("user12@dhs.example").tolist() == [1, 0, 0, 0, 0, 0, 1]
    assert payload.addressed_to("user30@dhs.example").tolist() == [0] * 7
    assert payload.addressed_to("hr@other.example").tolist() == [0, 0, 0, 0, 1, 1, 0]


def test_addressed_to_agrees_with_every_envelope() -> None:
    payload = Payload(_events(), workforce(40), COLLECTIONS, SENDER)
    messages = payload.smtp_messages(0, len(payload))
    candidates = {r.lower() for m in messages for r in m.rcpts} | {"nobody@dhs.example"}
    for address in sorted(candidates):
        mask = payload.addressed_to(address)
        wanted = [address in {r.lower() for r in m.rcpts} for m in messages]
        assert mask.tolist() == wanted, address


def test_expected_events_are_acknowledged_and_addressed() -> None:
    events = _events()
    outcomes = ["ok", "ok", "rejected", "late", "ok", "ok", "timeout"]
    errors = [""] * 7
    errors[3] = partly_refused(1, 2, "mailbox full")  # the manager took it; did hr@?
    results = pa.table(
        {
            "event_id": pa.array(np.arange(7), pa.int64()),
            "outcome": pa.array(outcomes),
            "error": pa.array(errors),
        }
    )
    options = ReplayOptions(collections=COLLECTIONS, broadcast_sender=SENDER, seed=SEED)
    got = expected_events(results, events, workforce(40), options, "hr@opm.example")
    assert got.ids.tolist() == [1, 4, 5]  # reply 1 (2 was refused), auto-reply, bounce
    assert got.unsure.tolist() == [3]  # acknowledged with a recipient refused


def test_an_unsure_event_is_neither_lost_nor_unaccounted_for() -> None:
    source = "imap://u@127.0.0.1:1/INBOX"
    there = tally(np.array([1]), [_mid(1), _mid(3)], SEED, source, np.array([3]))
    absent = tally(np.array([1]), [_mid(1)], SEED, source, np.array([3]))
    for check in (there, absent):
        assert (check.stored, check.missing, check.extra_rows) == (1, 0, 0)


def test_tally_counts_each_case_once() -> None:
    ids = [_mid(1), _mid(2), _mid(2), _mid(4), _mid(9), _mid(1, seed=8), "", "<x@example.com>"]
    check = tally(np.array([1, 2, 3, 4]), ids, SEED, "imap://u@127.0.0.1:1/INBOX")
    assert (check.acknowledged, check.stored, check.missing, check.duplicates) == (4, 3, 1, 1)
    assert check.extra_rows == 4  # event 9 (not expected), another seed's, none, foreign
    assert check.source == "imap://u@127.0.0.1:1/INBOX"


@settings(max_examples=200, deadline=None)
@given(
    copies=st.dictionaries(st.integers(0, 10_000), st.integers(0, 3), max_size=40),
    strays=st.lists(st.integers(10_001, 20_000), max_size=10),
    foreign=st.integers(0, 5),
    order=st.randoms(use_true_random=False),
)
def test_tally_matches_how_the_mailbox_was_filled(
    copies: dict[int, int], strays: list[int], foreign: int, order: object
) -> None:
    ids = [_mid(e) for e, n in copies.items() for _ in range(n)]
    ids += [_mid(e) for e in strays] + [f"<{i}@elsewhere.example>" for i in range(foreign)]
    order.shuffle(ids)  # type: ignore[attr-defined]
    check = tally(np.array(list(copies), dtype=np.int64), ids, SEED, "imap://x")
    assert check.acknowledged == len(copies)
    assert check.stored == sum(1 for n in copies.values() if n > 0)
    assert check.missing == sum(1 for n in copies.values() if n == 0)
    assert check.duplicates == sum(1 for n in copies.values() if n > 1)
    assert check.extra_rows == len(strays) + foreign
    assert check.stored + check.missing == check.acknowledged


def test_a_record_written_before_duplicates_were_counted_still_reads(tmp_path: Path) -> None:
    from simulator.app.record import RECORD_SCHEMA, RunInfo, RunRecord, read_record, write_record

    info = RunInfo("mass-reply", "s.toml", "x", "smtp", 1.0, 1, 1, 0.1, None, "t", 1.0, "v", "c")
    check = StoreCheck(acknowledged=3, stored=3, missing=0, extra_rows=0)
    write_record(tmp_path, RunRecord("s", info, store_check=check))
    doc = json.loads((tmp_path / "run.json").read_text())
    for key in ("duplicates", "source"):
        del doc["store_check"][key]
    (tmp_path / "run.json").write_text(json.dumps(doc))
    record = read_record(tmp_path)
    assert record is not None and record.schema == RECORD_SCHEMA
    assert record.store_check == StoreCheck(3, 3, 0, 0, duplicates=0, source="store.db")


SMOKE = Path(__file__).resolve().parents[2] / "scenarios" / "ci-smoke.toml"


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        (["--verify", "imap://hr@opm.example@127.0.0.1:143/"], "reads back your own system"),
        (["--target", "smtp://127.0.0.1:25", "--verify-wait", "5"], "needs --verify"),
        (
            ["--target", "smtp://127.0.0.1:25", "--verify", "imap://hr@opm.example@127.0.0.1/"],
            "--verify-password-file",
        ),
        (
            [
                "--target",
                "smtp://127.0.0.1:25",
                "--verify",
                "imap://hr@opm.example@127.0.0.1/",
                "--verify-password-env",
                "HOME",
                "--verify-wait",
                "9999",
            ],
            "--verify-wait",
        ),
    ],
)
def test_run_refuses_a_bad_read_back_before_building_anything(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], extra: list[str], says: str
) -> None:
    assert main(["run", str(SMOKE), "--out", str(tmp_path / "run"), *extra]) == 2
    assert says in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


def test_scenario_verify_needs_your_own_target(tmp_path: Path) -> None:
    text = SMOKE.read_text().replace(
        'kind = "embedded"\nprotocol = "smtp"',
        'kind = "embedded"\nprotocol = "smtp"\nverify = "imap://hr@opm.example@127.0.0.1/"',
    )
    path = tmp_path / "s.toml"
    path.write_text(text)
    with pytest.raises(InputError) as err:
        load_scenario(path)
    assert err.value.field == "target.verify"
