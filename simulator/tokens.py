"""Per-agency bearer tokens: an HMAC of the agency code under a server secret.

Theory of operation: an agency's submitting system holds `mint_token(secret, "DHS")`,
which reads `DHS.<hex>`. The server recomputes the HMAC and compares in constant time,
so it keeps no token table and any process holding the secret (the replay engine, a
Locust user) can mint tokens. A token admits only senders of its agency and scopes reads
to that agency's replies.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from pathlib import Path

TOKEN_HEX_CHARS = 32  # 128 bits of the SHA-256 HMAC


def new_secret() -> bytes:
    return secrets.token_bytes(32)


def mint_token(secret: bytes, agency: str) -> str:
    """The bearer token of one agency (department code such as "DHS")."""
    mac = hmac.new(secret, agency.encode("utf-8"), hashlib.sha256).hexdigest()
    return f"{agency}.{mac[:TOKEN_HEX_CHARS]}"


def agency_of(secret: bytes, header: str | None) -> str | None:
    """The agency an `Authorization: Bearer ...` header proves, or None."""
    if not header or not header.startswith("Bearer "):
        return None
    token = header[7:].strip()
    agency, _, _ = token.partition(".")
    if not agency or not hmac.compare_digest(mint_token(secret, agency), token):
        return None
    return agency


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
