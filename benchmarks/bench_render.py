"""Reply-body rendering speed on one core, beside Faker as the peer text generator.

Goal (issue 4): `content.render_reply` renders at least 50,000 bodies/s on one core.
The peer is Faker's `paragraph(nb_sentences=5)`, the library the workforce uses for
names: a generic random-text generator that is not deterministic per event id. Each is
timed over the same count, a few repeats; medians and the ratio are printed.

    python benchmarks/bench_render.py [--count 100000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import time

from faker import Faker

from simulator.content import render_reply, reply_is_html

SEED = 20250222


def ours(count: int) -> float:
    kinds = ("bullets",) * 17 + ("sensitive", "form_letter", "auto_reply")
    occupations = ("admin", "medical", "it", "law_enforcement", "trades")
    t0 = time.perf_counter()
    for i in range(count):
        render_reply(
            SEED,
            i,
            kinds[i % 20],
            "link" if i % 250 == 0 else "",
            occupations[i % 5],
            "Ann",
            "Leeson",
            reply_is_html(SEED, i, 0.7),
        )
    return count / (time.perf_counter() - t0)


def faker_peer(count: int) -> float:
    fake = Faker()
    Faker.seed(SEED)
    t0 = time.perf_counter()
    for _ in range(count):
        fake.paragraph(nb_sentences=5)
    return count / (time.perf_counter() - t0)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    mine, peer = [], []
    for _ in range(args.repeats):
        mine.append(ours(args.count))
        peer.append(faker_peer(args.count // 5))
    m, p = statistics.median(mine), statistics.median(peer)
    runs_m, runs_p = [round(x) for x in mine], [round(x) for x in peer]
    print(f"render_reply (70% HTML, mixed): median {m:,.0f} bodies/s {runs_m} (goal >= 50,000)")
    print(f"Faker paragraph(5 sentences):   median {p:,.0f} texts/s {runs_p}")
    print(f"ratio: {m / p:.1f}x")


if __name__ == "__main__":
    main()
