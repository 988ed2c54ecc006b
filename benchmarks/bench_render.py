"""Reply-body rendering speed on one core, beside Faker as the peer text generator.

Goal (issue 4): `writing.render_reply` renders at least 50,000 bodies/s on one core.
The peer is Faker's `paragraph(nb_sentences=5)`, the library the workforce uses for
names: a generic random-text generator that is not deterministic per event id. Also
timed, with the same mix of bodies, is the batch renderer the replay engine uses,
`writing.render_replies` (numpy draws a batch's choices), as plain text and JSON-escaped
beside `json.dumps` of `render_reply`'s text: the before/after of writing bodies into
JSON documents from pieces escaped in advance. Each is timed over the same count, a few
repeats; medians and ratios are printed.

    python benchmarks/bench_render.py [--count 100000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from collections.abc import Callable

import numpy as np
from faker import Faker

from simulator.behaviour.writing import family_codes, html_mask, render_replies, render_reply

SEED = 20250222
BATCH = 128  # as `simulator.replay.engine.BATCH`
KINDS = ("bullets",) * 17 + ("sensitive", "form_letter", "auto_reply")
OCCUPATIONS = ("admin", "medical", "it", "law_enforcement", "trades")


class Mix:
    """The same mixed bodies for every renderer: 70% HTML, a few violations."""

    def __init__(self, count: int) -> None:
        self.ids = np.arange(count, dtype=np.int64)
        self.kinds = [KINDS[i % 20] for i in range(count)]
        self.violations = ["link" if i % 250 == 0 else "" for i in range(count)]
        self.occupations = [OCCUPATIONS[i % 5] for i in range(count)]
        self.family = family_codes(self.occupations)
        self.html = html_mask(SEED, self.ids, 0.7).tolist()
        self.count = count

    def one_by_one(self, escape: bool = False) -> None:
        for i in range(self.count):
            text = render_reply(
                SEED,
                i,
                self.kinds[i],
                self.violations[i],
                self.occupations[i],
                "Ann",
                "Leeson",
                self.html[i],
            )
            if escape:
                json.dumps(text)

    def batches(self, escape: bool = False) -> None:
        names = ["Ann Leeson"] * BATCH
        for s in range(0, self.count, BATCH):
            e = min(self.count, s + BATCH)
            render_replies(
                SEED,
                self.ids[s:e],
                self.kinds[s:e],
                self.violations[s:e],
                self.family[s:e],
                names[: e - s],
                self.html[s:e],
                json=escape,
            )


def rate(run: Callable[[], None], count: int) -> float:
    t0 = time.perf_counter()
    run()
    return count / (time.perf_counter() - t0)


def faker_peer(count: int) -> None:
    fake = Faker()
    Faker.seed(SEED)
    for _ in range(count):
        fake.paragraph(nb_sentences=5)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    mix = Mix(args.count)
    runs: dict[str, tuple[Callable[[], None], int]] = {
        "render_reply, one at a time": (mix.one_by_one, args.count),
        f"render_replies, batches of {BATCH}": (mix.batches, args.count),
        "json.dumps(render_reply)": (lambda: mix.one_by_one(escape=True), args.count),
        "render_replies(json=True)": (lambda: mix.batches(escape=True), args.count),
        "Faker paragraph(5 sentences)": (lambda: faker_peer(args.count // 5), args.count // 5),
    }
    rates: dict[str, list[float]] = {name: [] for name in runs}
    for _ in range(args.repeats):
        for name, (run, count) in runs.items():
            rates[name].append(rate(run, count))
    med = {name: statistics.median(r) for name, r in rates.items()}
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"bodies/s, 70% HTML, mixed kinds, median of {args.repeats} (load average {load}):")
    for name, r in med.items():
        print(f"  {name:<34}{r:>10,.0f}  {[round(x) for x in rates[name]]}")
    one = med["render_reply, one at a time"]
    print(f"render_reply: {one:,.0f} bodies/s (goal >= 50,000)")
    print(f"render_reply / Faker: {one / med['Faker paragraph(5 sentences)']:.1f}x")
    batch = med[f"render_replies, batches of {BATCH}"] / one
    print(f"render_replies batches / render_reply one at a time: {batch:.1f}x")
    escaped = med["render_replies(json=True)"] / med["json.dumps(render_reply)"]
    print(f"JSON-escaped bodies, render_replies(json=True) / json.dumps: {escaped:.1f}x")


if __name__ == "__main__":
    main()
