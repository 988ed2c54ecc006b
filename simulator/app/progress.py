"""Stage progress of a run: a numbered line as each stage starts and ends, and signs of
life while a long one works.

Theory of operation: `Steps(say, names)` knows the run's stages in order. `step(name)` is a
context manager: it says `[2/7] schedule ...` on entry and `[2/7] schedule: 11,210 events
in 0.8 s` on exit, the figure being what the stage set with `Step.done(...)`; a stage that
raises says nothing more (the error is reported by the caller). While a stage runs, a
daemon thread says `[6/7] cost: still working, 10 s` every `every_s` seconds, so a log
never goes quiet for minutes; a stage with its own live view (the replay) turns that off.
Every line goes through `say`, broken at phrase boundaries to fit 80 columns. A stage
not in `names` (a kind that skips one) is numbered after the known ones rather than
failing: progress lines must never stop a run.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from simulator.report.lines import fit

Say = Callable[[str], None]
EVERY_S = 10.0


class Step:
    """One running stage: `done(figure)` gives the figure its end line shows."""

    def __init__(self) -> None:
        self.figure = ""

    def done(self, figure: str) -> None:
        self.figure = figure


class Steps:
    """The numbered stages of one run, said as they start and end."""

    def __init__(
        self, say: Say, names: Sequence[str], every_s: float = EVERY_S, width: int = 80
    ) -> None:
        self._say = say
        self.names = list(names)
        self.every_s = every_s
        self.width = width
        self.timings: dict[str, float] = {}  # seconds per finished stage

    def say(self, text: str) -> None:
        """A note between stage lines, broken at phrase boundaries to fit."""
        for line in fit(text, self.width):
            self._say(line)

    def _label(self, name: str) -> str:
        if name not in self.names:
            self.names.append(name)
        return f"[{self.names.index(name) + 1}/{len(self.names)}] {name}"

    @contextmanager
    def step(self, name: str, heartbeat: bool = True) -> Iterator[Step]:
        label = self._label(name)
        self.say(f"{label} ...")
        step, started = Step(), time.perf_counter()
        stop = threading.Event()
        beat = None
        if heartbeat and self.every_s > 0:
            beat = threading.Thread(target=self._beat, args=(label, started, stop), daemon=True)
            beat.start()
        try:
            yield step
        finally:
            stop.set()
            if beat is not None:
                beat.join()
        elapsed = time.perf_counter() - started
        self.timings[name] = elapsed
        figure = f"{step.figure} in {elapsed:.1f} s" if step.figure else f"{elapsed:.1f} s"
        self.say(f"{label}: {figure}")

    def _beat(self, label: str, started: float, stop: threading.Event) -> None:
        while not stop.wait(self.every_s):
            self.say(f"{label}: still working, {time.perf_counter() - started:.0f} s")
