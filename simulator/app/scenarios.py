"""Loading a scenario file of any kind: a mass reply or a reply-all storm.

A mass-reply scenario's `[target.request]`, `[target.response]` and `[target.auth]` are
compiled here (`simulator.traffic.request`), so `validate` and `run` refuse a bad
template before anything is built or sent.
"""

from __future__ import annotations

from pathlib import Path

from simulator.replyall.params import ReplyAllScenario, parse_replyall
from simulator.scenario import Scenario, parse_scenario, read_toml
from simulator.traffic.request import compile_template
from simulator.validation import Fields

AnyScenario = Scenario | ReplyAllScenario


def load_any(path: str | Path) -> AnyScenario:
    """A mass-reply `Scenario`, or a `ReplyAllScenario` when `[scenario] kind = "reply-all"`."""
    doc = read_toml(path)
    meta = doc.get("scenario", {})
    if isinstance(meta, dict) and meta.get("kind") == "reply-all":
        return parse_replyall(Fields(doc, str(path)))
    scenario = parse_scenario(doc, str(path))
    if scenario.target.template is not None:
        compile_template(scenario.target.template, str(path), "target.", Path(path).parent)
    return scenario
