"""SMTP answers as outcomes: a full mailbox is named as such, whatever server says it."""

from __future__ import annotations

import pytest

from simulator.traffic.outcomes import ERROR, OK, REJECTED, classify


@pytest.mark.parametrize(
    ("code", "text", "what"),
    [
        (552, b"5.2.2 <hr@opm.example>: Recipient address rejected: Mailbox is full", "RCPT"),
        (552, "5.2.2 Quota exceeded (mailbox for user is full)", "end of data"),
        (552, b"Requested mail action aborted: mailbox full", "RCPT"),
        (552, b"user is over quota", "end of data"),
    ],
)
def test_a_full_mailbox_is_refused_with_that_reason(code: int, text: bytes, what: str) -> None:
    out = classify(code, 10, what, text)
    assert (out.outcome, out.error, out.retry_after) == (REJECTED, "mailbox full", None)


def test_a_temporary_full_mailbox_is_retried_with_that_reason() -> None:
    out = classify(452, 10, "RCPT", b"4.2.2 Mailbox is full")
    assert (out.outcome, out.error) == (ERROR, "mailbox full")
    assert out.retry_after is not None


@pytest.mark.parametrize(
    ("code", "text", "reason"),
    [
        (552, b"5.3.4 Message size exceeds fixed limit", "smtp 552 at end of data"),
        (452, b"4.5.3 Too many recipients", "smtp 452 at end of data"),
        (550, b"5.2.2 Mailbox is full", "smtp 550 at end of data"),  # not a storage code
        (552, b"", "smtp 552 at end of data"),
    ],
)
def test_other_answers_keep_their_code(code: int, text: bytes, reason: str) -> None:
    assert classify(code, 10, "end of data", text).error == reason


def test_acceptance_has_no_reason() -> None:
    assert classify(250, 10, "end of data", b"2.0.0 Ok: queued") == (250, OK, 10, "", None)


def test_a_content_rule_refusal_names_the_rule() -> None:
    text = b"5.7.1 content rule broken: link (collection opm-hr)"  # the reference mailbox's
    out = classify(550, 10, "end of data", text)
    assert (out.outcome, out.error) == (REJECTED, "content rule broken: link")
    # before the message was read, the same words are not a content rule
    assert classify(550, 10, "RCPT", text).error == "smtp 550 at RCPT"
