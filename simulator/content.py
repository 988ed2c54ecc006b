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
marking, a co-worker's name, a drug or contract name). HTML applies to the kinds a person
writes (bullets, sensitive, form letter): an Outlook-style document with a signature.
Auto-replies, delivery reports (dsn) and reply-all list posts are always plain text.
"""

from __future__ import annotations

import html as html_lib
import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

from simulator.columns import CONTENTS, VIOLATIONS
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
BASE64_RATIO = 4 / 3  # an attachment travels base64-encoded (RFC 2045 §6.8)


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
    attachment_bytes: tuple[int, ...]  # encoded size of the attachment each marker names
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
        attachment_bytes=tuple(int(kb * 1024 * BASE64_RATIO) for _, kb in att),
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


# -- hashing -----------------------------------------------------------------------------
def _mix(x: int) -> int:
    x = (x + _GOLDEN) & _MASK
    x = ((x ^ (x >> 30)) * _MUL1) & _MASK
    x = ((x ^ (x >> 27)) * _MUL2) & _MASK
    return x ^ (x >> 31)


def _key(seed: int, event_id: int) -> int:
    return _mix(_mix(seed & _MASK) ^ (event_id & _MASK))


def _mix_np(x: U64) -> U64:
    x = x + np.uint64(_GOLDEN)
    x = (x ^ (x >> np.uint64(30))) * np.uint64(_MUL1)
    x = (x ^ (x >> np.uint64(27))) * np.uint64(_MUL2)
    return x ^ (x >> np.uint64(31))


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
@dataclass(frozen=True)
class _Picks:
    greeting: str
    intro: str
    closing: str
    title: str
    detail: int


def _head_picks(g: Grammar, family: str, word: int) -> _Picks:
    word, i_g = divmod(word, len(g.greetings))
    word, i_i = divmod(word, len(g.intros))
    word, i_c = divmod(word, len(g.closings))
    titles = g.titles[family]
    word, i_t = divmod(word, len(titles))
    return _Picks(g.greetings[i_g], g.intros[i_i], g.closings[i_c], titles[i_t], word % DETAIL_BASE)


def _bullets(g: Grammar, family: str, key: int, violation: str, detail: int) -> list[str]:
    verbs, objects, quals = g.verbs[family], g.objects[family], g.qualifiers
    out = []
    for b in range(1, BULLETS + 1):
        word = _mix((key + b) & _MASK)
        word, i_v = divmod(word, len(verbs))
        word, i_o = divmod(word, len(objects))
        qual = quals[word % len(quals)]
        if b == 3 and violation == "coworker_name":
            qual = g.coworker[detail % len(g.coworker)]
        elif b == 2 and violation == "drug_or_contract":
            qual = g.drug_or_contract[detail % len(g.drug_or_contract)]
        out.append(f"{verbs[i_v]} {objects[i_o]} {qual}")
    return out


def _extra_lines(g: Grammar, violation: str, detail: int) -> list[str]:
    if violation == "link":
        return [g.links[detail % len(g.links)]]
    if violation == "attachment":
        return [g.attachments[detail % len(g.attachments)]]
    return []


def _plain(top: list[str], blocks: list[str], p: _Picks, name: str) -> str:
    sig = f"{p.closing}{CRLF}{name}{CRLF}{p.title}{CRLF}"
    head = "".join(line + CRLF + CRLF for line in top)
    return head + p.greeting + CRLF + CRLF + "".join(blocks) + CRLF + sig + PLAIN_QUOTE


def _html(top: list[str], blocks: list[str], p: _Picks, name: str) -> str:
    head = "".join(f"{P}<b>{line}</b>{EP}" for line in top)
    sig = f"{P}{p.closing}{SIG_OPEN}{name}{SIG_NAME_END}{p.title}{BR}{SIG_TAIL}{EP}"
    return HTML_HEAD + head + P + p.greeting + EP + "".join(blocks) + sig + HTML_TAIL


def render_reply(
    seed: int,
    event_id: int,
    content: str,
    violation: str,
    occupation: str,
    first_name: str,
    last_name: str,
    html: bool = False,
) -> str:
    """The body of one reply, auto-reply or delivery report; same inputs, same text."""
    if content not in CONTENTS or content == "broadcast":
        raise ValueError(f"content {content!r}: must be one of {', '.join(CONTENTS[1:])}")
    if violation not in VIOLATIONS:
        raise ValueError(f"violation {violation!r}: must be one of {VIOLATIONS}")
    g = grammar()
    key = _key(seed, event_id)
    name = f"{first_name} {last_name}"
    if content in _MACHINE:
        return _machine_text(g, content, _mix(key) % DETAIL_BASE, name)
    family = g.family(occupation)
    picks = _head_picks(g, family, _mix(key))
    if html:
        name = html_lib.escape(name, quote=False)
    top, blocks = _body_blocks(g, content, violation, family, key, picks, html)
    return (_html if html else _plain)(top, blocks, picks, name)


_MACHINE = ("auto_reply", "dsn", "reply_all")  # short texts, always plain


def _machine_text(g: Grammar, content: str, detail: int, name: str) -> str:
    if content == "auto_reply":
        return g.auto_replies[detail % len(g.auto_replies)] + CRLF + CRLF + name + CRLF
    if content == "reply_all":
        return g.reply_all[detail % len(g.reply_all)] + CRLF + CRLF + name + CRLF
    return DSN_HEAD + name + CRLF + CRLF + g.dsn[detail % len(g.dsn)]


def _body_blocks(
    g: Grammar, content: str, violation: str, family: str, key: int, p: _Picks, html: bool
) -> tuple[list[str], list[str]]:
    """Marking lines for the top, and the paragraphs between greeting and signature."""
    if content == "sensitive":
        return [], [f"{P}{SENSITIVE_STATEMENT}{EP}" if html else SENSITIVE_STATEMENT + CRLF]
    if content == "form_letter":
        text = g.form_letter
        return [], [f"{P}{text.replace(CRLF, BR)}{EP}" if html else text + CRLF]
    top = [g.markings[p.detail % len(g.markings)]] if violation == "classification" else []
    bullets = _bullets(g, family, key, violation, p.detail)
    extra = _extra_lines(g, violation, p.detail)
    if html:
        items = "".join(f"{LI}{b}{ELI}" for b in bullets)
        return top, [f"{P}{p.intro}{EP}{UL}{items}{EUL}", *(f"{P}{x}{EP}" for x in extra)]
    lines = "".join(f"- {b}.{CRLF}" for b in bullets)
    return top, [p.intro + CRLF + lines, *(x + CRLF for x in extra)]


# -- sizing without rendering ------------------------------------------------------------
@dataclass(frozen=True)
class _Lengths:
    """Byte lengths of every table entry, per family where the table depends on one."""

    families: tuple[str, ...]
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


def _lens(items: tuple[str, ...]) -> I64:
    return np.array([len(s.encode()) for s in items], dtype=np.int64)


@cache
def _lengths() -> _Lengths:
    g = grammar()
    families = tuple(sorted(g.verbs))
    return _Lengths(
        families=families,
        greeting=_lens(g.greetings),
        intro=_lens(g.intros),
        closing=_lens(g.closings),
        qualifier=_lens(g.qualifiers),
        coworker=_lens(g.coworker),
        drug=_lens(g.drug_or_contract),
        link=_lens(g.links),
        marking=_lens(g.markings),
        attachment=_lens(g.attachments),
        attachment_bytes=np.array(g.attachment_bytes, dtype=np.int64),
        auto=_lens(g.auto_replies),
        reply_all=_lens(g.reply_all),
        dsn=_lens(g.dsn),
        title=[_lens(g.titles[f]) for f in families],
        verb=[_lens(g.verbs[f]) for f in families],
        obj=[_lens(g.objects[f]) for f in families],
    )


def _digit(word: U64, base: U64 | int) -> tuple[U64, I64]:
    """(word // base, word % base) for uint64 arrays."""
    quotient, remainder = np.divmod(word, np.asarray(base, dtype=np.uint64))
    return quotient, remainder.astype(np.int64)


def _pick(table: list[I64], family: I64, word: U64) -> tuple[U64, I64]:
    """Digit of `word` in base len(table[family]) and the picked entry's length."""
    sizes = np.array([len(t) for t in table], dtype=np.uint64)
    word, idx = _digit(word, sizes[family])
    flat = np.concatenate(table)
    offsets = np.concatenate([[0], np.cumsum([len(t) for t in table])[:-1]]).astype(np.int64)
    return word, flat[offsets[family] + idx]


@dataclass(frozen=True)
class _HeadLengths:
    greeting: I64
    intro: I64
    closing: I64
    title: I64
    detail: I64


def _head_lengths(ln: _Lengths, family: I64, keys: U64) -> _HeadLengths:
    word = _mix_np(keys)
    word, i_g = _digit(word, len(ln.greeting))
    word, i_i = _digit(word, len(ln.intro))
    word, i_c = _digit(word, len(ln.closing))
    word, title = _pick(ln.title, family, word)
    _, detail = _digit(word, DETAIL_BASE)
    return _HeadLengths(ln.greeting[i_g], ln.intro[i_i], ln.closing[i_c], title, detail)


def _bullet_lengths(ln: _Lengths, family: I64, keys: U64, violation: I64, detail: I64) -> I64:
    """Summed length of the five "<verb> <object> <qualifier>" texts."""
    total = np.zeros(len(keys), dtype=np.int64)
    coworker = violation == VIOLATIONS.index("coworker_name")
    drug = violation == VIOLATIONS.index("drug_or_contract")
    for b in range(1, BULLETS + 1):
        word = _mix_np(keys + np.uint64(b))
        word, verb = _pick(ln.verb, family, word)
        word, obj = _pick(ln.obj, family, word)
        _, i_q = _digit(word, len(ln.qualifier))
        qual = ln.qualifier[i_q]
        if b == 3:
            qual = np.where(coworker, ln.coworker[detail % len(ln.coworker)], qual)
        elif b == 2:
            qual = np.where(drug, ln.drug[detail % len(ln.drug)], qual)
        total += verb + 1 + obj + 1 + qual
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
    g, ln = grammar(), _lengths()
    return np.array([ln.families.index(g.family(o)) for o in occupations], dtype=np.int64)


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
) -> I64:
    """Exact UTF-8 size of `render_reply` for many events, without rendering them.

    `content` and `violation` are indices into `columns.CONTENTS` / `VIOLATIONS`, `family`
    comes from `family_codes`, the name lengths from `name_lengths`.
    """
    ln = _lengths()
    keys = _keys_np(seed, event_ids)
    head = _head_lengths(ln, family, keys)
    parts = _parts(ln, content, violation, family, keys, head)
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
    text: I64  # the five bullet texts, without markup
    extra: I64  # link or attachment line, or 0
    n_extra: I64  # 1 where there is such a line
    marking: I64  # classification line, or 0
    marked: BOOL


def _parts(
    ln: _Lengths, content: I64, violation: I64, family: I64, keys: U64, head: _HeadLengths
) -> _Parts:
    bullets = violation * (content == CONTENTS.index("bullets"))
    text = _bullet_lengths(ln, family, keys, bullets, head.detail)
    extra, n_extra = _extra_lengths(ln, bullets, head.detail)
    marked = bullets == VIOLATIONS.index("classification")
    marking = np.where(marked, ln.marking[head.detail % len(ln.marking)], 0)
    return _Parts(content, text, extra, n_extra, marking.astype(np.int64), marked)


def _blocks(parts: _Parts, head: _HeadLengths, html: bool) -> I64:
    """Length of the paragraphs between greeting and signature, and of marking lines."""
    g = grammar()
    if html:
        intro = len(P) + head.intro + len(EP) + len(UL) + len(EUL)
        per_extra = len(P) + len(EP)
        body = intro + parts.text + BULLETS * (len(LI) + len(ELI))
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
    """Encoded bytes of the attachment an "attachment" reply's marker line names; else 0."""
    ln = _lengths()
    head = _head_lengths(ln, family, _keys_np(seed, event_ids))
    size = ln.attachment_bytes[head.detail % len(ln.attachment_bytes)]
    return np.where(violation == VIOLATIONS.index("attachment"), size, 0).astype(np.int64)
