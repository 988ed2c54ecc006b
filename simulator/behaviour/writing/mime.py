"""Attachments: the MIME part an "attachment" reply carries by mail, and its exact size.

Theory of operation: an "attachment" body names a file in its marker line
("[Attachment: name (KB KB)]", table "attachments"), picked by the event's "detail"
digit. Sent by mail, the message becomes multipart/mixed: the text part's headers move
into the first part (`MIXED_PREFIX`) and the attachment follows the text part's body
(`attachment_mime`): delimiter, headers, KB kilobytes of filler base64-encoded in
76-character CRLF-ended lines (RFC 2045, November 1996, section 6.8), closing delimiter.
The filler is a SplitMix64 stream keyed by the file name, so the part is the same bytes
every time, and what it adds to a message is known by arithmetic (`attachment_bytes`).
Uploaded as a file (a multipart/form-data request, `simulator.traffic.request`), the
file holds exactly `attachment_bytes()[i]` bytes of the same filler (`attachment_file`),
so an HTTP upload weighs what the schedule counts for the mailed attachment.
"""

from __future__ import annotations

import base64
import zlib
from functools import cache

import numpy as np
import numpy.typing as npt

from simulator.behaviour.writing.digits import (
    SLOT,
    draw,
    draw_np,
    key,
    keys_np,
    mix_np,
    plan,
    words_of,
)
from simulator.behaviour.writing.phrases import CRLF, family_code, grammar
from simulator.columns import VIOLATIONS

I64 = npt.NDArray[np.int64]

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
_DETAIL = words_of(["detail"])  # the digit that picks the file (as the marker line's)


def _head(name: str) -> str:
    """Delimiter and headers of the attachment part (the text part's body comes before)."""
    media = MEDIA_TYPES.get(name.rpartition(".")[2].lower(), "application/octet-stream")
    return (
        f"{CRLF}--{BOUNDARY}{CRLF}"
        f'Content-Type: {media}; name="{name}"{CRLF}'
        f'Content-Disposition: attachment; filename="{name}"{CRLF}'
        f"Content-Transfer-Encoding: base64{CRLF}{CRLF}"
    )


def _tail() -> str:
    return f"--{BOUNDARY}--{CRLF}"


def _size(name: str, kb: int) -> int:
    encoded = 4 * -(-kb * 1024 // 3)
    lines = -(-encoded // B64_LINE)
    return len(MIXED_PREFIX) + len(_head(name)) + encoded + 2 * lines + len(_tail())


@cache
def attachment_bytes() -> tuple[int, ...]:
    """Bytes `MIXED_PREFIX` + `attachment_mime(i)` add to a message, for each file i."""
    return tuple(_size(name, kb) for name, kb in grammar().attachment_files)


@cache
def attachment_mime(index: int) -> bytes:
    """The attachment part of file `index` (see `attachment_index`), after the text part."""
    name, kb = grammar().attachment_files[index]
    words = -(-kb * 1024 // 8)
    counter = np.arange(words, dtype=np.uint64) + np.uint64(zlib.crc32(name.encode()))
    filler = mix_np(counter).tobytes()[: kb * 1024]
    encoded = base64.encodebytes(filler).replace(b"\n", b"\r\n")
    return _head(name).encode() + encoded + _tail().encode()


@cache
def attachment_file(index: int) -> tuple[str, str, bytes]:
    """(file name, media type, content) of file `index` as an upload: the content is
    `attachment_bytes()[index]` bytes, the size the schedule counts for the attachment."""
    name, _ = grammar().attachment_files[index]
    size = attachment_bytes()[index]
    counter = np.arange(-(-size // 8), dtype=np.uint64) + np.uint64(zlib.crc32(name.encode()))
    media = MEDIA_TYPES.get(name.rpartition(".")[2].lower(), "application/octet-stream")
    return name, media, mix_np(counter).tobytes()[:size]


def attachment_index(seed: int, event_id: int, occupation: str) -> int:
    """Which file (index into the grammar's attachment files) an "attachment" reply names."""
    picks = draw(key(seed, event_id), plan(_DETAIL, family_code(occupation)))
    return picks[SLOT["detail"]] % len(grammar().attachment_files)


def attachment_sizes(seed: int, event_ids: I64, violation: I64, family: I64) -> I64:
    """Bytes the attachment an "attachment" reply names adds to its mail message (the
    multipart/mixed framing and the base64 part: `MIXED_PREFIX` + `attachment_mime`),
    else 0. The body sizes of `reply_sizes` plus these are the message minus its header."""
    detail = draw_np(keys_np(seed, event_ids), family, _DETAIL)["detail"]
    size = np.array(attachment_bytes(), dtype=np.int64)[detail % len(attachment_bytes())]
    return np.where(violation == VIOLATIONS.index("attachment"), size, 0).astype(np.int64)


# A bounce goes out as a delivery report (RFC 3464, January 2003): multipart/report with
# the human-readable text first and a message/delivery-status part naming the address
# that failed. Collection systems file only such reports from the null sender.
REPORT_BOUNDARY = "=_pulsecheck_report"
REPORT_PREFIX = (
    "Content-Type: multipart/report; report-type=delivery-status; "
    f'boundary="{REPORT_BOUNDARY}"' + CRLF + CRLF + f"--{REPORT_BOUNDARY}" + CRLF
)


def delivery_status(failed: str) -> str:
    """The delivery-status part and closing delimiter that follow a bounce's text part."""
    return (
        f"{CRLF}--{REPORT_BOUNDARY}{CRLF}"
        f"Content-Type: message/delivery-status{CRLF}{CRLF}"
        f"Reporting-MTA: dns; pulsecheck.example{CRLF}{CRLF}"
        f"Final-Recipient: rfc822; {failed}{CRLF}"
        f"Action: failed{CRLF}"
        f"Status: 5.1.1{CRLF}"
        f"{CRLF}--{REPORT_BOUNDARY}--{CRLF}"
    )
