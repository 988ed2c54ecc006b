"""Content rules: table-driven cases, one line of why each; fuzzing never crashes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from simulator.collect.screen import violation, visible_text
from simulator.rules import SENSITIVE_STATEMENT, ContentRules

R1 = ContentRules()
HHS = ContentRules(no_coworker_names=True, no_drug_or_contract_names=True)
NAMES = {"Ann Lee", "Bo Chan"}

CASES = [
    # text, attachments, rules, expected
    ("- closed 12 cases\n- trained staff", 0, R1, None),  # plain bullets keep the rules
    ("see https://wiki.example/x", 0, R1, "link"),  # URL with scheme
    ("notes at www.agency.example", 0, R1, "link"),  # bare www host
    ("plain text", 1, R1, "attachment"),  # any attachment
    ("briefed the SECRET program", 0, R1, "classification"),  # banner word
    ("(S//NF) moved assets", 0, R1, "classification"),  # portion marking
    ("(U) wrote memos", 0, R1, None),  # unclassified marking is fine
    ("secretary meeting", 0, R1, None),  # lower-case word is not a marking
    ("met with Bo Chan", 0, HHS, "coworker_name"),  # directory name of a co-worker
    ("reviewed Ann Lee work", 0, HHS, "coworker_name"),  # overlapping capitalised pairs
    ("met with Bo Chan", 0, R1, None),  # round 1 allows names
    ("Filed Report Quickly", 0, HHS, None),  # capitalised words that are not names
    ("dosing of pembrolizumab", 0, HHS, "drug_or_contract"),  # -mab stem
    ("modified HHSN261201500003I", 0, HHS, "drug_or_contract"),  # PIID-like number
    (SENSITIVE_STATEMENT, 0, R1, None),  # the allowed answer
    (SENSITIVE_STATEMENT, 0, ContentRules(allow_sensitive_statement=False), "sensitive_statement"),
    ("see https://x.example", 0, ContentRules(no_links=False), None),  # rule switched off
]


@pytest.mark.parametrize(("text", "attachments", "rules", "expected"), CASES)
def test_violation(text: str, attachments: int, rules: ContentRules, expected: str | None) -> None:
    assert violation(text, attachments, rules, NAMES) == expected


def test_sender_may_name_themself() -> None:
    assert violation("Ann Lee filed the report", 0, HHS, NAMES, sender_name="Ann Lee") is None


@given(st.text(max_size=400), st.integers(0, 3))
def test_any_text_gives_a_rule_name_or_none(text: str, attachments: int) -> None:
    result = violation(text, attachments, HHS, NAMES)
    assert result is None or result in {
        "link",
        "attachment",
        "classification",
        "coworker_name",
        "drug_or_contract",
        "sensitive_statement",
    }


FRAGMENTS = [
    *("http://", "HTTPS://", "ftp://", "WWW.", "www.", "mailto:", "MailTo:", "to:", "x"),
    *("SECRET", "TOP SECRET", "CONFIDENTIAL", "NOFORN", "SCI", "(S)", "(TS//SI)", "//NF"),
    *("(", ")", "/", "pembrolizumab", "Lisinopril", "ABCD123456789", "12", " ", "\n"),
    *("ſ", "ı", "K", "é", "Bo Chan", "-"),
]


def reference(text: str, attachments: int, rules: ContentRules) -> str | None:
    """The checks without their substring shortcuts: the expressions decide alone."""
    from simulator.collect import screen

    if text.strip() == SENSITIVE_STATEMENT:
        return None if rules.allow_sensitive_statement else "sensitive_statement"
    if rules.no_attachments and attachments > 0:
        return "attachment"
    if rules.no_links and screen._LINK.search(text):
        return "link"
    if rules.no_classification and screen._CLASSIFICATION.search(text):
        return "classification"
    if rules.no_coworker_names and screen._names_coworker(text, NAMES, ""):
        return "coworker_name"
    if rules.no_drug_or_contract_names and (
        screen._CONTRACT.search(text) or screen._DRUG.search(text)
    ):
        return "drug_or_contract"
    return None


@given(st.lists(st.sampled_from(FRAGMENTS), max_size=12).map("".join))
def test_shortcuts_never_change_the_answer(text: str) -> None:
    for rules in (R1, HHS):
        assert violation(text, 0, rules, NAMES) == reference(text, 0, rules)


OUTLOOK_HEAD = (
    '<html xmlns:o="urn:schemas-microsoft-com:office:office" '
    'xmlns="http://www.w3.org/TR/REC-html40">\r\n<head><meta name="Generator" '
    'content="Microsoft Word 15"><style>a:link {color: blue}</style></head><body>'
)


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        # the markup's own namespace URLs are no link
        (f"{OUTLOOK_HEAD}<p>Closed 12 tickets.</p></body></html>", None),
        # a URL in the text is
        (f"{OUTLOOK_HEAD}<p>See https://drive.example/x</p></body></html>", "link"),
        # a co-worker's name split by tags and escaped is still a name
        (f"{OUTLOOK_HEAD}<li>with <b>Dana</b> Whitfield</li></body></html>", "coworker_name"),
        (f"{OUTLOOK_HEAD}<p>Reviewed (S//NF) memo</p></body></html>", "classification"),
        (f"{OUTLOOK_HEAD}<p>Met Sean O&#x27;Brien</p></body></html>", "coworker_name"),
    ],
)
def test_html_is_screened_on_its_visible_text(body: str, expected: str | None) -> None:
    rules = ContentRules(no_coworker_names=True)
    names = {"Dana Whitfield", "Sean O'Brien"}
    assert violation(body, 0, rules, names) == expected


def test_visible_text_leaves_plain_text_alone() -> None:
    text = "Fixed <b> in the parser\r\nhttps://x.example"
    assert visible_text(text) == text
