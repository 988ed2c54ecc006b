"""Turn a schedule event into what goes on the wire: an HTTP JSON body or an SMTP message.

Theory of operation: the schedule names people by employee id (row of the workforce
table) and collection systems by id. `Payload` resolves those once into numpy/object
columns, then renders one event at a time on demand, so a million-event schedule costs
no per-event objects until an event is actually sent. Routing follows the schedule (an
HTTP submission carries the first `to` address: the collection API takes one per reply):

- broadcast: from the broadcast address to employees [rcpt_first, rcpt_first+rcpt_count);
- reply: from the employee to the collection address of `collection`, cc the manager;
- a reply whose content is "reply_all" (a reply-all storm, `simulator.replyall.replay`):
  from the member to every list member [rcpt_first, rcpt_first+rcpt_count);
- auto_reply, bounce: back to the broadcast address (a bounce uses the null sender <>).

The native engine and the Locust users both call this module, so both send the same bytes.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import format_datetime

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from simulator.columns import NO_ID
from simulator.content import render_reply, reply_is_html

BROADCAST_SENDER = "hr@opm.example"
BROADCAST_SUBJECT = "What did you do last week?"
# Wording as reported for the Feb 2025 message (facts.md §1).
BROADCAST_TEXT = (
    "Please reply to this email with approx. 5 bullets of what you accomplished last "
    "week and cc your manager.\r\n"
)
DEFAULT_COLLECTION_DOMAIN = "collect.example"


def collection_address(collection: str, addresses: Mapping[str, str]) -> str:
    """Address of a collection system: from the map, else `<id>@collect.example`."""
    if collection in addresses:
        return addresses[collection]
    return f"{collection.lower() or 'replies'}@{DEFAULT_COLLECTION_DOMAIN}"


@dataclass(frozen=True, slots=True)
class SmtpMessage:
    """One SMTP transaction: envelope and the message bytes (not yet dot-stuffed)."""

    mail_from: str
    rcpts: list[str]
    data: bytes


def _codes(column: pa.ChunkedArray) -> npt.NDArray[np.object_]:
    return np.asarray(column.to_numpy(zero_copy_only=False), dtype=object)


class Payload:
    """Renders events of one schedule table, resolving ids through one workforce table."""

    def __init__(
        self,
        events: pa.Table,
        workforce: pa.Table,
        collections: Mapping[str, str] | None = None,
        broadcast_sender: str = BROADCAST_SENDER,
        seed: int = 0,
        html_share: float = 0.0,
    ) -> None:
        self.seed = seed
        self.html_share = html_share
        self.broadcast_sender = broadcast_sender
        self.collections = dict(collections or {})
        self.emails = _codes(workforce.column("email"))
        self.first = _codes(workforce.column("first_name"))
        self.last = _codes(workforce.column("last_name"))
        self.occupation = _codes(workforce.column("occupation"))
        self.event_id = events.column("event_id").to_numpy()
        self.t_us = events.column("t_intended").cast(pa.int64()).to_numpy()
        self.kind = _codes(events.column("kind"))
        self.sender = events.column("sender_id").to_numpy()
        self.rcpt_first = events.column("rcpt_first").to_numpy()
        self.rcpt_count = events.column("rcpt_count").to_numpy()
        self.collection = _codes(events.column("collection"))
        self.cc = events.column("cc_id").to_numpy()
        self.round = _codes(events.column("round"))
        self.agency = _codes(events.column("agency"))
        self.content = _codes(events.column("content"))
        self.violation = _codes(events.column("violation"))
        self.size = events.column("size_bytes").to_numpy()

    def __len__(self) -> int:
        return len(self.event_id)

    # -- routing ------------------------------------------------------------------
    def sender_address(self, i: int) -> str:
        """Header From: address of event `i`."""
        if self.kind[i] == "broadcast" or int(self.sender[i]) == NO_ID:
            return self.broadcast_sender
        return str(self.emails[int(self.sender[i])])

    def envelope_from(self, i: int) -> str:
        """SMTP reverse path: empty for bounces (RFC 5321 §4.5.5)."""
        return "" if self.kind[i] == "bounce" else self.sender_address(i)

    def fans_out(self, i: int) -> bool:
        """Whether event `i` goes to a range of employees: a broadcast or a reply-all."""
        return bool(self.kind[i] == "broadcast" or self.content[i] == "reply_all")

    def to_addresses(self, i: int) -> list[str]:
        kind = self.kind[i]
        if self.fans_out(i):
            first = int(self.rcpt_first[i])
            return [str(a) for a in self.emails[first : first + int(self.rcpt_count[i])]]
        if kind == "reply":
            return [collection_address(str(self.collection[i]), self.collections)]
        return [self.broadcast_sender]

    def cc_addresses(self, i: int) -> list[str]:
        cc = int(self.cc[i])
        return [] if cc == NO_ID or self.kind[i] != "reply" else [str(self.emails[cc])]

    # -- content ------------------------------------------------------------------
    def subject(self, i: int) -> str:
        kind = self.kind[i]
        if kind == "broadcast":
            return BROADCAST_SUBJECT
        if kind == "bounce":
            return "Undelivered Mail Returned to Sender"
        if kind == "auto_reply":
            return f"Automatic reply: {BROADCAST_SUBJECT}"
        return f"RE: {BROADCAST_SUBJECT}"

    def is_html(self, i: int) -> bool:
        """Whether event `i` is an HTML reply (deterministic from seed and event id)."""
        return self.kind[i] == "reply" and reply_is_html(
            self.seed, int(self.event_id[i]), self.html_share
        )

    def body(self, i: int) -> str:
        """The text of event `i`: the broadcast, or `simulator.content.render_reply`."""
        if self.kind[i] == "broadcast" or self.content[i] == "broadcast":
            return BROADCAST_TEXT
        sender = int(self.sender[i])
        known = sender != NO_ID
        return render_reply(
            self.seed,
            int(self.event_id[i]),
            str(self.content[i]),
            str(self.violation[i]),
            str(self.occupation[sender]) if known else "",
            str(self.first[sender]) if known else "",
            str(self.last[sender]) if known else "",
            self.is_html(i),
        )

    # -- renderings ---------------------------------------------------------------
    def http_json(self, i: int) -> bytes:
        """The JSON body POSTed to an HTTP collection API (`simulator.collect.api`)."""
        doc = {
            "sender": self.sender_address(i),
            "round": str(self.round[i]),
            "to": self.to_addresses(i)[0],
            "cc": self.cc_addresses(i),
            "subject": self.subject(i),
            "body": self.body(i),
            "idempotency_key": f"{self.seed}-{int(self.event_id[i])}",
            "attachments": int(self.violation[i] == "attachment"),
        }
        return json.dumps(doc, separators=(",", ":")).encode()

    def agency_of(self, i: int) -> str:
        """The sender's department: whose bearer token an HTTP submission carries."""
        return str(self.agency[i])

    def smtp_message(self, i: int) -> SmtpMessage:
        """Envelope and RFC 5322 message for event `i`."""
        to, cc = self.to_addresses(i), self.cc_addresses(i)
        sent = dt.datetime.fromtimestamp(int(self.t_us[i]) / 1e6, dt.UTC)
        to_header = "undisclosed-recipients:;" if self.fans_out(i) else ", ".join(to)
        headers = [
            f"From: {self.sender_address(i)}",
            f"To: {to_header}",
            *([f"Cc: {', '.join(cc)}"] if cc else []),
            f"Subject: {self.subject(i)}",
            f"Date: {format_datetime(sent)}",
            f"Message-ID: <{int(self.event_id[i])}.{self.seed}@pulsecheck.example>",
            "MIME-Version: 1.0",
            f"Content-Type: text/{'html' if self.is_html(i) else 'plain'}; charset=utf-8",
            "Content-Transfer-Encoding: 8bit",
        ]
        text = "\r\n".join(headers) + "\r\n\r\n" + self.body(i)
        return SmtpMessage(self.envelope_from(i), to + cc, text.encode())
