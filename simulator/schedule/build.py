"""Build the events of a round: the broadcast and the reply storm it sets off.

Theory of operation (pure: scenario, workforce table and seed in, SCHEDULE table out):

1. The broadcast goes out in transactions of `recipients_per_message` contiguous
   employee ids, spread evenly over the round's send window; a person receives it at
   their transaction's time.
2. Each person's directive table row (`behaviour.directives`) gives their reply-within
   bound at receipt, hence their own deadline; `behaviour.timing` turns an intrinsic
   delay into the minute their reply would go out, or none if it misses that deadline.
3. `behaviour.who` decides, from the directive in force at that minute, who replies;
   away staff may send one out-of-office reply; stale addresses bounce; staff their
   agency excluded (`behaviour.exclusions`) do not reply.
   An extension ("another chance") reaches those whose reply missed the deadline at its
   `at` as a fresh prompt: a new delay from the same mixture, gated by the same hours,
   pulled to the new deadline (none when it sets none), and a reply after the round's own
   deadline goes out at `extension.propensity_factor` of the propensity, decaying with
   `extension.decay_h` when there is no new deadline.
4. Replies go to the routed collection with the manager in cc; content kind and
   violations are drawn; events are sorted by intended time and numbered, and sizes are
   computed from the bodies `simulator.behaviour.writing` would render for those event ids.

Every random stream is spawned from (seed, round id), so rounds are independent and a
seed reproduces a schedule exactly.

A workforce above scale 1 is several copies of the calibrated layout (see
`simulator.workforce.generate`), each a contiguous id range whose managers lie inside it.
`build_part` builds one copy's events (`Part`: the copy's number, first id and the whole
workforce's size) from that copy's rows alone, with streams spawned from (seed, round
id, copy). Round-level quantities stay those of the whole organisation: the broadcast's
transactions are numbered over the whole list, so a person's receipt time is that of
their transaction in the whole send window; the one reply per department that
leadership sends on behalf of its workforce comes from the first copy only. A part is
sorted by intended time and keeps, instead of sizes, the per-event inputs sizes are
computed from (`SizeInputs`), because the body a size describes depends on the event
id, which is the event's position in the whole schedule: `number_slice` merges slices
of the parts that cover one stretch of intended time into numbered, sized SCHEDULE rows.
A "coworker_name" reply without a manager in cc names the next row of its own copy.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow as pa

from simulator.behaviour import directives, exclusions, series, timing, violations, who
from simulator.behaviour import writing as body
from simulator.behaviour.params import ContentShares, Shares, Timing, defaults
from simulator.columns import CONTENTS, KINDS, NO_ID, SCHEDULE, VIOLATIONS
from simulator.parameters import series_specs
from simulator.rules import ContentRules
from simulator.scenario import Extension, Round, Scenario
from simulator.schedule.people import People, people_from_table

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
BOOL = npt.NDArray[np.bool_]

# later streams are appended: a stream's draws do not depend on the streams after it
STREAMS = (
    "delay",
    "reply",
    "auto",
    "bounce",
    "violation",
    "machine",
    "exclude",
    "extension",
    "series",
)
MACHINE_SIGMA = 1.0  # log-spread of out-of-office and hard-bounce delays (assumption)
BROADCAST_BODY_BYTES = 330  # the OPM email of 22 Feb 2025, in UTF-8
US = 1_000_000


@dataclass(frozen=True)
class Events:
    """Unsorted events of one or more rounds, before numbering and sizing."""

    t_us: I64
    round: I64  # index into the round id list
    kind: I64  # index into KINDS
    sender: I64
    rcpt_first: I64
    rcpt_count: I64
    collection: I64  # index into the collection list ("" first)
    cc: I64
    agency: I64  # department code of the person concerned
    content: I64  # index into CONTENTS
    violation: I64  # index into VIOLATIONS

    @staticmethod
    def concat(parts: Sequence[Events]) -> Events:
        fields = Events.__dataclass_fields__
        return Events(**{f: np.concatenate([getattr(p, f) for p in parts]) for f in fields})

    def take(self, order: I64) -> Events:
        return Events(**{f: getattr(self, f)[order] for f in Events.__dataclass_fields__})


@dataclass(frozen=True)
class Part:
    """One copy of a workforce of several: its number, its first id, and the rows of the
    whole workforce (for the broadcast, which goes to the whole list)."""

    copy: int
    first_id: int
    total_people: int


def _streams(seed: int, round_id: str, copy: int | None = None) -> dict[str, np.random.Generator]:
    entropy = [seed, zlib.crc32(round_id.encode())] + ([] if copy is None else [copy])
    seq = np.random.SeedSequence(entropy)
    return {
        n: np.random.default_rng(s) for n, s in zip(STREAMS, seq.spawn(len(STREAMS)), strict=True)
    }


def _filled(n: int, value: int) -> I64:
    return np.full(n, value, dtype=np.int64)


# -- the broadcast ---------------------------------------------------------------------
def broadcast_times_s(
    n_people: int, rnd: Round, start: int = 0, stop: int | None = None
) -> tuple[I64, F64]:
    """First id and send time (s after send_time) of each transaction of a list of
    `n_people` (only those whose first id is in [start, stop), default all)."""
    per = rnd.recipients_per_message
    total = -(-n_people // per)
    lo = -(-start // per)
    hi = total if stop is None else -(-min(stop, n_people) // per)
    number = np.arange(lo, hi, dtype=np.int64)
    t = rnd.send_window_minutes * 60.0 * number / max(total, 1)
    return number * per, t


def _broadcast(
    people: People, rnd: Round, r: int, origin_us: int, part: Part | None = None
) -> tuple[Events, F64]:
    n = len(people)
    start, total = (0, n) if part is None else (part.first_id, part.total_people)
    first, t_s = broadcast_times_s(total, rnd, start, start + n)
    count = np.minimum(rnd.recipients_per_message, total - first)
    per = rnd.recipients_per_message
    whole = -(-total // per)
    mine = np.arange(start, start + n, dtype=np.int64) // per
    receipt_s = rnd.send_window_minutes * 60.0 * mine / max(whole, 1)
    k = len(first)
    events = Events(
        t_us=origin_us + np.round(t_s * US).astype(np.int64),
        round=_filled(k, r),
        kind=_filled(k, KINDS.index("broadcast")),
        sender=_filled(k, NO_ID),
        rcpt_first=first,
        rcpt_count=count.astype(np.int64),
        collection=_filled(k, 0),
        cc=_filled(k, NO_ID),
        agency=people.department.codes[first - start] if n else _filled(0, 0),
        content=_filled(k, CONTENTS.index("broadcast")),
        violation=_filled(k, 0),
    )
    return events, receipt_s


# -- units: directives, routing and rules per sub-agency ----------------------------------
@dataclass(frozen=True)
class UnitTables:
    table: directives.DirectiveTable
    collection: I64  # per unit: index into the collection list
    forbid: BOOL  # per unit: [unit, len(VIOLATIONS)]
    allow_sensitive: BOOL  # per unit
    excluded: exclusions.ExclusionTable


def _units(people: People) -> list[directives.Unit]:
    dept_of_sub = np.zeros(len(people.subagency.names), dtype=np.int64)
    dept_of_sub[people.subagency.codes] = people.department.codes
    return [
        directives.Unit(people.department.names[int(d)], sub)
        for sub, d in zip(people.subagency.names, dept_of_sub, strict=True)
    ]


def _unit_tables(
    scenario: Scenario, rnd: Round, people: People, collections: list[str]
) -> UnitTables:
    units = _units(people)
    table = directives.build_table(rnd.directives, rnd.default_action, units, rnd.send_time)
    routed = [
        rnd.routing.get(u.subagency, rnd.routing.get(u.department, rnd.collection)) for u in units
    ]
    rules: list[ContentRules] = [scenario.collection(c).rules or rnd.rules for c in routed]
    return UnitTables(
        table=table,
        collection=np.array([collections.index(c) for c in routed], dtype=np.int64),
        forbid=np.array([violations.forbidden(r) for r in rules]).reshape(
            len(units), len(VIOLATIONS)
        ),
        allow_sensitive=np.array([r.allow_sensitive_statement for r in rules], dtype=np.bool_),
        excluded=exclusions.build_table(rnd.exclusions, units),
    )


def excluded_staff(people: People, units: UnitTables, rng: np.random.Generator) -> I64:
    """Each person's exclusion category (`exclusions.categories()`) or NOT_EXCLUDED."""
    u = rng.random(len(people))
    unit = people.subagency.codes
    return exclusions.draw(u, unit, people.away, people.stale, units.excluded)


# -- replies ---------------------------------------------------------------------------
@dataclass(frozen=True)
class Plan:
    """Who replies, when (s after send_time), and the directive interval then."""

    ids: I64
    t_s: F64
    interval: I64
    category: I64  # per person: exclusion category (`exclusions.categories()`) or NOT_EXCLUDED


def _plan_replies(
    people: People,
    rnd: Round,
    units: UnitTables,
    receipt_s: F64,
    behaviour: dict[str, float],
    rng: dict[str, np.random.Generator],
) -> Plan:
    tm, shares = Timing.from_behaviour(behaviour), Shares.from_behaviour(behaviour)
    unit = people.subagency.codes
    category = excluded_staff(people, units, rng["exclude"])
    excluded = category != exclusions.NOT_EXCLUDED
    ids = np.flatnonzero(who.present(people.away, people.stale) & ~excluded)
    # a pause a later order lifts starts the clock then (`behaviour.series`)
    start_s, within_h = series.reply_start(units.table, unit[ids], receipt_s[ids])
    window_min = rnd.window_hours * 60.0
    end_min = (rnd.end - rnd.send_time).total_seconds() / 60.0
    deadline_min = np.minimum(window_min, start_s / 60.0 + within_h * 60.0)
    grid = timing.Grid.build(rnd.send_time, int(np.ceil(end_min)) + 1, people.tz.names, tm)
    delay = timing.sample_delays(rng["delay"], len(ids), tm)
    readers = timing.off_hours_readers(rng["delay"], len(ids), tm)
    row = timing.profile(people.tz.codes[ids], readers)
    receipt_min = start_s / 60.0
    t_min = timing.reply_minutes(grid, row, receipt_min, deadline_min, delay, tm)
    u = rng["reply"].random(len(ids)) / rnd.compliance  # a series round: decayed propensity
    factor = None
    if rnd.extension is not None:
        t_min = _second_chance(grid, rnd, rnd.extension, row, receipt_min, t_min, tm, rng)
        factor = _after_deadline_factor(t_min, window_min, rnd.extension, behaviour)
    in_time = ~np.isnan(t_min)
    t_s = np.where(in_time, t_min * 60.0, 0.0)
    interval = units.table.interval(t_s)
    action = units.table.action[unit[ids], interval]
    chosen = who.replies(u, action, people.contractor[ids], in_time, shares, factor)
    return Plan(ids[chosen], t_s[chosen], interval[chosen], category)


def _second_chance(
    grid: timing.Grid,
    rnd: Round,
    ext: Extension,
    row: I64,
    receipt_min: F64,
    t_min: F64,
    tm: Timing,
    rng: dict[str, np.random.Generator],
) -> F64:
    """Reply minutes with the extension: those who missed the deadline get a fresh delay
    from the extension's `at` (or their receipt, if later) to its end."""
    missed = np.flatnonzero(np.isnan(t_min))
    at_min = (ext.at - rnd.send_time).total_seconds() / 60.0
    end_min = (ext.horizon - rnd.send_time).total_seconds() / 60.0
    pulled = tm if ext.deadline is not None else dataclasses.replace(tm, deadline_pull=0.0)
    delay = timing.sample_delays(rng["extension"], len(missed), tm)
    start = np.maximum(receipt_min[missed], at_min)
    again = timing.reply_minutes(
        grid, row[missed], start, np.full(len(missed), end_min), delay, pulled
    )
    out = t_min.copy()
    out[missed] = again
    return out


def _after_deadline_factor(
    t_min: F64, deadline_min: float, ext: Extension, behaviour: dict[str, float]
) -> F64:
    """Share of the propensity that applies at each reply time: 1 up to the round's
    deadline, then `extension.propensity_factor`, decaying when no new deadline is set."""
    late = np.nan_to_num(t_min, nan=0.0) - deadline_min
    factor = np.where(late > 0, behaviour["extension.propensity_factor"], 1.0)
    if ext.deadline is None:
        decay_min = behaviour["extension.decay_h"] * 60.0
        factor = factor * np.exp(-np.maximum(late, 0.0) / decay_min)
    return factor


def _replies(
    people: People,
    rnd: Round,
    r: int,
    units: UnitTables,
    plan: Plan,
    origin_us: int,
    behaviour: dict[str, float],
    rng: np.random.Generator,
    series_rng: np.random.Generator,
) -> Events:
    ids, unit = plan.ids, people.subagency.codes[plan.ids]
    cc = people.manager[ids] if rnd.cc_manager else _filled(len(ids), NO_ID)
    form = units.table.form_letter[unit, plan.interval]
    kinds = who.content_kinds(people.sensitive[ids], form, units.allow_sensitive[unit])
    kinds = series.boilerplate(series_rng, kinds, rnd.boilerplate)
    forbid = units.forbid[unit]
    shares = ContentShares.from_behaviour(behaviour)
    return Events(
        t_us=origin_us + np.round(plan.t_s * US).astype(np.int64),
        round=_filled(len(ids), r),
        kind=_filled(len(ids), KINDS.index("reply")),
        sender=ids,
        rcpt_first=_filled(len(ids), NO_ID),
        rcpt_count=1 + (cc != NO_ID).astype(np.int64),
        collection=units.collection[unit],
        cc=cc,
        agency=people.department.codes[ids],
        content=kinds,
        violation=violations.draw(rng, kinds, forbid, shares),
    )


# -- machine replies: out-of-office and bounces -------------------------------------------
def _machine(ids: I64, t_us: I64, kind: str, content: str, people: People, r: int) -> Events:
    n = len(ids)
    return Events(
        t_us=t_us,
        round=_filled(n, r),
        kind=_filled(n, KINDS.index(kind)),
        sender=ids,
        rcpt_first=_filled(n, NO_ID),
        rcpt_count=_filled(n, 1),
        collection=_filled(n, 0),
        cc=_filled(n, NO_ID),
        agency=people.department.codes[ids],
        content=_filled(n, CONTENTS.index(content)),
        violation=_filled(n, 0),
    )


def _lognormal_s(rng: np.random.Generator, median_s: float, n: int) -> F64:
    return np.exp(np.log(median_s) + MACHINE_SIGMA * rng.standard_normal(n))  # type: ignore[no-any-return]


def _auto_and_bounces(
    people: People,
    r: int,
    receipt_s: F64,
    origin_us: int,
    behaviour: dict[str, float],
    rng: dict[str, np.random.Generator],
) -> list[Events]:
    tm, shares = Timing.from_behaviour(behaviour), Shares.from_behaviour(behaviour)
    auto = np.flatnonzero(who.auto_replies(rng["auto"], people.away, people.stale, shares))
    t_auto = receipt_s[auto] + _lognormal_s(rng["machine"], tm.auto_reply_median_s, len(auto))
    stale = np.flatnonzero(people.stale)
    soft = who.soft_bounces(rng["bounce"], len(stale), shares)
    hard_s = _lognormal_s(rng["machine"], tm.hard_bounce_median_s, len(stale))
    t_bounce = receipt_s[stale] + np.where(soft, tm.soft_bounce_delay_h * 3600.0, hard_s)
    return [
        _machine(
            auto,
            origin_us + np.round(t_auto * US).astype(np.int64),
            "auto_reply",
            "auto_reply",
            people,
            r,
        ),
        _machine(
            stale, origin_us + np.round(t_bounce * US).astype(np.int64), "bounce", "dsn", people, r
        ),
    ]


# -- a round ---------------------------------------------------------------------------
def round_events(
    scenario: Scenario,
    r: int,
    people: People,
    seed: int,
    collections: list[str],
    part: Part | None = None,
    reports: dict[str, list[exclusions.ExclusionRow]] | None = None,
) -> Events:
    """All events of round `scenario.rounds[r]`, unsorted (of one copy: `part`; ids are
    then still the copy's own row numbers). A round with exclusions adds its report
    (`exclusion_reports`, from the same draws) to `reports` when that is given."""
    rnd = scenario.rounds[r]
    behaviour = {**defaults(), **scenario.behaviour}
    rng = _streams(seed, rnd.id, None if part is None else part.copy)
    origin_us = int(rnd.send_time.timestamp() * US)
    broadcast, receipt_s = _broadcast(people, rnd, r, origin_us, part)
    units = _unit_tables(scenario, rnd, people, collections)
    plan = _plan_replies(people, rnd, units, receipt_s, behaviour, rng)
    if reports is not None and rnd.exclusions:
        reports[rnd.id] = _exclusion_report(people, units, plan.category)
    replies = _replies(
        people, rnd, r, units, plan, origin_us, behaviour, rng["violation"], rng["series"]
    )
    events = Events.concat(
        [
            broadcast,
            replies,
            *([] if part is not None and part.copy else [_on_behalf(people, r, units, origin_us)]),
            *_auto_and_bounces(people, r, receipt_s, origin_us, behaviour, rng),
        ]
    )
    if rnd.ends is None:
        return events
    return events.take(np.flatnonzero(events.t_us < int(rnd.ends.timestamp() * US)))


def _on_behalf(people: People, r: int, units: UnitTables, origin_us: int) -> Events:
    """One reply per department whose leadership answers for its workforce."""
    delay_h = series_specs()["on_behalf_delay_h"].default.likely
    depts = [u.department for u in _units(people)]
    present = np.flatnonzero(who.present(people.away, people.stale))
    first: dict[str, int] = {}
    if (units.table.action == series.ON_BEHALF).any():
        codes, at = np.unique(people.department.codes[present], return_index=True)
        first = {
            people.department.names[int(c)]: int(present[i]) for c, i in zip(codes, at, strict=True)
        }
    ids, t_s, unit = series.on_behalf(units.table, depts, first, delay_h)
    n = len(ids)
    return Events(
        t_us=origin_us + np.round(t_s * US).astype(np.int64),
        round=_filled(n, r),
        kind=_filled(n, KINDS.index("reply")),
        sender=ids,
        rcpt_first=_filled(n, NO_ID),
        rcpt_count=_filled(n, 1),
        collection=units.collection[unit],
        cc=_filled(n, NO_ID),
        agency=people.department.codes[ids],
        content=_filled(n, CONTENTS.index("bullets")),
        violation=_filled(n, 0),
    )


def build_schedule(
    scenario: Scenario,
    workforce: pa.Table,
    seed: int,
    round_ids: Sequence[str] | None = None,
    progress: Callable[[str], None] | None = None,
) -> pa.Table:
    """The SCHEDULE table of the chosen rounds (all by default), sorted by intended time.

    `progress`, if given, is called with the name of each step as it starts.
    """
    step = progress or (lambda _: None)
    people = people_from_table(workforce)
    events = _sorted_events(scenario, people, seed, round_ids, step)
    step("sizing bodies")
    sizes = event_sizes(events, people, seed, {**defaults(), **scenario.behaviour})
    round_names = [rnd.id for rnd in scenario.rounds]
    return to_table(events, sizes, round_names, collection_ids(scenario), people.department.names)


def collection_ids(scenario: Scenario) -> list[str]:
    """The collection dictionary of a schedule: "" (none) first, then the scenario's."""
    return ["", *(c.id for c in scenario.collections)]


def _sorted_events(
    scenario: Scenario,
    people: People,
    seed: int,
    round_ids: Sequence[str] | None,
    step: Callable[[str], None],
    part: Part | None = None,
    reports: dict[str, list[exclusions.ExclusionRow]] | None = None,
) -> Events:
    chosen = [
        i for i, rnd in enumerate(scenario.rounds) if round_ids is None or rnd.id in round_ids
    ]
    collections = collection_ids(scenario)
    parts = []
    for r in chosen:
        step(f"round {scenario.rounds[r].id}: who replies and when")
        parts.append(round_events(scenario, r, people, seed, collections, part, reports))
    step("sorting events")
    events = Events.concat(parts)
    return events.take(np.argsort(events.t_us, kind="stable"))


# -- a workforce of several copies: parts, then numbered slices ----------------------------
EVENT_FIELDS = tuple(Events.__dataclass_fields__)


def build_part(
    scenario: Scenario,
    workforce: pa.Table,
    seed: int,
    part: Part,
    round_ids: Sequence[str] | None = None,
    reports: dict[str, list[exclusions.ExclusionRow]] | None = None,
) -> pa.Table:
    """One copy's events of the chosen rounds, sorted by intended time, with whole-workforce
    ids and the inputs of their sizes (columns: `EVENT_FIELDS` then `SIZE_INPUTS`);
    `workforce` holds that copy's rows only. `reports`, when given, receives the copy's
    exclusions reports (as `exclusion_reports` gives them)."""
    people = people_from_table(workforce)
    shift = np.int64(part.first_id)
    # inside the part, ids are the copy's own row numbers (its managers lie in it too)
    local = np.where(people.manager == NO_ID, NO_ID, people.manager - shift)
    people = dataclasses.replace(people, manager=local)
    events = _sorted_events(scenario, people, seed, round_ids, lambda _: None, part, reports)
    inputs = size_inputs(events, people)
    events = dataclasses.replace(
        events,
        sender=np.where(events.sender == NO_ID, NO_ID, events.sender + shift),
        cc=np.where(events.cc == NO_ID, NO_ID, events.cc + shift),
    )
    columns = {f: getattr(events, f) for f in EVENT_FIELDS} | {
        f: getattr(inputs, f) for f in SIZE_INPUTS
    }
    return pa.table(
        {
            name: pa.array(values, type=pa.int64() if name == "t_us" else pa.int32())
            for name, values in columns.items()
        }
    )


def number_slice(
    slices: Sequence[pa.Table],
    first_event_id: int,
    scenario: Scenario,
    seed: int,
    agencies: list[str],
) -> pa.Table:
    """SCHEDULE rows from slices of parts (`build_part`) that together hold every event of
    one stretch of intended time: merged in time order (ties: part order, then each part's
    own), numbered from `first_event_id` and sized."""
    table = pa.concat_tables(slices)
    cols = {
        name: table.column(name).to_numpy().astype(np.int64)
        for name in (*EVENT_FIELDS, *SIZE_INPUTS)
    }
    order = np.argsort(cols["t_us"], kind="stable")
    events = Events(**{f: cols[f][order] for f in EVENT_FIELDS})
    inputs = SizeInputs(**{f: cols[f][order] for f in SIZE_INPUTS})
    ids = np.arange(first_event_id, first_event_id + len(order), dtype=np.int64)
    behaviour = {**defaults(), **scenario.behaviour}
    sizes = sizes_from(events.kind, events.content, events.violation, inputs, ids, seed, behaviour)
    rounds = [rnd.id for rnd in scenario.rounds]
    return to_table(events, sizes, rounds, collection_ids(scenario), agencies, first_event_id)


def exclusion_reports(
    scenario: Scenario,
    workforce: pa.Table,
    seed: int,
    round_ids: Sequence[str] | None = None,
    part: Part | None = None,
) -> dict[str, list[exclusions.ExclusionRow]]:
    """Per round with exclusions: the staff excluded, by department, category and reason
    (the same draws `build_schedule` makes at this seed; of one copy: `part`)."""
    people = people_from_table(workforce)
    collections = collection_ids(scenario)
    out = {}
    for rnd in scenario.rounds:
        if not rnd.exclusions or (round_ids is not None and rnd.id not in round_ids):
            continue
        units = _unit_tables(scenario, rnd, people, collections)
        copy = None if part is None else part.copy
        category = excluded_staff(people, units, _streams(seed, rnd.id, copy)["exclude"])
        out[rnd.id] = _exclusion_report(people, units, category)
    return out


def _exclusion_report(
    people: People, units: UnitTables, category: I64
) -> list[exclusions.ExclusionRow]:
    return exclusions.report(
        category,
        people.subagency.codes,
        people.department.codes,
        people.department.names,
        units.excluded,
    )


def build_round(scenario: Scenario, rnd: Round, workforce: pa.Table, seed: int) -> pa.Table:
    """The SCHEDULE table of one round."""
    return build_schedule(scenario, workforce, seed, [rnd.id])


# -- sizes and the table ---------------------------------------------------------------
@dataclass(frozen=True)
class SizeInputs:
    """Per event (0 for broadcasts): what its size depends on besides its id, the
    sender's occupation family and name lengths and those of the co-worker it names."""

    family: I64
    plain: I64
    html_len: I64
    other_plain: I64
    other_html: I64


SIZE_INPUTS = tuple(SizeInputs.__dataclass_fields__)


def size_inputs(events: Events, people: People) -> SizeInputs:
    """The size inputs of `events`, whose ids are row numbers of `people`."""
    n = len(events.t_us)
    out = {f: np.zeros(n, dtype=np.int64) for f in SIZE_INPUTS}
    person = np.flatnonzero(events.kind != KINDS.index("broadcast"))
    sender = events.sender[person]
    out["plain"][person], out["html_len"][person] = body.name_lengths(
        people.first_name.take(pa.array(sender)), people.last_name.take(pa.array(sender))
    )
    family = body.family_codes(people.occupation.names)[people.occupation.codes[sender]]
    out["family"][person] = family
    v = events.violation[person]
    out["other_plain"][person], out["other_html"][person] = _coworker_lengths(
        events, people, person, v
    )
    return SizeInputs(**out)


def sizes_from(
    kind: I64,
    content: I64,
    violation: I64,
    inputs: SizeInputs,
    event_ids: I64,
    seed: int,
    behaviour: dict[str, float],
) -> I64:
    """Message bytes per event: header allowance plus the body `writing` would render."""
    header = int(behaviour["content.header_bytes"])
    sizes = np.full(len(event_ids), header + BROADCAST_BODY_BYTES, dtype=np.int64)
    person = np.flatnonzero(kind != KINDS.index("broadcast"))
    share = ContentShares.from_behaviour(behaviour).html
    is_reply = kind[person] == KINDS.index("reply")
    html = body.html_mask(seed, event_ids[person], share) & is_reply
    v = violation[person]
    family = inputs.family[person]
    sizes[person] = (
        header
        + body.reply_sizes(
            seed,
            event_ids[person],
            content[person],
            v,
            family,
            inputs.plain[person],
            inputs.html_len[person],
            html,
            inputs.other_plain[person],
            inputs.other_html[person],
        )
        + body.attachment_sizes(seed, event_ids[person], v, family)
    )
    return sizes


def event_sizes(events: Events, people: People, seed: int, behaviour: dict[str, float]) -> I64:
    """Message bytes per event, numbered 0.. in the order given."""
    event_ids = np.arange(len(events.t_us), dtype=np.int64)
    inputs = size_inputs(events, people)
    return sizes_from(
        events.kind, events.content, events.violation, inputs, event_ids, seed, behaviour
    )


def _coworker_lengths(
    events: Events, people: People, person: I64, violation: I64
) -> tuple[I64, I64]:
    """Name lengths (plain, HTML) of the co-worker each "coworker_name" reply names
    (`writing.coworker_ids`); 0 for the other events."""
    plain = np.zeros(len(person), dtype=np.int64)
    escaped = np.zeros(len(person), dtype=np.int64)
    named = np.flatnonzero(violation == VIOLATIONS.index("coworker_name"))
    if len(named):
        rows = person[named]
        n_people = len(people.first_name)
        other = pa.array(body.coworker_ids(events.sender[rows], events.cc[rows], n_people))
        plain[named], escaped[named] = body.name_lengths(
            people.first_name.take(other), people.last_name.take(other)
        )
    return plain, escaped


def _dict(codes: I64, names: Sequence[str]) -> pa.DictionaryArray:
    return pa.DictionaryArray.from_arrays(
        pa.array(codes.astype(np.int16), type=pa.int16()), pa.array(list(names), type=pa.string())
    )


def to_table(
    events: Events,
    sizes: I64,
    rounds: list[str],
    collections: list[str],
    agencies: list[str],
    first_event_id: int = 0,
) -> pa.Table:
    n = len(events.t_us)
    columns = [
        pa.array(np.arange(first_event_id, first_event_id + n, dtype=np.int64)),
        pa.array(events.t_us, type=pa.int64()).cast(pa.timestamp("us", tz="UTC")),
        _dict(events.round, rounds),
        _dict(events.kind, KINDS),
        pa.array(events.sender.astype(np.int32)),
        pa.array(events.rcpt_first.astype(np.int32)),
        pa.array(events.rcpt_count.astype(np.int32)),
        _dict(events.collection, collections),
        pa.array(events.cc.astype(np.int32)),
        _dict(events.agency, agencies),
        _dict(events.content, CONTENTS),
        _dict(events.violation, VIOLATIONS),
        pa.array(sizes.astype(np.int32)),
    ]
    return pa.Table.from_arrays(columns, schema=SCHEDULE)


def origin(rnd: Round) -> dt.datetime:
    """The round's send time in UTC (the schedule's time origin for that round)."""
    return rnd.send_time.astimezone(dt.UTC)
