"""Storm over SMTP: send every event of a pulsecheck schedule to a mailbox, from Locust.

Each user holds one SMTP connection (`simulator.locust.smtp_client`, standard smtplib
made cooperative by Locust's gevent) and fires Locust's request events, so SMTP
transactions show in Locust's stats by event kind. The schedule decides arrivals:

    locust -f locustfiles/smtp_storm.py --headless -u 64 -r 64 --run-time 5m \\
        --host smtp://127.0.0.1:2525 --schedule s.parquet --workforce wf.parquet \\
        --speedup 600 --pulsecheck-out reports/locust-smtp

Distributed runs work as for `reply_storm.py` (`--master`/`--worker` or `--processes N`).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from locust import User, constant, events, task

from simulator.locust.http_reply import read_secret
from simulator.locust.smtp_client import SmtpClient, smtp_delivery
from simulator.locust.storm import install_storm
from simulator.traffic.payload import Payload

STORM = install_storm(events, "smtp", kinds=None)


class SmtpStormUser(User):
    """Sends its worker's share of the schedule over one SMTP connection."""

    wait_time = constant(0)

    def __init__(self, environment: Any) -> None:
        super().__init__(environment)
        self._smtp: SmtpClient | None = None

    @property
    def smtp(self) -> SmtpClient:
        """The user's connection, made on first use, once the storm's options are checked;
        with the collection system's token secret it logs in as each sender's agency."""
        if self._smtp is None:
            parts = urlsplit(self.host or "")  # checked when the storm started
            secret_file = STORM.options_checked.api_secret_file
            secret = None if secret_file is None else read_secret(secret_file)
            self._smtp = SmtpClient(parts.hostname or "127.0.0.1", parts.port or 25, secret=secret)
        return self._smtp

    @task
    def storm(self) -> None:
        STORM.run_user(self._delivery)

    def _delivery(self, payload: Payload) -> Any:
        return smtp_delivery(self.smtp, payload, self.environment.events)

    def on_stop(self) -> None:
        if self._smtp is not None:
            self._smtp.quit()
