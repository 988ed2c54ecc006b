"""Per-agency bearer tokens: signed, expiring, revocable one at a time.

Theory of operation: a token reads `AGENCY.KID.EXPIRY.MAC`: the agency code (such as
`DHS`), a random key id naming this one token, the expiry in Unix seconds, and the first
128 bits of HMAC-SHA256(secret, "AGENCY.KID.EXPIRY") in hex. No field may hold a dot, so
the signed text is unambiguous. The server recomputes the MAC and compares in constant
time (`hmac.compare_digest`), so it keeps no token table and any process holding the
secret (the replay engine, a Locust user, `pulsecheck serve token`) can mint tokens. A
token admits only senders of its agency and scopes reads to that agency's replies.

`check_token` refuses, with a reason naming which: a malformed token, a bad signature
(another secret, a changed field), an expired token, a revoked key id. Revocation is a
plain file of key ids, one per line (`#` comments), that the server reads through
`RevocationList`: it stats the file at each check and re-reads it when it changed, so
`pulsecheck serve revoke --kid KID` takes effect on the next request with no restart. A
missing file revokes nothing; a file that cannot be read or parsed keeps the list last
read (and is an error at start-up).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
import re
import secrets
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

TOKEN_HEX_CHARS = 32  # 128 bits of the SHA-256 HMAC
DEFAULT_TTL_S = 12 * 3600  # a working day and a night: longer than any replay run
MAX_TTL_S = 366 * 86400
_AGENCY = re.compile(r"[A-Za-z0-9_-]{1,32}")
_KID = re.compile(r"[A-Za-z0-9_-]{1,64}")
_EXPIRY = re.compile(r"[0-9]{1,12}")
_MAC = re.compile(f"[0-9a-f]{{{TOKEN_HEX_CHARS}}}")

log = logging.getLogger("pulsecheck.tokens")


class TokenRejected(Exception):
    """A token that does not authenticate; `reason` names why (never the token itself)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Principal:
    """Who a valid token speaks for."""

    agency: str
    kid: str
    expires: int  # Unix seconds


def new_secret() -> bytes:
    return secrets.token_bytes(32)


def new_kid() -> str:
    return secrets.token_hex(8)


def _mac(secret: bytes, signed: str) -> str:
    return hmac.new(secret, signed.encode("ascii"), hashlib.sha256).hexdigest()[:TOKEN_HEX_CHARS]


def mint_token(
    secret: bytes,
    agency: str,
    *,
    ttl_s: float = DEFAULT_TTL_S,
    kid: str | None = None,
    now: float | None = None,
) -> str:
    """The bearer token of one agency (department code such as "DHS").

    Defaults: a fresh random key id and an expiry `DEFAULT_TTL_S` from now.
    """
    if not _AGENCY.fullmatch(agency):
        raise ValueError(f"agency code must match {_AGENCY.pattern}, got {agency!r}")
    kid = new_kid() if kid is None else kid
    if not _KID.fullmatch(kid):
        raise ValueError(f"key id must match {_KID.pattern}, got {kid!r}")
    if not 0 < ttl_s <= MAX_TTL_S:
        raise ValueError(f"ttl must be between 1 second and {MAX_TTL_S} s, got {ttl_s!r}")
    expires = int((time.time() if now is None else now) + ttl_s)
    signed = f"{agency}.{kid}.{expires}"
    return f"{signed}.{_mac(secret, signed)}"


def check_token(
    secret: bytes,
    token: str,
    revoked: frozenset[str] = frozenset(),
    now: float | None = None,
) -> Principal:
    """The principal a token proves; raises `TokenRejected` naming why it does not."""
    parts = token.split(".")
    if len(parts) != 4 or not token.isascii():
        raise TokenRejected("malformed token: expected AGENCY.KID.EXPIRY.MAC")
    agency, kid, expiry, mac = parts
    if not (
        _AGENCY.fullmatch(agency)
        and _KID.fullmatch(kid)
        and _EXPIRY.fullmatch(expiry)
        and _MAC.fullmatch(mac)
    ):
        raise TokenRejected("malformed token: expected AGENCY.KID.EXPIRY.MAC")
    expected = _mac(secret, f"{agency}.{kid}.{expiry}")
    if not hmac.compare_digest(expected.encode("ascii"), mac.encode("ascii")):
        raise TokenRejected("invalid token signature")
    expires = int(expiry)
    if (time.time() if now is None else now) >= expires:
        stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(expires))
        raise TokenRejected(f"token expired at {stamp}")
    if kid in revoked:
        raise TokenRejected(f"token revoked (key id {kid})")
    return Principal(agency, kid, expires)


def bearer(header: str | None) -> str:
    """The token of an `Authorization: Bearer ...` header; `TokenRejected` if none."""
    if not header:
        raise TokenRejected("missing bearer token")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise TokenRejected("missing bearer token")
    return token.strip()


def authenticate(
    secret: bytes,
    header: str | None,
    revoked: frozenset[str] = frozenset(),
    now: float | None = None,
) -> Principal:
    """The principal an `Authorization` header proves; raises `TokenRejected`."""
    return check_token(secret, bearer(header), revoked, now)


def agency_of(
    secret: bytes,
    header: str | None,
    revoked: frozenset[str] = frozenset(),
    now: float | None = None,
) -> str | None:
    """The agency an `Authorization: Bearer ...` header proves, or None."""
    try:
        return authenticate(secret, header, revoked, now).agency
    except TokenRejected:
        return None


def kid_of(token: str) -> str:
    """The key id of a token (not verified): what `pulsecheck serve revoke` lists."""
    parts = token.strip().split(".")
    if len(parts) != 4 or not _KID.fullmatch(parts[1]):
        raise ValueError("not a token of the form AGENCY.KID.EXPIRY.MAC")
    return parts[1]


# -- revocation ---------------------------------------------------------------------
def parse_revoked(text: str, source: str) -> frozenset[str]:
    """Key ids of a revocation file: one per line, blank lines and `#` comments ignored."""
    kids: set[str] = set()
    for number, line in enumerate(text.splitlines(), 1):
        kid = line.split("#", 1)[0].strip()
        if not kid:
            continue
        if not _KID.fullmatch(kid):
            raise ValueError(f"{source}:{number}: key id {kid!r} must match {_KID.pattern}")
        kids.add(kid)
    return frozenset(kids)


class RevocationList:
    """The revoked key ids in a file, re-read whenever the file changes."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._stamp: tuple[int, int, int] | None = None
        self._kids: frozenset[str] = frozenset()
        self._reload(strict=True)

    def current(self) -> frozenset[str]:
        """The revoked key ids now (one `stat` per call; a re-read only on change)."""
        self._reload(strict=False)
        return self._kids

    def _reload(self, strict: bool) -> None:
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            self._stamp, self._kids = None, frozenset()
            return
        except OSError as err:
            if strict:
                raise
            log.warning(
                "revocation list %s: cannot stat (%s); keeping the last list", self.path, err
            )
            return
        stamp = (st.st_ino, st.st_mtime_ns, st.st_size)
        if stamp == self._stamp:
            return
        try:
            kids = parse_revoked(self.path.read_text(encoding="utf-8"), str(self.path))
        except (OSError, ValueError) as err:
            if strict:
                raise
            log.warning(
                "revocation list %s unreadable (%s); keeping the last list",
                self.path,
                type(err).__name__,
            )
            return
        self._stamp, self._kids = stamp, kids


def revoke(path: str | Path, kid: str) -> bool:
    """Add a key id to a revocation file (atomically replaced); False if already listed."""
    if not _KID.fullmatch(kid):
        raise ValueError(f"key id must match {_KID.pattern}, got {kid!r}")
    target = Path(path)
    text = target.read_text(encoding="utf-8") if target.exists() else ""
    if kid in parse_revoked(text, str(target)):
        return False
    if text and not text.endswith("\n"):
        text += "\n"
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(f"{text}{kid}\n")
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, target)  # a new inode: the server sees the change at once
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return True


def load_or_create_secret(path: str | Path) -> bytes:
    """Read a secret file, creating it (mode 0600, random) when missing."""
    target = Path(path)
    if target.exists():
        data = target.read_bytes().strip()
        if len(data) < 16:
            raise ValueError(f"{target}: secret must hold at least 16 bytes")
        return data
    secret = new_secret().hex().encode("ascii")
    target.touch(mode=0o600)
    target.write_bytes(secret)
    return secret
