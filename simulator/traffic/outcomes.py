"""What one delivery attempt came to: the outcome codes and how an answer maps to them.

Theory of operation: an `Outcome` is the one record every client (the native engine's
HTTP and SMTP adapters, the Locust users) returns for an attempt. `outcome` indexes
`columns.OUTCOMES`. An answer the collection system gives on purpose after reading a
reply (a content rule, a size limit, "mailbox full") is REJECTED; an answer that says the
target is misconfigured or broken (404, 401, 403, 5xx, an SMTP refusal before the
message was read) is an ERROR and counts against the run's error rate. 429/503 and SMTP
4xx are temporary and carry the delay before a retry.

`ResponseRules` is the same classification with the statuses named by the user (a
`[response]` table, `simulator.traffic.request`): which acknowledge, which say "stored
earlier" (acknowledged, the detail kept as "duplicate"), which refuse (with a reason read
from a JSON field of the answer when one is named), which are retried. `REFERENCE_RULES`
classifies every status exactly as `http_outcome` does.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import NamedTuple

from simulator.columns import OUTCOMES

OK, REJECTED, ERROR, TIMEOUT, LATE, DROPPED = (OUTCOMES.index(o) for o in OUTCOMES)
PENDING = -1  # recorder state of an event not finished yet


class Outcome(NamedTuple):
    """What one delivery attempt came to."""

    status: int  # HTTP status or final SMTP reply code; 0 when there was no answer
    outcome: int  # index into columns.OUTCOMES
    nbytes: int  # request bytes written
    error: str = ""  # short reason; "" when ok
    retry_after: float | None = None  # seconds, when the failure is temporary


def retry_after_seconds(value: str | bytes | None) -> float | None:
    """Parse an HTTP Retry-After given in seconds; dates and junk give None."""
    if value is None:
        return None
    try:
        seconds = float(value)
    except ValueError:
        return None
    return seconds if seconds >= 0 else None


DEFAULT_RETRY_S = 0.5  # delay for a 429/503 that names none
TEMPORARY_RETRY_S = 1.0  # delay before retrying an SMTP 4xx; SMTP carries no Retry-After


# Answers a collection system gives after reading a reply and refusing it on purpose:
# a content rule (422) or a size limit (413). Any other 4xx/5xx says the target, the route
# or the credentials are wrong (404, 401, 403, 400, 500...) and is an error.
HTTP_REFUSALS = (413, 422)
HTTP_TEMPORARY = (429, 503)


def http_outcome(status: int, retry_after: str | bytes | None, nbytes: int) -> Outcome:
    """Classify an HTTP answer; 429 and 503 are temporary and worth a retry."""
    if 200 <= status < 300:
        return Outcome(status, OK, nbytes)
    if status in HTTP_TEMPORARY:
        delay = retry_after_seconds(retry_after)
        return Outcome(
            status, ERROR, nbytes, f"http {status}", DEFAULT_RETRY_S if delay is None else delay
        )
    return Outcome(status, REJECTED if status in HTTP_REFUSALS else ERROR, nbytes, f"http {status}")


MAX_REASON_CHARS = 60  # a reason from an answer's body, as the outcome's error text


@dataclass(frozen=True)
class ResponseRules:
    """Which HTTP statuses acknowledge, mean duplicate, refuse or are retried."""

    ok: tuple[tuple[int, int], ...] = ((200, 299),)  # inclusive ranges
    duplicate: tuple[int, ...] = (409,)
    refused: tuple[int, ...] = HTTP_REFUSALS
    retry: tuple[int, ...] = HTTP_TEMPORARY
    max_retry_s: float = 5.0  # longest Retry-After honoured (the engine caps it too)
    reason_field: tuple[str, ...] = ()  # dotted path into a JSON answer, e.g. error.code

    @property
    def reads_body(self) -> bool:
        """Whether an answer's body is needed (only when a reason field is named)."""
        return bool(self.reason_field)

    def outcome(
        self, status: int, retry_after: str | bytes | None, nbytes: int, body: bytes = b""
    ) -> Outcome:
        """Classify an answer; `body` is read only when `reads_body`."""
        for lo, hi in self.ok:
            if lo <= status <= hi:
                return Outcome(status, OK, nbytes)
        if status in self.duplicate:
            return Outcome(status, OK, nbytes, "duplicate")
        error = f"http {status}"
        if self.reason_field:
            reason = json_reason(body, self.reason_field)
            error = f"{error} {reason}" if reason else error
        if status in self.retry:
            delay = retry_after_seconds(retry_after)
            delay = DEFAULT_RETRY_S if delay is None else min(delay, self.max_retry_s)
            return Outcome(status, ERROR, nbytes, error, delay)
        return Outcome(status, REJECTED if status in self.refused else ERROR, nbytes, error)


REFERENCE_RULES = ResponseRules(duplicate=(), max_retry_s=float("inf"))  # = http_outcome


def json_reason(body: bytes, path: tuple[str, ...]) -> str:
    """The text at `path` in a JSON answer, one short printable line; "" if absent."""
    try:
        value = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return ""
    for key in path:
        if not isinstance(value, dict) or key not in value:
            return ""
        value = value[key]
    if isinstance(value, dict | list) or value is None:
        return ""
    text = "".join(c for c in str(value) if c.isprintable())
    return text[:MAX_REASON_CHARS]


SMTP_STORAGE = 552  # message too big for the system, or mailbox full (RFC 5321 4.2.3)
SMTP_AUTH_REFUSED = 535  # authentication credentials invalid (RFC 4954)
MAILBOX_FULL = "mailbox full"
# 552/452 with the enhanced status code "mailbox full" (RFC 3463 X.2.2), or saying so
_FULL_CODES = (b"5.2.2", b"4.2.2")
_FULL_WORDS = (b"mailbox full", b"mailbox is full", b"over quota", b"quota exceeded")
MAX_REASON = 120  # characters of the server's text kept in a reason
# the reference mailbox names the content rule a reply broke in its 550 text
_CONTENT_RULE = re.compile(rb"content rule broken: ([A-Za-z0-9_-]{1,40})")


def mailbox_full(code: int, text: bytes) -> bool:
    """Whether a 552 or 452 reply says the recipient's mailbox is full."""
    if code not in (SMTP_STORAGE, 452):
        return False
    lower = text.lower()
    return any(c in lower for c in _FULL_CODES) or any(w in lower for w in _FULL_WORDS)


def classify(code: int, nbytes: int, what: str, text: str | bytes = b"") -> Outcome:
    """An SMTP reply code (and its text) as an outcome.

    2xx/3xx ok; 4xx temporary (retried); a 5xx at the end of DATA, after the system read
    the message (a content rule, a malformed message), or a 552 (too big, mailbox full),
    is the system refusing the reply on purpose; any other 5xx (unknown recipient, sender
    refused, a command refused) is an error of the target or the route. A 552/452 saying
    the mailbox is full has the reason "mailbox full" (and is refused for good when its
    retries run out, `settled`); a 535 to AUTH is a refused login, with the server's text.
    A refusal naming the content rule it applies (the reference mailbox's "content rule
    broken: link") has that rule as its reason.
    """
    if 200 <= code < 400:
        return Outcome(code, OK, nbytes)
    if isinstance(text, str):
        text = text.encode("utf-8", "replace")
    full = mailbox_full(code, text)
    rule = _CONTENT_RULE.search(text) if what == "end of data" else None
    if what == "auth":
        reason = f"smtp {code} at auth: {_trimmed(text)}"
    elif rule is not None:
        reason = f"content rule broken: {rule.group(1).decode('ascii')}"
    else:
        reason = MAILBOX_FULL if full else f"smtp {code} at {what}"
    if 400 <= code < 500:
        return Outcome(code, ERROR, nbytes, reason, TEMPORARY_RETRY_S)
    refused = what == "end of data" or code in (SMTP_STORAGE, SMTP_AUTH_REFUSED) or full
    return Outcome(code, REJECTED if refused else ERROR, nbytes, reason)


def settled(out: Outcome) -> Outcome:
    """A temporary outcome whose retries ran out, as recorded: a mailbox still full is
    refused for good ("mailbox full"); anything else stays what it was."""
    if out.retry_after is not None and out.error == MAILBOX_FULL:
        return out._replace(outcome=REJECTED, retry_after=None)
    return out


def _trimmed(text: bytes) -> str:
    """The server's reply text for a reason: one line, printable, bounded."""
    line = " ".join(text.decode("utf-8", "replace").split())
    line = "".join(c if c.isprintable() else "?" for c in line)
    return line if len(line) <= MAX_REASON else line[: MAX_REASON - 3] + "..."


PARTLY_REFUSED = "rcpt refused ("  # in the error of a transaction some recipients refused


def partly_refused(refused: int, of: int, why: str) -> str:
    """The error kept with an acknowledged transaction that some recipients refused."""
    return f"{refused} of {of} {PARTLY_REFUSED}{why})"
