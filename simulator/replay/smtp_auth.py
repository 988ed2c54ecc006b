"""Submission accounts for the SMTP target: one account, or one per sender, and AUTH.

Theory of operation: a real submission server (Postfix with Dovecot SASL, Exchange)
wants each connection to log in before it relays. `SmtpAuth` says where the secrets are:
a user with its password in a file or an environment variable (`--smtp-user` with
`--smtp-password-file` or `--smtp-password-env`), and/or a credentials file mapping
sender addresses to accounts (`--smtp-credentials`, CSV with the columns sender, user,
password, or TOML with one table per sender: `"a@x.example" = {user = "a", password =
"..."}`). It is plain data, so worker processes get it pickled and read the secrets
themselves; `load` reads them and checks them, every problem an `InputError` naming the
flag (or the scenario's `[target.smtp_auth]` key) and never the secret itself.

A message is sent as the account of its From: address when the credentials file names
it, else as the one account when it is given; a sender with neither is refused before
any load is sent (`missing`). `Account`'s password never shows in a repr.

The mechanism is the one the server offers in its EHLO reply: PLAIN (RFC 4616) when
offered, LOGIN otherwise; when it offers neither, the preflight stops the run.
"""

from __future__ import annotations

import base64
import csv
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from simulator.validation import InputError, is_plain_address, load_toml

MECHANISMS = (b"PLAIN", b"LOGIN")  # in order of preference
MAX_SECRET_BYTES = 64 * 1024
DEFAULT = ""  # the principal of the one account


@dataclass(frozen=True)
class SmtpAuth:
    """Where the submission accounts come from (paths and names, no secrets)."""

    user: str | None = None
    password_file: Path | None = None
    password_env: str | None = None
    credentials: Path | None = None  # CSV or TOML: sender -> user, password
    source: str = "command line"  # or the scenario file, for errors

    def field(self, name: str) -> str:
        """The flag, or the scenario key, that sets `name`."""
        if self.source == "command line":
            return "--smtp-" + name.replace("_", "-")
        return f"target.smtp_auth.{name}"

    @property
    def given(self) -> bool:
        fields = (self.user, self.password_file, self.password_env, self.credentials)
        return any(v is not None for v in fields)


@dataclass(frozen=True)
class Account:
    user: str
    password: str = field(repr=False)


@dataclass(frozen=True)
class Accounts:
    """The accounts messages are sent as: per sender address, else the default."""

    default: Account | None
    senders: dict[str, Account]

    def principal(self, sender: str) -> str | None:
        """The key of the account `sender` logs in as; None when it has none."""
        key = sender.lower()
        if key in self.senders:
            return key
        return DEFAULT if self.default is not None else None

    def account(self, principal: str) -> Account | None:
        return self.default if principal == DEFAULT else self.senders.get(principal)


def load(auth: SmtpAuth) -> Accounts:
    """Read and check the accounts `auth` names."""
    default = None
    if auth.user is not None:
        if not auth.user or not auth.user.isprintable():
            raise InputError(auth.source, auth.field("user"), auth.user, "must be printable text")
        default = Account(auth.user, _password(auth))
    elif auth.password_file is not None or auth.password_env is not None:
        name = "password_file" if auth.password_file is not None else "password_env"
        raise InputError(auth.source, auth.field(name), "(given)", f"needs {auth.field('user')}")
    senders = {} if auth.credentials is None else _credentials(auth, auth.credentials)
    return Accounts(default, senders)


def _password(auth: SmtpAuth) -> str:
    if (auth.password_file is None) == (auth.password_env is None):
        return _fail(auth, "user", auth.user, "needs exactly one of the password file or env")
    if auth.password_file is not None:
        path = auth.password_file
        try:
            if path.stat().st_size > MAX_SECRET_BYTES:
                _fail(auth, "password_file", str(path), "is too big for a password")
            text = path.read_text(encoding="utf-8").strip("\r\n")
        except (OSError, UnicodeError) as err:
            return _fail(auth, "password_file", str(path), f"cannot be read ({_why(err)})")
        if not text:
            _fail(auth, "password_file", str(path), "is empty")
        return text
    name = auth.password_env or ""
    value = os.environ.get(name)
    if not value:
        _fail(auth, "password_env", name, "names no set, non-empty environment variable")
    return value or ""


def _credentials(auth: SmtpAuth, path: Path) -> dict[str, Account]:
    rows: list[tuple[str, object, object]] = []
    where = auth.field("credentials")
    if path.suffix.lower() == ".toml":
        if not path.is_file():
            _fail(auth, "credentials", str(path), "file not found")
        for sender, entry in load_toml(path).items():
            if not isinstance(entry, dict) or set(entry) != {"user", "password"}:
                raise InputError(
                    str(path), sender, "(table)", "must be {user = ..., password = ...}"
                )
            rows.append((sender, entry["user"], entry["password"]))
    elif path.suffix.lower() == ".csv":
        try:
            with path.open(newline="", encoding="utf-8") as f:
                reader = csv.DictReader(f)
                if reader.fieldnames != ["sender", "user", "password"]:
                    raise InputError(
                        str(path), "header", reader.fieldnames, "must be sender,user,password"
                    )
                rows = [(r["sender"], r["user"], r["password"]) for r in reader]
        except (OSError, UnicodeError, csv.Error) as err:
            _fail(auth, "credentials", str(path), f"cannot be read ({_why(err)})")
    else:
        _fail(auth, "credentials", str(path), "must be a .csv or .toml file")
    accounts: dict[str, Account] = {}
    for n, (sender, user, password) in enumerate(rows, start=1):
        if not is_plain_address(sender):
            raise InputError(str(path), f"entry {n} sender", sender, "must be one address")
        if not isinstance(user, str) or not user or not user.isprintable():
            raise InputError(str(path), f"entry {n} user", "(hidden)", "must be printable text")
        if not isinstance(password, str) or not password:
            raise InputError(str(path), f"entry {n} password", "(hidden)", "must be non-empty")
        if sender.lower() in accounts:
            raise InputError(str(path), f"entry {n} sender", sender, "is listed twice")
        accounts[sender.lower()] = Account(user, password)
    if not accounts:
        raise InputError(auth.source, where, str(path), "names no sender")
    return accounts


def missing(accounts: Accounts, senders: Iterable[str]) -> list[str]:
    """The senders (From: addresses) with no account to send as."""
    return sorted({s for s in senders if accounts.principal(s) is None})


def choose(ehlo_words: Iterable[bytes]) -> bytes | None:
    """The mechanism to log in with, from the EHLO reply's lines (upper case)."""
    offered: set[bytes] = set()
    for word in ehlo_words:
        if word.startswith((b"AUTH ", b"AUTH=")):
            offered.update(word[5:].split())
    return next((m for m in MECHANISMS if m in offered), None)


def plain(user: str, password: str) -> bytes:
    """The AUTH PLAIN command with its initial response (RFC 4616)."""
    return b"AUTH PLAIN " + base64.b64encode(f"\0{user}\0{password}".encode()) + b"\r\n"


def login_lines(user: str, password: str) -> list[bytes]:
    """AUTH LOGIN, then the user and the password, each answering one 334 challenge."""
    return [
        b"AUTH LOGIN\r\n",
        base64.b64encode(user.encode()) + b"\r\n",
        base64.b64encode(password.encode()) + b"\r\n",
    ]


def _why(err: Exception) -> str:
    return err.strerror if isinstance(err, OSError) and err.strerror else type(err).__name__


def _fail(auth: SmtpAuth, name: str, value: object, allowed: str) -> str:
    raise InputError(auth.source, auth.field(name), value, allowed)
