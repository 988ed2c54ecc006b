"""Locust integration: pulsecheck schedules as Locust storms, on one machine or many.

Theory of operation: a locustfile calls `install_storm(events, channel)` once and gets a
`Storm`, which hooks Locust's events. The master (or a lone local runner) reads the
schedule, plans what `pulsecheck replay` would send (every event, in the engine's order),
splits it into disjoint interleaved shares and tells each worker its share, a common
start time and its part of the user count (`runner.send_message`). Each worker runs
pulsecheck's native replay engine on its share in a child process
(`python -m simulator.app.storm_share`: the engine is asyncio, Locust is gevent), so
pacing, retries and drop rules live once, in `simulator.replay`. The child streams
finished rows and interval HdrHistograms back (`simulator.traffic.frames`); the worker
logs them into Locust's stats and ships them to the master with Locust's
`report_to_master`; the master merges them and writes a pulsecheck run directory that
`pulsecheck report` reads.

Modules: `options` (command-line options), `plan` (pure: what to send, shares, the
engine's job, fingerprint), `collector` (the master's merge and run directory), `webui`
(pulsecheck's rows and tab in Locust's web UI), `storm` (the Locust wiring and the
engine child). This package never imports the engine: it starts it as a command.

Only `storm` imports Locust (which monkey-patches the standard library with gevent on
import), so the other modules are safe to import in ordinary asyncio programs and tests.
"""
