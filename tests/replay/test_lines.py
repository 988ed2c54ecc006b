"""Summary lines broken at phrase boundaries to fit the terminal."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from simulator.report.lines import fit, phrases


def test_breaks_between_phrases_never_inside_parentheses() -> None:
    text = (
        "replayed 11,210 events to smtp://127.0.0.1:2525: 4,000 ok, 7,000 late, "
        "12 rejected (content rule, size limit); 812/s; latency from intended time: "
        "p50 2.10 ms, p99 409.00 ms, max 900.00 ms"
    )
    lines = fit(text, 80)
    assert len(lines) > 1 and all(len(line) <= 80 for line in lines)
    assert any("12 rejected (content rule, size limit);" in line for line in lines)
    assert all(line.startswith("    ") for line in lines[1:])
    assert " ".join(line.strip() for line in lines) == text


def test_a_short_line_is_kept_and_a_long_word_left_whole() -> None:
    assert fit("verdict: PASS (3 thresholds)") == ["verdict: PASS (3 thresholds)"]
    path = "/tmp/" + "a" * 90
    assert path in "".join(fit(f"report: {path} (11 s in all)"))


@given(st.lists(st.text(st.characters(codec="ascii", categories=["L", "N"]), min_size=1,
                        max_size=20), min_size=1, max_size=30))  # fmt: skip
def test_every_phrase_survives_and_short_phrases_fit(words: list[str]) -> None:
    text = ", ".join(words)
    lines = fit(text, 40)
    assert all(len(line) <= 40 for line in lines)
    assert " ".join(line.strip() for line in lines) == text
    assert len(phrases(text)) == len(words)


def test_a_phrase_longer_than_the_line_breaks_between_words_and_the_next_follows() -> None:
    text = "model: " + " ".join(["word"] * 30) + ", ended by one cause"
    lines = fit(text, 40)
    assert all(len(line) <= 40 for line in lines)
    assert lines[-1].endswith("word, ended by one cause")  # no line of its own
    assert " ".join(line.strip() for line in lines) == text
