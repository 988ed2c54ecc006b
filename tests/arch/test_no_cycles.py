"""No two top-level parts of the package import each other, however indirectly."""

from __future__ import annotations

import itertools

import grimp
import pytest

grimp_graph = grimp.build_graph("simulator")
PARTS = sorted({m.split(".")[1] for m in grimp_graph.modules if m.count(".") >= 1} - {"__main__"})


@pytest.mark.parametrize(("a", "b"), list(itertools.combinations(PARTS, 2)))
def test_no_import_cycle_between(a: str, b: str) -> None:
    chain_ab = grimp_graph.chain_exists(f"simulator.{a}", f"simulator.{b}", as_packages=True)
    chain_ba = grimp_graph.chain_exists(f"simulator.{b}", f"simulator.{a}", as_packages=True)
    assert not (chain_ab and chain_ba), f"simulator.{a} and simulator.{b} import each other"
