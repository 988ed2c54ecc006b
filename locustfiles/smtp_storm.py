"""Storm over SMTP: every event of a pulsecheck schedule sent to a mailbox, from Locust.

Each Locust worker (or a lone local run) replays its share with pulsecheck's native
engine in a child process (pipelining SMTP client, as `pulsecheck replay --target
smtp://HOST:PORT`); Locust's users set its concurrency and its stats show every
transaction. With `--api-secret-file`, each employee's message is sent logged in as the
sender's agency. The schedule decides arrivals:

    locust -f locustfiles/smtp_storm.py --headless -u 64 -r 64 --run-time 5m \\
        --host smtp://127.0.0.1:2525 --schedule s.parquet --workforce wf.parquet \\
        --speedup 600 --pulsecheck-out reports/locust-smtp

Distributed runs work as for `reply_storm.py` (`--master`/`--worker` or `--processes N`).
"""

from __future__ import annotations

from locust import User, constant, events, task

from simulator.locust.storm import install_storm

STORM = install_storm(events, "smtp")


class SmtpStormUser(User):
    """One of the engine's connections: holds its worker's share open until it is done."""

    wait_time = constant(0)

    @task
    def storm(self) -> None:
        STORM.run_user()
