"""Turn a schedule event into what goes on the wire: an HTTP JSON body or an SMTP message.

Theory of operation: the schedule names people by employee id (row of the workforce
table) and collection systems by id. `Payload` resolves those once into numpy/object
columns, then renders events on demand, so a million-event schedule costs no per-event
objects until an event is actually sent. Routing follows the schedule (an HTTP submission
carries the first `to` address: the collection API takes one per reply):

- broadcast: from the broadcast address to employees [rcpt_first, rcpt_first+rcpt_count);
- reply: from the employee to the collection address of `collection`, cc the manager;
- a reply whose content is "reply_all" (a reply-all storm, `simulator.replyall.replay`):
  from the member to every list member [rcpt_first, rcpt_first+rcpt_count);
- auto_reply, bounce: back to the broadcast address (a bounce uses the null sender <>).

`addressed_to(address)` applies the same routing to all events at once: which events a
mailbox of that address should hold (the read-back check, `pulsecheck replay --verify`).

Rule-breaking replies carry what a collection system can check: a "coworker_name" body
names a real co-worker (`writing.coworker_ids`: the cc'd manager, else a neighbouring
employee), and an "attachment" reply is sent by SMTP as multipart/mixed with the text
part and the attachment part `writing.attachment_mime` (over HTTP, `"attachments": 1`).
The attachment adds exactly `writing.attachment_sizes` bytes, the figure the schedule's
`size_bytes` counts, so a message's size differs from `size_bytes` only by how its
headers differ from the `content.header_bytes` allowance.

Two ways in, the same bytes out: one event at a time (`http_json(i)`, `smtp_message(i)`,
for Locust users and tests), or a run of consecutive events (`http_jsons(start, stop)`,
`smtp_messages(start, stop)`) for the replay engine, which prepares events in batches:
the batch draws every body's choices with numpy (`writing.render_replies`), reads each
column slice into Python lists once, and builds JSON documents from pieces that are
already escaped, so no document goes through `json.dumps`.

The native engine and the Locust users both call this module, so both send the same bytes.

`values(start, stop, names)` gives a run of events' fields as plain lists, one per
placeholder name in `FIELDS` (and `JSON_BODY`: the texts JSON-escaped, as `http_jsons`
spells them), for request templates (`simulator.traffic.request`) that shape a user's own
HTTP body; only the names asked for are computed.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import format_datetime
from json.encoder import encode_basestring_ascii as json_string
from typing import Any

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from simulator.behaviour.writing import (
    MIXED_PREFIX,
    REPORT_PREFIX,
    attachment_index,
    attachment_mime,
    coworker_ids,
    delivery_status,
    family_codes,
    html_mask,
    render_replies,
    render_reply,
    reply_is_html,
)
from simulator.columns import NO_ID

HELO_NAME = b"pulsecheck.example"  # the name the SMTP clients greet with
BROADCAST_SENDER = "hr@opm.example"
BROADCAST_SUBJECT = "What did you do last week?"
# Wording of the OPM email "What did you do last week?" of Sat 22 Feb 2025.
BROADCAST_TEXT = (
    "Please reply to this email with approx. 5 bullets of what you accomplished last "
    "week and cc your manager.\r\n"
)
DEFAULT_COLLECTION_DOMAIN = "collect.example"
SUBJECTS = {
    "broadcast": BROADCAST_SUBJECT,
    "bounce": "Undelivered Mail Returned to Sender",
    "auto_reply": f"Automatic reply: {BROADCAST_SUBJECT}",
    "reply": f"RE: {BROADCAST_SUBJECT}",
}
_JSON_SUBJECTS = {kind: json_string(subject) for kind, subject in SUBJECTS.items()}
_BROADCAST_JSON = json_string(BROADCAST_TEXT)[1:-1]  # spelled as `render_replies(json=True)` spells
US_PER_S = 1_000_000
# What a request template may name, with the JSON type each keeps as a whole value.
FIELDS = {
    "sender": "string",
    "sender_name": "string",
    "to": "string",
    "cc": "list",
    "subject": "string",
    "body": "string",
    "bullets": "list",
    "idempotency_key": "string",
    "agency": "string",
    "sub_agency": "string",
    "round": "string",
    "event_id": "number",
    "intended_time": "string",
    "size": "number",
    "attachments": "number",
}
JSON_BODY = "body/json"  # `values` key of the bodies' text JSON-escaped (no quotes)
JSON_BULLETS = "bullets/json"  # and of their bullets as JSON arrays
BULLET = "- "  # how a reply's accomplishment lines begin (the phrase grammar's)


_BULLETS = re.compile(r"\n- ([^\r\n]*)")  # a line is "- text" after a CRLF
_JSON_BULLETS = re.compile(r"\\n- ([^\\]*(?:\\[^rn][^\\]*)*)")  # the same in JSON-escaped text


def _bullets(text: str, escaped: bool = False) -> list[str]:
    """The accomplishment lines of a reply's text, without their "- "."""
    return (_JSON_BULLETS if escaped else _BULLETS).findall(("\\n" if escaped else "\n") + text)


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


def _family_by_employee(occupation: pa.ChunkedArray) -> npt.NDArray[np.int64]:
    """Grammar family code of every employee, from the occupation column's dictionary."""
    encoded = occupation.combine_chunks()
    if not pa.types.is_dictionary(encoded.type):
        encoded = encoded.dictionary_encode()
    codes = family_codes([str(o) for o in encoded.dictionary.to_pylist()])
    family: npt.NDArray[np.int64] = codes[encoded.indices.to_numpy(zero_copy_only=False)]
    return family


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
        names = workforce.column_names
        self.subagency = _codes(workforce.column("subagency")) if "subagency" in names else None
        self.family = _family_by_employee(workforce.column("occupation"))
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
        self.n_people = len(self.emails)
        self._date: tuple[int, str] = (-1, "")

    def __len__(self) -> int:
        return len(self.event_id)

    # -- routing, on plain values (both ways in use these) -------------------------
    def _from(self, kind: str, sender: int) -> str:
        if kind == "broadcast" or sender == NO_ID:
            return self.broadcast_sender
        return str(self.emails[sender])

    def _to(self, kind: str, content: str, first: int, count: int, collection: str) -> list[str]:
        if kind == "broadcast" or content == "reply_all":
            return list(self.emails[first : first + count].tolist())
        if kind == "reply":
            return [collection_address(collection, self.collections)]
        return [self.broadcast_sender]

    def _cc(self, kind: str, cc: int) -> list[str]:
        return [] if cc == NO_ID or kind != "reply" else [str(self.emails[cc])]

    # -- one event ----------------------------------------------------------------
    def sender_address(self, i: int) -> str:
        """Header From: address of event `i`."""
        return self._from(str(self.kind[i]), int(self.sender[i]))

    def envelope_from(self, i: int) -> str:
        """SMTP reverse path: empty for bounces (RFC 5321 §4.5.5)."""
        return "" if self.kind[i] == "bounce" else self.sender_address(i)

    def fans_out(self, i: int) -> bool:
        """Whether event `i` goes to a range of employees: a broadcast or a reply-all."""
        return bool(self.kind[i] == "broadcast" or self.content[i] == "reply_all")

    def to_addresses(self, i: int) -> list[str]:
        return self._to(
            str(self.kind[i]),
            str(self.content[i]),
            int(self.rcpt_first[i]),
            int(self.rcpt_count[i]),
            str(self.collection[i]),
        )

    def cc_addresses(self, i: int) -> list[str]:
        return self._cc(str(self.kind[i]), int(self.cc[i]))

    def addressed_to(self, address: str) -> npt.NDArray[np.bool_]:
        """Which events name `address` among their SMTP recipients (To and Cc, as
        `_to` and `_cc` route them): the events a mailbox of that address should hold
        one copy of. Addresses compare without regard to case."""
        address = address.lower()
        kind, content = self.kind, self.content
        fans = (kind == "broadcast") | (content == "reply_all")
        reply = kind == "reply"
        mask = np.zeros(len(self), dtype=bool)
        first, end = self.rcpt_first, self.rcpt_first + self.rcpt_count
        for row in (i for i, e in enumerate(self.emails.tolist()) if str(e).lower() == address):
            mask |= fans & (first <= row) & (row < end)
            mask |= reply & (self.cc == row)
        collected = reply & ~fans
        for cid in np.unique(self.collection[collected]).tolist():
            if collection_address(str(cid), self.collections).lower() == address:
                mask |= collected & (self.collection == cid)
        if self.broadcast_sender.lower() == address:
            mask |= ~fans & ~reply  # auto-replies and bounces
        return mask

    def subject(self, i: int) -> str:
        return SUBJECTS.get(str(self.kind[i]), SUBJECTS["reply"])

    def is_html(self, i: int) -> bool:
        """Whether event `i` is an HTML reply (deterministic from seed and event id)."""
        return self.kind[i] == "reply" and reply_is_html(
            self.seed, int(self.event_id[i]), self.html_share
        )

    def coworker(self, i: int) -> str:
        """The "First Last" of the co-worker event `i` names if it is a "coworker_name"
        reply (whether or not it is one): `writing.coworker_ids` of its sender and cc."""
        return self._coworkers(np.array([i]))[0]

    def _coworkers(self, rows: npt.NDArray[np.intp]) -> list[str]:
        sender = self.sender[rows].astype(np.int64)
        person = coworker_ids(sender, self.cc[rows].astype(np.int64), self.n_people)
        return [
            f"{first} {last}"
            for first, last in zip(
                self.first[person].tolist(), self.last[person].tolist(), strict=True
            )
        ]

    def body(self, i: int, json: bool = False) -> str:
        """The text of event `i`: the broadcast, or `simulator.behaviour.writing.render_reply`."""
        if self.kind[i] == "broadcast" or self.content[i] == "broadcast":
            return _BROADCAST_JSON if json else BROADCAST_TEXT
        sender = int(self.sender[i])
        known = sender != NO_ID
        violation = str(self.violation[i])
        return render_reply(
            self.seed,
            int(self.event_id[i]),
            str(self.content[i]),
            violation,
            str(self.occupation[sender]) if known else "",
            str(self.first[sender]) if known else "",
            str(self.last[sender]) if known else "",
            self.is_html(i),
            json,
            self.coworker(i) if violation == "coworker_name" else "",
        )

    def http_json(self, i: int) -> bytes:
        """The JSON body POSTed to an HTTP collection API (`simulator.collect.api`)."""
        return self._json(
            self.sender_address(i),
            str(self.round[i]),
            self.to_addresses(i)[0],
            self.cc_addresses(i),
            str(self.kind[i]),
            self.body(i, json=True),
            int(self.event_id[i]),
            str(self.violation[i]),
        )

    def agency_of(self, i: int) -> str:
        """The sender's department: whose bearer token an HTTP submission carries."""
        return str(self.agency[i])

    def smtp_message(self, i: int) -> SmtpMessage:
        """Envelope and RFC 5322 message for event `i`."""
        return self.smtp_messages(i, i + 1, batch=False)[0]

    # -- a run of events [start, stop) ----------------------------------------------
    def agencies(self, start: int, stop: int) -> list[str]:
        return list(self.agency[start:stop].tolist())

    def bodies(self, start: int, stop: int, json: bool = False) -> tuple[list[str], list[bool]]:
        """Texts of events [start, stop) rendered together, and which of them are HTML."""
        kinds, contents = self.kind[start:stop], self.content[start:stop]
        texts = [_BROADCAST_JSON if json else BROADCAST_TEXT] * len(kinds)
        html = [False] * len(kinds)
        written = np.flatnonzero((kinds != "broadcast") & (contents != "broadcast"))
        if len(written) == 0:
            return texts, html
        ids = self.event_id[start:stop][written]
        sender = self.sender[start:stop][written].astype(np.int64)
        known = sender != NO_ID
        person = np.where(known, sender, 0)
        family = np.where(known, self.family[person], family_codes([""])[0])
        names = [
            f"{first} {last}" if k else " "
            for first, last, k in zip(
                self.first[person].tolist(), self.last[person].tolist(), known.tolist(), strict=True
            )
        ]
        is_html = kinds[written] == "reply"
        is_html &= html_mask(self.seed, ids, self.html_share)
        violations = self.violation[start:stop][written]
        named = np.flatnonzero(violations == "coworker_name")
        coworkers = dict(zip(named.tolist(), self._coworkers(start + written[named]), strict=True))
        rendered = render_replies(
            self.seed,
            ids,
            contents[written].tolist(),
            violations.tolist(),
            family,
            names,
            is_html.tolist(),
            json,
            coworkers,
        )
        for k, text, h in zip(written.tolist(), rendered, is_html.tolist(), strict=True):
            texts[k], html[k] = text, h
        return texts, html

    def _lists(self, start: int, stop: int, extra: str) -> list[list[Any]]:
        """Columns of events [start, stop) as lists: kind, content, sender, rcpt_first,
        rcpt_count, collection, cc, then `extra`, event_id and violation."""
        names = ("kind", "content", "sender", "rcpt_first", "rcpt_count", "collection", "cc")
        columns = [*names, extra, "event_id", "violation"]
        return [getattr(self, name)[start:stop].tolist() for name in columns]

    def values(self, start: int, stop: int, names: Any) -> dict[str, list[Any]]:
        """Fields of events [start, stop) named in `names` (keys of `FIELDS`), each a list."""
        kinds, senders = self.kind[start:stop], self.sender[start:stop]
        out: dict[str, list[Any]] = {}
        lists = self._lists(start, stop, "round")
        kind, content, sender, first, count, collection, cc, rnd, event_id, violation = lists
        if "sender" in names:
            out["sender"] = [self._from(k, s) for k, s in zip(kind, sender, strict=True)]
        if "to" in names:
            rows = zip(kind, content, first, count, collection, strict=True)
            out["to"] = [self._to(*row)[0] for row in rows]
        if "cc" in names:
            out["cc"] = [self._cc(k, c) for k, c in zip(kind, cc, strict=True)]
        if "subject" in names:
            out["subject"] = [SUBJECTS.get(k, SUBJECTS["reply"]) for k in kind]
        if "body" in names or "bullets" in names:
            texts, _ = self.bodies(start, stop)
            out["body"] = texts
        if "bullets" in names:
            out["bullets"] = [_bullets(text) for text in out["body"]]
        if JSON_BODY in names or JSON_BULLETS in names:  # JSON-escaped, as `http_jsons` has it
            out[JSON_BODY], _ = self.bodies(start, stop, json=True)
        if JSON_BULLETS in names:  # a JSON array, from the escaped lines
            out[JSON_BULLETS] = [
                "[" + ",".join(f'"{b}"' for b in _bullets(text, escaped=True)) + "]"
                for text in out[JSON_BODY]
            ]
        if "idempotency_key" in names:
            out["idempotency_key"] = [f"{self.seed}-{e}" for e in event_id]
        if "agency" in names:
            out["agency"] = self.agencies(start, stop)
        known = (senders != NO_ID) & (kinds != "broadcast")
        person = np.where(known, senders, 0)
        if "sender_name" in names:
            firsts, lasts = self.first[person].tolist(), self.last[person].tolist()
            rows3 = zip(firsts, lasts, known.tolist(), strict=True)
            out["sender_name"] = [f"{f} {last}" if k else "" for f, last, k in rows3]
        if "sub_agency" in names:
            if self.subagency is None:
                raise ValueError("the workforce has no subagency column")
            subs = self.subagency[person].tolist()
            out["sub_agency"] = [s if k else "" for s, k in zip(subs, known.tolist(), strict=True)]
        if "round" in names:
            out["round"] = rnd
        if "event_id" in names:
            out["event_id"] = event_id
        if "intended_time" in names:
            when = self.t_us[start:stop].astype("datetime64[us]")
            out["intended_time"] = [f"{t}Z" for t in np.datetime_as_string(when, unit="ms")]
        if "size" in names:
            out["size"] = self.size[start:stop].tolist()
        if "attachments" in names:
            out["attachments"] = [
                int(v == "attachment" and k != "broadcast")
                for v, k in zip(violation, kind, strict=True)
            ]
        return out

    def attachment_files(self, start: int, stop: int) -> list[int]:
        """Which attachment file (`writing.attachment_file`) each of events [start, stop)
        carries: -1 for events that carry none (not an "attachment" reply)."""
        rows = zip(
            self.kind[start:stop].tolist(),
            self.violation[start:stop].tolist(),
            self.sender[start:stop].tolist(),
            self.event_id[start:stop].tolist(),
            strict=True,
        )
        return [
            -1
            if violation != "attachment" or kind == "broadcast"
            else attachment_index(
                self.seed, event_id, "" if sender == NO_ID else str(self.occupation[sender])
            )
            for kind, violation, sender, event_id in rows
        ]

    def http_jsons(self, start: int, stop: int) -> list[bytes]:
        """`http_json` of events [start, stop), rendered together."""
        bodies, _ = self.bodies(start, stop, json=True)
        rows = zip(*self._lists(start, stop, "round"), bodies, strict=True)
        out = []
        for kind, content, sender, first, count, collection, cc, rnd, event_id, viol, body in rows:
            to = self._to(kind, content, first, count, collection)[0]
            sender_address, ccs = self._from(kind, sender), self._cc(kind, cc)
            out.append(self._json(sender_address, rnd, to, ccs, kind, body, event_id, viol))
        return out

    def _json(
        self,
        sender: str,
        rnd: str,
        to: str,
        cc: list[str],
        kind: str,
        body: str,
        event_id: int,
        violation: str,
    ) -> bytes:
        """The document `json.dumps(doc, separators=(",", ":"))` would give, from pieces;
        `body` comes JSON-escaped already."""
        subject = _JSON_SUBJECTS.get(kind, _JSON_SUBJECTS["reply"])
        return (
            f'{{"sender":{json_string(sender)},"round":{json_string(rnd)},'
            f'"to":{json_string(to)},"cc":[{",".join(map(json_string, cc))}],'
            f'"subject":{subject},"body":"{body}",'
            f'"idempotency_key":"{self.seed}-{event_id}",'
            f'"attachments":{int(violation == "attachment")}}}'
        ).encode()

    def smtp_messages(self, start: int, stop: int, batch: bool = True) -> list[SmtpMessage]:
        """`smtp_message` of events [start, stop); `batch` renders the bodies together."""
        if batch:
            bodies, html = self.bodies(start, stop)
        else:
            bodies = [self.body(i) for i in range(start, stop)]
            html = [self.is_html(i) for i in range(start, stop)]
        rows = zip(
            *self._lists(start, stop, "t_us"),
            bodies,
            html,
            strict=True,
        )
        out = []
        for (
            kind,
            content,
            sender,
            first,
            count,
            collection,
            cc_id,
            t_us,
            event_id,
            violation,
            body,
            h,
        ) in rows:
            to = self._to(kind, content, first, count, collection)
            cc = self._cc(kind, cc_id)
            fans_out = kind == "broadcast" or content == "reply_all"
            sender_address = self._from(kind, sender)
            text = (
                f"From: {sender_address}\r\n"
                f"To: {'undisclosed-recipients:;' if fans_out else ', '.join(to)}\r\n"
                + (f"Cc: {', '.join(cc)}\r\n" if cc else "")
                + f"Subject: {SUBJECTS.get(kind, SUBJECTS['reply'])}\r\n"
                f"Date: {self._date_header(t_us)}\r\n"
                f"Message-ID: <{event_id}.{self.seed}@pulsecheck.example>\r\n"
                "MIME-Version: 1.0\r\n"
            )
            part = (
                f"Content-Type: text/{'html' if h else 'plain'}; charset=utf-8\r\n"
                "Content-Transfer-Encoding: 8bit\r\n\r\n"
                f"{body}"
            )
            if violation == "attachment" and kind != "broadcast":
                data = (text + MIXED_PREFIX + part).encode() + self._attachment(sender, event_id)
            elif kind == "bounce":
                data = (text + REPORT_PREFIX + part + delivery_status(sender_address)).encode()
            else:
                data = (text + part).encode()
            mail_from = "" if kind == "bounce" else sender_address
            out.append(SmtpMessage(mail_from, to + cc, data))
        return out

    def _attachment(self, sender: int, event_id: int) -> bytes:
        """The attachment part of an "attachment" reply (`writing.attachment_mime`)."""
        occupation = "" if sender == NO_ID else str(self.occupation[sender])
        return attachment_mime(attachment_index(self.seed, event_id, occupation))

    def _date_header(self, t_us: int) -> str:
        """RFC 5322 date of an intended time (whole seconds, so consecutive events share)."""
        second = t_us // US_PER_S
        if self._date[0] != second:
            when = dt.datetime.fromtimestamp(second, dt.UTC)
            self._date = (second, format_datetime(when))
        return self._date[1]
