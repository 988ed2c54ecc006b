"""Per-collection content rules, and `pulsecheck serve --scenario` taking them from a scenario.

A reply to a collection must keep its round's rules and the collection's own together:
in opm-weekly.toml the HHS leadership mailbox forbids co-workers' names and drug or
contract names on top of round r2's rules, while OPM's central mailbox does not. Both
servers answer such a reply with the rule (and collection) it broke: API 422, SMTP 550.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import aiohttp
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from simulator.cli import build_parser, serve
from simulator.collect.directory import Directory
from simulator.collect.servers import running_api, running_mailbox
from simulator.collections import Collection, rules_for
from simulator.rules import ContentRules
from simulator.tokens import load_or_create_secret, mint_token
from simulator.validation import InputError

from .conftest import SECRET, SmtpClient

ROOT = Path(__file__).resolve().parents[2]
WEEKLY = ROOT / "scenarios" / "opm-weekly.toml"
HHS_RULES = ContentRules(no_coworker_names=True, no_drug_or_contract_names=True)
ROUND = {"r2": ContentRules()}
COLLECTIONS = [
    Collection("opm-hr", "hr@opm.example"),
    Collection("hhs-leadership", "leadership@hhs.example", "HHS", HHS_RULES),
]
PEOPLE = [("eve.ng@hhs.example", "HHS", "Eve", "Ng"), ("flo.ray@hhs.example", "HHS", "Flo", "Ray")]
EVE = PEOPLE[0][0]
NAMES_COWORKER = "- paired with Flo Ray on the audit\n\nThanks\nEve Ng"
SIGNED_ONLY = "- closed the audit\n\nThanks\nEve Ng"  # her own name is no co-worker's

COMBINED = [
    # round, collection's own, combined
    (ContentRules(), None, ContentRules()),  # no rules of its own: the round's
    (ContentRules(), HHS_RULES, HHS_RULES),  # its own add to the round's
    (ContentRules(no_links=False), ContentRules(), ContentRules()),  # either forbids: forbidden
    (
        ContentRules(allow_sensitive_statement=False),
        ContentRules(),
        ContentRules(allow_sensitive_statement=False),
    ),  # the statement is allowed only if both allow it
]


@pytest.mark.parametrize(("round_rules", "own", "expected"), COMBINED)
def test_combined(round_rules: ContentRules, own: ContentRules | None, expected: object) -> None:
    assert round_rules.combined(own) == expected


def test_rules_for_each_round_and_collection() -> None:
    book = rules_for({"r1": ContentRules(), "r2": ContentRules(no_links=False)}, COLLECTIONS)
    assert book[("r1", "opm-hr")] == ContentRules()
    assert book[("r2", "hhs-leadership")] == HHS_RULES  # r2 allowed links; HHS does not


def directory() -> Directory:
    return Directory(
        [(email, dept) for email, dept, _, _ in PEOPLE],
        name_of=[(email, f"{first} {last}") for email, _, first, last in PEOPLE],
    )


async def post(http: aiohttp.ClientSession, to: str, text: str, key: str) -> tuple[int, object]:
    payload = {"sender": EVE, "round": "r2", "to": to, "body": text, "idempotency_key": key}
    headers = {"Authorization": f"Bearer {mint_token(SECRET, 'HHS')}"}
    async with http.post("/replies", json=payload, headers=headers) as r:
        return r.status, await r.json()


@pytest.mark.integration
async def test_api_applies_the_collections_own_rules(tmp_path: Path) -> None:
    async with (
        running_api(
            tmp_path / "db", directory(), ROUND, secret=SECRET, collections=COLLECTIONS
        ) as srv,
        aiohttp.ClientSession(srv.url) as http,
    ):
        assert (await post(http, "hr@opm.example", NAMES_COWORKER, "k1"))[0] == 201
        assert await post(http, "leadership@hhs.example", NAMES_COWORKER, "k2") == (
            422,
            {"error": "content_rule", "rule": "coworker_name", "collection": "hhs-leadership"},
        )
        drug = "- reviewed the pembrolizumab trial"
        assert (await post(http, "leadership@hhs.example", drug, "k3"))[1] == {
            "error": "content_rule",
            "rule": "drug_or_contract",
            "collection": "hhs-leadership",
        }
        assert (await post(http, "leadership@hhs.example", SIGNED_ONLY, "k4"))[0] == 201


@pytest.mark.integration
async def test_mailbox_applies_the_collections_own_rules(tmp_path: Path) -> None:
    async with running_mailbox(
        tmp_path / "db", directory(), ROUND, collections=COLLECTIONS, secret=SECRET
    ) as s:
        smtp = await SmtpClient.connect(s.host, s.port)
        await smtp.send(b"EHLO t\r\n")
        assert (await smtp.auth("HHS")).startswith("235")  # leadership@hhs is HHS-internal
        body = NAMES_COWORKER.replace("\n", "\r\n").encode()
        central = await smtp.mail(EVE, ["hr@opm.example"], body, b"Message-ID: <1@t>\r\n")
        assert central[-1].startswith("250")
        hhs = await smtp.mail(EVE, ["leadership@hhs.example"], body, b"Message-ID: <2@t>\r\n")
        broken = "550 5.7.1 content rule broken: coworker_name (collection hhs-leadership)"
        assert hhs[-1].startswith(broken)
        both = ["hr@opm.example", "leadership@hhs.example"]  # one message, two systems
        assert (await smtp.mail(EVE, both, body, b"Message-ID: <3@t>\r\n"))[-1].startswith(broken)
        signed = SIGNED_ONLY.replace("\n", "\r\n").encode()
        ok = await smtp.mail(EVE, ["leadership@hhs.example"], signed, b"Message-ID: <4@t>\r\n")
        assert ok[-1].startswith("250")
        await smtp.close()


# -- pulsecheck serve --scenario ---------------------------------------------------------
def workforce(tmp_path: Path) -> Path:
    path = tmp_path / "wf.parquet"
    columns = list(zip(*PEOPLE, strict=True))
    names = ("email", "department", "first_name", "last_name")
    pq.write_table(pa.table(dict(zip(names, map(list, columns), strict=True))), path)
    return path


def spec_args(tmp_path: Path, *extra: str) -> list[str]:
    wf, store, secret = workforce(tmp_path), tmp_path / "db", tmp_path / "secret"
    return ["--store", str(store), "--workforce", str(wf), "--secret-file", str(secret), *extra]


def build(tmp_path: Path, kind: str, *extra: str) -> serve.ServerSpec:
    args = build_parser().parse_args(["serve", kind, *spec_args(tmp_path, *extra)])
    return serve.build_spec(args)


def test_scenario_gives_collections_rounds_and_rules(tmp_path: Path) -> None:
    spec = build(tmp_path, "api", "--scenario", str(WEEKLY))
    by_id = {c.id: c for c in spec.collections}
    assert set(by_id) == {"opm-hr", "dod-consolidation", "dhs-accountability", "hhs-leadership"}
    assert by_id["hhs-leadership"].internal_to == "HHS"
    assert by_id["hhs-leadership"].rules == HHS_RULES
    assert by_id["opm-hr"].rules is None
    assert list(spec.rules_by_round) == [f"r{k}" for k in range(2, 25)]  # the weekly series
    assert spec.broadcast_sender == "hr@opm.example"
    assert "hhs-leadership (own rules)" in serve.describe(spec)


def test_without_scenario_default_collections_and_rules(tmp_path: Path) -> None:
    spec = build(tmp_path, "mailbox", "--rounds", "r1,r2")
    assert spec.rules_by_round == {"r1": ContentRules(), "r2": ContentRules()}
    assert all(c.rules is None for c in spec.collections)


@pytest.mark.parametrize(
    ("extra", "names"),
    [
        (["--scenario", "missing.toml"], "missing.toml"),  # no such file
        (["--scenario", str(WEEKLY), "--rounds", "r99"], "r99"),  # not a round of the scenario
        (["--scenario", str(ROOT / "scenarios" / "replyall-1m.toml")], "reply-all"),  # storm
        (["--rounds", " , "], "--rounds"),  # no round at all
    ],
)
def test_bad_scenario_input_is_named(tmp_path: Path, extra: list[str], names: str) -> None:
    with pytest.raises(InputError, match=re.escape(names)):
        build(tmp_path, "api", *extra)


def test_cli_exits_2_naming_the_bad_round(tmp_path: Path) -> None:
    cmd = ["serve", "api", *spec_args(tmp_path, "--scenario", str(WEEKLY), "--rounds", "r1")]
    proc = subprocess.run(
        [sys.executable, "-m", "simulator", *cmd], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 2
    assert "--rounds" in proc.stderr and "'r1'" in proc.stderr and "r2" in proc.stderr


def start(tmp_path: Path, kind: str) -> tuple[subprocess.Popen[str], int]:
    cmd = [sys.executable, "-m", "simulator", "serve", kind]
    cmd += spec_args(tmp_path, "--scenario", str(WEEKLY))
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    line = proc.stdout.readline()
    match = re.search(r":(\d+)$", line.strip())
    assert match, line
    assert "hhs-leadership (own rules)" in proc.stdout.readline()
    return proc, int(match.group(1))


@pytest.mark.integration
async def test_serve_api_with_scenario_applies_its_rules(tmp_path: Path) -> None:
    proc, port = start(tmp_path, "api")
    token = mint_token(load_or_create_secret(tmp_path / "secret"), "HHS")
    headers = {"Authorization": f"Bearer {token}"}
    try:
        async with aiohttp.ClientSession(f"http://127.0.0.1:{port}") as http:
            answers = []
            for n, to in enumerate(["hr@opm.example", "leadership@hhs.example"]):
                payload = {"sender": EVE, "round": "r2", "to": to, "body": NAMES_COWORKER}
                payload["idempotency_key"] = f"k{n}"
                async with http.post("/replies", json=payload, headers=headers) as r:
                    answers.append((r.status, await r.json()))
    finally:
        proc.terminate()
        assert proc.wait(30) == 0
    assert answers[0][0] == 201  # round r2 alone allows names
    assert answers[1] == (
        422,
        {"error": "content_rule", "rule": "coworker_name", "collection": "hhs-leadership"},
    )


@pytest.mark.integration
async def test_serve_mailbox_with_scenario_applies_its_rules(tmp_path: Path) -> None:
    proc, port = start(tmp_path, "mailbox")
    try:
        smtp = await SmtpClient.connect("127.0.0.1", port)
        await smtp.send(b"EHLO t\r\n")
        secret = load_or_create_secret(tmp_path / "secret")  # the server's AUTH secret
        assert (await smtp.auth("HHS", secret)).startswith("235")
        body = NAMES_COWORKER.replace("\n", "\r\n").encode()
        head = b"X-Pulsecheck-Round: r2\r\nMessage-ID: <1@t>\r\n"
        answers = await smtp.mail(EVE, ["leadership@hhs.example"], body, head)
        internal = await smtp.mail(EVE, ["accountability@hq.dhs.example"], body, head)
        await smtp.close()
    finally:
        proc.terminate()
        assert proc.wait(30) == 0
    assert answers[-1].startswith("550 5.7.1 content rule broken: coworker_name")
    assert "hhs-leadership" in answers[-1]
    assert internal[1].startswith("550 5.7.1 collection is internal to DHS")  # from the scenario


def test_run_passes_collection_rules(tmp_path: Path) -> None:
    from simulator.app.mass_reply import MassReplyPlan, server_spec
    from simulator.scenario import load_scenario

    plan = MassReplyPlan(load_scenario(WEEKLY), 0.001, 1000.0, tmp_path, "smtp", None, 1)
    spec = server_spec(plan, b"0123456789abcdef0123456789abcdef")
    assert {c.id: c.rules for c in spec.collections}["hhs-leadership"] == HHS_RULES
