"""Request templates: compiling, rendering, bad input, response rules and auth headers."""

import base64
import json
import tomllib
from pathlib import Path
from urllib.parse import parse_qs

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.behaviour.writing import attachment_sizes, family_codes
from simulator.columns import VIOLATIONS
from simulator.replay.targets import auth_header
from simulator.traffic.outcomes import (
    ERROR,
    OK,
    REFERENCE_RULES,
    REJECTED,
    ResponseRules,
    http_outcome,
)
from simulator.traffic.payload import FIELDS, Payload
from simulator.traffic.request import BOUNDARY, compile_template
from simulator.validation import InputError
from tests.replay.tables import schedule, workforce

KINDS = ["reply", "broadcast", "auto_reply", "bounce", "reply", "reply"]
EVENTS = schedule(KINDS, gap_us=0)
PAYLOAD = Payload(EVENTS, workforce(12), seed=5, html_share=0.5)


def compiled(text: str, source: str = "t.toml"):  # type: ignore[no-untyped-def]
    return compile_template(tomllib.loads(text), source)


def test_json_placeholders_keep_their_types() -> None:
    t = compiled(
        """
        [request.body]
        who = { email = "{sender}", agency = "{agency}", unit = "{sub_agency}" }
        summary = "{bullets}"
        cc = "{cc}"
        id = "{event_id}"
        size = "{size}"
        title = "Re: {subject} ({round}) {{braces}} \\"quoted\\""
        at = "{intended_time}"
        fixed = [1, true, "x"]
        """
    )
    assert t.request is not None
    docs = [json.loads(b) for b in t.request.render(PAYLOAD, 0, len(KINDS), "/r").bodies]
    values = PAYLOAD.values(0, len(KINDS), FIELDS)
    for i, doc in enumerate(docs):
        assert doc["who"] == {
            "email": values["sender"][i],
            "agency": "DHS",
            "unit": values["sub_agency"][i],
        }
        assert doc["summary"] == values["bullets"][i] and isinstance(doc["summary"], list)
        assert doc["cc"] == values["cc"][i]
        assert doc["id"] == i and doc["size"] == 600
        assert doc["title"] == f'Re: {values["subject"][i]} (1) {{braces}} "quoted"'
        assert doc["at"] == "2025-02-22T16:00:00.000Z"
        assert doc["fixed"] == [1, True, "x"]
    assert len(docs[0]["summary"]) == 5  # a plain-text reply has its five bullets
    assert docs[1]["who"]["unit"] == "" and docs[1]["cc"] == []  # the broadcast


def test_default_shape_as_a_template_renders_the_same_bytes() -> None:
    """pulsecheck's own body, written as a template, is byte for byte `http_jsons`."""
    t = compiled(
        """
        [request.body]
        sender = "{sender}"
        round = "{round}"
        to = "{to}"
        cc = "{cc}"
        subject = "{subject}"
        body = "{body}"
        idempotency_key = "{idempotency_key}"
        attachments = "{attachments}"
        """
    )
    assert t.request is not None
    rendered = t.request.render(PAYLOAD, 0, len(KINDS), "/r").bodies
    assert [json.loads(b) for b in rendered] == [
        json.loads(b) for b in PAYLOAD.http_jsons(0, len(KINDS))
    ]


def test_form_and_path_and_headers() -> None:
    t = compiled(
        """
        [request]
        method = "PUT"
        path = "/forms/{agency}/{idempotency_key}"
        format = "form"
        headers = { X-Key = "{idempotency_key}", X-Who = "{sender}" }
        [request.body]
        from = "{sender}"
        text = "{body}"
        "odd name&=" = "a b&c"
        """
    )
    assert t.request is not None and t.request.method == "PUT"
    assert t.request.content_type == "application/x-www-form-urlencoded"
    r = t.request.render(PAYLOAD, 0, 2, "/ignored")
    assert r.paths == [b"/forms/DHS/5-0", b"/forms/DHS/5-1"]
    assert r.headers[0] == b"X-Key: 5-0\r\nX-Who: user1@dhs.example\r\n"
    form = parse_qs(r.bodies[0].decode(), keep_blank_values=True, strict_parsing=True)
    assert form["from"] == ["user1@dhs.example"]
    assert form["text"] == [PAYLOAD.body(0)]
    assert form["odd name&="] == ["a b&c"]


def test_multipart_attachment_part_is_the_size_the_schedule_counts() -> None:
    events = schedule(["reply", "reply"], gap_us=0)
    index = events.schema.get_field_index("violation")
    events = events.set_column(index, "violation", _violations(events, ["attachment", ""]))
    payload = Payload(events, workforce(6), seed=3)
    t = compiled(
        """
        [request]
        format = "multipart"
        file_field = "upload"
        [request.body]
        from = "{sender}"
        text = "{body}"
        """
    )
    assert t.request is not None
    bodies = t.request.render(payload, 0, 2, "/r").bodies
    assert t.request.content_type == f"multipart/form-data; boundary={BOUNDARY}"
    import email.parser
    import email.policy

    sizes = attachment_sizes(
        3,
        events.column("event_id").to_numpy(),
        np.array([VIOLATIONS.index(v) for v in ("attachment", "")]),
        family_codes(["admin", "admin"]),
    )
    for i, (body, size) in enumerate(zip(bodies, sizes, strict=True)):
        head = f"Content-Type: {t.request.content_type}\r\n\r\n".encode()
        msg = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(head + body)
        parts = list(msg.iter_parts())
        names = [p.get_param("name", header="content-disposition") for p in parts]
        files = [p for p in parts if p.get_filename()]
        assert names[:2] == ["from", "text"]
        assert parts[1].get_payload(decode=True) == payload.body(i).encode()
        if size:
            assert len(files) == 1 and names[2] == "upload"
            assert len(files[0].get_payload(decode=True)) == size
        else:
            assert files == []


def _violations(events, values):  # type: ignore[no-untyped-def]
    import pyarrow as pa

    column = events.column("violation")
    return pa.array(values).dictionary_encode().cast(column.type)


@pytest.mark.parametrize(
    ("text", "field", "says"),
    [
        ('[request.body]\nwho = "{nobody}"', "request.body.who", "unknown placeholder {nobody}"),
        ('[request.body]\nx = { y = ["a {sendr}"] }', "request.body.x.y[0]", "known: sender"),
        ('[request]\nbody = { a = "{" }', "request.body.a", "lone"),
        ('[request]\nmethod = "GET"\nbody = {}', "request.method", "POST, PUT, PATCH"),
        ('[request]\nformat = "xml"\nbody = {}', "request.format", "json, form, multipart"),
        ("[request]\nbody = {}\nextra = 1", "request.extra", "unknown field"),
        ("[request]\npath = '/x'", "request.body", "required"),
        ('[request]\nbody = {}\nheaders = { X = "{body}" }', "request.headers.X", "unknown"),
        ('[request]\nbody = {}\nheaders = { Host = "h" }', "request.headers.Host", "set by"),
        ("[response]\nduplicate = [99]", "response.duplicate", "100..599"),
        ('[response]\nok = ["200-"]', "response.ok", "ranges"),
        ('[auth]\ntype = "bearer"\ntoken = "s3cret"', "auth.token", "never written inline"),
        ('[auth]\ntype = "bearer"', "auth.token_file", "exactly one"),
        ('[auth]\ntype = "basic"\npassword_env = "P"', "auth.user", "required"),
        ("[other]\nx = 1", "other", "unknown table"),
    ],
)
def test_bad_templates_name_file_field_and_allowed(text: str, field: str, says: str) -> None:
    with pytest.raises(InputError) as err:
        compiled(text, "my/template.toml")
    assert err.value.source == "my/template.toml"
    assert err.value.field == field
    assert says in err.value.allowed
    assert "s3cret" not in str(err.value)


def test_scenario_prefix_names_target_tables() -> None:
    with pytest.raises(InputError) as err:
        compile_template({"request": {"body": {"a": "{x}"}}}, "s.toml", "target.")
    assert err.value.field == "target.request.body.a"


@given(st.integers(min_value=0, max_value=2**40), st.integers(min_value=0, max_value=1000))
@settings(max_examples=60, deadline=None)
def test_rendered_json_is_valid_for_any_event(event_id: int, seed: int) -> None:
    events = schedule(["reply", "reply", "broadcast", "bounce"], gap_us=0)
    ids = [event_id + k for k in range(4)]
    import pyarrow as pa

    index = events.schema.get_field_index("event_id")
    events = events.set_column(index, "event_id", pa.array(ids, events.schema.field(index).type))
    payload = Payload(events, workforce(8), seed=seed, html_share=0.5)
    t = compiled(
        '[request.body]\nall = "'
        + " ".join(f"{{{n}}}" for n in FIELDS)
        + '"\n'
        + "\n".join(f'{n} = "{{{n}}}"' for n in FIELDS)
    )
    assert t.request is not None
    values = payload.values(0, 4, FIELDS)
    for i, body in enumerate(t.request.render(payload, 0, 4, "/").bodies):
        doc = json.loads(body)
        assert doc["event_id"] == ids[i] and doc["body"] == values["body"][i]


TEXT = st.text(st.characters(codec="utf-8", exclude_characters="{}"), max_size=12)
LEAF = st.one_of(
    TEXT,
    st.sampled_from([f"{{{n}}}" for n in FIELDS]),
    st.builds(lambda a, n, b: f"{a}{{{n}}}{b}", TEXT, st.sampled_from(list(FIELDS)), TEXT),
    st.integers(-(2**53), 2**53),
    st.booleans(),
)
DOCS = st.recursive(
    LEAF,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(TEXT, inner, min_size=1, max_size=4)
    ),
    max_leaves=12,
)


@given(st.dictionaries(TEXT, DOCS, min_size=1, max_size=4))
@settings(max_examples=150, deadline=None)
def test_any_template_renders_valid_json(body: dict[str, object]) -> None:
    t = compile_template({"request": {"body": body}}, "t.toml")
    assert t.request is not None
    for rendered in t.request.render(PAYLOAD, 0, len(KINDS), "/").bodies:
        doc = json.loads(rendered)
        assert set(doc) == set(body)


def test_reference_rules_classify_as_http_outcome() -> None:
    for status in range(100, 600):
        for retry_after in (None, b"2", b"junk", b"7200"):
            assert REFERENCE_RULES.outcome(status, retry_after, 10) == http_outcome(
                status, retry_after, 10
            )


def test_response_rules() -> None:
    rules = compiled(
        '[response]\nok = [200, "202-204"]\nduplicate = [409, 200]\nrefused = [422]\n'
        'retry = [429]\nmax_retry_s = 2.0\nreason_field = "error.code"'
    ).rules
    assert rules.outcome(203, None, 1).outcome == OK
    assert rules.outcome(201, None, 1).outcome == ERROR
    dup = rules.outcome(409, None, 1)
    assert dup.outcome == OK and dup.error == "duplicate"
    refused = rules.outcome(422, None, 1, b'{"error": {"code": "banned_word"}}')
    assert refused.outcome == REJECTED and refused.error == "http 422 banned_word"
    assert rules.outcome(422, None, 1, b"not json").error == "http 422"
    assert rules.outcome(413, None, 1).outcome == ERROR  # not listed as refused
    assert rules.outcome(429, b"60", 1).retry_after == 2.0
    assert rules.outcome(429, None, 1).retry_after == 0.5
    assert rules.outcome(503, b"1", 1).retry_after is None
    assert not ResponseRules().reads_body and rules.reads_body


def _header(text: str, folder: Path) -> tuple[str, str] | None:
    template = compile_template(tomllib.loads(text), str(folder / "t.toml"))
    header = auth_header(template)
    assert header is not None
    return header("DHS")


def test_auth_headers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "token").write_text("tok-123\n")
    (tmp_path / "pw").write_text("pa ss\n")
    (tmp_path / "tokens.toml").write_text('DHS = "dhs-tok"\n')
    (tmp_path / "tokens.csv").write_text("agency,token\nDHS,csv-tok\n")
    (tmp_path / "api.secret").write_text("ab" * 16)
    monkeypatch.setenv("HDR_VALUE", "k-9")
    assert _header('[auth]\ntype = "bearer"\ntoken_file = "token"', tmp_path) == (
        "Authorization",
        "Bearer tok-123",
    )
    basic = _header('[auth]\ntype = "basic"\nuser = "u"\npassword_file = "pw"', tmp_path)
    assert basic == ("Authorization", "Basic " + base64.b64encode(b"u:pa ss").decode())
    assert _header(
        '[auth]\ntype = "header"\nname = "X-Api-Key"\nvalue_env = "HDR_VALUE"', tmp_path
    ) == ("X-Api-Key", "k-9")
    for name, token in (("tokens.toml", "dhs-tok"), ("tokens.csv", "csv-tok")):
        text = f'[auth]\ntype = "agency_tokens"\ntokens_file = "{name}"'
        assert _header(text, tmp_path) == ("Authorization", f"Bearer {token}")
    minted = _header('[auth]\ntype = "agency_tokens"\nsecret_file = "api.secret"', tmp_path)
    assert minted is not None and minted[1].startswith("Bearer ")


def test_missing_secrets_are_input_errors(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOT_SET_ANYWHERE", raising=False)
    for text, value in (
        ('[auth]\ntype = "bearer"\ntoken_env = "NOT_SET_ANYWHERE"', "NOT_SET_ANYWHERE"),
        ('[auth]\ntype = "bearer"\ntoken_file = "absent"', str(tmp_path / "absent")),
    ):
        with pytest.raises(InputError) as err:
            _header(text, tmp_path)
        assert err.value.field == "auth" and err.value.value == value


def test_readme_template_is_the_shipped_file_and_compiles() -> None:
    root = Path(__file__).resolve().parents[2]
    shipped = root / "scenarios" / "templates" / "hr-intake.toml"
    readme = (root / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Building a compatible endpoint") :]
    snippet = section[section.index("```toml\n") + 8 :]
    assert snippet[: snippet.index("```")] == shipped.read_text(encoding="utf-8")
    template = compile_template(tomllib.loads(shipped.read_text()), str(shipped))
    assert template.request is not None and template.auth is not None
    assert template.auth.kind == "basic" and template.rules.reason_field == ("error", "code")


def test_bullets_of_html_and_broadcast_bodies_are_empty_arrays() -> None:
    t = compiled('[request.body]\nb = "{bullets}"\nt = "x {bullets}"')
    assert t.request is not None
    docs = [json.loads(b) for b in t.request.render(PAYLOAD, 0, len(KINDS), "/").bodies]
    values = PAYLOAD.values(0, len(KINDS), FIELDS)
    assert [d["b"] for d in docs] == values["bullets"]
    assert [d["t"] for d in docs] == ["x " + "\r\n".join(b) for b in values["bullets"]]
    assert [] in values["bullets"] and any(values["bullets"])


def test_without_a_template_the_wire_bytes_are_pulsecheck_s_own() -> None:
    from simulator.replay.targets import TargetOptions, make_target

    target = make_target("http://127.0.0.1:8080/replies", TargetOptions(), lambda a: f"{a}.t")
    messages = target.prepare(PAYLOAD, 0, 3)
    head = (
        b"POST /replies HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nContent-Type: application/json\r\n"
        b"User-Agent: pulsecheck-replay\r\n"
    )
    assert target.head == head  # type: ignore[attr-defined]
    assert messages == [
        (b"Authorization: Bearer DHS.t\r\nContent-Length: ", body)
        for body in PAYLOAD.http_jsons(0, 3)
    ]


def test_auth_alone_keeps_the_default_body(tmp_path: Path) -> None:
    from simulator.replay.targets import TargetOptions, make_target

    (tmp_path / "key").write_text("k-1\n")
    options = TargetOptions(
        template={"auth": {"type": "header", "name": "X-Api-Key", "value_file": "key"}},
        template_source=str(tmp_path / "t.toml"),
    )
    target = make_target("http://127.0.0.1:8080/replies", options)
    assert target.prepare(PAYLOAD, 0, 2) == [
        (b"X-Api-Key: k-1\r\nContent-Length: ", body) for body in PAYLOAD.http_jsons(0, 2)
    ]
    templated = make_target(
        "http://127.0.0.1:8080/replies",
        TargetOptions(
            template={"request": {"method": "PATCH", "body": {"k": "{idempotency_key}"}}},
            template_source="t.toml",
        ),
    )
    (head, body), *_ = templated.prepare(PAYLOAD, 0, 1)
    assert head == (
        b"PATCH /replies HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nContent-Type: application/json\r\n"
        b"User-Agent: pulsecheck-replay\r\nContent-Length: "
    )
    assert body == b'{"k":"5-0"}'
