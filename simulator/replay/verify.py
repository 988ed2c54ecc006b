"""Read back what a mail system stored: the Message-IDs of one IMAP mailbox.

Theory of operation: `--verify imap://USER@HOST:PORT/MAILBOX` (or `imaps://` for implicit
TLS) names a mailbox the collection system under test delivers into. `preflight` logs in
before any load is sent (a malformed URL, an unreadable password, a refused login or a
missing mailbox is an `InputError` then, exit 2) and notes the mailbox's UIDVALIDITY
and UIDNEXT: messages already there are not this run's. After the replay `read_back`
logs in again, EXAMINEs the mailbox (read-only, nothing is marked seen) and fetches
`BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]` of the new messages by UID, in batches; it polls
until the caller's `enough` says every expected message is there or `wait_s` has passed
(an MTA delivers after it acknowledges), and stops at `max_messages`.

The client is stdlib `imaplib`, run synchronously after the replay's event loop has
ended. It lives in the replay package, the client side of the IO edges, beside the
target adapters whose TLS options (`tls.TlsOptions`) and loopback rule
(`safety.check_target`) it shares. The password comes from a file or an environment
variable, is sent only in the LOGIN command and appears in no message, log or record.
STARTTLS is used when an `imap://` server offers it; certificates are always verified.
"""

from __future__ import annotations

import contextlib
import imaplib
import os
import re
import socket
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import unquote, urlsplit

from simulator.replay.tls import TlsOptions
from simulator.safety import CheckedHost, check_target, pinned
from simulator.validation import InputError

SCHEMES = {"imap": 143, "imaps": 993}
BATCH = 500  # messages per UID FETCH
PROGRESS_EVERY = 20_000  # messages between progress lines
Say = Callable[[str], None]
Enough = Callable[[list[str]], bool]  # Message-IDs read so far -> stop polling?
_FETCHED = re.compile(rb"UID (\d+)")
# the one field HEADER.FIELDS returns, with its folded continuation lines (RFC 5322 2.2.3)
_FIELD = re.compile(rb"^Message-ID:((?:[^\r\n]|\r?\n[ \t])*)", re.IGNORECASE | re.MULTILINE)


@dataclass(frozen=True)
class VerifySpec:
    """Where the mailbox is and how to log in. Plain data: the password stays in its file
    or environment variable until a connection is made."""

    url: str
    password_file: Path | None = None
    password_env: str | None = None
    address: str | None = None  # the mailbox's address; default the user when it is one
    tls: TlsOptions = field(default_factory=TlsOptions)
    allow_remote: bool = False
    timeout_s: float = 30.0  # per IMAP command
    wait_s: float = 30.0  # how long to wait for deliveries after the replay
    max_messages: int = 10_000_000
    source: str = "command line"
    flag: str = "--verify"

    @property
    def parts(self) -> tuple[str, str, str, int, str]:
        """(scheme, user, host, port, mailbox) of the URL."""
        return parse_verify(self.url, self.source, self.flag)

    @property
    def mailbox_address(self) -> str:
        """The address whose mail the mailbox holds."""
        user = self.parts[1]
        if self.address is not None:
            return self.address.lower()
        if "@" not in user:
            raise InputError(
                self.source,
                "--verify-address",
                None,
                f"is needed: the IMAP user {user!r} is not an email address",
            )
        return user.lower()

    @property
    def label(self) -> str:
        """The mailbox as the record names it: imap://user@host/MAILBOX (no password)."""
        scheme, user, host, port, mailbox = self.parts
        return f"{scheme}://{user}@{host}:{port}/{mailbox}"


@dataclass(frozen=True)
class Mark:
    """The mailbox before the replay: its UIDVALIDITY, UIDNEXT and message count."""

    uidvalidity: int
    uidnext: int
    messages: int


@dataclass(frozen=True)
class ReadBack:
    message_ids: list[str]  # Message-ID of every new message ("" when it has none)
    earlier: int  # messages that were in the mailbox before the replay (not read)
    complete: bool  # False: stopped at max_messages or the mailbox was reset


def parse_verify(
    url: str, source: str = "command line", flag: str = "--verify"
) -> tuple[str, str, str, int, str]:
    """Split imap(s)://USER@HOST:PORT/MAILBOX into (scheme, user, host, port, mailbox)."""
    allowed = "must be imap://USER@HOST:PORT/MAILBOX or imaps://... (USER may be an address)"
    parts = urlsplit(url)
    if parts.scheme not in SCHEMES or not parts.hostname or not parts.username:
        raise InputError(source, flag, url, allowed)
    if parts.password is not None:
        raise InputError(
            source,
            flag,
            parts._replace(netloc=parts.hostname).geturl(),
            "must not carry a password: use --verify-password-file or --verify-password-env",
        )
    if parts.query or parts.fragment:
        raise InputError(source, flag, url, allowed)
    try:
        port = parts.port or SCHEMES[parts.scheme]
    except ValueError:
        raise InputError(source, flag, url, "port must be 1..65535") from None
    mailbox = unquote(parts.path.lstrip("/")) or "INBOX"
    if any(c in mailbox for c in '\r\n"\\'):
        raise InputError(source, flag, url, "mailbox name must be plain text")
    return parts.scheme, unquote(parts.username), parts.hostname, port, mailbox


def check_spec(spec: VerifySpec) -> None:
    """Everything that needs no connection: the URL, the loopback rule, the password."""
    scheme, _, host, port, _ = spec.parts
    check_target(f"{scheme}://{host}:{port}", spec.allow_remote, spec.flag)
    _ = spec.mailbox_address
    read_password(spec)
    if spec.tls.ca_file is not None:
        _context(spec)


def _context(spec: VerifySpec) -> ssl.SSLContext:
    """The verifying TLS context, its file errors named by the read-back's own flag."""
    try:
        return spec.tls.context(spec.source)
    except InputError as err:
        field_ = "--verify-ca-file" if err.field == "--ca-file" else err.field
        raise InputError(err.source, field_, err.value, err.allowed) from None


def read_password(spec: VerifySpec) -> str:
    if (spec.password_file is None) == (spec.password_env is None):
        raise InputError(
            spec.source,
            "--verify-password-file",
            None,
            "give exactly one of --verify-password-file FILE or --verify-password-env NAME",
        )
    if spec.password_file is not None:
        try:
            text = spec.password_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as err:
            why = getattr(err, "strerror", None) or "not UTF-8 text"
            raise InputError(
                spec.source, "--verify-password-file", str(spec.password_file), f"unreadable: {why}"
            ) from None
        field_, where = "--verify-password-file", str(spec.password_file)
    else:
        text = os.environ.get(str(spec.password_env), "")
        field_, where = "--verify-password-env", str(spec.password_env)
    password = text.strip("\r\n")
    if not password or "\n" in password:
        raise InputError(spec.source, field_, where, "must hold one non-empty line: the password")
    return password


def _connect(spec: VerifySpec) -> imaplib.IMAP4:
    scheme, user, host, port, _ = spec.parts
    checked = pinned(host, spec.allow_remote, spec.flag)
    try:
        if scheme == "imaps":
            context = _context(spec)
            client: imaplib.IMAP4 = _Imaps(
                checked, port, spec.timeout_s, context, spec.tls.sni(host)
            )
        else:
            client = _Imap(checked, port, spec.timeout_s)
            if "STARTTLS" in client.capabilities:
                client.host = spec.tls.sni(host)  # starttls verifies and sends this name
                client.starttls(_context(spec))
    except (OSError, imaplib.IMAP4.error) as err:
        raise InputError(
            spec.source, spec.flag, spec.label, f"cannot connect: {_why(err)}"
        ) from None
    try:
        client.login(user, read_password(spec))
    except imaplib.IMAP4.error as err:
        _close(client)
        raise InputError(
            spec.source, spec.flag, spec.label, f"login refused for {user}: {_why(err)}"
        ) from None
    return client


def _pinned_socket(checked: CheckedHost, port: int, timeout: float | None) -> socket.socket:
    """A connection to the first checked address that answers, never to the name."""
    error: OSError = OSError(f"{checked.host} has no address")
    for address in checked.addresses:
        try:
            return socket.create_connection((address, port), timeout)
        except OSError as err:
            error = err
    raise error


class _Imap(imaplib.IMAP4):
    """Plain IMAP (STARTTLS when offered) to the checked addresses of the host."""

    def __init__(self, checked: CheckedHost, port: int, timeout: float) -> None:
        self._checked = checked
        super().__init__(checked.host, port, timeout=timeout)

    def _create_socket(self, timeout: float | None) -> socket.socket:
        return _pinned_socket(self._checked, self.port, timeout)


class _Imaps(imaplib.IMAP4_SSL):
    """IMAP over implicit TLS to the checked addresses, verifying `name` (sent as SNI)."""

    def __init__(
        self,
        checked: CheckedHost,
        port: int,
        timeout: float,
        context: ssl.SSLContext,
        name: str,
    ) -> None:
        self._checked, self._name = checked, name
        super().__init__(checked.host, port, ssl_context=context, timeout=timeout)

    def _create_socket(self, timeout: float | None) -> socket.socket:
        sock = _pinned_socket(self._checked, self.port, timeout)
        context: ssl.SSLContext = self.ssl_context
        return context.wrap_socket(sock, server_hostname=self._name)


def _examine(spec: VerifySpec, client: imaplib.IMAP4) -> Mark:
    mailbox = spec.parts[4]
    quoted = '"' + mailbox + '"'
    status, data = client.select(quoted, readonly=True)
    if status != "OK":
        raise InputError(spec.source, spec.flag, spec.label, f"no such mailbox: {_text(data)}")
    status, data = client.status(quoted, "(UIDVALIDITY UIDNEXT MESSAGES)")
    values = dict(re.findall(r"(UIDVALIDITY|UIDNEXT|MESSAGES) (\d+)", _text(data)))
    if status != "OK" or len(values) != 3:
        raise InputError(spec.source, spec.flag, spec.label, f"STATUS failed: {_text(data)}")
    return Mark(int(values["UIDVALIDITY"]), int(values["UIDNEXT"]), int(values["MESSAGES"]))


def preflight(spec: VerifySpec) -> Mark:
    """Log in and examine the mailbox before the replay: what is there already."""
    check_spec(spec)
    client = _connect(spec)
    try:
        return _examine(spec, client)
    finally:
        _close(client)


def read_back(
    spec: VerifySpec,
    mark: Mark | None,
    enough: Enough,
    say: Say,
    sleep: Callable[[float], None] = time.sleep,
) -> ReadBack:
    """The Message-IDs of the messages that arrived after `mark` (all, when None)."""
    deadline = time.monotonic() + spec.wait_s
    ids: list[str] = []
    client = _connect(spec)
    try:
        now = _examine(spec, client)
        reset = mark is not None and now.uidvalidity != mark.uidvalidity
        if reset:
            say(f"verify: {spec.label} was reset during the run (UIDVALIDITY changed)")
        first = 1 if mark is None or reset else mark.uidnext
        earlier = 0 if mark is None or reset else mark.messages
        while True:
            first, full = _fetch_new(spec, client, first, ids, say)
            if full or enough(ids) or time.monotonic() >= deadline:
                break
            sleep(0.5)
            client.noop()
        return ReadBack(ids, earlier, complete=not (full or reset))
    finally:
        _close(client)


def _fetch_new(
    spec: VerifySpec, client: imaplib.IMAP4, first: int, ids: list[str], say: Say
) -> tuple[int, bool]:
    """Append the Message-IDs of UIDs >= first; return the next UID to read and whether
    `max_messages` was reached."""
    status, data = client.uid("SEARCH", f"UID {first}:*")
    if status != "OK":
        raise InputError(spec.source, spec.flag, spec.label, f"SEARCH failed: {_text(data)}")
    # "first:*" always names the highest UID, even one below `first` (RFC 3501 6.4.8)
    uids = [u for u in (int(x) for x in _text(data).split()) if u >= first]
    for start in range(0, len(uids), BATCH):
        if len(ids) >= spec.max_messages:
            return first, True
        batch = uids[start : start + BATCH]
        seq = ",".join(str(u) for u in batch)
        status, data = client.uid("FETCH", seq, "(BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
        if status != "OK":
            raise InputError(spec.source, spec.flag, spec.label, f"FETCH failed: {_text(data)}")
        for item in data:
            if isinstance(item, tuple) and (m := _FETCHED.search(item[0])):
                field_ = _FIELD.search(item[1])
                value = b"" if field_ is None else b" ".join(field_.group(1).split())
                ids.append(value.decode("ascii", "replace"))
                first = max(first, int(m.group(1)) + 1)
        if len(uids) > PROGRESS_EVERY and (start // BATCH) % (PROGRESS_EVERY // BATCH) == 0:
            say(f"verify: read {len(ids):,} Message-IDs from {spec.label}")
    return first, len(ids) >= spec.max_messages


def _close(client: imaplib.IMAP4) -> None:
    with contextlib.suppress(OSError, imaplib.IMAP4.error):
        client.logout()


def _text(data: object) -> str:
    if isinstance(data, list):
        return " ".join(_text(d) for d in data if d is not None)
    if isinstance(data, tuple):
        return " ".join(_text(d) for d in data)
    if isinstance(data, bytes):
        return data.decode("utf-8", "replace")
    return str(data)


def _why(err: Exception) -> str:
    if isinstance(err, ssl.SSLCertVerificationError):
        return f"certificate not trusted ({err.verify_message}; give --verify-ca-file)"
    return _text(err.args[0]) if err.args else type(err).__name__
