"""The SMTP storm's delivery: one event -> one SMTP transaction, reported to Locust.

Theory of operation: the message (envelope and bytes) comes from
`traffic.payload.Payload.smtp_message`, the native engine's code. The transaction runs on
the standard library's `smtplib` over one kept-open connection per user; Locust
monkey-patches sockets with gevent, so the blocking calls yield to other users. smtplib
does not pipeline, so each RCPT costs a round trip (the native engine's client pipelines;
prefer it for broadcasts to many recipients). Every transaction fires Locust's
`events.request` with request_type "SMTP", named by event kind, so it shows in Locust's
stats. 4xx answers are temporary (retried by the caller after `TEMPORARY_RETRY_S`), 5xx
are rejections, and a dropped connection is reopened on the next event. The connection
goes to the address the storm's loopback check resolved (`safety.pinned`), never to the
name again, so a resolver that changes its answer cannot move the load off loopback.
"""

from __future__ import annotations

import smtplib
import socket
import time
from typing import Any

from simulator.safety import CheckedHost, pinned
from simulator.traffic.outcomes import ERROR, OK, TIMEOUT, Outcome, classify
from simulator.traffic.payload import HELO_NAME, Payload
from simulator.validation import InputError


class PinnedSMTP(smtplib.SMTP):
    """`smtplib.SMTP` whose socket goes to the checked addresses; the name stays `_host`
    (what STARTTLS would send as SNI)."""

    def __init__(self, checked: CheckedHost, local_hostname: str, timeout: float) -> None:
        self.checked = checked
        super().__init__(local_hostname=local_hostname, timeout=timeout)  # no host: no connect

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        error = OSError(f"{self.checked.host} has no address")
        for address in self.checked.addresses:
            try:
                return socket.create_connection((address, port), timeout, self.source_address)
            except OSError as err:
                error = err
        raise error


class SmtpClient:
    """One SMTP connection of one Locust user."""

    def __init__(
        self, host: str, port: int, timeout_s: float = 30.0, allow_remote: bool = False
    ) -> None:
        self.host, self.port, self.timeout_s = host, port, timeout_s
        self.allow_remote = allow_remote
        self.conn: smtplib.SMTP | None = None

    def _connection(self) -> smtplib.SMTP:
        if self.conn is None:
            checked = pinned(self.host, self.allow_remote, "--host")
            conn = PinnedSMTP(checked, HELO_NAME.decode(), self.timeout_s)
            try:
                code, text = conn.connect(self.host, self.port)
                if code != 220:
                    raise smtplib.SMTPConnectError(code, text)
                conn.ehlo(HELO_NAME.decode())
            except BaseException:
                conn.close()
                raise
            self.conn = conn
        return self.conn

    def send(self, mail_from: str, rcpts: list[str], data: bytes) -> Outcome:
        """One transaction; never raises for SMTP or socket failures."""
        try:
            refused = self._connection().sendmail(mail_from, rcpts, data)
        except smtplib.SMTPRecipientsRefused as err:
            self._reset()
            codes = [code for code, _ in err.recipients.values()]
            return classify(min(codes) if codes else 550, len(data), "RCPT")
        except smtplib.SMTPSenderRefused as err:
            self._reset()
            return classify(err.smtp_code, len(data), "MAIL")
        except smtplib.SMTPResponseException as err:
            self._reset()
            return classify(err.smtp_code, len(data), "end of data")
        except TimeoutError:
            self.drop()
            return Outcome(0, TIMEOUT, len(data), "timeout")
        except (OSError, smtplib.SMTPException) as err:
            self.drop()
            return Outcome(0, ERROR, len(data), type(err).__name__)
        except InputError as err:  # the host is not (or no longer) loopback: nothing sent
            return Outcome(0, ERROR, len(data), str(err))
        out = Outcome(250, OK, len(data))
        if refused:
            return out._replace(error=f"{len(refused)} of {len(rcpts)} rcpt refused")
        return out

    def _reset(self) -> None:
        try:
            if self.conn is not None:
                self.conn.rset()
        except (OSError, smtplib.SMTPException):
            self.drop()

    def drop(self) -> None:
        if self.conn is not None:
            try:
                self.conn.close()
            finally:
                self.conn = None

    def quit(self) -> None:
        if self.conn is not None:
            try:
                self.conn.quit()
            except (OSError, smtplib.SMTPException):
                pass
            finally:
                self.conn = None


def smtp_delivery(client: SmtpClient, payload: Payload, events: Any) -> Any:
    """A `deliver(i) -> Outcome` that sends event `i` and fires Locust's request event."""

    def deliver(i: int) -> Outcome:
        message = payload.smtp_message(i)
        started = time.perf_counter()
        out = client.send(message.mail_from, message.rcpts, message.data)
        elapsed_ms = (time.perf_counter() - started) * 1000
        events.request.fire(
            request_type="SMTP",
            name=str(payload.kind[i]),
            response_time=elapsed_ms,
            response_length=out.nbytes,
            exception=None if out.outcome == OK else RuntimeError(out.error or "failed"),
            context={"status": out.status},
        )
        return out

    return deliver
