"""Content checks: does a reply break its round's rules (`simulator.rules.ContentRules`)?

Theory of operation: a pure function of the reply text, its attachment count and the
round's rules returns the first broken rule's name (the names of `columns.VIOLATIONS`,
plus "sensitive_statement" when a round refuses that answer), or None. The checks are
regular expressions, cheap enough for the SMTP hot path:
- link: a URL scheme (http, https, ftp, mailto) or a bare `www.` host;
- attachment: any attachment at all;
- classification: a banner or portion marking (TOP SECRET, SECRET, CONFIDENTIAL, NOFORN,
  (S), (TS), (C), (S//NF)...). "(U)" and "unclassified" pass;
- coworker_name: a "First Last" pair that is a directory name other than the sender's;
- drug_or_contract: a contract number (PIID-like: letters then 9+ letters/digits with at
  least 6 digits) or a drug name by its international nonproprietary stem (-mab, -vir...).
An HTML reply is screened on what its reader sees (`visible_text`): the head, style and
script blocks and every tag are dropped and entities decoded, so the markup's own
namespace URLs are no link while a URL written in the text is.
These are heuristics for a simulator, not a data-loss-prevention engine. Before each
expression runs, a substring test every match must pass (e.g. "://" or "www." for a
link) skips it on the common clean reply; the test is exact for ASCII text, and
non-ASCII text (where case-insensitive matching has more spellings) goes straight to
the expressions. A 16 KB clean reply screens in tens of microseconds instead of about
a millisecond.
"""

from __future__ import annotations

import html
import re
from collections.abc import Collection

from simulator.rules import SENSITIVE_STATEMENT, ContentRules

_LINK = re.compile(r"(?i)\b(?:https?://|ftp://|mailto:|www\.)\S")
_CLASSIFICATION = re.compile(
    r"\b(?:TOP SECRET|SECRET|CONFIDENTIAL|NOFORN|ORCON|SCI)\b"
    r"|\((?:TS|S|C)(?://[A-Z/ ]+)?\)|//(?:NF|SI|TK|REL\b)"
)
_FULL_NAME = re.compile(r"\b(?=([A-Z][a-zA-Z'\-]+) ([A-Z][a-zA-Z'\-]+)\b)")
_CONTRACT = re.compile(r"\b[A-Z]{2,6}(?=[A-Z0-9]*\d{6})[A-Z0-9]{9,}\b")
_DRUG_STEMS = (
    *("mab", "vir", "pril", "statin", "olol", "cillin"),
    *("mycin", "azole", "tinib", "sartan", "prazole"),
)
_DRUG = re.compile(rf"(?i)\b[a-z]{{3,}}(?:{'|'.join(_DRUG_STEMS)})\b")
_HTML_START = re.compile(r"(?i)\s*(?:<!doctype html|<html[\s>])")
_HIDDEN_BLOCK = re.compile(r"(?is)<(head|style|script)\b.*?</\1\s*>")
_TAG = re.compile(r"<[^>]*>")
_SPACES = re.compile(r"[ \t]{2,}")
# Substrings every match contains (case-sensitive for the markings).
_LINK_HINTS = ("://", "www.", "to:")  # of the lower-cased text; "to:" ends "mailto:"
_CLASSIFICATION_HINTS = ("SECRET", "CONFIDENTIAL", "NOFORN", "ORCON", "SCI", "(", "//")


def violation(
    text: str,
    attachments: int,
    rules: ContentRules,
    names: Collection[str] = (),
    sender_name: str = "",
) -> str | None:
    """The first rule this reply breaks, or None if it keeps them all."""
    text = visible_text(text)
    if text.strip() == SENSITIVE_STATEMENT:
        return None if rules.allow_sensitive_statement else "sensitive_statement"
    if rules.no_attachments and attachments > 0:
        return "attachment"
    lower = text.lower() if text.isascii() else None  # None: no shortcut, run every check
    if rules.no_links and _hints(lower, _LINK_HINTS) and _LINK.search(text):
        return "link"
    if rules.no_classification and _may_mark(text, lower) and _CLASSIFICATION.search(text):
        return "classification"
    if rules.no_coworker_names and names and _names_coworker(text, names, sender_name):
        return "coworker_name"
    if rules.no_drug_or_contract_names and (
        _CONTRACT.search(text) or (_hints(lower, _DRUG_STEMS) and _DRUG.search(text))
    ):
        return "drug_or_contract"
    return None


def visible_text(text: str) -> str:
    """The text a reader sees: an HTML document's text without markup; other text as is."""
    if not _HTML_START.match(text):
        return text
    bare = _SPACES.sub(" ", _TAG.sub(" ", _HIDDEN_BLOCK.sub(" ", text)))
    return html.unescape(bare)


def _hints(lower: str | None, hints: tuple[str, ...]) -> bool:
    """Whether lower-cased ASCII text holds any hint (always True for non-ASCII text)."""
    return lower is None or any(hint in lower for hint in hints)


def _may_mark(text: str, lower: str | None) -> bool:
    return lower is None or any(hint in text for hint in _CLASSIFICATION_HINTS)


def _names_coworker(text: str, names: Collection[str], sender_name: str) -> bool:
    for match in _FULL_NAME.finditer(text):
        full = f"{match.group(1)} {match.group(2)}"
        if full != sender_name and full in names:
            return True
    return False
