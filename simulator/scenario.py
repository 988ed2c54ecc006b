"""Scenario files: one TOML file per situation, checked once when loaded.

Theory of operation: `load_scenario` reads a TOML file and turns each table into a frozen
dataclass through `validation.Fields`, which rejects unknown keys, wrong types and values
out of range with the file, the field path and what is allowed. Cross-field rules
(deadline after send time, known agency codes, routes to declared collections) are
checked after the tables are read. Everything downstream trusts these types.

A file whose `[scenario] kind` is "reply-all" describes a storm on an open distribution
list instead; `simulator.app.scenarios.load_any` sends it to `simulator.replyall.params`.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path
from typing import Any

from simulator.collections import Collection
from simulator.parameters import (
    exclusion_categories,
    read_behaviour,
    read_cost,
    read_data_file,
    series_specs,
)
from simulator.rules import ContentRules
from simulator.validation import Fields, InputError, Range, is_plain_address, load_toml

ALL_AGENCIES = "*"  # a directive for every agency; a more specific one wins
ACTIONS = ("comply", "required", "encouraged", "voluntary", "pause", "decline", "on_behalf")
CADENCES = ("once", "weekly")
COLLECTION_KINDS = ("central", "agency", "consolidation", "leadership")
TARGET_KINDS = ("embedded", "http", "smtp")
EMBEDDED_PROTOCOLS = ("smtp", "http")
TEMPLATE_TABLES = ("request", "response", "auth")  # of [target], for kind = "http"
SMTP_TLS = ("none", "starttls", "implicit")
RESERVED_SUFFIXES = (".example", ".test")
MAX_SCALE = 10.0  # workforce scale: up to 10x the federal workforce (23M), built in copies
SERIES_DETAIL = 3  # outputs show more rounds than this one line each, not a table each
MAX_RECIPIENTS_PER_MESSAGE = 500  # Exchange Online limits (2025): 500 recipients per message

THRESHOLD_METRICS = (
    "p50_ms",
    "p90_ms",
    "p99_ms",
    "p999_ms",
    "max_ms",
    "p99_uncorrected_ms",
    "lost",
    "duplicates",
    "late",
    "dropped",
    "error_rate",
    "reject_rate",
    "late_rate",
    "throughput_eps",
    "acked",
)
THRESHOLD_OPS = ("<", "<=", ">", ">=", "==", "!=")
_THRESHOLD = re.compile(r"^\s*(<=|>=|==|!=|<|>)\s*(-?\d+(?:\.\d+)?(?:e-?\d+)?)\s*$")


@cache
def agency_codes() -> frozenset[str]:
    """Department and sub-agency codes that directives and routes may name."""
    return frozenset(row["code"] for row in read_data_file("agencies.csv"))


@dataclass(frozen=True)
class WorkforceSpec:
    scale: float = 0.01
    seed: int = 20250222
    tables: str = "builtin"  # "builtin" or a directory of calibration CSVs


@dataclass(frozen=True)
class Directive:
    """What an agency told its staff, from time `at` (None: from the send time)."""

    agency: str
    action: str
    at: dt.datetime | None = None
    within_hours: float | None = None  # reply within N hours of receipt (DoD: 48)
    form_letter: bool = False  # NOAA: send a form letter with generic accomplishments
    note: str = ""


@dataclass(frozen=True)
class Extension:
    """ "Another chance": from `at`, those who have not replied may still do so, until a new
    `deadline`, or with none until `horizon` under a propensity that decays after the
    round's own deadline (`extension.*` in behaviour.csv)."""

    at: dt.datetime
    deadline: dt.datetime | None
    horizon: dt.datetime  # the new deadline, or the end of the open-ended tail
    note: str = ""


@dataclass(frozen=True)
class Exclusion:
    """Staff an agency excluded from replying: a category, a share of the agency's staff
    (None: the default from exclusions.csv; "on_leave" is the workforce's away flag) and
    the reason the agency gives OPM."""

    agency: str
    category: str
    share: float | None = None
    reason: str = ""


@dataclass(frozen=True)
class Round:
    id: str
    subject: str
    sender: str
    send_time: dt.datetime
    send_window_minutes: float
    deadline: dt.datetime
    cadence: str
    rounds_per_year: int
    recipients_per_message: int
    collection: str
    routing: dict[str, str]
    cc_manager: bool
    default_action: str
    directives: tuple[Directive, ...]
    rules: ContentRules
    extension: Extension | None = None
    exclusions: tuple[Exclusion, ...] = ()
    # a round of a weekly series ([rounds.series]): its share of the first round's
    # propensity, its boilerplate share, the series it belongs to and the series' end
    compliance: float = 1.0
    boilerplate: float = 0.0
    series: str = ""
    ends: dt.datetime | None = None

    @property
    def window_hours(self) -> float:
        return (self.deadline - self.send_time).total_seconds() / 3600.0

    @property
    def end(self) -> dt.datetime:
        """When the last reply can go out: the deadline, or an extension's end."""
        return self.deadline if self.extension is None else self.extension.horizon


@dataclass(frozen=True)
class TargetTls:
    """[target.tls]: how to verify an https target (and be verified by it). Paths are
    resolved against the scenario file's folder and must exist."""

    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    server_name: str | None = None


@dataclass(frozen=True)
class SmtpAuthSpec:
    """`[target.smtp_auth]`: the submission account(s) of an smtp target (paths are
    relative to the scenario file; the passwords stay in their files or variables)."""

    user: str | None = None
    password_file: Path | None = None
    password_env: str | None = None
    credentials: Path | None = None  # CSV or TOML: sender -> user, password


@dataclass(frozen=True)
class TargetSpec:
    kind: str = "embedded"
    url: str | None = None
    protocol: str = "smtp"  # for "embedded": which reference system receives replies
    tls: TargetTls = field(default_factory=TargetTls)
    # [target.request], [target.response], [target.auth] of an external HTTP endpoint:
    # kept as tables here, compiled by `simulator.traffic.request` (checked on load by
    # `simulator.app.scenarios.load_any`)
    template: dict[str, Any] | None = None
    smtp_tls: str = "none"  # for kind = "smtp": "none", "starttls" or "implicit"
    smtp_auth: SmtpAuthSpec | None = None
    # a mailbox of the target's to read back over IMAP after the replay (paths relative
    # to the scenario file; the password stays in its file or variable)
    verify: str | None = None  # imap(s)://USER@HOST:PORT/MAILBOX
    verify_password_file: Path | None = None
    verify_password_env: str | None = None
    verify_address: str | None = None  # the address the mailbox receives (default USER)
    verify_ca_file: Path | None = None  # CA to trust for its TLS


@dataclass(frozen=True)
class ReplaySpec:
    speedup: float = 600.0
    max_events: int = 5_000_000
    max_duration_s: float = 1200.0
    concurrency: int = 256
    retries: int = 3
    workers: int = 1


@dataclass(frozen=True)
class Threshold:
    metric: str
    op: str
    value: float

    def __str__(self) -> str:
        return f"{self.metric} {self.op} {self.value:g}"


@dataclass(frozen=True)
class Scenario:
    path: str
    name: str
    description: str
    workforce: WorkforceSpec
    rounds: tuple[Round, ...]
    collections: tuple[Collection, ...]
    target: TargetSpec
    replay: ReplaySpec
    behaviour: dict[str, float]
    thresholds: tuple[Threshold, ...]
    cost: dict[str, Range] = field(default_factory=dict)

    def collection(self, collection_id: str) -> Collection:
        return next(c for c in self.collections if c.id == collection_id)


def read_toml(path: str | Path) -> dict[str, Any]:
    """Parse a TOML file; any unreadable file (missing, a directory, not UTF-8, bad syntax,
    nested too deeply, nan or inf) is an InputError naming it (`validation.load_toml`)."""
    return load_toml(path)


def load_scenario(path: str | Path) -> Scenario:
    """Load and check a mass-reply scenario file."""
    return parse_scenario(read_toml(path), str(path))


def parse_scenario(doc: dict[str, Any], source: str) -> Scenario:
    top = Fields(doc, source)
    meta = top.table("scenario", required=True)
    name = meta.line("name")
    description = meta.str("description", "")
    meta.str("kind", "mass-reply", choices=("mass-reply", "reply-all"))
    meta.done()
    collection_tables = top.tables("collections", required=True)
    collections = tuple(_collection(f) for f in collection_tables)
    _unique(collection_tables, [c.id for c in collections], "id")
    _unique(collection_tables, [c.address.lower() for c in collections], "address", "address")
    round_tables = top.tables("rounds", required=True)
    pairs = [(f, r) for f in round_tables for r in _rounds(f)]
    rounds = tuple(r for _, r in pairs)
    _unique([f for f, _ in pairs], [r.id for r in rounds], "id")
    scenario = Scenario(
        path=source,
        name=name,
        description=description,
        workforce=_workforce(top.table("workforce")),
        rounds=rounds,
        collections=collections,
        target=_target(top.table("target"), Path(source).parent),
        replay=_replay(top.table("replay")),
        behaviour=read_behaviour(top.table("behaviour")),
        thresholds=parse_thresholds(top.table("thresholds")),
        cost=read_cost(top.table("cost")),
    )
    top.done()
    _check_references(scenario, top)
    return scenario


def _workforce(f: Fields) -> WorkforceSpec:
    spec = WorkforceSpec(
        scale=f.float("scale", WorkforceSpec.scale, lo=0.0, hi=MAX_SCALE, lo_open=True),
        seed=f.int("seed", WorkforceSpec.seed, lo=0, hi=2**63 - 1),
        tables=f.str("tables", WorkforceSpec.tables),
    )
    f.done()
    return spec


def _rounds(f: Fields) -> tuple[Round, ...]:
    """One `[[rounds]]` table: one round, or the weekly series it opens."""
    if not f.has("series"):
        return (_round(f),)
    tz = f.timezone("timezone", "America/New_York")
    series = f.table("series")
    spec = _series(series, tz, f.datetime("send_time", tz))
    if f.has("rounds_per_year"):
        raise f.fail("rounds_per_year", f.peek("rounds_per_year"), "the series sets its rounds")
    if f.peek("cadence") != "weekly":
        raise f.fail("cadence", f.peek("cadence"), "must be 'weekly' for a series")
    if f.has("extension"):
        raise f.fail("extension", f.peek("extension"), "is for a single round, not a series")
    return expand_series(_round(f, spec.until), spec)


def _round(f: Fields, until: dt.datetime | None = None) -> Round:
    tz = f.timezone("timezone", "America/New_York")
    send_time = f.datetime("send_time", tz)
    deadline = f.datetime("deadline", tz)
    if deadline <= send_time:
        raise f.fail("deadline", deadline.isoformat(), f"must be after send_time {send_time}")
    cadence = f.str("cadence", "once", choices=CADENCES)
    rounds_per_year = f.int("rounds_per_year", 1 if cadence == "once" else 24, lo=1, hi=53)
    if cadence == "once" and rounds_per_year != 1:
        raise f.fail("rounds_per_year", rounds_per_year, "must be 1 when cadence = 'once'")
    routing = f.mapping("routing")
    for agency, target in routing.items():
        if not isinstance(target, str):
            raise f.fail(f"routing.{agency}", target, "must be a collection id (string)")
    rnd = Round(
        id=f.ident("id"),
        subject=f.line("subject", "What did you do last week?"),
        sender=_address(f, "sender", "hr@opm.example"),
        send_time=send_time,
        send_window_minutes=f.float("send_window_minutes", 18.0, lo=0.0, hi=7 * 24 * 60),
        deadline=deadline,
        cadence=cadence,
        rounds_per_year=rounds_per_year,
        recipients_per_message=f.int(
            "recipients_per_message", MAX_RECIPIENTS_PER_MESSAGE, 1, MAX_RECIPIENTS_PER_MESSAGE
        ),
        collection=f.ident("collection"),
        routing=dict(routing),
        cc_manager=f.bool("cc_manager", True),
        default_action=f.str("default_action", "comply", choices=ACTIONS),
        directives=tuple(
            _directive(d, tz, send_time, until or deadline) for d in f.tables("directives")
        ),
        rules=_rules(f.table("rules")),
        extension=_extension(f.table("extension"), tz, send_time, deadline)
        if f.has("extension")
        else None,
        exclusions=tuple(_exclusion(e) for e in f.tables("exclusions")),
    )
    f.done()
    return rnd


def _extension(f: Fields, tz: dt.tzinfo, start: dt.datetime, deadline: dt.datetime) -> Extension:
    at = f.datetime("at", tz)
    new = f.datetime("deadline", tz, None)
    horizon = f.datetime("horizon", tz, None)
    if new is not None and new <= deadline:
        raise f.fail("deadline", new.isoformat(), f"must be after the round's deadline {deadline}")
    if new is not None and horizon is not None:
        raise f.fail("horizon", horizon.isoformat(), "give a new deadline or a horizon, not both")
    if new is None and horizon is None:
        raise f.fail("horizon", None, "is required when the extension sets no new deadline")
    end = new if new is not None else horizon
    if end <= deadline:
        raise f.fail("horizon", end.isoformat(), f"must be after the round's deadline {deadline}")
    if not start <= at <= deadline:
        raise f.fail("at", at.isoformat(), f"must be within the round ({start}..{deadline})")
    ext = Extension(at=at, deadline=new, horizon=end, note=f.str("note", ""))
    f.done()
    return ext


def _exclusion(f: Fields) -> Exclusion:
    exclusion = Exclusion(
        agency=_agency(f, "agency", wildcard=True),
        category=f.str("category", choices=tuple(exclusion_categories())),
        share=f.share("share", None),
        reason=f.line("reason", ""),
    )
    if exclusion.category == "on_leave" and exclusion.share is not None:
        raise f.fail("share", exclusion.share, "on_leave counts the workforce's away staff")
    f.done()
    return exclusion


def _directive(f: Fields, tz: dt.tzinfo, start: dt.datetime, end: dt.datetime) -> Directive:
    directive = Directive(
        agency=_agency(f, "agency", wildcard=True),
        action=f.str("action", choices=ACTIONS),
        at=f.datetime("at", tz, None),
        within_hours=f.float("within_hours", None, lo=0.0, hi=24 * 365, lo_open=True),
        form_letter=f.bool("form_letter", False),
        note=f.str("note", ""),
    )
    if directive.at is not None and not start <= directive.at <= end:
        raise f.fail("at", directive.at.isoformat(), f"must be within the round ({start}..{end})")
    f.done()
    return directive


# -- a weekly series: one [[rounds]] table with [rounds.series] -------------------------
@dataclass(frozen=True)
class SeriesSpec:
    """`[rounds.series]`: repeat the round every `every_days` until `until` (the program's
    end), each round's propensity `compliance_decay` times the previous one's, and the
    boilerplate share growing by `boilerplate_growth` a round up to `boilerplate_max`.
    Defaults and ranges: `simulator/data/series.csv`."""

    until: dt.datetime
    every_days: int = 7
    compliance_decay: float = 0.93
    boilerplate_first: float = 0.05
    boilerplate_growth: float = 0.03
    boilerplate_max: float = 0.7

    def compliance(self, k: int) -> float:
        return float(self.compliance_decay**k)

    def boilerplate(self, k: int) -> float:
        return min(self.boilerplate_max, self.boilerplate_first + self.boilerplate_growth * k)


SERIES_PARAMETERS = (
    "compliance_decay",
    "boilerplate_first",
    "boilerplate_growth",
    "boilerplate_max",
)


def _series(f: Fields, tz: dt.tzinfo, send_time: dt.datetime) -> SeriesSpec:
    specs = series_specs()
    until = f.datetime("until", tz)
    if until <= send_time:
        raise f.fail("until", until.isoformat(), f"must be after send_time {send_time}")
    values = {
        name: f.float(name, specs[name].default.likely, lo=specs[name].min, hi=specs[name].max)
        for name in SERIES_PARAMETERS
    }
    spec = SeriesSpec(until=until, every_days=f.int("every_days", 7, lo=1, hi=366), **values)
    f.done()
    return spec


def _nth_id(first: str, k: int) -> str:
    """r2, r3, ... for a first id ending in a number; id, id-2, id-3 ... otherwise."""
    m = re.match(r"^(.*?)(\d+)$", first)
    if m:
        return f"{m.group(1)}{int(m.group(2)) + k}"
    return first if k == 0 else f"{first}-{k + 1}"


def expand_series(first: Round, spec: SeriesSpec) -> tuple[Round, ...]:
    """The rounds of a series, each sent `every_days` after the previous one (local wall
    clock: a 23:59 ET deadline stays 23:59 across daylight saving), sent before `until`,
    with deadlines cut at `until`. Undated directives hold in every round; a dated one
    takes effect in its round at its date and holds from the send time of every later
    round, after the undated ones (it came later)."""
    rounds = []
    tz = first.send_time.tzinfo
    for k in range(10_000):
        shift = dt.timedelta(days=spec.every_days * k)
        send = (first.send_time.replace(tzinfo=None) + shift).replace(tzinfo=tz)
        if send >= spec.until:
            break
        deadline = min((first.deadline.replace(tzinfo=None) + shift).replace(tzinfo=tz), spec.until)
        undated = [d for d in first.directives if d.at is None]
        carried = sorted(
            (d for d in first.directives if d.at is not None and d.at < send),
            key=lambda d: d.at or send,
        )
        dated = [d for d in first.directives if d.at is not None and send <= d.at <= deadline]
        rounds.append(
            replace(
                first,
                id=_nth_id(first.id, k),
                send_time=send,
                deadline=deadline,
                cadence="once",
                rounds_per_year=1,
                directives=(*undated, *(replace(d, at=None) for d in carried), *dated),
                compliance=spec.compliance(k),
                boilerplate=spec.boilerplate(k),
                series=first.id,
                ends=spec.until,
            )
        )
    return tuple(rounds)


def _rules(f: Fields) -> ContentRules:
    d = ContentRules()
    rules = ContentRules(
        no_links=f.bool("no_links", d.no_links),
        no_attachments=f.bool("no_attachments", d.no_attachments),
        no_classification=f.bool("no_classification", d.no_classification),
        no_coworker_names=f.bool("no_coworker_names", d.no_coworker_names),
        no_drug_or_contract_names=f.bool("no_drug_or_contract_names", d.no_drug_or_contract_names),
        allow_sensitive_statement=f.bool("allow_sensitive_statement", d.allow_sensitive_statement),
    )
    f.done()
    return rules


def _collection(f: Fields) -> Collection:
    collection = Collection(
        id=f.ident("id"),
        address=_address(f, "address"),
        kind=f.str("kind", "central", choices=COLLECTION_KINDS),
        internal_to=_agency(f, "internal_to", None),
        rules=_rules(f.table("rules")) if f.has("rules") else None,
    )
    f.done()
    return collection


def _target(f: Fields, folder: Path) -> TargetSpec:
    kind = f.str("kind", "embedded", choices=TARGET_KINDS)
    url = f.str("url", None)
    if kind != "embedded" and url is None:
        raise f.fail("url", None, f"is required when kind = '{kind}'")
    if url is not None and not url.startswith((f"{kind}://", f"{kind}s://")):
        raise f.fail("url", url, f"must start with {kind}:// or {kind}s:// when kind = '{kind}'")
    tls = _tls(f.table("tls"), folder) if f.has("tls") else TargetTls()
    if f.has("tls") and (url is None or url.startswith("http://")):
        raise f.fail("tls", f.peek("tls"), "needs an https:// url (the target's own endpoint)")
    tables = {key: f.mapping(key) for key in TEMPLATE_TABLES if f.has(key)}
    if tables and kind != "http":
        key = next(iter(tables))
        raise f.fail(key, tables[key], "applies only to an external target with kind = 'http'")
    smtp_tls = f.str("smtp_tls", "none", choices=SMTP_TLS)
    auth = _smtp_auth(f.table("smtp_auth")) if f.has("smtp_auth") else None
    if kind != "smtp" and (smtp_tls != "none" or auth is not None):
        key = "smtp_tls" if smtp_tls != "none" else "smtp_auth"
        raise f.fail(key, f.peek(key), "is for kind = 'smtp' (your own SMTP server)")
    if url is not None and url.startswith("smtps://") and smtp_tls == "starttls":
        raise f.fail("smtp_tls", smtp_tls, "smtps:// is TLS from the first byte")
    verify = f.line("verify", None)
    if verify is not None and kind == "embedded":
        raise f.fail(
            "verify", verify, "reads back your own system: the embedded one is read directly"
        )
    if verify is not None and not verify.startswith(("imap://", "imaps://")):
        raise f.fail("verify", verify, "must be imap://USER@HOST:PORT/MAILBOX or imaps://...")

    def path(key: str) -> Path | None:
        value = f.line(key, None)
        return None if value is None else folder / value

    target = TargetSpec(
        kind=kind,
        url=url,
        protocol=f.str("protocol", "smtp", EMBEDDED_PROTOCOLS),
        tls=tls,
        template=tables or None,
        smtp_tls=smtp_tls,
        smtp_auth=auth,
        verify=verify,
        verify_password_file=path("verify_password_file"),
        verify_password_env=f.ident("verify_password_env", None),
        verify_address=f.line("verify_address", None),
        verify_ca_file=path("verify_ca_file"),
    )
    f.done()
    return target


def _tls(f: Fields, folder: Path) -> TargetTls:
    def file(key: str) -> Path | None:
        name: str | None = f.str(key, None)
        if name is None:
            return None
        path = folder / name
        if not path.is_file():
            raise f.fail(key, name, f"file not found ({path})")
        return path

    tls = TargetTls(
        ca_file=file("ca_file"),
        cert_file=file("cert_file"),
        key_file=file("key_file"),
        server_name=f.line("server_name", None),
    )
    if tls.key_file is not None and tls.cert_file is None:
        raise f.fail("key_file", str(tls.key_file), "needs cert_file as well")
    f.done()
    return tls


def _smtp_auth(f: Fields) -> SmtpAuthSpec:
    here = Path(f.source).parent

    def path(key: str) -> Path | None:
        value = f.line(key, None)
        return None if value is None else here / value

    spec = SmtpAuthSpec(
        user=f.line("user", None),
        password_file=path("password_file"),
        password_env=f.ident("password_env", None),
        credentials=path("credentials"),
    )
    f.done()
    if spec.user is None and spec.credentials is None:
        raise f.fail("user", None, "is required unless credentials names a file")
    if spec.user is not None and (spec.password_file is None) == (spec.password_env is None):
        raise f.fail("password_file", None, "give one of password_file and password_env")
    return spec


def _replay(f: Fields) -> ReplaySpec:
    d = ReplaySpec()
    spec = ReplaySpec(
        speedup=f.float("speedup", d.speedup, lo=0.0, hi=1e7, lo_open=True),
        max_events=f.int("max_events", d.max_events, lo=1, hi=100_000_000),
        max_duration_s=f.float("max_duration_s", d.max_duration_s, lo=0.0, hi=86_400, lo_open=True),
        concurrency=f.int("concurrency", d.concurrency, lo=1, hi=100_000),
        retries=f.int("retries", d.retries, lo=0, hi=20),
        workers=f.int("workers", d.workers, lo=1, hi=64),
    )
    f.done()
    return spec


def parse_thresholds(f: Fields) -> tuple[Threshold, ...]:
    """A `[thresholds]` table: metric = "<op> <number>", each metric from THRESHOLD_METRICS."""
    checks = []
    for metric in f.keys():
        expr = f.str(metric) if metric in THRESHOLD_METRICS else None
        if expr is None:
            raise f.fail(
                metric, f.peek(metric), f"unknown metric; known: {', '.join(THRESHOLD_METRICS)}"
            )
        match = _THRESHOLD.match(expr)
        if not match:
            raise f.fail(
                metric, expr, f"must be '<op> <number>' with op one of {' '.join(THRESHOLD_OPS)}"
            )
        value = float(match.group(2))
        if not math.isfinite(value):
            raise f.fail(metric, expr, "the number must be finite")
        checks.append(Threshold(metric, match.group(1), value))
    f.done()
    return tuple(checks)


def _address(f: Fields, key: str, default: Any = ...) -> str:
    value: str = f.str(key) if default is ... else f.str(key, default)
    local, _, domain = value.partition("@")
    if not local or not domain.endswith(RESERVED_SUFFIXES):
        raise f.fail(key, value, "must be an address on a reserved domain (.example or .test)")
    if not is_plain_address(value):
        raise f.fail(
            key, value, "must be one plain address: no spaces, control characters, <, >, 2nd @"
        )
    return value


def _unique(tables: list[Fields], values: list[str], key: str, what: str = "id") -> None:
    """Each value once; a repeat names the table that repeats it and the first one."""
    first: dict[str, int] = {}
    for i, value in enumerate(values):
        if value in first:
            f = tables[i]
            raise f.fail(
                key, f.peek(key), f"duplicate {what}: {tables[first[value]].where(key)} has it"
            )
        first[value] = i


def _agency(f: Fields, key: str, default: Any = ..., wildcard: bool = False) -> Any:
    value = f.ident(key) if default is ... else f.ident(key, default)
    if wildcard and value == ALL_AGENCIES:
        return value
    if value is not None and value not in agency_codes():
        raise f.fail(key, value, f"unknown agency code; known: {', '.join(sorted(agency_codes()))}")
    return value


def _check_references(scenario: Scenario, top: Fields) -> None:
    ids = [c.id for c in scenario.collections]
    for i, rnd in enumerate(scenario.rounds):
        where = f"rounds[{i}]"
        for agency in rnd.routing:
            if not agency or not agency.isprintable():
                raise InputError(
                    top.source, f"{where}.routing", agency, "agency codes must be printable"
                )
        if rnd.collection not in ids:
            raise InputError(
                top.source,
                f"{where}.collection",
                rnd.collection,
                f"must be one of: {', '.join(ids)}",
            )
        for agency, target in rnd.routing.items():
            if agency not in agency_codes():
                raise InputError(
                    top.source, f"{where}.routing.{agency}", agency, "unknown agency code"
                )
            if target not in ids:
                raise InputError(
                    top.source,
                    f"{where}.routing.{agency}",
                    target,
                    f"must be one of: {', '.join(ids)}",
                )
