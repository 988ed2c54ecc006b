import json
from email import policy
from email.parser import BytesParser

import pyarrow as pa

from simulator.behaviour.params import defaults
from simulator.collect.message import parse_message
from simulator.columns import CONTENTS, VIOLATIONS
from simulator.content import grammar, render_reply
from simulator.schedule.build import build_schedule
from simulator.traffic.payload import BROADCAST_TEXT, Payload, collection_address
from tests.replay.tables import schedule, workforce
from tests.schedule.fixtures import MANY_VIOLATIONS, ROUND1, STRICT, make_workforce, scenario


def _payload(kinds: list[str], **kw: object) -> Payload:
    return Payload(schedule(kinds, **kw), workforce(20), {"opm": "replies@opm.example"})  # type: ignore[arg-type]


def test_broadcast_goes_from_broadcast_address_to_id_range() -> None:
    p = _payload(["broadcast"], rcpt_first=[3], rcpt_count=[4])
    msg = p.smtp_message(0)
    assert msg.mail_from == "hr@opm.example"
    assert msg.rcpts == [f"user{i}@dhs.example" for i in range(3, 7)]
    assert b"To: undisclosed-recipients:;" in msg.data


def test_reply_goes_to_collection_and_manager() -> None:
    p = _payload(["reply"], sender=[5], cc=[1])
    msg = p.smtp_message(0)
    assert msg.mail_from == "user5@dhs.example"
    assert msg.rcpts == ["replies@opm.example", "user1@dhs.example"]
    doc = json.loads(p.http_json(0))
    assert doc["to"] == "replies@opm.example" and doc["cc"] == ["user1@dhs.example"]
    assert doc["sender"] == "user5@dhs.example" and doc["idempotency_key"] == "0-0"


def test_reply_all_goes_from_member_to_whole_list() -> None:
    events = schedule(["reply"], sender=[5], rcpt_first=[0], rcpt_count=[8], cc=[-1])
    content = pa.array(["reply_all"]).dictionary_encode().cast(events.schema.field("content").type)
    events = events.set_column(events.schema.get_field_index("content"), "content", content)
    msg = Payload(events, workforce(20)).smtp_message(0)
    assert msg.mail_from == "user5@dhs.example"
    assert msg.rcpts == [f"user{i}@dhs.example" for i in range(8)]
    assert b"To: undisclosed-recipients:;" in msg.data


def test_reply_without_manager_has_no_cc() -> None:
    p = _payload(["reply"], sender=[5], cc=[-1])
    assert p.smtp_message(0).rcpts == ["replies@opm.example"]


def test_auto_reply_and_bounce_go_back_to_broadcast_sender() -> None:
    p = _payload(["auto_reply", "bounce"], sender=[4, 6])
    assert p.smtp_message(0).rcpts == ["hr@opm.example"]
    assert p.smtp_message(0).mail_from == "user4@dhs.example"
    assert p.smtp_message(1).rcpts == ["hr@opm.example"]
    assert p.smtp_message(1).mail_from == ""  # null reverse path for a bounce


def test_unknown_collection_gets_reserved_default() -> None:
    assert collection_address("dhs", {}) == "dhs@collect.example"


def test_reply_body_is_rendered_content_of_the_sender() -> None:
    p = _payload(["reply"], sender=[5])
    expected = render_reply(0, 0, "bullets", "", "admin", "First5", "Last5")
    assert p.smtp_message(0).data.endswith(expected.encode())
    assert json.loads(p.http_json(0))["body"] == expected


def test_broadcast_body_is_the_broadcast_text() -> None:
    p = _payload(["broadcast"])
    assert p.smtp_message(0).data.endswith(BROADCAST_TEXT.encode())


def _mixed() -> Payload:
    """Every kind, content and violation, names that need escaping, half of them HTML."""
    kinds = ["broadcast", "reply", "auto_reply", "bounce"] * 30
    n = len(kinds)
    events = schedule(
        kinds,
        gap_us=700_000,
        sender=[-1 if k == "broadcast" else 1 + i % 9 for i, k in enumerate(kinds)],
        rcpt_first=[i % 7 for i in range(n)],
        rcpt_count=[1 + i % 3 for i in range(n)],
        cc=[(-1, 2, 3)[i % 3] for i in range(n)],
    )
    writes = [c for c in CONTENTS if c != "broadcast"]
    content = [
        "broadcast" if k == "broadcast" else writes[i % len(writes)] for i, k in enumerate(kinds)
    ]
    violation = [VIOLATIONS[i % len(VIOLATIONS)] for i in range(n)]
    for name, values in (("content", content), ("violation", violation)):
        column = pa.array(values).dictionary_encode().cast(events.schema.field(name).type)
        events = events.set_column(events.schema.get_field_index(name), name, column)
    wf = workforce(20)
    firsts = pa.array(['Zoë "Z"', "Lee&Co", "<b>", "back\\slash", "Ann"] * 4)
    wf = wf.set_column(wf.schema.get_field_index("first_name"), "first_name", firsts)
    return Payload(events, wf, {"opm": "replies@opm.example"}, seed=7, html_share=0.5)


def test_a_batch_renders_the_same_bytes_as_one_event_at_a_time() -> None:
    p = _mixed()
    for start in range(0, len(p), 37):  # batches of uneven length
        stop = min(len(p), start + 37)
        assert p.http_jsons(start, stop) == [p.http_json(i) for i in range(start, stop)]
        assert p.smtp_messages(start, stop) == [p.smtp_message(i) for i in range(start, stop)]


def test_http_json_is_the_json_dumps_document_of_the_event() -> None:
    p = _mixed()
    assert any(p.is_html(i) for i in range(len(p)))
    for i in range(len(p)):
        doc = {
            "sender": p.sender_address(i),
            "round": "1",
            "to": p.to_addresses(i)[0],
            "cc": p.cc_addresses(i),
            "subject": p.subject(i),
            "body": p.body(i),
            "idempotency_key": f"7-{i}",
            "attachments": int(p.violation[i] == "attachment"),
        }
        assert p.http_json(i) == json.dumps(doc, separators=(",", ":")).encode()


def _with(events: pa.Table, name: str, values: list[str]) -> pa.Table:
    column = pa.array(values).dictionary_encode().cast(events.schema.field(name).type)
    return events.set_column(events.schema.get_field_index(name), name, column)


def test_a_coworker_name_reply_names_the_manager_else_a_neighbour() -> None:
    events = _with(
        schedule(["reply"] * 3, sender=[5, 5, 19], cc=[1, -1, -1]),
        "violation",
        ["coworker_name"] * 3,
    )
    p = Payload(events, workforce(20), html_share=0.5)
    for i, other in enumerate(["First1 Last1", "First6 Last6", "First18 Last18"]):
        assert p.coworker(i) == other
        assert other in p.body(i) and other in json.loads(p.http_json(i))["body"]
        assert other.encode() in p.smtp_message(i).data


def _header_block(data: bytes) -> int:
    """Bytes of the message's header lines as a single-part message would have them: the
    top block and, for multipart/mixed, the text part's headers, without the framing."""
    top, _, rest = data.partition(b"\r\n\r\n")
    if b"multipart/mixed" not in top:
        return len(top) + 4
    mixed_line = top.rpartition(b"\r\n")[2]
    part = rest.partition(b"\r\n\r\n")[0].partition(b"\r\n")[2]  # without "--boundary"
    return len(top) - len(mixed_line) + len(part) + 4


def test_an_attachment_reply_is_multipart_and_its_size_is_the_scheduled_size() -> None:
    """Over SMTP an "attachment" reply carries the file as a base64 MIME part, and every
    reply's message is its scheduled `size_bytes` give or take how its header lines
    differ from the `content.header_bytes` allowance (transport headers not sent)."""
    wf = make_workforce([("HHS", "NIH", 3000)], seed=4)
    s = scenario(ROUND1 + STRICT, behaviour=MANY_VIOLATIONS)
    events = build_schedule(s, wf, 13)
    allowance = int(defaults()["content.header_bytes"])
    p = Payload(events, wf, seed=13, html_share=defaults()["content.html"])
    replies = [i for i in range(len(p)) if p.kind[i] == "reply"]
    attached = [i for i in replies if p.violation[i] == "attachment"]
    assert len(attached) > 20 and any(p.is_html(i) for i in attached)
    messages = p.smtp_messages(0, len(p))
    for i in replies:
        data = messages[i].data
        assert len(data) - int(p.size[i]) == _header_block(data) - allowance
        assert 250 < _header_block(data) < 600
    for i in attached:
        parsed = parse_message(messages[i].data)
        assert parsed.attachments == 1
        mime = BytesParser(policy=policy.default).parsebytes(messages[i].data)
        assert mime.get_content_type() == "multipart/mixed"
        text, attachment = mime.iter_parts()
        assert attachment.get_content_disposition() == "attachment"
        name = attachment.get_filename()
        assert name is not None and f"[Attachment: {name} (" in p.body(i)
        kb = dict(grammar().attachment_files)[name]
        assert len(attachment.get_content()) == kb * 1024
        assert text.get_content_type() == ("text/html" if p.is_html(i) else "text/plain")
        assert text.get_content() == p.body(i)
        if not p.is_html(i):
            assert parsed.text == p.body(i)
    clean = [i for i in replies if p.violation[i] != "attachment"]
    assert all(parse_message(messages[i].data).attachments == 0 for i in clean)
    assert all(json.loads(p.http_json(i))["attachments"] == 1 for i in attached)
