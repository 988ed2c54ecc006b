"""Schedules: the time-ordered events of a round, as a `columns.SCHEDULE` table.

Theory of operation: `build` turns a scenario round and a workforce table into the
broadcast transactions and the replies, out-of-office replies and bounces they set off
(pure, numpy); `summary` reduces a schedule to its arrival curve; `io` writes and reads
the Parquet file with a JSON manifest; `plot` draws the arrival curve.

- `build.build_schedule(scenario, workforce, seed, round_ids=None) -> pa.Table`
- `build.build_round(scenario, rnd, workforce, seed) -> pa.Table`
- `summary.arrival_curve(schedule, send_time, deadline) -> ArrivalCurve`
- `io.write_schedule(table, path, manifest)`, `io.read_schedule(path)`
"""
