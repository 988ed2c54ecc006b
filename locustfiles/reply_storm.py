"""Reply storm over HTTP: a pulsecheck schedule POSTed to the collection API, from Locust.

Each Locust worker (or a lone local run) replays its share of the schedule with
pulsecheck's native engine in a child process, the same pacing, retries and payloads as
`pulsecheck replay --target http://HOST:PORT/replies`; Locust's users set the engine's
concurrency and its stats show every request. The schedule decides the arrival rate:

    locust -f locustfiles/reply_storm.py --headless -u 64 -r 64 --run-time 5m \\
        --host http://127.0.0.1:8080 --schedule s.parquet --workforce wf.parquet \\
        --api-secret-file api.secret --speedup 600 --pulsecheck-out reports/locust-run

Distributed: add `--master --expect-workers N` here and start N times
`locust -f locustfiles/reply_storm.py --worker --master-host MASTER` (or use
`--processes N`). Each worker sends a disjoint share; the master writes the run directory.
"""

from __future__ import annotations

from locust import User, constant, events, task

from simulator.locust.storm import install_storm

STORM = install_storm(events, "http")


class ReplyStormUser(User):
    """One of the engine's connections: holds its worker's share open until it is done."""

    wait_time = constant(0)

    @task
    def storm(self) -> None:
        STORM.run_user()
