"""Stage lines of a run: numbered, with time and figure, signs of life while long."""

from __future__ import annotations

import re
import threading

import pytest

from simulator.app.progress import Steps


def test_each_stage_says_its_number_start_and_end_with_time_and_figure() -> None:
    lines: list[str] = []
    steps = Steps(lines.append, ["workforce", "schedule"], every_s=0)
    with steps.step("workforce") as step:
        step.done("2,300 employees")
    with steps.step("schedule"):
        pass
    assert lines[0] == "[1/2] workforce ..."
    assert re.fullmatch(r"\[1/2\] workforce: 2,300 employees in \d+\.\d s", lines[1])
    assert lines[2] == "[2/2] schedule ..."
    assert re.fullmatch(r"\[2/2\] schedule: \d+\.\d s", lines[3])
    assert set(steps.timings) == {"workforce", "schedule"}


def test_a_failing_stage_says_no_end_line() -> None:
    lines: list[str] = []
    steps = Steps(lines.append, ["cost"], every_s=0)
    with pytest.raises(RuntimeError), steps.step("cost"):
        raise RuntimeError("boom")
    assert lines == ["[1/1] cost ..."]


def test_an_unknown_stage_is_numbered_after_the_known_ones() -> None:
    lines: list[str] = []
    steps = Steps(lines.append, ["replay"], every_s=0)
    with steps.step("extra"):
        pass
    assert lines[0] == "[2/2] extra ..."


def test_a_long_stage_says_it_is_still_working() -> None:
    lines: list[str] = []
    heard = threading.Event()

    def say(line: str) -> None:
        lines.append(line)
        if "still working" in line:
            heard.set()

    steps = Steps(say, ["report"], every_s=0.01)
    with steps.step("report"):
        assert heard.wait(10.0), lines
    with steps.step("report", heartbeat=False):
        pass
    assert re.fullmatch(r"\[1/1\] report: still working, \d+ s", lines[1])
    assert lines[-2:][0] == "[1/1] report ..."  # the second run of the stage: no beat


def test_long_notes_are_broken_at_phrase_boundaries() -> None:
    lines: list[str] = []
    steps = Steps(lines.append, [], every_s=0)
    steps.say("model: " + ", ".join(f"phrase number {i} (a, b)" for i in range(10)))
    assert len(lines) > 1 and all(len(line) <= 80 for line in lines)
    assert all(line.rstrip().endswith((",", ")")) for line in lines)  # never mid-phrase
