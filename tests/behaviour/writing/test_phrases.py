"""The phrase tables: per family where they depend on the occupation, plain ASCII."""

from __future__ import annotations

import pytest

from simulator.behaviour.writing import phrases


def test_every_table_has_an_entry_list_per_family_and_shared_ones_are_shared() -> None:
    g = phrases.grammar()
    for name, by_family in g.tables.items():
        assert len(by_family) == len(g.families) and all(by_family), name
        if name not in phrases.BY_FAMILY:
            assert len(set(by_family)) == 1, name
    assert len(set(g.tables["verbs"])) > 1


def test_an_unknown_occupation_uses_the_other_family() -> None:
    g = phrases.grammar()
    assert phrases.family_code("astronaut") == g.families.index(phrases.OTHER)
    assert g.entries("verbs", "astronaut") == g.entries("verbs", phrases.OTHER)
    assert phrases.family_codes(["medical", "nope"]).tolist() == [
        g.families.index("medical"),
        g.families.index(phrases.OTHER),
    ]


def test_coworker_phrases_split_around_the_name_slot() -> None:
    g = phrases.grammar()
    parts = zip(g.entries("coworker_before"), g.entries("coworker_after"), strict=True)
    rejoined = tuple(f"{a}{phrases.NAME_SLOT}{b}" for a, b in parts)
    assert rejoined == g.entries("coworker")


@pytest.mark.parametrize("phrase", ["caf\u00e9", "R&D", "a <b>", 'say "hi"'])
def test_a_phrase_that_is_not_plain_ascii_is_refused(phrase: str) -> None:
    with pytest.raises(ValueError, match=r"phrases\.toml"):
        phrases._check_plain([("fine", phrase)])
