"""Cost estimates with honest ranges, and capacity planning for a reply storm.

Theory of operation: the tables of the pipeline (workforce, schedule) are reduced once to
a few counts and sums per round (`counts`). Every cost term is then a pure numpy function
of those counts and of the uncertain assumptions (`terms`), so the same code evaluates the
likely case, 100k Monte Carlo draws (`montecarlo`), one-at-a-time swings (`tornado`) and
the corners of the assumption box. `capacity` turns a measured replay run and the
schedule's peak rate into cores, servers and mailboxes, and plays an Exchange-like
mailbox policy against the arrival series. `plots` draws figures for the report.

Public entry points:

- `counts.counts_by_round(workforce, schedule) -> dict[str, RoundCounts]`
- `montecarlo.estimate(counts, rounds_per_year, ranges, draws=100_000, seed=0) -> Estimate`
- `tornado.tornado(counts, ranges, rounds_per_year=1) -> list[Swing]`
- `capacity.plan_capacity(...)`, `capacity.mailbox_policy(...)`
- `plots.cost_breakdown(estimate)`, `plots.tornado_chart(swings)`
"""
