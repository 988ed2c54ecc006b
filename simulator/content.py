"""Reply bodies: rendered on demand from (seed, event id), sized without rendering.

Theory of operation: every choice a body makes (greeting, five occupation-aware bullets,
closing, title, which link or marking) is a digit of a few 64-bit words hashed from
(seed, event id) with SplitMix64, so a body is the same every time it is rendered and no
random state is kept. The phrase grammar lives in `simulator/data/phrases.toml`.

Because a body is a concatenation of table entries and the sender's name, its size is a
sum of table-entry lengths: `reply_sizes` computes the exact UTF-8 size of a million
bodies with numpy by drawing the same digits, without rendering any of them. Tests check
that both paths agree byte for byte.

Content kinds follow `simulator.columns.CONTENTS`; violations follow `VIOLATIONS` and
only change "bullets" bodies (a link line, an attachment marker, a classification
marking, a co-worker's name, a drug or contract name). The co-worker is a real person of
the workforce, named by the caller (`coworker_ids` picks who: the cc'd manager, else a
neighbouring employee), so a collection system checking names against its directory can
tell. An attachment reply also carries the attachment itself when sent by mail: the
MIME part `attachment_mime` gives, of exactly the size `attachment_sizes` counts.
HTML applies to the kinds a person writes (bullets, sensitive, form letter): an
Outlook-style document with a signature. Auto-replies, delivery reports (dsn) and
reply-all list posts are always plain text.
"""

from __future__ import annotations

import base64
import html as html_lib
import tomllib
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from json.encoder import encode_basestring_ascii

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from simulator.columns import CONTENTS, NO_ID, VIOLATIONS
from simulator.rules import SENSITIVE_STATEMENT

I64 = npt.NDArray[np.int64]
U64 = npt.NDArray[np.uint64]
BOOL = npt.NDArray[np.bool_]

_MASK = (1 << 64) - 1
_GOLDEN = 0x9E3779B97F4A7C15  # SplitMix64 (Steele, Lea, Flood 2014) constants
_MUL1 = 0xBF58476D1CE4E5B9
_MUL2 = 0x94D049BB133111EB
DETAIL_BASE = 840  # divisible by 2, 3, 4, 5, 6, 7, 8: uniform picks from small tables
HTML_WORD = 6  # word index whose top 53 bits decide plain text or HTML
BULLETS = 5
OTHER = "other"  # grammar used for occupations without phrases of their own

CRLF = "\r\n"
P = "<p class=MsoNormal>"
EP = "</p>" + CRLF
LI = "<li class=MsoListParagraph>"
ELI = ".</li>" + CRLF
UL, EUL = "<ul>" + CRLF, "</ul>" + CRLF
BR = "<br>" + CRLF
HTML_HEAD = (
    '<html xmlns:v="urn:schemas-microsoft-com:vml" '
    'xmlns:o="urn:schemas-microsoft-com:office:office" '
    'xmlns:w="urn:schemas-microsoft-com:office:word" '
    'xmlns:m="http://schemas.microsoft.com/office/2004/12/omml" '
    'xmlns="http://www.w3.org/TR/REC-html40">'
    + CRLF
    + "<head>"
    + CRLF
    + '<meta http-equiv="Content-Type" content="text/html; charset=utf-8">'
    + CRLF
    + '<meta name="Generator" content="Microsoft Word 15 (filtered medium)">'
    + CRLF
    + "<style><!--"
    + CRLF
    + "/* Font Definitions */"
    + CRLF
    + '@font-face {font-family:"Cambria Math"; panose-1:2 4 5 3 5 4 6 3 2 4;}'
    + CRLF
    + "@font-face {font-family:Calibri; panose-1:2 15 5 2 2 2 4 3 2 4;}"
    + CRLF
    + "@font-face {font-family:Aptos; panose-1:2 11 0 4 2 2 2 2 2 4;}"
    + CRLF
    + "/* Style Definitions */"
    + CRLF
    + "p.MsoNormal, li.MsoNormal, div.MsoNormal {margin:0in; font-size:12.0pt; "
    + 'font-family:"Aptos",sans-serif; mso-ligatures:standardcontextual;}'
    + CRLF
    + "p.MsoListParagraph, li.MsoListParagraph {margin-top:0in; margin-right:0in; "
    + "margin-bottom:0in; margin-left:.5in; font-size:12.0pt; "
    + 'font-family:"Aptos",sans-serif;}'
    + CRLF
    + "a:link, span.MsoHyperlink {mso-style-priority:99; color:#467886; "
    + "text-decoration:underline;}"
    + CRLF
    + 'span.EmailStyle19 {mso-style-type:personal-reply; font-family:"Aptos",sans-serif; '
    + "color:windowtext;}"
    + CRLF
    + ".MsoChpDefault {mso-style-type:export-only; font-size:10.0pt; "
    + "mso-ligatures:none;}"
    + CRLF
    + "@page WordSection1 {size:8.5in 11.0in; margin:1.0in 1.0in 1.0in 1.0in;}"
    + CRLF
    + "div.WordSection1 {page:WordSection1;}"
    + CRLF
    + "/* List Definitions */"
    + CRLF
    + "@list l0 {mso-list-id:1436095113; mso-list-type:hybrid;}"
    + CRLF
    + "@list l0:level1 {mso-level-number-format:bullet; mso-level-text:\\F0B7; "
    + "mso-level-tab-stop:none; mso-level-number-position:left; text-indent:-.25in; "
    + "font-family:Symbol;}"
    + CRLF
    + "ul {margin-bottom:0in;}"
    + CRLF
    + "--></style>"
    + CRLF
    + "</head>"
    + CRLF
    + '<body lang="EN-US" link="#467886" vlink="#96607D" style="word-wrap:break-word">'
    + CRLF
    + '<div class="WordSection1">'
    + CRLF
)
QUOTED_ORIGINAL_TEXT = (
    "From: HR <hr@opm.example>"
    + CRLF
    + "Subject: What did you do last week?"
    + CRLF
    + "Importance: High"
    + CRLF
    + CRLF
    + "Please reply to this email with approximately 5 bullets of what you accomplished "
    + "last week and cc your manager."
    + CRLF
    + CRLF
    + "Please do not send any classified information, links, or attachments."
    + CRLF
    + CRLF
    + "Deadline is this Monday at 11:59pm EST."
    + CRLF
)
PLAIN_QUOTE = CRLF + "-----Original Message-----" + CRLF + QUOTED_ORIGINAL_TEXT
HTML_QUOTE = (
    '<div style="border:none; border-top:solid #E1E1E1 1.0pt; padding:3.0pt 0in 0in 0in">'
    + CRLF
    + P
    + "<b>From:</b> HR &lt;hr@opm.example&gt;"
    + BR
    + "<b>Subject:</b> What did you do last week?"
    + BR
    + "<b>Importance:</b> High"
    + EP
    + "</div>"
    + CRLF
    + P
    + "Please reply to this email with approximately 5 bullets of what "
    + "you accomplished last week and cc your manager."
    + EP
    + P
    + "Please do not send any classified information, links, or attachments."
    + EP
    + P
    + "Deadline is this Monday at 11:59pm EST."
    + EP
)
HTML_TAIL = HTML_QUOTE + "</div>" + CRLF + "</body>" + CRLF + "</html>" + CRLF
SIG_OPEN = BR + "<b>"
SIG_NAME_END = "</b>" + BR
SIG_TAIL = (
    '<span style="font-size:9.0pt; color:#595959">This e-mail may contain information '
    "that is privileged or otherwise protected from disclosure.</span>"
)
DSN_HEAD = "Delivery has failed to these recipients or groups:" + CRLF + CRLF
NAME_SLOT = "{name}"  # where a co-worker qualifier puts the co-worker's "First Last"
# An attachment travels base64-encoded (RFC 2045 §6.8) in 76-character lines, in a
# multipart/mixed message after the text part. The text part's headers move into that
# part, so what the attachment adds to a message is MIXED_PREFIX plus `attachment_mime`.
BOUNDARY = "=_pulsecheck_mixed"  # "=_" cannot occur in base64 or in the phrase grammar
MIXED_PREFIX = (
    f'Content-Type: multipart/mixed; boundary="{BOUNDARY}"' + CRLF + CRLF + f"--{BOUNDARY}" + CRLF
)
B64_LINE = 76
MEDIA_TYPES = {
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "pdf": "application/pdf",
    "png": "image/png",
}


@dataclass(frozen=True)
class Grammar:
    """The phrase tables, with per-occupation tables flattened for numpy lookups."""

    greetings: tuple[str, ...]
    intros: tuple[str, ...]
    closings: tuple[str, ...]
    qualifiers: tuple[str, ...]
    coworker: tuple[str, ...]
    drug_or_contract: tuple[str, ...]
    links: tuple[str, ...]
    markings: tuple[str, ...]
    attachments: tuple[str, ...]  # marker lines
    attachment_files: tuple[tuple[str, int], ...]  # (file name, KB) each marker names
    attachment_bytes: tuple[int, ...]  # what that attachment adds to a mail message
    form_letter: str
    auto_replies: tuple[str, ...]
    reply_all: tuple[str, ...]
    dsn: tuple[str, ...]
    titles: dict[str, tuple[str, ...]]
    verbs: dict[str, tuple[str, ...]]
    objects: dict[str, tuple[str, ...]]

    def family(self, occupation: str) -> str:
        return occupation if occupation in self.verbs else OTHER


@cache
def grammar() -> Grammar:
    """The phrase grammar from `simulator/data/phrases.toml` (read once)."""
    raw = resources.files("simulator.data").joinpath("phrases.toml").read_text("utf-8")
    d = tomllib.loads(raw)
    att = [(str(name), int(kb)) for name, kb in d["attachments"]]
    g = Grammar(
        greetings=tuple(d["greetings"]),
        intros=tuple(d["intros"]),
        closings=tuple(d["closings"]),
        qualifiers=tuple(d["qualifiers"]),
        coworker=tuple(d["coworker_qualifiers"]),
        drug_or_contract=tuple(d["drug_or_contract_qualifiers"]),
        links=tuple(d["link_lines"]),
        markings=tuple(d["classification_lines"]),
        attachments=tuple(f"[Attachment: {name} ({kb} KB)]" for name, kb in att),
        attachment_files=tuple(att),
        attachment_bytes=tuple(_attachment_size(name, kb) for name, kb in att),
        form_letter=CRLF.join(d["form_letter"]),
        auto_replies=tuple(d["auto_replies"]),
        reply_all=tuple(d["reply_all"]),
        dsn=tuple(d["dsn"]),
        titles={k: tuple(v) for k, v in d["titles"].items()},
        verbs={k: tuple(v) for k, v in d["verbs"].items()},
        objects={k: tuple(v) for k, v in d["objects"].items()},
    )
    _check_plain(g)
    return g


def _check_plain(g: Grammar) -> None:
    """Phrases go into HTML unescaped and are sized as ASCII, so they must be plain."""
    tables = [g.greetings, g.intros, g.closings, g.qualifiers, g.coworker, g.drug_or_contract]
    tables += [g.links, g.markings, g.attachments, g.auto_replies, g.reply_all, g.dsn]
    tables += [(g.form_letter,)]
    tables += [*g.titles.values(), *g.verbs.values(), *g.objects.values()]
    for table in tables:
        for phrase in table:
            if not phrase.isascii() or any(c in phrase for c in '&<>"'):
                raise ValueError(f'phrases.toml: {phrase!r} must be ASCII without & < > "')
    for phrase in g.coworker:
        if phrase.count(NAME_SLOT) != 1:
            raise ValueError(f"phrases.toml: {phrase!r} must hold {NAME_SLOT} once")


# -- attachments -------------------------------------------------------------------------
def _attachment_head(name: str) -> str:
    """Delimiter and headers of the attachment part (the text part's body comes before)."""
    media = MEDIA_TYPES.get(name.rpartition(".")[2].lower(), "application/octet-stream")
    return (
        f"{CRLF}--{BOUNDARY}{CRLF}"
        f'Content-Type: {media}; name="{name}"{CRLF}'
        f'Content-Disposition: attachment; filename="{name}"{CRLF}'
        f"Content-Transfer-Encoding: base64{CRLF}{CRLF}"
    )


def _attachment_tail() -> str:
    return f"--{BOUNDARY}--{CRLF}"


def _attachment_size(name: str, kb: int) -> int:
    """Bytes `MIXED_PREFIX` + `attachment_mime` add to a message, by arithmetic."""
    encoded = 4 * -(-kb * 1024 // 3)
    lines = -(-encoded // B64_LINE)
    head, tail = _attachment_head(name), _attachment_tail()
    return len(MIXED_PREFIX) + len(head) + encoded + 2 * lines + len(tail)


@cache
def attachment_mime(index: int) -> bytes:
    """The attachment part of attachment `index` (see `attachment_index`): delimiter,
    headers, `kb` KB of filler base64-encoded in CRLF-ended lines, and the closing
    delimiter. It follows the text part's body; the filler is a SplitMix64 stream keyed
    by the file name, so it is the same bytes every time."""
    name, kb = grammar().attachment_files[index]
    words = -(-kb * 1024 // 8)
    counter = np.arange(words, dtype=np.uint64) + np.uint64(zlib.crc32(name.encode()))
    filler = _mix_np(counter).tobytes()[: kb * 1024]
    encoded = base64.encodebytes(filler).replace(b"\n", b"\r\n")
    return _attachment_head(name).encode() + encoded + _attachment_tail().encode()


def attachment_index(seed: int, event_id: int, occupation: str) -> int:
    """Which attachment (index into the grammar's list) an "attachment" reply names."""
    family = _family_code(occupation)
    return _picks(_key(seed, event_id), family, False)[DETAIL] % len(grammar().attachments)


def coworker_ids(sender: I64, cc: I64, n_people: int) -> I64:
    """Whom a "coworker_name" reply names: the cc'd manager, or when there is none (or it
    is the sender) the next employee row (the previous one for the last row). Never the
    sender, unless the workforce has one person."""
    neighbour = np.where(sender + 1 < n_people, sender + 1, sender - 1)
    neighbour = np.maximum(neighbour, 0)
    chosen: I64 = np.where((cc != NO_ID) & (cc != sender), cc, neighbour).astype(np.int64)
    return chosen


# -- hashing -----------------------------------------------------------------------------
def _mix(x: int) -> int:
    x = (x + _GOLDEN) & _MASK
    x = ((x ^ (x >> 30)) * _MUL1) & _MASK
    x = ((x ^ (x >> 27)) * _MUL2) & _MASK
    return x ^ (x >> 31)


def _key(seed: int, event_id: int) -> int:
    return _mix(_mix(seed & _MASK) ^ (event_id & _MASK))


_NP_GOLDEN, _NP_MUL1, _NP_MUL2 = np.uint64(_GOLDEN), np.uint64(_MUL1), np.uint64(_MUL2)
_NP_30, _NP_27, _NP_31 = np.uint64(30), np.uint64(27), np.uint64(31)


def _mix_np(x: U64) -> U64:
    x = x + _NP_GOLDEN
    x = (x ^ (x >> _NP_30)) * _NP_MUL1
    x = (x ^ (x >> _NP_27)) * _NP_MUL2
    return x ^ (x >> _NP_31)


def _keys_np(seed: int, event_ids: I64) -> U64:
    return _mix_np(np.uint64(_mix(seed & _MASK)) ^ event_ids.astype(np.uint64))


def _unit(word: int) -> float:
    return (word >> 11) * 2.0**-53


def reply_is_html(seed: int, event_id: int, html_share: float) -> bool:
    """Whether a reply is sent as HTML: deterministic from (seed, event id)."""
    return _unit(_mix((_key(seed, event_id) + HTML_WORD) & _MASK)) < html_share


def html_mask(seed: int, event_ids: I64, html_share: float) -> BOOL:
    """`reply_is_html` for many events at once."""
    word = _mix_np(_keys_np(seed, event_ids) + np.uint64(HTML_WORD))
    unit = (word >> np.uint64(11)).astype(np.float64) * 2.0**-53
    return unit < html_share


# -- rendering ---------------------------------------------------------------------------
# A body is a concatenation of table entries, constants and the sender's name. `_compose`
# only concatenates; what it concatenates comes from a `Spelling`: the text as is, or every
# piece already JSON-escaped, so a body goes into a JSON document without a second pass
# over its bytes. JSON escapes character by character, so escaped pieces concatenate to
# exactly the escaped body. The choices are table indices ("picks") drawn from the event's
# hash: one event at a time in Python (`render_reply`), or a batch at once with numpy
# (`render_replies`), the same digits the sizing code below draws.

GREETING, INTRO, CLOSING, TITLE, DETAIL, MACHINE, BULLET0 = range(7)  # positions in picks
N_PICKS = BULLET0 + 3 * BULLETS  # then verb, object, qualifier of each bullet


@dataclass(frozen=True)
class Spelling:
    """Every piece a body is made of, spelled one way: as is, or JSON-escaped."""

    escape: Callable[[str], str]  # how a name is spelled
    crlf: str
    greetings: tuple[str, ...]
    intros: tuple[str, ...]
    closings: tuple[str, ...]
    qualifiers: tuple[str, ...]
    coworker: tuple[str, ...]
    drug_or_contract: tuple[str, ...]
    links: tuple[str, ...]
    markings: tuple[str, ...]
    attachments: tuple[str, ...]
    auto_replies: tuple[str, ...]
    reply_all: tuple[str, ...]
    dsn: tuple[str, ...]
    titles: tuple[tuple[str, ...], ...]  # by family code (`family_codes`)
    verbs: tuple[tuple[str, ...], ...]
    objects: tuple[tuple[str, ...], ...]
    sensitive: tuple[str, str]  # the paragraph as plain text and as HTML
    form_letter: tuple[str, str]
    plain_quote: str
    html_head: str
    html_tail: str
    p: str
    ep: str
    li: str
    eli: str
    ul: str
    eul: str
    sig_open: str
    sig_name_end: str
    sig_tail: str
    dsn_head: str


def _as_is(text: str) -> str:
    return text


def _json_escaped(text: str) -> str:
    return encode_basestring_ascii(text)[1:-1]


@cache
def families() -> tuple[str, ...]:
    """Grammar families in code order (`family_codes` indexes this)."""
    return tuple(sorted(grammar().verbs))


@cache
def spelling(json: bool = False) -> Spelling:
    """The body pieces as is, or JSON-escaped (`json`) for `render_replies(json=True)`."""
    g, s = grammar(), _json_escaped if json else _as_is

    def each(items: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(s(x) for x in items)

    return Spelling(
        escape=s,
        crlf=s(CRLF),
        greetings=each(g.greetings),
        intros=each(g.intros),
        closings=each(g.closings),
        qualifiers=each(g.qualifiers),
        coworker=each(g.coworker),
        drug_or_contract=each(g.drug_or_contract),
        links=each(g.links),
        markings=each(g.markings),
        attachments=each(g.attachments),
        auto_replies=each(g.auto_replies),
        reply_all=each(g.reply_all),
        dsn=each(g.dsn),
        titles=tuple(each(g.titles[f]) for f in families()),
        verbs=tuple(each(g.verbs[f]) for f in families()),
        objects=tuple(each(g.objects[f]) for f in families()),
        sensitive=(s(SENSITIVE_STATEMENT + CRLF), s(P + SENSITIVE_STATEMENT + EP)),
        form_letter=(s(g.form_letter + CRLF), s(P + g.form_letter.replace(CRLF, BR) + EP)),
        plain_quote=s(PLAIN_QUOTE),
        html_head=s(HTML_HEAD),
        html_tail=s(HTML_TAIL),
        p=s(P),
        ep=s(EP),
        li=s(LI),
        eli=s(ELI),
        ul=s(UL),
        eul=s(EUL),
        sig_open=s(SIG_OPEN),
        sig_name_end=s(SIG_NAME_END),
        sig_tail=s(BR + SIG_TAIL + EP),
        dsn_head=s(DSN_HEAD),
    )


def _picks(key: int, family: int, bullets: bool) -> list[int]:
    """The table indices one body uses (positions GREETING.. above), in plain Python."""
    t = spelling()
    word = _mix(key)
    picks = [0] * N_PICKS
    picks[MACHINE] = word % DETAIL_BASE
    word, picks[GREETING] = divmod(word, len(t.greetings))
    word, picks[INTRO] = divmod(word, len(t.intros))
    word, picks[CLOSING] = divmod(word, len(t.closings))
    word, picks[TITLE] = divmod(word, len(t.titles[family]))
    picks[DETAIL] = word % DETAIL_BASE
    if bullets:
        verbs, objects = len(t.verbs[family]), len(t.objects[family])
        for b in range(BULLETS):
            word = _mix((key + b + 1) & _MASK)
            word, verb = divmod(word, verbs)
            word, obj = divmod(word, objects)
            picks[BULLET0 + 3 * b : BULLET0 + 3 * b + 3] = verb, obj, word % len(t.qualifiers)
    return picks


def _picks_np(keys: U64, family: I64) -> list[list[int]]:
    """`_picks` for many events at once: one row of indices per event."""
    ln = _lengths()
    word = _mix_np(keys)
    _, machine = _digit(word, DETAIL_BASE)
    head = np.stack([*_head_digits(ln, family, word), machine], axis=1)
    bullets = np.stack(_bullet_digits(ln, family, keys, _ALL_BULLETS), axis=2)  # event, b, part
    rows: list[list[int]] = np.hstack([head, bullets.reshape(len(keys), -1)]).tolist()
    return rows


def _compose(
    t: Spelling,
    content: str,
    violation: str,
    family: int,
    name: str,
    html: bool,
    p: list[int],
    coworker: str = "",
) -> str:
    """One body from its picks; `name` (and the `coworker` a "coworker_name" body names)
    come spelled (and HTML-escaped for HTML)."""
    crlf = t.crlf
    if content in _MACHINE:
        return _machine_text(t, content, p[MACHINE], name)
    if content == "bullets":
        top = t.markings[p[DETAIL] % len(t.markings)] if violation == "classification" else ""
        blocks = _bullet_blocks(t, violation, family, html, p, coworker)
    else:
        top = ""
        blocks = (t.sensitive if content == "sensitive" else t.form_letter)[html]
    greeting, closing = t.greetings[p[GREETING]], t.closings[p[CLOSING]]
    title = t.titles[family][p[TITLE]]
    if html:
        head = f"{t.p}<b>{top}</b>{t.ep}" if top else ""
        sig = f"{t.p}{closing}{t.sig_open}{name}{t.sig_name_end}{title}{t.sig_tail}"
        return f"{t.html_head}{head}{t.p}{greeting}{t.ep}{blocks}{sig}{t.html_tail}"
    head = f"{top}{crlf}{crlf}" if top else ""
    sig = f"{closing}{crlf}{name}{crlf}{title}{crlf}"
    return f"{head}{greeting}{crlf}{crlf}{blocks}{crlf}{sig}{t.plain_quote}"


def _bullet_blocks(
    t: Spelling, violation: str, family: int, html: bool, p: list[int], coworker: str
) -> str:
    """Intro, the five "<verb> <object> <qualifier>" bullets and any link/attachment line."""
    v, o, q = t.verbs[family], t.objects[family], t.qualifiers
    v1, o1, q1, v2, o2, q2, v3, o3, q3, v4, o4, q4, v5, o5, q5 = p[BULLET0:]
    qual2, qual3, extra = q[q2], q[q3], ""
    detail = p[DETAIL]
    if violation == "coworker_name":
        qual3 = t.coworker[detail % len(t.coworker)].replace(NAME_SLOT, coworker)
    elif violation == "drug_or_contract":
        qual2 = t.drug_or_contract[detail % len(t.drug_or_contract)]
    elif violation == "link":
        extra = t.links[detail % len(t.links)]
    elif violation == "attachment":
        extra = t.attachments[detail % len(t.attachments)]
    intro = t.intros[p[INTRO]]
    if html:
        li, eli = t.li, t.eli
        items = (
            f"{li}{v[v1]} {o[o1]} {q[q1]}{eli}{li}{v[v2]} {o[o2]} {qual2}{eli}"
            f"{li}{v[v3]} {o[o3]} {qual3}{eli}{li}{v[v4]} {o[o4]} {q[q4]}{eli}"
            f"{li}{v[v5]} {o[o5]} {q[q5]}{eli}"
        )
        tail = f"{t.p}{extra}{t.ep}" if extra else ""
        return f"{t.p}{intro}{t.ep}{t.ul}{items}{t.eul}{tail}"
    n = t.crlf
    return (
        f"{intro}{n}- {v[v1]} {o[o1]} {q[q1]}.{n}- {v[v2]} {o[o2]} {qual2}.{n}"
        f"- {v[v3]} {o[o3]} {qual3}.{n}- {v[v4]} {o[o4]} {q[q4]}.{n}"
        f"- {v[v5]} {o[o5]} {q[q5]}.{n}{extra}{n if extra else ''}"
    )


_MACHINE = ("auto_reply", "dsn", "reply_all")  # short texts, always plain
_RENDERED = frozenset(c for c in CONTENTS if c != "broadcast")


def _machine_text(t: Spelling, content: str, detail: int, name: str) -> str:
    crlf = t.crlf
    if content == "dsn":
        return f"{t.dsn_head}{name}{crlf}{crlf}{t.dsn[detail % len(t.dsn)]}"
    table = t.auto_replies if content == "auto_reply" else t.reply_all
    return f"{table[detail % len(table)]}{crlf}{crlf}{name}{crlf}"


def _check(contents: Iterable[str], violations: Iterable[str]) -> None:
    for content in set(contents) - _RENDERED:
        raise ValueError(f"content {content!r}: must be one of {', '.join(CONTENTS[1:])}")
    for violation in set(violations) - set(VIOLATIONS):
        raise ValueError(f"violation {violation!r}: must be one of {VIOLATIONS}")


def _spelled_name(t: Spelling, name: str, html: bool) -> str:
    return t.escape(html_lib.escape(name, quote=False) if html else name)


@cache
def _family_code(occupation: str) -> int:
    return families().index(grammar().family(occupation))


def render_reply(
    seed: int,
    event_id: int,
    content: str,
    violation: str,
    occupation: str,
    first_name: str,
    last_name: str,
    html: bool = False,
    json: bool = False,
    coworker: str = "",
) -> str:
    """The body of one reply, auto-reply or delivery report; same inputs, same text.

    `coworker` is the "First Last" a "coworker_name" body names (see `coworker_ids`).
    With `json`, the text comes JSON-escaped (ASCII, without the quotes)."""
    _check((content,), (violation,))
    t = spelling(json)
    family = _family_code(occupation)
    picks = _picks(_key(seed, event_id), family, content == "bullets")
    html = html and content not in _MACHINE
    name = _spelled_name(t, f"{first_name} {last_name}", html)
    other = _spelled_name(t, coworker, html) if violation == "coworker_name" else ""
    return _compose(t, content, violation, family, name, html, picks, other)


def render_replies(
    seed: int,
    event_ids: I64,
    contents: Sequence[str],
    violations: Sequence[str],
    family: I64,
    names: Sequence[str],
    html: Sequence[bool],
    json: bool = False,
    coworkers: Mapping[int, str] | None = None,
) -> list[str]:
    """`render_reply` for many events: picks drawn with numpy, then one join per body.

    `family` comes from `family_codes`, `names` are "First Last"; `coworkers` maps the
    position of each "coworker_name" event to the "First Last" it names (those events
    are rare, so only they appear). With `json`, each body comes JSON-escaped (ASCII,
    without the quotes), ready to go between two quotes.
    """
    _check(contents, violations)
    t = spelling(json)
    rows = _picks_np(_keys_np(seed, event_ids), family)
    named = coworkers or {}
    out = []
    for k, (content, violation, fam, name, is_html, p) in enumerate(
        zip(contents, violations, family.tolist(), names, html, rows, strict=True)
    ):
        is_html = is_html and content not in _MACHINE
        spelled = _spelled_name(t, name, is_html)
        other = _spelled_name(t, named.get(k, ""), is_html) if violation == "coworker_name" else ""
        out.append(_compose(t, content, violation, fam, spelled, is_html, p, other))
    return out


# -- sizing without rendering ------------------------------------------------------------
@dataclass(frozen=True)
class _Lengths:
    """Byte lengths of every table entry, per family where the table depends on one."""

    greeting: I64
    intro: I64
    closing: I64
    qualifier: I64
    coworker: I64
    drug: I64
    link: I64
    marking: I64
    attachment: I64
    attachment_bytes: I64
    auto: I64
    reply_all: I64
    dsn: I64
    title: list[I64]
    verb: list[I64]
    obj: list[I64]
    n_title: U64  # entries per family
    n_verb: U64
    n_obj: U64


def _lens(items: tuple[str, ...]) -> I64:
    return np.array([len(s.encode()) for s in items], dtype=np.int64)


@cache
def _lengths() -> _Lengths:
    g = grammar()
    title = [_lens(g.titles[f]) for f in families()]
    verb = [_lens(g.verbs[f]) for f in families()]
    obj = [_lens(g.objects[f]) for f in families()]
    return _Lengths(
        greeting=_lens(g.greetings),
        intro=_lens(g.intros),
        closing=_lens(g.closings),
        qualifier=_lens(g.qualifiers),
        coworker=_lens(g.coworker) - len(NAME_SLOT),  # without the name
        drug=_lens(g.drug_or_contract),
        link=_lens(g.links),
        marking=_lens(g.markings),
        attachment=_lens(g.attachments),
        attachment_bytes=np.array(g.attachment_bytes, dtype=np.int64),
        auto=_lens(g.auto_replies),
        reply_all=_lens(g.reply_all),
        dsn=_lens(g.dsn),
        title=title,
        verb=verb,
        obj=obj,
        n_title=_count(title),
        n_verb=_count(verb),
        n_obj=_count(obj),
    )


def _digit(word: U64, base: U64 | int) -> tuple[U64, I64]:
    """(word // base, word % base) for uint64 arrays."""
    quotient, remainder = np.divmod(word, np.asarray(base, dtype=np.uint64))
    return quotient, remainder.astype(np.int64)


def _count(table: list[I64]) -> U64:
    """How many entries a per-family table has, by family code."""
    return np.array([len(t) for t in table], dtype=np.uint64)


def _flat(table: list[I64], family: I64, idx: I64) -> I64:
    """Entry `idx` of each event's family's table (per-family tables, flattened)."""
    offsets = np.concatenate([[0], np.cumsum([len(t) for t in table])[:-1]]).astype(np.int64)
    picked: I64 = np.concatenate(table)[offsets[family] + idx]
    return picked


def _head_digits(ln: _Lengths, family: I64, word: U64) -> list[I64]:
    """Greeting, intro, closing, title and detail digits of the mixed key `word`."""
    word, i_g = _digit(word, len(ln.greeting))
    word, i_i = _digit(word, len(ln.intro))
    word, i_c = _digit(word, len(ln.closing))
    word, i_t = _digit(word, ln.n_title[family])
    _, detail = _digit(word, DETAIL_BASE)
    return [i_g, i_i, i_c, i_t, detail]


def _bullet_digits(ln: _Lengths, family: I64, keys: U64, bullets: U64) -> list[I64]:
    """Verb, object and qualifier digits of the given bullets (1-based): event x bullet."""
    word = _mix_np(keys[:, None] + bullets)
    word, verb = _digit(word, ln.n_verb[family][:, None])
    word, obj = _digit(word, ln.n_obj[family][:, None])
    _, qual = _digit(word, len(ln.qualifier))
    return [verb, obj, qual]


_ALL_BULLETS = np.arange(1, BULLETS + 1, dtype=np.uint64)


@dataclass(frozen=True)
class _HeadLengths:
    greeting: I64
    intro: I64
    closing: I64
    title: I64
    detail: I64


def _head_lengths(ln: _Lengths, family: I64, keys: U64) -> _HeadLengths:
    i_g, i_i, i_c, i_t, detail = _head_digits(ln, family, _mix_np(keys))
    title = _flat(ln.title, family, i_t)
    return _HeadLengths(ln.greeting[i_g], ln.intro[i_i], ln.closing[i_c], title, detail)


def _bullet_lengths(
    ln: _Lengths, family: I64, keys: U64, violation: I64, detail: I64, coworker: I64
) -> I64:
    """Summed length of the five "<verb> <object> <qualifier>" texts; `coworker` is the
    length of the name a "coworker_name" body puts in its qualifier."""
    total = np.zeros(len(keys), dtype=np.int64)
    coworker, coworker_len = violation == VIOLATIONS.index("coworker_name"), coworker
    drug = violation == VIOLATIONS.index("drug_or_contract")
    for b in range(1, BULLETS + 1):
        i_v, i_o, i_q = (d[:, 0] for d in _bullet_digits(ln, family, keys, _ALL_BULLETS[b - 1 : b]))
        qual = ln.qualifier[i_q]
        if b == 3:
            qual = np.where(coworker, ln.coworker[detail % len(ln.coworker)] + coworker_len, qual)
        elif b == 2:
            qual = np.where(drug, ln.drug[detail % len(ln.drug)], qual)
        total += _flat(ln.verb, family, i_v) + 1 + _flat(ln.obj, family, i_o) + 1 + qual
    return total


def _extra_lengths(ln: _Lengths, violation: I64, detail: I64) -> tuple[I64, I64]:
    """(length of the extra line, or 0; whether there is one) for link and attachment."""
    link = violation == VIOLATIONS.index("link")
    att = violation == VIOLATIONS.index("attachment")
    size = np.where(link, ln.link[detail % len(ln.link)], 0)
    size = np.where(att, ln.attachment[detail % len(ln.attachment)], size)
    return size.astype(np.int64), (link | att).astype(np.int64)


def family_codes(occupations: list[str]) -> I64:
    """Grammar family index for each occupation name of a vocabulary."""
    return np.array([_family_code(o) for o in occupations], dtype=np.int64)


def name_lengths(first: pa.Array, last: pa.Array) -> tuple[I64, I64]:
    """UTF-8 bytes of "First Last" as plain text and HTML-escaped (& < > as entities)."""
    plain = _bytes(first) + 1 + _bytes(last)
    extra = np.zeros(len(plain), dtype=np.int64)
    for part in (first, last):
        for char, entity in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;")):
            count = pc.count_substring(part, char).to_numpy(zero_copy_only=False)
            extra += count.astype(np.int64) * (len(entity) - 1)
    return plain, plain + extra


def _bytes(strings: pa.Array) -> I64:
    return pc.binary_length(strings).to_numpy(zero_copy_only=False).astype(np.int64)  # type: ignore[no-any-return]


def reply_sizes(
    seed: int,
    event_ids: I64,
    content: I64,
    violation: I64,
    family: I64,
    name_plain: I64,
    name_html: I64,
    html: BOOL,
    coworker_plain: I64 | None = None,
    coworker_html: I64 | None = None,
) -> I64:
    """Exact UTF-8 size of `render_reply` for many events, without rendering them.

    `content` and `violation` are indices into `columns.CONTENTS` / `VIOLATIONS`, `family`
    comes from `family_codes`, the name lengths from `name_lengths`; so do the lengths of
    the co-worker a "coworker_name" event names (read only there; none: an empty name).
    """
    ln = _lengths()
    keys = _keys_np(seed, event_ids)
    head = _head_lengths(ln, family, keys)
    zero = np.zeros(len(keys), dtype=np.int64)
    other = (zero if coworker_plain is None else coworker_plain, coworker_html)
    parts = _parts(ln, content, violation, family, keys, head, other)
    is_html = html & np.isin(content, [CONTENTS.index(c) for c in _WRITTEN])
    writer = np.where(
        is_html, _html_size(parts, head, name_html), _plain_size(parts, head, name_plain)
    )
    machine = _machine_size(ln, content, keys, name_plain)
    return np.where(np.isin(content, _MACHINE_CODES), machine, writer)


_WRITTEN = ("bullets", "sensitive", "form_letter")
_MACHINE_CODES = [CONTENTS.index(c) for c in _MACHINE]


def _machine_size(ln: _Lengths, content: I64, keys: U64, name: I64) -> I64:
    _, detail = _digit(_mix_np(keys), DETAIL_BASE)
    auto = ln.auto[detail % len(ln.auto)] + 4 + name + 2
    post = ln.reply_all[detail % len(ln.reply_all)] + 4 + name + 2
    dsn = len(DSN_HEAD) + name + 4 + ln.dsn[detail % len(ln.dsn)]
    size = np.where(content == CONTENTS.index("reply_all"), post, dsn)
    return np.where(content == CONTENTS.index("auto_reply"), auto, size)


@dataclass(frozen=True)
class _Parts:
    """Lengths shared by the plain and HTML forms of a written body."""

    content: I64
    text: I64  # the five bullet texts, without markup (a co-worker's name as plain text)
    html_extra: I64  # what HTML-escaping adds to that co-worker's name
    extra: I64  # link or attachment line, or 0
    n_extra: I64  # 1 where there is such a line
    marking: I64  # classification line, or 0
    marked: BOOL


def _parts(
    ln: _Lengths,
    content: I64,
    violation: I64,
    family: I64,
    keys: U64,
    head: _HeadLengths,
    coworker: tuple[I64, I64 | None],
) -> _Parts:
    bullets = violation * (content == CONTENTS.index("bullets"))
    plain, escaped = coworker
    text = _bullet_lengths(ln, family, keys, bullets, head.detail, plain)
    named = bullets == VIOLATIONS.index("coworker_name")
    html_extra = np.where(named, (plain if escaped is None else escaped) - plain, 0)
    extra, n_extra = _extra_lengths(ln, bullets, head.detail)
    marked = bullets == VIOLATIONS.index("classification")
    marking = np.where(marked, ln.marking[head.detail % len(ln.marking)], 0)
    return _Parts(content, text, html_extra, extra, n_extra, marking.astype(np.int64), marked)


def _blocks(parts: _Parts, head: _HeadLengths, html: bool) -> I64:
    """Length of the paragraphs between greeting and signature, and of marking lines."""
    g = grammar()
    if html:
        intro = len(P) + head.intro + len(EP) + len(UL) + len(EUL)
        per_extra = len(P) + len(EP)
        body = intro + parts.text + parts.html_extra + BULLETS * (len(LI) + len(ELI))
        top = np.where(parts.marked, len(P) + 3 + parts.marking + 4 + len(EP), 0)
        sens = len(P) + len(SENSITIVE_STATEMENT) + len(EP)
        form = len(P) + len(g.form_letter.replace(CRLF, BR)) + len(EP)
    else:
        per_extra = 2
        body = head.intro + 2 + parts.text + BULLETS * 5
        top = np.where(parts.marked, parts.marking + 4, 0)
        sens = len(SENSITIVE_STATEMENT) + 2
        form = len(g.form_letter) + 2
    body = body + parts.extra + parts.n_extra * per_extra + top
    sizes = np.where(parts.content == CONTENTS.index("sensitive"), sens, body)
    return np.where(parts.content == CONTENTS.index("form_letter"), form, sizes)


def _plain_size(parts: _Parts, head: _HeadLengths, name: I64) -> I64:
    sig = head.closing + 2 + name + 2 + head.title + 2
    blocks = _blocks(parts, head, html=False)
    return head.greeting + 4 + blocks + 2 + sig + len(PLAIN_QUOTE)


def _html_size(parts: _Parts, head: _HeadLengths, name: I64) -> I64:
    sig = len(P) + head.closing + len(SIG_OPEN) + name + len(SIG_NAME_END) + head.title
    sig = sig + len(BR) + len(SIG_TAIL) + len(EP)
    greet = len(P) + head.greeting + len(EP)
    blocks = _blocks(parts, head, html=True)
    return len(HTML_HEAD) + greet + blocks + sig + len(HTML_TAIL)


def attachment_sizes(seed: int, event_ids: I64, violation: I64, family: I64) -> I64:
    """Bytes the attachment an "attachment" reply names adds to its mail message (the
    multipart/mixed framing and the base64 part: `MIXED_PREFIX` + `attachment_mime`),
    else 0. The body sizes of `reply_sizes` plus these are the message minus its header."""
    ln = _lengths()
    head = _head_lengths(ln, family, _keys_np(seed, event_ids))
    size = ln.attachment_bytes[head.detail % len(ln.attachment_bytes)]
    return np.where(violation == VIOLATIONS.index("attachment"), size, 0).astype(np.int64)
