"""Encryption at rest for stored replies: one AES-GCM data key per agency, bound to its row.

Theory of operation: a 256-bit master key lives in a key file (hex, mode 0600, created
when missing; a file that group or others can read is refused). Each agency's data key
is derived from it with HKDF-SHA256 (`info` names the agency), so a holder of one
agency's data key (`Vault.agency_key`) cannot read another agency's rows, and nothing
but the master key is ever stored. `seal` packs a reply's subject, cc list and body
into one plaintext and encrypts it with AES-GCM under the sender agency's key, a fresh
random 96-bit nonce and associated data naming the row (agency and idempotency key):
a ciphertext copied to another row or relabelled as another agency's fails to
authenticate in `open`. The stored blob is `version (1 byte) | nonce (12) | ciphertext
+ tag (16)`. Random nonces under one key stay safe up to about 2**32 seals (NIST SP
800-38D); a full-scale round stores about 10**7 rows over all agencies, so a key
serves hundreds of rounds before it should be rotated (a new key file and store).

`bind` records a fingerprint of the master key (an HKDF output, not the key) in the
store, so opening a store with the wrong key file fails at once with a clear error
instead of writing rows nobody can read later. AESGCM objects are cached per agency;
they are safe to share between the writer thread and reader threads.
"""

from __future__ import annotations

import os
import sqlite3
import stat
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from simulator.validation import InputError

KEY_BYTES = 32
NONCE_BYTES = 12
VERSION = b"\x01"
_SALT = b"pulsecheck-vault-v1"
_AAD_LABEL = b"pulsecheck-reply-v1\x00"
_LENGTHS = struct.Struct("<II")  # subject and cc byte lengths; the body is the rest


class VaultError(Exception):
    """A sealed value that does not authenticate (tampered, moved, or another key)."""


@dataclass(frozen=True, slots=True)
class Contents:
    """The protected fields of one reply."""

    subject: str
    cc: tuple[str, ...]
    body: str


def _derive(master: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=_SALT, info=info).derive(master)


def _aad(idem_key: str, agency: str) -> bytes:
    return _AAD_LABEL + agency.encode("utf-8") + b"\x00" + idem_key.encode("utf-8")


class Vault:
    """Seals and opens reply contents. Give the master key, or one agency's data key."""

    def __init__(
        self, master_key: bytes | None = None, *, agency_keys: dict[str, bytes] | None = None
    ) -> None:
        if master_key is not None and len(master_key) != KEY_BYTES:
            raise ValueError(f"master key must be {KEY_BYTES} bytes, got {len(master_key)}")
        if master_key is None and not agency_keys:
            raise ValueError("give a master key or at least one agency key")
        self._master = master_key
        self._aeads: dict[str, AESGCM] = {}
        for agency, key in (agency_keys or {}).items():
            self._aeads[agency] = AESGCM(key)

    @classmethod
    def from_key_file(cls, path: str | Path, *, create: bool = False) -> Vault:
        return cls(load_or_create_key(path) if create else load_key(path))

    def agency_key(self, agency: str) -> bytes:
        """One agency's data key: enough to read that agency's rows and no others."""
        if self._master is None:
            raise VaultError("this vault holds agency keys only, not the master key")
        return _derive(self._master, b"reply-data-key:" + agency.encode("utf-8"))

    def can_open(self, agency: str) -> bool:
        """Whether this vault holds (or can derive) the agency's key."""
        return self._master is not None or agency in self._aeads

    def _aead(self, agency: str) -> AESGCM:
        aead = self._aeads.get(agency)
        if aead is None:
            if self._master is None:
                raise VaultError(f"no key for agency {agency!r}")
            aead = self._aeads[agency] = AESGCM(self.agency_key(agency))
        return aead

    def seal(self, idem_key: str, agency: str, subject: str, cc: Sequence[str], body: str) -> bytes:
        """The stored blob for one row's subject, cc and body."""
        s, c = subject.encode("utf-8"), ",".join(cc).encode("utf-8")
        plain = _LENGTHS.pack(len(s), len(c)) + s + c + body.encode("utf-8")
        nonce = os.urandom(NONCE_BYTES)
        return VERSION + nonce + self._aead(agency).encrypt(nonce, plain, _aad(idem_key, agency))

    def open(self, idem_key: str, agency: str, blob: bytes) -> Contents:
        """The contents of a sealed row; `VaultError` if it does not authenticate here."""
        if len(blob) < 1 + NONCE_BYTES + 16 or blob[:1] != VERSION:
            raise VaultError("not a sealed value of a known version")
        nonce, sealed = blob[1 : 1 + NONCE_BYTES], blob[1 + NONCE_BYTES :]
        try:
            plain = self._aead(agency).decrypt(nonce, sealed, _aad(idem_key, agency))
        except InvalidTag:
            raise VaultError("sealed value failed authentication") from None
        ns, nc = _LENGTHS.unpack_from(plain)
        s_end = _LENGTHS.size + ns
        subject = plain[_LENGTHS.size : s_end].decode("utf-8")
        cc_text = plain[s_end : s_end + nc].decode("utf-8")
        body = plain[s_end + nc :].decode("utf-8")
        return Contents(subject, tuple(c for c in cc_text.split(",") if c), body)

    def fingerprint(self) -> str:
        """A public check value of the master key (reveals nothing about the key)."""
        if self._master is None:
            raise VaultError("this vault holds agency keys only, not the master key")
        return _derive(self._master, b"key-check").hex()[:32]

    def bind(self, conn: sqlite3.Connection, source: str = "key file") -> None:
        """Record this key's fingerprint in a store, or check it against the one recorded."""
        if self._master is None:
            return
        conn.execute("CREATE TABLE IF NOT EXISTS vault_meta (fingerprint TEXT NOT NULL)")
        if not self.check(conn, source):
            conn.execute("INSERT INTO vault_meta (fingerprint) VALUES (?)", (self.fingerprint(),))

    def check(self, conn: sqlite3.Connection, source: str = "key file") -> bool:
        """Whether a store records a key; `InputError` when it records another one."""
        if self._master is None:
            return False
        row = _recorded(conn)
        mine = self.fingerprint()
        if row is not None and row != mine:
            raise InputError(
                source,
                "key",
                f"fingerprint {mine}",
                f"is not the key this store was written with (fingerprint {row})",
            )
        return row is not None


def _recorded(conn: sqlite3.Connection) -> str | None:
    try:
        row = conn.execute("SELECT fingerprint FROM vault_meta LIMIT 1").fetchone()
    except sqlite3.OperationalError:
        return None  # no vault_meta table: never encrypted
    return None if row is None else str(row[0])


def refuse_plaintext(conn: sqlite3.Connection, source: str = "store") -> None:
    """Refuse to write plaintext rows into a store that was written encrypted."""
    recorded = _recorded(conn)
    if recorded is not None:
        raise InputError(
            source,
            "--key-file",
            None,
            f"this store holds encrypted replies (key fingerprint {recorded}); give its key file",
        )


# -- key files ------------------------------------------------------------------------
def load_key(path: str | Path) -> bytes:
    """Read a master key file: 64 hex digits, readable by its owner only."""
    target = Path(path)
    try:
        mode = target.stat().st_mode
        text = target.read_text("ascii").strip()
    except FileNotFoundError:
        raise InputError(str(path), "--key-file", str(path), "key file not found") from None
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(str(path), "--key-file", str(path), f"cannot read it: {err}") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise InputError(
            str(path),
            "mode",
            oct(stat.S_IMODE(mode)),
            "a key file must be readable by its owner only (chmod 600)",
        )
    try:
        key = bytes.fromhex(text)
    except ValueError:
        key = b""
    if len(key) != KEY_BYTES:
        raise InputError(
            str(path), "key", f"{len(text)} characters", f"must be {2 * KEY_BYTES} hex digits"
        )
    return key


def load_or_create_key(path: str | Path) -> bytes:
    """Read a master key file, or create it (random, mode 0600) when missing."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return load_key(path)
    except OSError as err:
        raise InputError(str(path), "--key-file", str(path), f"cannot create it: {err}") from None
    key = os.urandom(KEY_BYTES)
    with os.fdopen(fd, "w", encoding="ascii") as out:
        out.write(key.hex() + "\n")
        out.flush()
        os.fsync(out.fileno())
    return key
