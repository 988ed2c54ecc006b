"""The reference mail stack: Postfix and Dovecot on loopback, read back over IMAP.

Each test starts the real stack (tests/mailstack.py) and checks what a client sees on
the wire and what Dovecot stored: plain SMTP delivers into the right Maildir (and other
reserved-domain addresses into the catch-all), the submission port offers STARTTLS and
refuses mail without AUTH, and accepts it after AUTH; IMAP logs in with the written
credentials and sees the delivered messages; stopping leaves no process behind.
"""

from __future__ import annotations

import imaplib
import smtplib
import ssl
import time

import pytest

from simulator.collect.mailstack import CATCH_ALL, MailStack, read_state, running_pids
from tests.mailstack import StackFactory

pytestmark = [pytest.mark.integration, pytest.mark.slow]

BOX = "hr@opm.example"


def _wait_for(stack: MailStack, address: str, count: int, limit_s: float = 30.0) -> int:
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline and len(stack.messages(address)) < count:
        time.sleep(0.1)
    return len(stack.messages(address))


def _message(subject: str, to: str = BOX) -> str:
    return f"From: a@dhs.example\r\nTo: {to}\r\nSubject: {subject}\r\n\r\nhello\r\n"


def test_plain_smtp_delivers_to_the_mailbox_and_the_catch_all(mailstack: MailStack) -> None:
    with smtplib.SMTP("127.0.0.1", mailstack.smtp_port, timeout=10) as client:
        refused = client.sendmail("a@dhs.example", [BOX, "boss@dhs.example"], _message("one"))
    assert refused == {}
    assert _wait_for(mailstack, BOX, 1) == 1
    assert _wait_for(mailstack, CATCH_ALL, 1) == 1
    assert b"Subject: one" in mailstack.messages(BOX)[0].read_bytes()


def test_state_and_credentials_files(mailstack: MailStack) -> None:
    state = read_state(mailstack.dir)
    assert state["smtp_port"] == mailstack.smtp_port
    assert state["imap_port"] == mailstack.imap_port
    assert BOX in state["addresses"] and CATCH_ALL in state["addresses"]  # type: ignore[operator]
    text = (mailstack.dir / "mailstack.json").read_text()
    assert all(password not in text for password in mailstack.users.values())
    lines = dict(
        line.split(" ", 1) for line in mailstack.credentials_file.read_text().split("\n") if line
    )
    assert lines == mailstack.users
    assert mailstack.credentials_file.stat().st_mode & 0o077 == 0


def test_submission_requires_starttls_and_auth(mailstack: MailStack) -> None:
    context = ssl.create_default_context(cafile=str(mailstack.ca_file))
    with smtplib.SMTP("127.0.0.1", mailstack.submission_port, timeout=10) as client:
        client.ehlo()
        assert client.has_extn("starttls")
        assert not client.has_extn("auth")  # AUTH only inside TLS
        code, _ = client.mail("a@dhs.example")
        assert code == 530  # 5.7.0 Must issue a STARTTLS command first
    with smtplib.SMTP("127.0.0.1", mailstack.submission_port, timeout=10) as client:
        client.starttls(context=context)
        client.ehlo()
        assert "PLAIN" in client.esmtp_features["auth"].split()
        assert "LOGIN" in client.esmtp_features["auth"].split()
        with pytest.raises(smtplib.SMTPRecipientsRefused) as refused:
            client.sendmail("a@dhs.example", [BOX], _message("no auth"))
        ((code, _),) = refused.value.recipients.values()
        assert code == 554
        with pytest.raises(smtplib.SMTPAuthenticationError):
            client.login(BOX, "not the password")
        client.login(BOX, mailstack.users[BOX])
        assert client.sendmail(BOX, [BOX], _message("with auth")) == {}
    assert _wait_for(mailstack, BOX, 1) == 1
    time.sleep(0.5)  # a refused message would have turned up by now
    assert len(mailstack.messages(BOX)) == 1
    assert b"Subject: with auth" in mailstack.messages(BOX)[0].read_bytes()


def test_imap_reads_back_what_was_delivered(mailstack: MailStack) -> None:
    with smtplib.SMTP("127.0.0.1", mailstack.smtp_port, timeout=10) as client:
        for n in range(3):
            client.sendmail("a@dhs.example", [BOX], _message(f"m{n}"))
    assert _wait_for(mailstack, BOX, 3) == 3
    with (
        imaplib.IMAP4("127.0.0.1", mailstack.imap_port, timeout=10) as imap,
        pytest.raises(imaplib.IMAP4.error),
    ):
        imap.login(BOX, "wrong")
    with imaplib.IMAP4("127.0.0.1", mailstack.imap_port, timeout=10) as imap:
        assert imap.login(BOX, mailstack.users[BOX])[0] == "OK"
        status, data = imap.select("INBOX", readonly=True)
        assert (status, data) == ("OK", [b"3"])
        _, found = imap.search(None, "SUBJECT", "m1")
        assert len(found[0].split()) == 1


def test_stop_leaves_nothing_running(mailstack_factory: StackFactory) -> None:
    stack = mailstack_factory(users=["replies@collect.example"])
    pids = running_pids(stack.dir)
    assert len(pids) >= 4  # both masters and their resident children
    stack.stop()
    assert running_pids(stack.dir) == set()
    alive = [pid for pid in pids if _exists(pid)]
    assert alive == []


def _exists(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False
