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

AUTH: given the collection systems' secret, an employee's message goes over a connection
logged in (smtplib's AUTH PLAIN, when the server advertises AUTH) as the sender's agency
with `simulator.tokens.mint_token(secret, agency)`; the broadcast and bounces go
unauthenticated. When the next event is another agency's, the connection is reopened.
"""

from __future__ import annotations

import smtplib
import socket
import time
from typing import Any

from simulator.safety import CheckedHost, pinned
from simulator.tokens import mint_token
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
    """One SMTP connection of one Locust user (AUTH as an agency when given the secret)."""

    def __init__(
        self,
        host: str,
        port: int,
        timeout_s: float = 30.0,
        allow_remote: bool = False,
        secret: bytes | None = None,
    ) -> None:
        self.host, self.port, self.timeout_s = host, port, timeout_s
        self.allow_remote = allow_remote
        self.secret = secret
        self.conn: smtplib.SMTP | None = None
        self.principal: str | None = None  # the agency the connection logged in as

    def _connection(self, principal: str | None) -> smtplib.SMTP:
        if self.conn is not None and principal != self.principal:
            self.quit()  # another agency's connection
        if self.conn is None:
            checked = pinned(self.host, self.allow_remote, "--host")
            conn = PinnedSMTP(checked, HELO_NAME.decode(), self.timeout_s)
            try:
                code, text = conn.connect(self.host, self.port)
                if code != 220:
                    raise smtplib.SMTPConnectError(code, text)
                conn.ehlo(HELO_NAME.decode())
                if principal is not None and self.secret and conn.has_extn("auth"):
                    conn.login(principal, mint_token(self.secret, principal))
            except BaseException:
                conn.close()
                raise
            self.conn, self.principal = conn, principal
        return self.conn

    def send(
        self, mail_from: str, rcpts: list[str], data: bytes, agency: str | None = None
    ) -> Outcome:
        """One transaction (as `agency` when given the secret); never raises for SMTP or
        socket failures."""
        principal = agency if self.secret else None
        try:
            refused = self._connection(principal).sendmail(mail_from, rcpts, data)
        except smtplib.SMTPRecipientsRefused as err:
            self._reset()
            code, text = min(err.recipients.values(), default=(550, b""))
            return classify(code, len(data), "RCPT", text)
        except smtplib.SMTPAuthenticationError as err:
            self.drop()
            return classify(err.smtp_code, len(data), "auth", err.smtp_error)
        except smtplib.SMTPSenderRefused as err:
            self._reset()
            return classify(err.smtp_code, len(data), "MAIL", err.smtp_error)
        except smtplib.SMTPResponseException as err:
            self._reset()
            return classify(err.smtp_code, len(data), "end of data", err.smtp_error)
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
        employee = message.mail_from not in ("", payload.broadcast_sender)
        agency = payload.agency_of(i) if employee else None
        started = time.perf_counter()
        out = client.send(message.mail_from, message.rcpts, message.data, agency)
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
