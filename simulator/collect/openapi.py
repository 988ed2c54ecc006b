"""The reference collection API described as an OpenAPI 3.1 document.

Theory of operation: the document is built from the constants `simulator.collect.api`
checks with (field lengths, the cc limit, the body limit, the rounds it serves), so the
description cannot drift from the validation. `GET /openapi.json` serves it; a test
checks it with openapi-spec-validator and checks pulsecheck's own bodies against the
request schema. Someone building their own endpoint reads it to see what pulsecheck
sends by default (or writes a request template for a different shape).
"""

from __future__ import annotations

from typing import Any

from simulator.collect.api import (
    ADDRESS_CHARS,
    KEY_CHARS,
    MAX_ATTACHMENTS,
    MAX_BODY_BYTES,
    MAX_CC,
    MAX_TEXT_CHARS,
    SUBJECT_CHARS,
)

ONE_LINE = "^[^\\r\\n\\u0000]*$"  # no CR, LF or NUL: the field may go into a mail header


def _line(limit: int, description: str, min_length: int = 0) -> dict[str, Any]:
    schema: dict[str, Any] = {
        "type": "string",
        "maxLength": limit,
        "pattern": ONE_LINE,
        "description": description,
    }
    if min_length:
        schema["minLength"] = min_length
    return schema


def reply_schema(rounds: list[str]) -> dict[str, Any]:
    """The JSON schema of a `POST /replies` body."""
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["sender", "round", "to", "idempotency_key"],
        "oneOf": [{"required": ["body"]}, {"required": ["bullets"]}],
        "properties": {
            "sender": _line(ADDRESS_CHARS, "the employee's address (their department's token)"),
            "round": {"type": "string", "enum": rounds, "description": "the round replied to"},
            "to": _line(ADDRESS_CHARS, "the collection address the reply is sent to"),
            "cc": {
                "type": "array",
                "items": {"type": "string"},
                "maxItems": MAX_CC,
                "description": "copied addresses (the manager)",
            },
            "subject": _line(SUBJECT_CHARS, "the reply's subject"),
            "body": {"type": "string", "maxLength": MAX_TEXT_CHARS, "description": "the text"},
            "bullets": {
                "type": "array",
                "items": {"type": "string"},
                "description": "the accomplishments, instead of body (stored as '- ' lines)",
            },
            "idempotency_key": _line(KEY_CHARS, "a retry repeats it: stored once", 1),
            "attachments": {
                "type": "integer",
                "minimum": 0,
                "maximum": MAX_ATTACHMENTS,
                "description": "how many files the reply carried (screened by the round's rules)",
            },
        },
    }


def _error(required: list[str], extra: dict[str, Any] | None = None) -> dict[str, Any]:
    properties = {"error": {"type": "string"}, "reason": {"type": "string"}, **(extra or {})}
    return {"type": "object", "required": required, "properties": properties}


def _answer(description: str, schema: dict[str, Any], retry: bool = False) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "description": description,
        "content": {"application/json": {"schema": schema}},
    }
    if retry:
        answer["headers"] = {
            "Retry-After": {"schema": {"type": "integer"}, "description": "seconds to wait"}
        }
    return answer


def openapi_document(rounds: list[str]) -> dict[str, Any]:
    """The OpenAPI 3.1 document of the API serving `rounds`."""
    stored = {
        "type": "object",
        "required": ["status", "key"],
        "properties": {"status": {"enum": ["stored", "duplicate"]}, "key": {"type": "string"}},
    }
    bearer: list[dict[str, list[str]]] = [{"agencyToken": []}]
    errors = {
        "400": _answer(
            "a field is missing, of the wrong type, too long or not valid text",
            _error(["error", "field"], {"field": {"type": "string"}}),
        ),
        "401": _answer("the token is missing, malformed, expired or revoked", _error(["error"])),
        "403": _answer("the token's agency may not send or read this", _error(["error"])),
    }
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "pulsecheck reference collection API",
            "version": "1",
            "description": "Collects replies to a mass email, one JSON document per reply. "
            "pulsecheck replay sends these bodies by default; a request template "
            "(--request) adapts it to an endpoint of another shape.",
        },
        "components": {
            "securitySchemes": {
                "agencyToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "a per-agency token signed with the server's secret "
                    "(pulsecheck replay --token-secret mints them)",
                }
            },
            "schemas": {"Reply": reply_schema(rounds)},
        },
        "paths": {
            "/replies": {
                "post": {
                    "summary": "Submit one reply",
                    "security": bearer,
                    "requestBody": {
                        "required": True,
                        "description": f"at most {MAX_BODY_BYTES} bytes",
                        "content": {
                            "application/json": {"schema": {"$ref": "#/components/schemas/Reply"}}
                        },
                    },
                    "responses": {
                        "201": _answer("stored durably", stored),
                        "200": _answer("stored earlier under the same idempotency key", stored),
                        **errors,
                        "408": _answer("the body arrived too slowly", _error(["error"])),
                        "413": _answer("the body is too large", _error(["error"])),
                        "422": _answer(
                            "refused by a content rule of the round or the collection",
                            _error(
                                ["error", "rule"],
                                {"rule": {"type": "string"}, "collection": {"type": "string"}},
                            ),
                        ),
                        "503": _answer("overloaded or unavailable", _error(["error"]), True),
                    },
                }
            },
            "/counts": {
                "get": {
                    "summary": "Reply counts of the token's agency",
                    "security": bearer,
                    "responses": {
                        "200": _answer("counts", {"type": "object"}),
                        "401": errors["401"],
                    },
                }
            },
            "/agencies/{code}/replies": {
                "get": {
                    "summary": "Replies of one agency (audited; the token's agency only)",
                    "security": bearer,
                    "parameters": [
                        {
                            "name": "code",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string"},
                        },
                        {
                            "name": "after",
                            "in": "query",
                            "schema": {"type": "integer", "minimum": 0},
                        },
                        {
                            "name": "limit",
                            "in": "query",
                            "schema": {"type": "integer", "minimum": 1, "maximum": 1000},
                        },
                    ],
                    "responses": {"200": _answer("replies", {"type": "object"}), **errors},
                }
            },
            "/health": {
                "get": {
                    "summary": "Whether the store is writing",
                    "responses": {
                        "200": _answer("healthy", {"type": "object"}),
                        "503": _answer("the store failed", {"type": "object"}),
                    },
                }
            },
            "/openapi.json": {
                "get": {
                    "summary": "This document",
                    "responses": {"200": _answer("OpenAPI 3.1", {"type": "object"})},
                }
            },
        },
    }
