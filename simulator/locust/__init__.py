"""Locust integration: pulsecheck schedules as Locust storms, on one machine or many.

Theory of operation: a locustfile calls `install_storm(events, ...)` once and gets a
`Storm`, which hooks Locust's events. The master (or a lone local runner) reads the
schedule, splits it into disjoint interleaved shares and tells each worker its share and
a common start time (`runner.send_message`). Each worker paces its users through its
share open-loop, as the native engine does: a user claims the next event, sleeps until it
is due (compressed by the speedup), sends it with the same payload and routing code as
`simulator.replay`, and records the outcome and its latency from the intended time.
Workers ship finished result rows and interval HdrHistograms to the master with Locust's
`report_to_master`; the master merges them beside Locust's own stats and writes a
pulsecheck run directory that `pulsecheck report` reads.

Modules: `options` (command-line options), `plan` (pure: what to send, shares,
fingerprint), `share` (a worker's pacing and recording), `collector` (the master's merge
and run directory), `http_reply` and `smtp_client` (the two deliveries), `storm` (the
Locust wiring).

Only `storm` imports Locust (which monkey-patches the standard library with gevent on
import), so the other modules are safe to import in ordinary asyncio programs and tests.
"""
