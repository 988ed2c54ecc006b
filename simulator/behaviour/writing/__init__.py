"""What people write: reply bodies rendered on demand from (seed, event id), and sized
without rendering.

Theory of operation: every choice a body makes (greeting, five occupation-aware bullets,
closing, title, which link, marking or attachment) is a digit of a few 64-bit words
hashed from (seed, event id) (`digits`), so a body is the same every time it is rendered
and no random state is kept. The phrase tables come from `simulator/data/phrases.toml`
(`phrases`). The structure of every kind of body is written once, as data: a list of
segments (constant text, a pick from a phrase table by a digit, a name) per content kind,
violation, and plain or HTML (`template`, with the Outlook markup of `html`). `render`
joins the segments of an event; `sizing` sums segment lengths column-wise with numpy
for a million events at once. `names` says whose names a body carries and measures them;
`mime` builds the attachment part an "attachment" reply carries by mail.

Content kinds follow `simulator.columns.CONTENTS`; violations follow `VIOLATIONS` and
only change "bullets" bodies (a link line, an attachment marker, a classification
marking, a co-worker's name, a drug or contract name). HTML applies to the kinds a person
writes (bullets, sensitive, form letter); auto-replies, delivery reports (dsn) and
reply-all list posts are always plain text. Pure: numpy, Arrow and the packaged data.
"""

from simulator.behaviour.writing.digits import html_mask, reply_is_html
from simulator.behaviour.writing.mime import (
    BOUNDARY,
    MIXED_PREFIX,
    REPORT_PREFIX,
    attachment_bytes,
    attachment_file,
    attachment_index,
    attachment_mime,
    attachment_sizes,
    delivery_status,
)
from simulator.behaviour.writing.names import coworker_ids, name_lengths
from simulator.behaviour.writing.phrases import family_code, family_codes, grammar
from simulator.behaviour.writing.render import render_replies, render_reply
from simulator.behaviour.writing.sizing import reply_sizes

__all__ = [
    "BOUNDARY",
    "MIXED_PREFIX",
    "REPORT_PREFIX",
    "attachment_bytes",
    "attachment_file",
    "attachment_index",
    "attachment_mime",
    "attachment_sizes",
    "coworker_ids",
    "delivery_status",
    "family_code",
    "family_codes",
    "grammar",
    "html_mask",
    "name_lengths",
    "render_replies",
    "render_reply",
    "reply_is_html",
    "reply_sizes",
]
