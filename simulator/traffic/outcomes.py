"""What one delivery attempt came to: the outcome codes and how an answer maps to them.

Theory of operation: an `Outcome` is the one record every client (the native engine's
HTTP and SMTP adapters, the Locust users) returns for an attempt. `outcome` indexes
`columns.OUTCOMES`. An answer the collection system gives on purpose after reading a
reply (a content rule, a size limit, "mailbox full") is REJECTED; an answer that says the
target is misconfigured or broken (404, 401, 403, 5xx, an SMTP refusal before the
message was read) is an ERROR and counts against the run's error rate. 429/503 and SMTP
4xx are temporary and carry the delay before a retry.
"""

from __future__ import annotations

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


SMTP_STORAGE = 552  # message too big for the system, or mailbox full (RFC 5321 4.2.3)
SMTP_STORAGE_TEMPORARY = 452  # insufficient storage, for now
MAILBOX_FULL = "mailbox full"
# What a full mailbox says after the code: RFC 3463 X.2.2 or the words of common servers
# (Postfix + Dovecot quota-status "Mailbox is full", Exchange "mailbox full", "over quota").
_FULL_WORDS = ("5.2.2", "4.2.2", "mailbox full", "mailbox is full", "over quota", "quota exceeded")


def mailbox_full(code: int, text: str | bytes) -> bool:
    """True for a 552/452 answer whose text says the mailbox is full (5.2.2, 4.2.2, quota)."""
    if code not in (SMTP_STORAGE, SMTP_STORAGE_TEMPORARY):
        return False
    said = (text.decode("utf-8", "replace") if isinstance(text, bytes) else text).lower()
    return any(words in said for words in _FULL_WORDS)


def classify(code: int, nbytes: int, what: str, text: str | bytes = "") -> Outcome:
    """An SMTP reply code (and its text, when known) as an outcome.

    2xx/3xx ok; 4xx temporary (retried); a 5xx at the end of DATA, after the system read
    the message (a content rule, a malformed message), or a 552 (too big, mailbox full),
    is the system refusing the reply on purpose; any other 5xx (unknown recipient, sender
    refused, a command refused) is an error of the target or the route. A 552 or 452 whose
    text says the mailbox is full has the reason "mailbox full" (the 452 is still retried).
    """
    if 200 <= code < 400:
        return Outcome(code, OK, nbytes)
    reason = MAILBOX_FULL if mailbox_full(code, text) else f"smtp {code} at {what}"
    if 400 <= code < 500:
        return Outcome(code, ERROR, nbytes, reason, TEMPORARY_RETRY_S)
    refused = what == "end of data" or code == SMTP_STORAGE
    return Outcome(code, REJECTED if refused else ERROR, nbytes, reason)
