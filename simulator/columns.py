"""The tables that join the pipeline's stages, as Arrow schemas.

Theory of operation: every stage reads and writes one of these tables, so a user can stop
after any stage, open the Parquet file, and go on. The schemas are the contract between
stages; a stage that adds a column adds it here first.

Employee ids are row numbers of the workforce table (0..N-1). A broadcast transaction
names its recipients as a contiguous id range `[rcpt_first, rcpt_first + rcpt_count)`,
so no row per delivery is stored for the 2.3M-recipient send.
"""

from __future__ import annotations

import pyarrow as pa

NO_ID = -1  # "no employee": the broadcast sender, or an agency head's manager

_dict = pa.dictionary(pa.int16(), pa.string())

WORKFORCE = pa.schema(
    [
        ("employee_id", pa.int32()),
        ("department", _dict),  # agency code of the department, e.g. "DHS"
        ("subagency", _dict),  # e.g. "TSA"; "<DEPT>-HQ" for the rest of a department
        ("occupation", _dict),  # occupational family, drives the reply phrase grammar
        ("grade", pa.int8()),  # GS grade 1..15; 16 for senior executives
        ("pay", pa.float32()),  # annual salary, USD
        ("hourly_cost", pa.float32()),  # loaded cost per hour worked, USD
        ("is_supervisor", pa.bool_()),
        ("manager_id", pa.int32()),  # NO_ID for agency heads
        ("depth", pa.int8()),  # 0 for agency heads
        ("duty_state", _dict),  # two-letter state; "XX" where redacted
        ("tz", _dict),  # IANA zone name
        ("first_name", pa.string()),
        ("last_name", pa.string()),
        ("email", pa.string()),  # unique, on a reserved .example domain
        ("is_contractor", pa.bool_()),  # wrongly on the list
        ("is_away", pa.bool_()),  # on leave or absent during the round
        ("is_stale", pa.bool_()),  # address no longer valid: the broadcast bounces
        ("is_sensitive", pa.bool_()),  # work is all classified or sensitive
    ]
)

# Event kinds and content kinds used in the schedule.
KINDS = ("broadcast", "reply", "auto_reply", "bounce")
CONTENTS = (
    "broadcast",
    "bullets",
    "sensitive",
    "form_letter",
    "auto_reply",
    "dsn",
    "reply_all",  # a post to an open distribution list (reply-all storms)
)
VIOLATIONS = ("", "link", "attachment", "classification", "coworker_name", "drug_or_contract")

SCHEDULE = pa.schema(
    [
        ("event_id", pa.int64()),  # unique, in intended-time order
        ("t_intended", pa.timestamp("us", tz="UTC")),  # real time, before compression
        ("round", _dict),
        ("kind", _dict),  # one of KINDS
        ("sender_id", pa.int32()),  # NO_ID for the broadcast sender
        ("rcpt_first", pa.int32()),  # broadcast or list post: first recipient id; else NO_ID
        ("rcpt_count", pa.int32()),  # deliveries this event makes (reply + cc = 2)
        ("collection", _dict),  # collection-system id the reply goes to; "" otherwise
        ("cc_id", pa.int32()),  # manager in cc; NO_ID if none
        ("agency", _dict),  # sender's department (recipient's, for broadcast/bounce)
        ("content", _dict),  # one of CONTENTS
        ("violation", _dict),  # one of VIOLATIONS; "" when the content keeps the rules
        ("size_bytes", pa.int32()),  # rendered message size, for storage and cost
    ]
)

# Outcomes recorded by the replay engine, one per scheduled event.
OUTCOMES = ("ok", "rejected", "error", "timeout", "late", "dropped")

RESULTS = pa.schema(
    [
        ("event_id", pa.int64()),
        ("t_intended", pa.int64()),  # us since replay start, after compression
        ("t_sent", pa.int64()),  # us since replay start; -1 if never sent
        ("t_done", pa.int64()),  # us since replay start; -1 if never answered
        ("latency_corrected_us", pa.int64()),  # t_done - t_intended (wrk2 style)
        ("latency_uncorrected_us", pa.int64()),  # t_done - t_sent (closed-loop style)
        ("status", pa.int16()),  # HTTP status or SMTP reply code; 0 if none
        ("outcome", _dict),  # one of OUTCOMES
        ("retries", pa.int8()),
        ("bytes", pa.int32()),
        ("error", _dict),  # short reason; "" when ok
    ]
)
