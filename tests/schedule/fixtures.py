"""Small WORKFORCE-shaped tables and scenarios for schedule and behaviour tests."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pyarrow as pa

from simulator.columns import NO_ID, VIOLATIONS, WORKFORCE
from simulator.scenario import Scenario, parse_scenario


def _dict(values: Sequence[str]) -> pa.DictionaryArray:
    return pa.array(list(values)).dictionary_encode().cast(pa.dictionary(pa.int16(), pa.string()))


def make_workforce(
    units: Sequence[tuple[str, str, int]],
    tz: str | Sequence[str] = "America/New_York",
    away: float = 0.0,
    stale: float = 0.0,
    contractor: float = 0.0,
    sensitive: float = 0.0,
    seed: int = 0,
    occupation: str = "admin",
) -> pa.Table:
    """`units` are (department, subagency, size); the first row of each unit is its head,
    everyone else reports to that head. Flags are drawn at the given shares."""
    rng = np.random.default_rng(seed)
    dept, sub, manager = [], [], []
    for d, s, size in units:
        head = len(manager)
        dept += [d] * size
        sub += [s] * size
        manager += [NO_ID] + [head] * (size - 1)
    n = len(manager)
    zones = [tz] * n if isinstance(tz, str) else list(tz)
    ids = np.arange(n, dtype=np.int32)
    cols = {
        "employee_id": pa.array(ids),
        "department": _dict(dept),
        "subagency": _dict(sub),
        "occupation": _dict([occupation] * n),
        "grade": pa.array(np.full(n, 11, dtype=np.int8)),
        "pay": pa.array(np.full(n, 99_200, dtype=np.float32)),
        "hourly_cost": pa.array(np.full(n, 67, dtype=np.float32)),
        "is_supervisor": pa.array(np.isin(ids, manager)),
        "manager_id": pa.array(np.array(manager, dtype=np.int32)),
        "depth": pa.array((np.array(manager) != NO_ID).astype(np.int8)),
        "duty_state": _dict(["DC"] * n),
        "tz": _dict(zones),
        "first_name": pa.array([f"Ann{i % 7}" for i in range(n)]),
        "last_name": pa.array([f"Lee{i % 11}" for i in range(n)]),
        "email": pa.array([f"ann.lee.{i:07d}@agency.example" for i in range(n)]),
        "is_contractor": pa.array(rng.random(n) < contractor),
        "is_away": pa.array(rng.random(n) < away),
        "is_stale": pa.array(rng.random(n) < stale),
        "is_sensitive": pa.array(rng.random(n) < sensitive),
    }
    return pa.Table.from_pydict(cols, schema=WORKFORCE)


def scenario(
    rounds: str,
    collections: str = '[[collections]]\nid = "opm-hr"\naddress = "hr@opm.example"\n',
    behaviour: str = "",
) -> Scenario:
    """A scenario from TOML fragments: `rounds` holds the [[rounds]] tables."""
    text = f'[scenario]\nname = "test"\n{collections}\n{rounds}\n[behaviour]\n{behaviour}\n'
    import tomllib

    return parse_scenario(tomllib.loads(text), "test.toml")


ROUND1 = """
[[rounds]]
id = "r1"
send_time = 2025-02-22T16:30:00
send_window_minutes = 18
deadline = 2025-02-24T23:59:00
collection = "opm-hr"
"""

# Rules forbidding every violation kind, and behaviour making each kind common.
STRICT = """
[rounds.rules]
no_links = true
no_attachments = true
no_classification = true
no_coworker_names = true
no_drug_or_contract_names = true
"""
MANY_VIOLATIONS = "\n".join(f"content.{v} = 0.03" for v in VIOLATIONS[1:])
