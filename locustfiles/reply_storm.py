"""Reply storm over HTTP: POST each reply of a pulsecheck schedule to the collection API.

Run it like any locustfile; the schedule, not Locust's user count, decides the arrival
rate (users are the concurrency cap, like the native engine's `--concurrency`):

    locust -f locustfiles/reply_storm.py --headless -u 64 -r 64 --run-time 5m \\
        --host http://127.0.0.1:8080 --schedule s.parquet --workforce wf.parquet \\
        --api-secret-file api.secret --speedup 600 --pulsecheck-out reports/locust-run

Distributed: add `--master --expect-workers N` here and start N times
`locust -f locustfiles/reply_storm.py --worker --master-host MASTER` (or use
`--processes N`). Each worker sends a disjoint share; the master writes the run directory.
"""

from __future__ import annotations

from typing import Any

from locust import FastHttpUser, constant, events, task

from simulator.locust.http_reply import AgencyTokens, http_delivery, read_secret
from simulator.locust.options import read_options
from simulator.locust.storm import install_storm
from simulator.traffic.payload import Payload

STORM = install_storm(events, "http", kinds=("reply",))


class ReplyStormUser(FastHttpUser):
    """Sends its worker's share of the schedule's replies, each at its intended time."""

    wait_time = constant(0)
    network_timeout = 30.0
    connection_timeout = 10.0
    insecure = False

    @task
    def storm(self) -> None:
        STORM.run_user(self._delivery)

    def _delivery(self, payload: Payload) -> Any:
        options = read_options(self.environment.parsed_options)
        assert options.api_secret_file is not None  # checked when the storm started
        tokens = AgencyTokens(read_secret(options.api_secret_file))
        return http_delivery(self.client, options.api_path, payload, tokens)
