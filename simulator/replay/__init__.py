"""Open-loop replay of a schedule against a collection system (HTTP or SMTP).

Theory of operation: every scheduled event has an intended send time. The engine sends
each one at that time (compressed by a speedup) whether or not earlier events have been
answered (the open model), and measures latency from the intended time as wrk2 does, so a
stalled server shows in the percentiles instead of slowing the generator down. The parts:

- `pacer`: pure arithmetic on intended times (offsets, windows, lag classes, splits).
- `payload`: a schedule event -> HTTP JSON body or SMTP envelope and message bytes.
- `targets`: the one seam, `Session.deliver(message) -> Outcome`, and URL parsing.
- `http_fast`, `http_aiohttp`, `smtp`, `fake`: the adapters behind that seam.
- `record`: numpy result columns, HdrHistograms, results.parquet and replay.json.
- `engine`: the open-loop loop with a concurrency cap, bounds, retries and stop.
- `workers`: the same run split over processes, then merged.
- `live`: a terminal display of rate, p99, errors and lag.
"""

from simulator.replay.engine import ReplayOptions, ReplayResult, replay

__all__ = ["ReplayOptions", "ReplayResult", "replay"]
