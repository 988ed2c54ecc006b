"""A real mail stack on loopback: Postfix receiving SMTP, Dovecot storing Maildirs with quotas.

Theory of operation: `MailStack(dir, quota=..., tls=(ca, cert, key), users=...)` writes a
complete, self-contained configuration under `dir` and starts Debian's Postfix and
Dovecot as root, every listener on 127.0.0.1 (free ports picked at start):

    client --SMTP--> postfix smtpd 127.0.0.1:smtp_port        (no AUTH, loopback only)
    client --SMTP--> postfix smtpd 127.0.0.1:submission_port  (STARTTLS, then AUTH)
                       | check_policy_service -> dovecot quota-status (552 5.2.2 full)
                       | smtpd_sasl_type = dovecot -> dovecot auth
                       v
                     postfix qmgr --LMTP (unix socket)--> dovecot lmtp --> Maildir
    client <-IMAP--  dovecot imap 127.0.0.1:imap_port         (LOGIN, STARTTLS offered)

Mailboxes are Dovecot virtual users in a passwd-file (`dovecot/users`, salted SHA-512
hashes): one per address in `users` (default: every default collection address, e.g.
`hr@opm.example`) plus `CATCH_ALL`, which receives mail for every other address at a
reserved domain (`.example`, `.test`: employees, managers in cc, bounces). Postfix maps
each known address to itself and everything else to the catch-all (`virtual_alias_maps`).
Passwords are generated unless given, and written with the address to `credentials`
(mode 0600, "address password" per line); they are never printed or logged.

Every mailbox has the quota `quota` (Dovecot `quota = maildir:User quota`, `quota_rule =
*:storage=QUOTA`, optionally `:messages=N` with `quota_messages`) and Dovecot's usual
10% grace: the last message may take a mailbox over its limit, so it ends up plainly
full rather than refusing large messages while small ones still fit. Postfix asks
Dovecot's quota-status service for every recipient at RCPT time, so mail to a full
mailbox is refused in the SMTP dialogue with `552 5.2.2 Mailbox is full` (a client that
sends SIZE= is refused as soon as its message would not fit). What slips through (a
message accepted while earlier ones were still queued, mail for the catch-all, which
quota-status does not know) is refused by Dovecot's LMTP with 552 and bounced by Postfix.

Layout under `dir`: `postfix/` (main.cf, master.cf, maps, queue, data, maillog),
`dovecot/` (dovecot.conf, users, `run/` = base_dir with its sockets, `state/`,
dovecot.log), `mail/DOMAIN/LOCAL/Maildir` (owned by the `mail` user), `credentials` and
`mailstack.json` (ports, CA file, addresses; no secrets). `stop()` (or `stop_dir(dir)`,
for a stack started by another process) stops both servers, waits until every process
of both trees is gone (killing what outlives the grace period) and leaves the files for
reading. `unavailable()` says why the stack cannot run here (not root, a package
missing). `make_certificates` writes a fresh self-signed CA and a server certificate for
127.0.0.1/localhost, for callers without their own.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import grp
import hashlib
import json
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import TracebackType

from simulator.collections import default_collections
from simulator.validation import InputError

CATCH_ALL = "catchall@mailstack.test"
HOSTNAME = "mx.mailstack.test"
DEFAULT_QUOTA = "10M"
STATE_FILE = "mailstack.json"
CREDENTIALS_FILE = "credentials"
START_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 15.0
MAX_SOCKET_PATH = 100  # AF_UNIX paths are limited to 108 bytes on Linux
# Lowercase, safe in a passwd-file, a Postfix map and a directory name; reserved domains.
_ADDRESS = re.compile(r"^[a-z0-9][a-z0-9._+-]{0,63}@(?:[a-z0-9-]+\.)+(?:example|test)$")
_QUOTA = re.compile(r"^[1-9][0-9]{0,8}[kKmMgG]?$")
_BINARIES = {"postfix": "postfix", "dovecot": "dovecot-core", "doveadm": "dovecot-core"}
_MODULES = {
    "/usr/lib/dovecot/imap": "dovecot-imapd",
    "/usr/lib/dovecot/lmtp": "dovecot-lmtpd",
    "/usr/lib/dovecot/quota-status": "dovecot-core",
}
MAIL_USER = "mail"  # owns the Maildirs (Debian's uid 8)


class MailStackError(RuntimeError):
    """The stack would not start (the message carries the servers' log tails)."""


def unavailable() -> str | None:
    """Why the stack cannot run here, or None when it can."""
    for binary, package in _BINARIES.items():
        if shutil.which(binary) is None and not Path("/usr/sbin", binary).exists():
            return f"{binary} is not installed (Debian package {package})"
    for path, package in _MODULES.items():
        if not Path(path).exists():
            return f"{path} is missing (Debian package {package})"
    if os.geteuid() != 0:
        return "postfix and dovecot need root to start"
    for user in ("postfix", "dovecot", "dovenull", MAIL_USER):
        try:
            pwd.getpwnam(user)
        except KeyError:
            return f"the system user {user!r} does not exist"
    return None


def check_address(address: str, source: str = "command line", field: str = "--users") -> str:
    """A mailbox address the stack can hold, lowercased; an InputError otherwise."""
    lowered = address.strip().lower()
    if not _ADDRESS.match(lowered):
        allowed = "a plain address at a reserved domain (.example or .test), e.g. a@b.example"
        raise InputError(source, field, address, allowed)
    return lowered


def check_quota(quota: str, source: str = "command line", field: str = "--quota") -> str:
    """A Dovecot storage size: a positive integer with an optional k, M or G suffix."""
    if not _QUOTA.match(quota):
        raise InputError(source, field, quota, "a size such as 512k, 10M or 1G")
    return quota


def read_users(path: Path) -> dict[str, str | None]:
    """Addresses (and optional passwords) from a file: "address [password]" per line;
    blank lines and lines starting with # are skipped."""
    try:
        text = path.read_text("utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise InputError("command line", "--users", str(path), f"unreadable: {err}") from None
    users: dict[str, str | None] = {}
    for number, line in enumerate(text.splitlines(), 1):
        words = line.split()
        if not words or words[0].startswith("#"):
            continue
        if len(words) > 2:
            where = f"line {number}"
            raise InputError(str(path), where, "(hidden)", "one address and optional password")
        address = check_address(words[0], str(path), f"line {number}")
        users[address] = words[1] if len(words) == 2 else None
    return users


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def ssha512(password: str) -> str:
    """Dovecot's {SSHA512} scheme: base64(sha512(password + salt) + salt)."""
    salt = secrets.token_bytes(16)
    digest = hashlib.sha512(password.encode() + salt).digest()
    return "{SSHA512}" + base64.b64encode(digest + salt).decode()


def make_certificates(directory: Path) -> tuple[Path, Path, Path]:
    """A new self-signed CA and a server certificate for 127.0.0.1, localhost and the
    stack's host name: (ca.pem, cert.pem, key.pem) under `directory` (key 0600)."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    directory.mkdir(parents=True, exist_ok=True)
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "pulsecheck mail stack CA")])
    ca = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    names: list[x509.GeneralName] = [
        x509.DNSName("localhost"),
        x509.DNSName(HOSTNAME),
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
    ]
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, HOSTNAME)]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    paths = (directory / "ca.pem", directory / "cert.pem", directory / "key.pem")
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    _write_private(
        paths[2],
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode(),
    )
    return paths


def _write_private(path: Path, text: str) -> None:
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)


MASTER_CF = """\
127.0.0.1:{smtp_port} inet n - n - - smtpd
127.0.0.1:{submission_port} inet n - n - - smtpd
  -o syslog_name=postfix/submission
  -o smtpd_tls_security_level=encrypt
  -o smtpd_tls_auth_only=yes
  -o smtpd_sasl_auth_enable=yes
  -o smtpd_client_restrictions=permit_sasl_authenticated,reject
  -o smtpd_relay_restrictions=permit_sasl_authenticated,reject
  -o smtpd_recipient_restrictions=check_policy_service,unix:{run}/quota-status,\
permit_sasl_authenticated,reject
pickup    unix  n - n 60 1 pickup
cleanup   unix  n - n - 0 cleanup
qmgr      unix  n - n 300 1 qmgr
tlsmgr    unix  - - n 1000? 1 tlsmgr
rewrite   unix  - - n - - trivial-rewrite
bounce    unix  - - n - 0 bounce
defer     unix  - - n - 0 bounce
trace     unix  - - n - 0 bounce
verify    unix  - - n - 1 verify
flush     unix  n - n 1000? 0 flush
proxymap  unix  - - n - - proxymap
smtp      unix  - - n - - smtp
relay     unix  - - n - - smtp
showq     unix  n - n - - showq
error     unix  - - n - - error
retry     unix  - - n - - error
discard   unix  - - n - - discard
lmtp      unix  - - n - - lmtp
anvil     unix  - - n - 1 anvil
scache    unix  - - n - 1 scache
postlog   unix-dgram n - n - 1 postlogd
"""

MAIN_CF = """\
compatibility_level = 3.6
queue_directory = {p}/queue
data_directory = {p}/data
mail_owner = postfix
setgid_group = postdrop
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = {hostname}
mydestination =
relay_domains =
alias_maps =
alias_database =
local_recipient_maps =
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject
smtpd_recipient_restrictions = check_policy_service unix:{run}/quota-status,
    permit_mynetworks, reject
virtual_mailbox_domains = regexp:{p}/domains
virtual_alias_maps = texthash:{p}/mailboxes, regexp:{p}/catchall
virtual_mailbox_maps = texthash:{p}/mailboxes
virtual_transport = lmtp:unix:{run}/lmtp
lmtp_destination_concurrency_limit = 20
smtpd_sasl_type = dovecot
smtpd_sasl_path = {run}/auth-postfix
smtpd_sasl_auth_enable = no
smtpd_sasl_security_options = noanonymous
smtpd_sasl_tls_security_options = noanonymous
broken_sasl_auth_clients = no
smtpd_tls_cert_file = {cert}
smtpd_tls_key_file = {key}
smtpd_tls_security_level = may
smtpd_tls_loglevel = 0
smtpd_client_connection_count_limit = 0
smtpd_client_message_rate_limit = 0
smtpd_policy_service_timeout = 30s
smtputf8_enable = no
maillog_file = {p}/maillog
maillog_file_prefixes = {d}
biff = no
"""

DOVECOT_CONF = """\
# Written by pulsecheck's mail stack; everything lives under {d}.
base_dir = {run}
state_dir = {dv}/state
log_path = {dv}/dovecot.log
info_log_path = {dv}/dovecot.log
instance_name = pulsecheck-{port}
protocols = imap lmtp
listen = 127.0.0.1
ssl = yes
ssl_cert = <{cert}
ssl_key = <{key}
ssl_min_protocol = TLSv1.2
auth_mechanisms = plain login
disable_plaintext_auth = no
first_valid_uid = {uid}
last_valid_uid = {uid}
mail_uid = {uid}
mail_gid = {gid}
mail_location = maildir:~/Maildir
mail_plugins = quota
postmaster_address = postmaster@mailstack.test
hostname = {hostname}
lmtp_rcpt_check_quota = yes

passdb {{
  driver = passwd-file
  args = scheme=SSHA512 username_format=%Lu {dv}/users
}}
userdb {{
  driver = passwd-file
  args = username_format=%Lu {dv}/users
  default_fields = uid={uid} gid={gid} home={mail}/%Ld/%Ln
}}

service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {imap_port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service lmtp {{
  unix_listener lmtp {{
    user = postfix
    group = postfix
    mode = 0600
  }}
}}
service auth {{
  unix_listener auth-postfix {{
    user = postfix
    group = postfix
    mode = 0600
  }}
}}
service quota-status {{
  executable = quota-status -p postfix
  unix_listener quota-status {{
    user = postfix
    group = postfix
    mode = 0600
  }}
  client_limit = 1
}}
protocol imap {{
  mail_plugins = $mail_plugins imap_quota
}}
plugin {{
  quota = maildir:User quota
  quota_rule = *:storage={quota}{messages}
  quota_grace = 10%%
  quota_status_success = DUNNO
  quota_status_nouser = DUNNO
  quota_status_overquota = "552 5.2.2 Mailbox is full"
}}
"""


class MailStack:
    """Postfix + Dovecot under one directory; see the module docstring for the design."""

    def __init__(
        self,
        directory: Path | str | None = None,
        *,
        quota: str = DEFAULT_QUOTA,
        quota_messages: int | None = None,
        tls: tuple[Path | str, Path | str, Path | str] | None = None,
        users: Mapping[str, str | None] | Iterable[str] | None = None,
    ) -> None:
        self.dir = Path(directory or tempfile.mkdtemp(prefix="pulsecheck-mailstack-")).resolve()
        self.quota = check_quota(quota)
        if quota_messages is not None and quota_messages < 1:
            allowed = "a positive number of messages"
            raise InputError("command line", "--quota-messages", quota_messages, allowed)
        self.quota_messages = quota_messages
        self.tls = None if tls is None else tuple(Path(p).resolve() for p in tls)
        wanted: Mapping[str, str | None]
        if users is None:
            wanted = {c.address: None for c in default_collections()}
        elif isinstance(users, Mapping):
            wanted = users
        else:
            wanted = dict.fromkeys(users)
        self.users: dict[str, str] = {}
        for address, password in [*wanted.items(), (CATCH_ALL, None)]:
            checked = check_address(address)
            self.users[checked] = password or self.users.get(checked) or secrets.token_urlsafe(18)
        self.smtp_port = self.submission_port = self.imap_port = 0
        self.credentials_file = self.dir / CREDENTIALS_FILE
        run = self.dir / "dovecot" / "run"
        if len(str(run / "quota-status")) > MAX_SOCKET_PATH:
            raise InputError("command line", "--dir", str(self.dir), "a shorter path (sockets)")

    @property
    def ca_file(self) -> Path:
        return self.tls[0] if self.tls else self.dir / "tls" / "ca.pem"

    def maildir(self, address: str) -> Path:
        """The Maildir of a mailbox (`CATCH_ALL` for addresses without one of their own)."""
        local, domain = address.lower().split("@", 1)
        return self.dir / "mail" / domain / local / "Maildir"

    def messages(self, address: str) -> list[Path]:
        """The message files delivered to a mailbox so far (new/ and cur/)."""
        root = self.maildir(address)
        return sorted(
            p for sub in ("new", "cur") if (root / sub).is_dir() for p in (root / sub).iterdir()
        )

    def __enter__(self) -> MailStack:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> MailStack:
        reason = unavailable()
        if reason:
            raise MailStackError(reason)
        if (self.dir / STATE_FILE).exists() and running_pids(self.dir):
            raise MailStackError(f"a mail stack is already running in {self.dir}")
        self._write()
        try:
            self._run(["dovecot", "-c", str(self._dovecot_conf)])
            self._run(["postfix", "-c", str(self.dir / "postfix"), "start"])
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        """Stop both servers and wait until none of their processes is left."""
        stop_dir(self.dir)

    @property
    def _dovecot_conf(self) -> Path:
        return self.dir / "dovecot" / "dovecot.conf"

    def _write(self) -> None:
        mail_user = pwd.getpwnam(MAIL_USER)
        postfix_user = pwd.getpwnam("postfix")
        d, p, dv = self.dir, self.dir / "postfix", self.dir / "dovecot"
        run, mail = dv / "run", d / "mail"
        for path in (d, p, p / "queue", p / "data", dv, dv / "state", mail):
            path.mkdir(parents=True, exist_ok=True)
        d.chmod(0o755)  # postfix, dovecot and mail must reach their parts
        os.chown(p / "data", postfix_user.pw_uid, postfix_user.pw_gid)
        os.chown(mail, mail_user.pw_uid, mail_user.pw_gid)
        if self.tls is None:
            self.tls = make_certificates(d / "tls")
        _, cert, key = self.tls
        self.smtp_port, self.submission_port, self.imap_port = _distinct_ports(3)
        ports = {"smtp_port": self.smtp_port, "submission_port": self.submission_port}
        (p / "master.cf").write_text(MASTER_CF.format(run=run, **ports))
        (p / "main.cf").write_text(
            MAIN_CF.format(d=d, p=p, run=run, cert=cert, key=key, hostname=HOSTNAME)
        )
        (p / "domains").write_text("/\\.(example|test)$/ OK\n")
        (p / "mailboxes").write_text("".join(f"{a} {a}\n" for a in self.users))
        (p / "catchall").write_text(f"/@/ {CATCH_ALL}\n")
        _write_private(
            dv / "users", "".join(f"{a}:{ssha512(pw)}::::::\n" for a, pw in self.users.items())
        )
        os.chown(dv / "users", 0, grp.getgrnam("dovecot").gr_gid)  # dovecot's auth reads it
        (dv / "users").chmod(0o640)
        (dv / "dovecot.conf").write_text(
            DOVECOT_CONF.format(
                d=d,
                dv=dv,
                run=run,
                mail=mail,
                cert=cert,
                key=key,
                uid=mail_user.pw_uid,
                gid=mail_user.pw_gid,
                imap_port=self.imap_port,
                port=self.smtp_port,
                quota=self.quota,
                messages=f":messages={self.quota_messages}" if self.quota_messages else "",
                hostname=HOSTNAME,
            )
        )
        _write_private(
            self.credentials_file, "".join(f"{a} {pw}\n" for a, pw in self.users.items())
        )
        state = {
            "smtp_port": self.smtp_port,
            "submission_port": self.submission_port,
            "imap_port": self.imap_port,
            "ca_file": str(self.ca_file),
            "credentials_file": str(self.credentials_file),
            "quota": self.quota,
            "quota_messages": self.quota_messages,
            "catch_all": CATCH_ALL,
            "addresses": list(self.users),
        }
        (d / STATE_FILE).write_text(json.dumps(state, indent=2) + "\n")

    def _run(self, argv: list[str]) -> None:
        # To a file, not a pipe: the daemons keep what they inherit open.
        with tempfile.TemporaryFile("w+") as out:
            done = subprocess.run(
                argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out, timeout=START_TIMEOUT_S
            )
            out.seek(0)
            said = out.read().strip()[-2000:]
        if done.returncode != 0:
            raise MailStackError(
                f"{' '.join(argv)} failed ({done.returncode}): {said}\n{self.log()}"
            )

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        ports = (self.smtp_port, self.submission_port, self.imap_port)
        sockets = [self.dir / "dovecot" / "run" / n for n in ("lmtp", "auth-postfix")]
        while time.monotonic() < deadline:
            if all(_accepts(port) for port in ports) and all(s.exists() for s in sockets):
                return
            time.sleep(0.1)
        raise MailStackError(f"the mail stack did not come up on {ports}:\n{self.log()}")

    def log(self) -> str:
        """The tails of Postfix's and Dovecot's logs, for error messages."""
        parts = []
        for path in (self.dir / "postfix" / "maillog", self.dir / "dovecot" / "dovecot.log"):
            text = path.read_text(errors="replace")[-3000:] if path.exists() else "(none)"
            parts.append(f"--- {path.name}\n{text}")
        return "\n".join(parts)


def _accepts(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
    except OSError:
        return False
    return True


def _distinct_ports(n: int) -> list[int]:
    ports: list[int] = []
    while len(ports) < n:
        port = free_port()
        if port not in ports:
            ports.append(port)
    return ports


def read_state(directory: Path) -> dict[str, object]:
    """What `mailstack.json` under `directory` says (ports, CA file, addresses)."""
    path = Path(directory) / STATE_FILE
    try:
        state: dict[str, object] = json.loads(path.read_text("utf-8"))
    except (OSError, ValueError):
        raise InputError(
            "command line", "--dir", str(directory), "a mail stack directory"
        ) from None
    return state


def _master_pids(directory: Path) -> list[int]:
    pids = []
    for path in (
        directory / "postfix" / "queue" / "pid" / "master.pid",
        directory / "dovecot" / "run" / "master.pid",
    ):
        try:
            pid = int(path.read_text().split()[0])
        except (OSError, ValueError, IndexError):
            continue
        if _alive(pid):
            pids.append(pid)
    return pids


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    stat = Path(f"/proc/{pid}/stat")
    try:
        return stat.read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def _descendants(roots: Iterable[int]) -> set[int]:
    """The processes below `roots` (read from /proc), the roots included."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = set(), list(roots)
    while todo:
        pid = todo.pop()
        if pid not in found:
            found.add(pid)
            todo.extend(children.get(pid, []))
    return found


def running_pids(directory: Path) -> set[int]:
    """Every live process of the stack under `directory` (both masters and their children)."""
    return {pid for pid in _descendants(_master_pids(Path(directory))) if _alive(pid)}


def _quiet(argv: list[str]) -> None:
    subprocess.run(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        timeout=STOP_TIMEOUT_S,
        check=False,
    )


def stop_dir(directory: Path | str) -> None:
    """Stop the stack under `directory`: Postfix and Dovecot are asked to stop, and
    whatever of their process trees is left after `STOP_TIMEOUT_S` is killed."""
    directory = Path(directory).resolve()
    pids = running_pids(directory)
    if not pids:
        return
    if (directory / "postfix" / "main.cf").exists():
        _quiet(["postfix", "-c", str(directory / "postfix"), "stop"])
    if (directory / "dovecot" / "dovecot.conf").exists():
        _quiet(["doveadm", "-c", str(directory / "dovecot" / "dovecot.conf"), "stop"])
    deadline = time.monotonic() + STOP_TIMEOUT_S
    while time.monotonic() < deadline:
        pids = {pid for pid in pids | running_pids(directory) if _alive(pid)}
        if not pids:
            return
        time.sleep(0.1)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
