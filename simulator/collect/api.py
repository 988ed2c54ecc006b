"""The HTTP collection API (aiohttp): POST a reply, read counts and an agency's replies.

Theory of operation: `POST /replies` checks the bearer token (`simulator.tokens`: signed,
expiring, revocable by key id), sheds when the store's bounded queue is full (before the
body is read, so shedding costs no parsing), reads the body under a time limit, checks
it once (`parse_reply`: types, sizes, header injection, text that is not valid Unicode),
checks who may send it (token agency == sender's department; the collection admits that
department), screens the content against the round's rules, and hands the reply to the
store. It answers 201 only when the store's group commit holding the reply is done, 200
when the idempotency key was already stored, 4xx with a JSON reason for bad input, 422
naming the broken rule (the round's rules plus the collection's own), and 503 with
Retry-After when the store's queue is full. Reads are scoped to the token's agency.

Idempotency keys are scoped by channel and principal: `api:{agency}:{sender}/{key}`, so
no SMTP message (keyed `smtp:...`) and no other agency's token can claim a reply's key
in advance. The tail `/{key}` is the client's key, as the run's store check expects.

Slow clients: a connection must deliver a complete request head within `read_timeout_s`
of connecting or of its previous answer (aiohttp's keep-alive timer closes a connection
still waiting for its head; idle keep-alive connections close after the same time), and
a request's body must arrive within `read_timeout_s` of its head (else 408, and the
connection is closed). Nothing here logs reply text or a secret: aiohttp's server log
goes through `HTTP_LOG`, which keeps only the error's type (aiohttp would otherwise
print a malformed request's raw bytes, token and body included), and the access log is
off. Unexpected errors answer 500 with a JSON body and log only their type.

A read of reply contents opens only that agency's sealed rows (the store's `Vault`) and
is answered only once its audit row (who, agency, row ids, the query) is committed.

`GET /openapi.json` (no token) describes all of this as an OpenAPI 3.1 document built
from the same limits (`simulator.collect.openapi`), for anyone building a compatible
endpoint.

Answers (all JSON):
  201 {"status": "stored", "key": k}        durable now
  200 {"status": "duplicate", "key": k}     stored earlier
  400 {"error": "bad_request", "field": f, "reason": r}
  401 {"error": "unauthorized", "reason": r}   missing, malformed, expired or revoked token
  403 {"error": "forbidden", "reason": r}
  408 {"error": "timeout", "reason": r}     body too slow; the connection is closed
  413 {"error": "request_entity_too_large", ...}   body over MAX_BODY_BYTES
  422 {"error": "content_rule", "rule": name, "collection": id}
  503 {"error": "overloaded"} + Retry-After, or {"error": "unavailable", "reason": r}
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestPayloadError

from simulator.collect import store as store_mod
from simulator.collect.directory import Directory
from simulator.collect.screen import violation
from simulator.collect.store import (
    AnyStore,
    AuditEntry,
    InvalidRecord,
    Overloaded,
    Rejection,
    Reply,
    StoreClosed,
    StoreFailed,
)
from simulator.collect.vault import Vault
from simulator.collections import Collection, CollectionIndex, RuleBook, rules_for
from simulator.rules import ContentRules
from simulator.tokens import Principal, RevocationList, TokenRejected, authenticate
from simulator.validation import Fields, InputError

log = logging.getLogger("pulsecheck.collect.api")

MAX_BODY_BYTES = 64 * 1024  # a reply is ~5 bullets; anything near this is abuse
MAX_TEXT_CHARS = 20_000
MAX_CC = 50
ADDRESS_CHARS = 320  # sender, to (RFC 5321's path limit is 256; names may add more)
SUBJECT_CHARS = 1000
KEY_CHARS = 200  # idempotency_key
MAX_ATTACHMENTS = 1000
MAX_ROW_ID = 2**63 - 1  # SQLite's INTEGER
RETRY_AFTER_SECONDS = "1"
DEFAULT_READ_TIMEOUT_S = 30.0


class _ErrorTypeOnly(logging.Filter):
    """Rewrite a record to name only its exception's type: no request bytes, no token."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        record.msg = "HTTP request failed: %s"
        record.args = (type(exc).__name__ if exc is not None else "no exception",)
        record.exc_info = None
        record.exc_text = None
        record.stack_info = None
        return True


HTTP_LOG = logging.getLogger("pulsecheck.collect.http")
HTTP_LOG.addFilter(_ErrorTypeOnly())


@dataclass(frozen=True)
class ApiConfig:
    directory: Directory
    rules_by_round: Mapping[str, ContentRules]
    collections: CollectionIndex
    secret: bytes
    store_path: str | None = None  # for reads; None when storage is off
    revoked: RevocationList | None = None  # revoked token key ids, re-read on change
    read_timeout_s: float = DEFAULT_READ_TIMEOUT_S
    vault: Vault | None = None  # opens sealed rows on reads; None: plaintext store

    @cached_property
    def rulebook(self) -> RuleBook:
        """Per round and collection: the round's rules plus the collection's own."""
        return rules_for(self.rules_by_round, self.collections.all)


def runner_options(read_timeout_s: float = DEFAULT_READ_TIMEOUT_S) -> dict[str, Any]:
    """`web.AppRunner` keyword arguments: head timeout, quiet and scrubbed logs."""
    return {
        "access_log": None,
        "handle_signals": False,
        "logger": HTTP_LOG,
        "keepalive_timeout": read_timeout_s,  # a complete request head within this
        "lingering_time": min(10.0, read_timeout_s),  # unread body after an early answer
    }


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
        if not isinstance(data, dict):
            raise BadRequest("body", "must be a JSON object")
        return _reply_fields(Fields(data, "request"), rounds)
    except UnicodeDecodeError:
        raise BadRequest("body", "is not valid UTF-8") from None
    except RecursionError:
        raise BadRequest("body", "is nested too deeply") from None
    except InputError as err:
        raise BadRequest(err.field, err.allowed) from None
    except ValueError:
        raise BadRequest("body", "is not valid JSON") from None


def _reply_fields(fields: Fields, rounds: Mapping[str, ContentRules]) -> ReplyIn:
    reply = ReplyIn(
        sender=_line(fields, "sender", ADDRESS_CHARS),
        round=fields.str("round", choices=list(rounds)),
        to=_line(fields, "to", ADDRESS_CHARS),
        cc=tuple(_cc(fields)),
        subject=_line(fields, "subject", SUBJECT_CHARS, default=""),
        text=_text(fields),
        key=_line(fields, "idempotency_key", KEY_CHARS),
        attachments=fields.int("attachments", 0, lo=0, hi=MAX_ATTACHMENTS),
    )
    fields.done()
    if not reply.key:
        raise BadRequest("idempotency_key", "must not be empty")
    return reply


def _unicode(field: str, value: str) -> str:
    """Text the store can hold: JSON's `\\ud800` escapes give lone surrogates, UTF-8 has none."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise BadRequest(field, "must be valid Unicode text (no lone surrogates)") from None
    return value


def _line(fields: Fields, key: str, limit: int, default: str | None = None) -> str:
    value: str = fields.str(key) if default is None else fields.str(key, default)
    if len(value) > limit:
        raise BadRequest(key, f"must be at most {limit} characters")
    if any(ch in value for ch in "\r\n\x00"):
        raise BadRequest(key, "must not contain CR, LF or NUL (header injection)")
    return _unicode(key, value)


def _cc(fields: Fields) -> list[str]:
    value: list[str] = fields.str_list("cc", [])
    if len(value) > MAX_CC:
        raise BadRequest("cc", f"must hold at most {MAX_CC} addresses")
    return [_unicode("cc", v).lower() for v in value]


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
    return _unicode("body" if has_body else "bullets", text)


# -- handlers -------------------------------------------------------------------------
CONFIG: web.AppKey[ApiConfig] = web.AppKey("config", ApiConfig)
STORE: web.AppKey[AnyStore] = web.AppKey("store", object)  # type: ignore[arg-type]


def _error(status: int, **fields: Any) -> web.Response:
    headers = {"Retry-After": RETRY_AFTER_SECONDS} if status in (429, 503) else None
    return web.json_response(fields, status=status, headers=headers)


def _bad(field: str, reason: str) -> web.Response:
    return _error(400, error="bad_request", field=field[:100], reason=reason)


class _Unauthorized(Exception):
    pass


def _principal(request: web.Request) -> Principal:
    config = request.app[CONFIG]
    revoked = config.revoked.current() if config.revoked is not None else frozenset()
    try:
        return authenticate(config.secret, request.headers.get("Authorization"), revoked)
    except TokenRejected as err:
        raise _Unauthorized(err.reason) from None


def _unauthorized(reason: str) -> web.Response:
    response = _error(401, error="unauthorized", reason=reason)
    response.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
    return response


async def post_reply(request: web.Request) -> web.StreamResponse:
    config, store = request.app[CONFIG], request.app[STORE]
    try:
        principal = _principal(request)
    except _Unauthorized as err:
        return _unauthorized(str(err))
    if store.failure is not None:
        return _error(503, error="unavailable", reason=store.failure)
    if store.full:  # shed before reading, parsing and screening the body
        return _overloaded()
    try:
        async with asyncio.timeout(config.read_timeout_s):
            raw = await request.read()
    except TimeoutError:
        return await _too_slow(request, config.read_timeout_s)
    except (RequestPayloadError, HttpProcessingError) as err:  # bad chunks, bad gzip
        return _bad("body", f"cannot be read ({type(err).__name__})")
    try:
        reply = parse_reply(raw, config.rules_by_round)
        department, collection = _admit(reply, principal.agency, config)
    except BadRequest as err:
        return _bad(err.field, err.reason)
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
    sender = reply.sender.lower()
    record = Reply(
        idem_key=api_key(principal.agency, sender, reply.key),
        received_us=now_us,
        channel="api",
        collection=collection.id,
        agency=department,
        sender=sender,
        round=reply.round,
        cc=reply.cc,
        subject=reply.subject,
        body=reply.text,
        attachments=reply.attachments,
        size_bytes=len(raw),
    )
    return await _store(store, record, reply.key)


def api_key(agency: str, sender: str, key: str) -> str:
    """The store's idempotency key of an API reply: scoped by channel and principal."""
    return f"api:{agency}:{sender}/{key}"


async def _too_slow(request: web.Request, limit: float) -> web.Response:
    """408, then close the connection: a client this slow gets no lingering read."""
    response = _error(408, error="timeout", reason=f"request body not received within {limit:g} s")
    response.force_close()
    await response.prepare(request)
    await response.write_eof()
    request.protocol.force_close()
    return response


async def _store(store: AnyStore, record: Reply, key: str) -> web.Response:
    try:
        outcome = await store.submit(record)
    except Overloaded:
        return _overloaded()
    except InvalidRecord as err:
        return _bad("body", err.reason)
    except StoreFailed as err:
        return _error(503, error="unavailable", reason=str(err))
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


async def get_counts(request: web.Request) -> web.Response:
    try:
        agency = _principal(request).agency
    except _Unauthorized as err:
        return _unauthorized(str(err))
    path = request.app[CONFIG].store_path
    if path is None:
        return _error(404, error="no_store", reason="storage is off")
    counts = await _read(path, lambda conn: store_mod.counts_for(conn, agency))
    return web.json_response({"agency": agency, "counts": counts})


async def get_agency_replies(request: web.Request) -> web.Response:
    try:
        agency = _principal(request).agency
    except _Unauthorized as err:
        return _unauthorized(str(err))
    code = request.match_info["code"]
    if code != agency:
        _audit_denied(request, agency, code)
        return _error(403, error="forbidden", reason=f"token of {agency} cannot read {code[:40]}")
    path = request.app[CONFIG].store_path
    if path is None:
        return _error(404, error="no_store", reason="storage is off")
    try:
        after = _query_int(request, "after", 0, 0, MAX_ROW_ID)
        limit = _query_int(request, "limit", 100, 1, 1000)
    except BadRequest as err:
        return _bad(err.field, err.reason)
    return await _audited_read(request, path, agency, after, limit)


def _query_int(request: web.Request, name: str, default: int, lo: int, hi: int) -> int:
    """A whole-number query parameter of at most 18 digits, clamped into lo..hi."""
    text = request.query.get(name)
    if text is None:
        return default
    digits = text[1:] if text.startswith("-") else text
    if not (digits.isascii() and digits.isdigit() and len(digits) <= 18):
        raise BadRequest(name, "must be a whole number of at most 18 digits")
    return min(max(lo, int(text)), hi)


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


async def _read(path: str, query: Any) -> Any:
    def run() -> Any:
        conn = store_mod.open_reader(path)
        try:
            return query(conn)
        finally:
            conn.close()

    return await asyncio.to_thread(run)


async def openapi(request: web.Request) -> web.Response:
    from simulator.collect.openapi import openapi_document

    rounds = sorted(request.app[CONFIG].rules_by_round)
    return web.json_response(openapi_document(rounds))


async def health(request: web.Request) -> web.Response:
    store = request.app[STORE]
    failure = store.failure
    if failure is not None:
        return web.json_response(
            {"ok": False, "reason": failure, "pending": store.pending}, status=503
        )
    return web.json_response({"ok": True, "pending": store.pending})


Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """aiohttp's own errors (404, 405, 413...) as JSON; anything unexpected: 500, type only."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        name = (exc.reason or "error").lower().replace(" ", "_")
        response = _error(exc.status, error=name, reason=exc.reason)
        if "Allow" in exc.headers:
            response.headers["Allow"] = exc.headers["Allow"]
        return response
    except (asyncio.CancelledError, ConnectionError):
        raise
    except Exception as exc:
        log.error("unexpected error answering %s: %s", request.method, type(exc).__name__)
        return _error(500, error="internal", reason=type(exc).__name__)


def build_app(config: ApiConfig, store: AnyStore) -> web.Application:
    """The aiohttp application; the caller owns the store's lifetime."""
    app = web.Application(
        client_max_size=MAX_BODY_BYTES, middlewares=[json_errors], logger=HTTP_LOG
    )
    app[CONFIG] = config
    app[STORE] = store
    app.router.add_post("/replies", post_reply)
    app.router.add_get("/counts", get_counts)
    app.router.add_get("/agencies/{code}/replies", get_agency_replies)
    app.router.add_get("/health", health)
    app.router.add_get("/openapi.json", openapi)
    return app
