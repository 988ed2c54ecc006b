"""The HTTP collection API (aiohttp): POST a reply, read counts and an agency's replies.

Theory of operation: `POST /replies` checks the body once (`parse_reply`), checks who
may send it (bearer token agency == sender's department; the collection admits that
department), screens the content against the round's rules, and hands the reply to the
store. It answers 201 only when the store's group commit holding the reply is done,
200 when the idempotency key was already stored, 4xx with a JSON reason for bad input,
422 naming the broken rule (the round's rules plus the collection's own), and 503
with Retry-After when the store's bounded queue is full (checked first, so shedding
costs no parsing). Reads are scoped to the token's agency. Nothing here logs reply text.
A read of reply contents opens only that agency's sealed rows (the store's `Vault`) and
is answered only once its audit row (who, agency, row ids, the query) is committed.

Answers (all JSON):
  201 {"status": "stored", "key": k}        durable now
  200 {"status": "duplicate", "key": k}     stored earlier
  400 {"error": "bad_request", "field": f, "reason": r}
  401 {"error": "unauthorized"}   403 {"error": "forbidden", "reason": r}
  413 body too large (aiohttp)
  422 {"error": "content_rule", "rule": name, "collection": id}
  503 {"error": "overloaded"} + Retry-After
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from aiohttp import web

from simulator.collect import store as store_mod
from simulator.collect.directory import Directory
from simulator.collect.screen import violation
from simulator.collect.store import (
    AnyStore,
    AuditEntry,
    Overloaded,
    Rejection,
    Reply,
    StoreClosed,
)
from simulator.collect.vault import Vault
from simulator.collections import Collection, CollectionIndex, RuleBook, rules_for
from simulator.rules import ContentRules
from simulator.tokens import agency_of
from simulator.validation import Fields, InputError

log = logging.getLogger("pulsecheck.collect.api")

MAX_BODY_BYTES = 64 * 1024  # a reply is ~5 bullets; anything near this is abuse
MAX_TEXT_CHARS = 20_000
MAX_CC = 50
RETRY_AFTER_SECONDS = "1"


@dataclass(frozen=True)
class ApiConfig:
    directory: Directory
    rules_by_round: Mapping[str, ContentRules]
    collections: CollectionIndex
    secret: bytes
    store_path: str | None = None  # for reads; None when storage is off
    vault: Vault | None = None  # opens sealed rows on reads; None: plaintext store

    @cached_property
    def rulebook(self) -> RuleBook:
        """Per round and collection: the round's rules plus the collection's own."""
        return rules_for(self.rules_by_round, self.collections.all)


class BadRequest(Exception):
    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


@dataclass(frozen=True)
class ReplyIn:
    sender: str
    round: str
    to: str
    cc: tuple[str, ...]
    subject: str
    text: str
    key: str
    attachments: int


def parse_reply(raw: bytes, rounds: Mapping[str, ContentRules]) -> ReplyIn:
    """Check one request body; raise `BadRequest` naming the field (never echoing text)."""
    try:
        data = json.loads(raw)
    except UnicodeDecodeError:
        raise BadRequest("body", "is not valid UTF-8") from None
    except ValueError:
        raise BadRequest("body", "is not valid JSON") from None
    if not isinstance(data, dict):
        raise BadRequest("body", "must be a JSON object")
    try:
        return _reply_fields(Fields(data, "request"), rounds)
    except InputError as err:
        raise BadRequest(err.field, err.allowed) from None


def _reply_fields(fields: Fields, rounds: Mapping[str, ContentRules]) -> ReplyIn:
    reply = ReplyIn(
        sender=_line(fields, "sender", 320),
        round=fields.str("round", choices=list(rounds)),
        to=_line(fields, "to", 320),
        cc=tuple(_cc(fields)),
        subject=_line(fields, "subject", 1000, default=""),
        text=_text(fields),
        key=_line(fields, "idempotency_key", 200),
        attachments=fields.int("attachments", 0, lo=0, hi=1000),
    )
    fields.done()
    if not reply.key:
        raise BadRequest("idempotency_key", "must not be empty")
    return reply


def _line(fields: Fields, key: str, limit: int, default: str | None = None) -> str:
    value: str = fields.str(key) if default is None else fields.str(key, default)
    if len(value) > limit:
        raise BadRequest(key, f"must be at most {limit} characters")
    if any(ch in value for ch in "\r\n\x00"):
        raise BadRequest(key, "must not contain CR, LF or NUL (header injection)")
    return value


def _cc(fields: Fields) -> list[str]:
    value: list[str] = fields.str_list("cc", [])
    if len(value) > MAX_CC:
        raise BadRequest("cc", f"must hold at most {MAX_CC} addresses")
    return [v.lower() for v in value]


def _text(fields: Fields) -> str:
    has_body, has_bullets = fields.has("body"), fields.has("bullets")
    if has_body == has_bullets:
        raise BadRequest("body", "give exactly one of body (string) or bullets (list)")
    if has_body:
        text: str = fields.str("body")
    else:
        text = "\n".join(f"- {bullet}" for bullet in fields.str_list("bullets"))
    if len(text) > MAX_TEXT_CHARS:
        raise BadRequest("body", f"must be at most {MAX_TEXT_CHARS} characters")
    return text


# -- handlers -------------------------------------------------------------------------
CONFIG: web.AppKey[ApiConfig] = web.AppKey("config", ApiConfig)
STORE: web.AppKey[AnyStore] = web.AppKey("store", object)  # type: ignore[arg-type]


def _error(status: int, **fields: Any) -> web.Response:
    headers = {"Retry-After": RETRY_AFTER_SECONDS} if status in (429, 503) else None
    return web.json_response(fields, status=status, headers=headers)


async def post_reply(request: web.Request) -> web.Response:
    config, store = request.app[CONFIG], request.app[STORE]
    agency = agency_of(config.secret, request.headers.get("Authorization"))
    if agency is None:
        return _error(401, error="unauthorized", reason="missing or invalid bearer token")
    if store.full:  # shed before reading, parsing and screening the body
        return _overloaded()
    try:
        reply = parse_reply(await request.read(), config.rules_by_round)
        department, collection = _admit(reply, agency, config)
    except BadRequest as err:
        return _error(400, error="bad_request", field=err.field, reason=err.reason)
    except _Forbidden as err:
        return _error(403, error="forbidden", reason=str(err))
    rules = config.rulebook[(reply.round, collection.id)]
    directory = config.directory
    rule = violation(
        reply.text, reply.attachments, rules, directory.names, directory.name(reply.sender)
    )
    now_us = time.time_ns() // 1000
    if rule is not None:
        store.note(Rejection(now_us, "api", collection.id, department, reply.round, rule))
        return _error(422, error="content_rule", rule=rule, collection=collection.id)
    record = Reply(
        idem_key=f"{reply.sender.lower()}/{reply.key}",
        received_us=now_us,
        channel="api",
        collection=collection.id,
        agency=department,
        sender=reply.sender.lower(),
        round=reply.round,
        cc=reply.cc,
        subject=reply.subject,
        body=reply.text,
        attachments=reply.attachments,
        size_bytes=request.content_length or 0,
    )
    return await _store(store, record, reply.key)


async def _store(store: AnyStore, record: Reply, key: str) -> web.Response:
    try:
        outcome = await store.submit(record)
    except Overloaded:
        return _overloaded()
    except StoreClosed:
        return _error(503, error="unavailable", reason="server is shutting down")
    if outcome == "new":
        return web.json_response({"status": "stored", "key": key}, status=201)
    return web.json_response({"status": "duplicate", "key": key}, status=200)


def _overloaded() -> web.Response:
    return _error(503, error="overloaded", reason="write queue full; retry later")


class _Forbidden(Exception):
    pass


def _admit(reply: ReplyIn, agency: str, config: ApiConfig) -> tuple[str, Collection]:
    department = config.directory.department(reply.sender)
    if department is None:
        raise _Forbidden("sender is not in the workforce directory")
    if department != agency:
        raise _Forbidden(f"token of {agency} cannot submit for a {department} sender")
    collection = config.collections.by_address(reply.to)
    if collection is None:
        raise BadRequest("to", "is not a collection address")
    if not collection.admits(department):
        raise _Forbidden(f"collection {collection.id} is internal to {collection.internal_to}")
    for cc in reply.cc:
        if cc not in config.directory:
            raise BadRequest("cc", "every cc must be a directory address")
    return department, collection


def _reader_agency(request: web.Request) -> str:
    agency = agency_of(request.app[CONFIG].secret, request.headers.get("Authorization"))
    if agency is None:
        raise web.HTTPUnauthorized(
            text=json.dumps({"error": "unauthorized"}), content_type="application/json"
        )
    return agency


async def get_counts(request: web.Request) -> web.Response:
    agency = _reader_agency(request)
    path = request.app[CONFIG].store_path
    if path is None:
        return _error(404, error="no_store", reason="storage is off")
    counts = await _read(path, lambda conn: store_mod.counts_for(conn, agency))
    return web.json_response({"agency": agency, "counts": counts})


async def get_agency_replies(request: web.Request) -> web.Response:
    agency = _reader_agency(request)
    code = request.match_info["code"]
    if code != agency:
        _audit_denied(request, agency, code)
        return _error(403, error="forbidden", reason=f"token of {agency} cannot read {code}")
    path = request.app[CONFIG].store_path
    if path is None:
        return _error(404, error="no_store", reason="storage is off")
    after, limit = _page_args(request)
    return await _audited_read(request, path, agency, after, limit)


async def _audited_read(
    request: web.Request, path: str, agency: str, after: int, limit: int
) -> web.Response:
    """One page of `agency`'s replies, opened with the vault, sent once its audit is durable."""
    store, vault = request.app[STORE], request.app[CONFIG].vault
    if store.full:  # the audit row could not be queued: shed before reading anything
        return _overloaded()
    rows = await _read(path, lambda conn: store_mod.replies_for(conn, agency, after, limit, vault))
    entry = _audit_entry(request, agency, "read", agency, tuple(int(r["id"]) for r in rows))
    try:
        await store.submit(entry)
    except Overloaded:
        return _overloaded()
    except StoreClosed as err:
        return _error(503, error="unavailable", reason=f"audit not recorded: {err}")
    return web.json_response({"agency": agency, "replies": list(rows)})


def _audit_denied(request: web.Request, reader: str, asked: str) -> None:
    """Record a refused read of another agency's replies, best-effort."""
    if request.app[CONFIG].store_path is not None:
        request.app[STORE].note(_audit_entry(request, reader, "denied", asked, ()))


def _audit_entry(
    request: web.Request, reader: str, action: str, agency: str, row_ids: tuple[int, ...]
) -> AuditEntry:
    return AuditEntry(
        at_us=time.time_ns() // 1000,
        principal=f"token:{reader}@{request.remote}",
        action=action,
        agency=agency[:100],
        query=f"{request.method} {request.path_qs}"[:500],
        row_ids=row_ids,
    )


def _page_args(request: web.Request) -> tuple[int, int]:
    try:
        after = int(request.query.get("after", "0"))
        limit = int(request.query.get("limit", "100"))
    except ValueError:
        raise web.HTTPBadRequest(
            text=json.dumps({"error": "bad_request", "reason": "after/limit must be integers"}),
            content_type="application/json",
        ) from None
    return max(0, after), min(max(1, limit), 1000)


async def _read(path: str, query: Any) -> Any:
    import asyncio

    def run() -> Any:
        conn = store_mod.open_reader(path)
        try:
            return query(conn)
        finally:
            conn.close()

    return await asyncio.to_thread(run)


async def health(request: web.Request) -> web.Response:
    store = request.app[STORE]
    return web.json_response({"ok": True, "pending": store.pending})


def build_app(config: ApiConfig, store: AnyStore) -> web.Application:
    """The aiohttp application; the caller owns the store's lifetime."""
    app = web.Application(client_max_size=MAX_BODY_BYTES)
    app[CONFIG] = config
    app[STORE] = store
    app.router.add_post("/replies", post_reply)
    app.router.add_get("/counts", get_counts)
    app.router.add_get("/agencies/{code}/replies", get_agency_replies)
    app.router.add_get("/health", health)
    return app
