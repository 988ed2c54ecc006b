"""Reading reply-all scenarios: the shipped files load, bad input names the field."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from simulator.replyall.params import REFERENCE_LIST, Behaviour, load_replyall, parse_replyall
from simulator.validation import Fields, InputError

ROOT = Path(__file__).resolve().parents[2] / "scenarios"


def _doc(**replyall: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "list_size": 1000,
        "send_time": "2025-02-24T10:00:00",
        "timezone": "America/New_York",
    }
    base.update(replyall)
    return {"scenario": {"kind": "reply-all", "name": "t"}, "replyall": base}


@pytest.mark.parametrize(
    "name", ["replyall-1m", "replyall-cisco2013", "replyall-bedlam1997", "replyall-dhs2007"]
)
def test_shipped_scenarios_load(name: str) -> None:
    sc = load_replyall(ROOT / f"{name}.toml")
    assert sc.list_size > 1000


def test_presets_from_facts() -> None:
    doc = _doc(defences={"exchange_protection": {"enabled": True, "preset": "original"}})
    ex = parse_replyall(Fields(doc, "t.toml")).defences.exchange_protection
    assert (ex.threshold, ex.min_recipients, ex.block_hours) == (10, 5000, 4.0)
    doc = _doc(defences={"exchange_protection": {"enabled": True}})
    ex = parse_replyall(Fields(doc, "t.toml")).defences.exchange_protection
    assert (ex.threshold, ex.min_recipients, ex.block_hours) == (10, 2500, 6.0)
    lag = ex.enforcement_lag_min  # "up to a few minutes" (replyall_defences.csv)
    assert (lag.low, lag.likely, lag.high) == (0.0, 2.0, 5.0)


@pytest.mark.parametrize(("threshold", "ok"), [(2, True), (20, True), (1, False), (21, False)])
def test_exchange_threshold_settable_2_to_20(threshold: int, ok: bool) -> None:
    # MC254418 says 5-20, one Microsoft copy 2-20: the wider range is accepted
    ex = {"enabled": True, "threshold": threshold}
    doc = _doc(defences={"exchange_protection": ex})
    if ok:
        got = parse_replyall(Fields(doc, "t.toml")).defences.exchange_protection
        assert got.threshold == threshold
    else:
        with pytest.raises(InputError, match="threshold"):
            parse_replyall(Fields(doc, "t.toml"))


def test_behaviour_at_size_applies_diffusion() -> None:
    b = Behaviour(responsibility_exponent=0.5)
    big = b.at_size(REFERENCE_LIST * 100)
    assert big.pool_share == pytest.approx(b.pool_share / 10)
    assert big.reaction_rate == pytest.approx(b.reaction_rate / 10)
    assert big.responsibility_exponent == 0.0


@pytest.mark.parametrize(
    ("doc", "field"),
    [
        # misspelled key in the section
        (_doc(list_sise=5), "replyall.list_sise"),
        # misspelled behaviour key
        (_doc(behaviour={"remove_rat": 0.1}), "replyall.behaviour.remove_rat"),
        # unknown defence name
        (_doc(defences={"firewall": {}}), "replyall.defences.firewall"),
        # Exchange recipients outside the settable 1000..5000
        (
            _doc(defences={"exchange_protection": {"min_recipients": 500}}),
            "replyall.defences.exchange_protection.min_recipients",
        ),
        # block hours outside 1..12
        (
            _doc(defences={"exchange_protection": {"block_hours": 24}}),
            "replyall.defences.exchange_protection.block_hours",
        ),
        # a share above 1
        (_doc(behaviour={"ooo_share": 1.5}), "replyall.behaviour.ooo_share"),
        # a step that does not divide a minute
        (_doc(step_s=7), "replyall.step_s"),
        # a sender on a real domain
        (_doc(sender="boss@opm.gov"), "replyall.sender"),
        # a misspelled key inside a defence table
        (
            _doc(defences={"admin_disable": {"enabeld": True}}),
            "replyall.defences.admin_disable.enabeld",
        ),
        # wrong scenario kind
        ({"scenario": {"kind": "broadcast", "name": "t"}, "replyall": {}}, "scenario.kind"),
        # bad time zone
        (_doc(timezone="Mars/Olympus"), "replyall.timezone"),
        # a replayed list larger than the mailbox takes recipients per message
        (_doc(replay={"list_size": 5000}), "replyall.replay.list_size"),
        # an unknown replay defence mode
        (_doc(replay={"defences": "some"}), "replyall.replay.defences"),
        # a threshold on an unknown metric
        ({**_doc(), "thresholds": {"speed": "> 1"}}, "thresholds.speed"),
    ],
)
def test_bad_input_names_the_field(doc: dict[str, Any], field: str) -> None:
    with pytest.raises(InputError) as err:
        parse_replyall(Fields(doc, "t.toml"))
    assert err.value.field == field
    assert "t.toml" in str(err.value)
