"""The application layer: one function per stage, typed request in, typed result out.

Theory of operation: the command line (`simulator.cli`) parses flags into a request
dataclass, calls one function here and prints the result; nothing else imports the CLI.
These functions wire the pure core (workforce, behaviour, schedule, cost, the reply-all
model, report rendering) to the IO edges (replay, collect) through the files a user sees
in a run directory, and write the run record (`record.RunRecord`, `run.json`) that
`pulsecheck report` reads back to rebuild the same page.

- `costing.cost`: the cost and capacity plan of a scenario.
- `replaying.replay_schedule`: a schedule replayed open-loop against a target.
- `running.run`: every stage end to end, for any scenario kind (`kinds`).
- `reporting.report`: the page and summary rebuilt from a run directory.
"""
