"""Loading a scenario file of any kind: a mass reply or a reply-all storm."""

from __future__ import annotations

from pathlib import Path

from simulator.replyall.params import ReplyAllScenario, parse_replyall
from simulator.scenario import Scenario, parse_scenario, read_toml
from simulator.validation import Fields

AnyScenario = Scenario | ReplyAllScenario


def load_any(path: str | Path) -> AnyScenario:
    """A mass-reply `Scenario`, or a `ReplyAllScenario` when `[scenario] kind = "reply-all"`."""
    doc = read_toml(path)
    meta = doc.get("scenario", {})
    if isinstance(meta, dict) and meta.get("kind") == "reply-all":
        return parse_replyall(Fields(doc, str(path)))
    return parse_scenario(doc, str(path))
