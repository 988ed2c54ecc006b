"""A throwaway Postfix instance on a loopback port, delivering every reserved-domain
recipient into one Maildir. Used by the integration test; needs root and Debian's postfix.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import time
from pathlib import Path

MASTER_CF = """\
127.0.0.1:{port} inet n - n - - smtpd
pickup    unix  n - n 60 1 pickup
cleanup   unix  n - n - 0 cleanup
qmgr      unix  n - n 300 1 qmgr
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
local     unix  - n n - - local
virtual   unix  - n n - - virtual
anvil     unix  - - n - 1 anvil
scache    unix  - - n - 1 scache
postlog   unix-dgram n - n - 1 postlogd
"""

MAIN_CF = """\
compatibility_level = 3.6
queue_directory = {d}/queue
data_directory = {d}/data
mail_owner = postfix
setgid_group = postdrop
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
myhostname = mx.pulsecheck.example
mydestination =
relay_domains =
alias_maps =
alias_database =
local_recipient_maps =
mynetworks = 127.0.0.0/8
smtpd_relay_restrictions = permit_mynetworks, reject
smtpd_recipient_restrictions = permit_mynetworks, reject
virtual_mailbox_domains = regexp:{d}/domains
virtual_mailbox_maps = regexp:{d}/mailboxes
virtual_mailbox_base = {d}/mail
virtual_uid_maps = static:{uid}
virtual_gid_maps = static:{gid}
virtual_minimum_uid = 1
virtual_destination_concurrency_limit = 50
smtpd_client_connection_count_limit = 0
smtpd_client_message_rate_limit = 0
smtputf8_enable = no
maillog_file = {d}/maillog
maillog_file_prefixes = {d}
biff = no
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def unavailable() -> str | None:
    """Why a Postfix instance cannot run here, or None when it can."""
    if shutil.which("postfix") is None:
        return "postfix is not installed (Debian package postfix)"
    if os.geteuid() != 0:
        return "postfix needs root to start"
    try:
        pwd.getpwnam("postfix")
    except KeyError:
        return "the postfix user does not exist"
    return None


class PostfixInstance:
    def __init__(self, root: Path) -> None:
        self.dir = root
        self.port = free_port()
        self.maildir = root / "mail" / "inbox"

    def start(self) -> None:
        user = pwd.getpwnam("postfix")
        self.dir.mkdir(parents=True, exist_ok=True)
        self.dir.chmod(0o755)  # the postfix user must reach data/ and mail/
        for sub in ("queue", "data", "mail"):
            (self.dir / sub).mkdir(parents=True, exist_ok=True)
        os.chown(self.dir / "mail", user.pw_uid, user.pw_gid)
        os.chown(self.dir / "data", user.pw_uid, user.pw_gid)
        (self.dir / "domains").write_text("/\\.(example|test)$/ OK\n")
        (self.dir / "mailboxes").write_text("/^.*$/ inbox/\n")
        (self.dir / "master.cf").write_text(MASTER_CF.format(port=self.port))
        (self.dir / "main.cf").write_text(
            MAIN_CF.format(d=self.dir, uid=user.pw_uid, gid=user.pw_gid)
        )
        self._postfix("start")
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"postfix did not listen on {self.port}: {self.log()}")

    def _postfix(self, command: str) -> None:
        subprocess.run(["postfix", "-c", str(self.dir), command], check=True, capture_output=True)

    def stop(self) -> None:
        subprocess.run(["postfix", "-c", str(self.dir), "abort"], capture_output=True)
        shutil.rmtree(self.dir, ignore_errors=True)

    def delivered(self) -> int:
        new = self.maildir / "new"
        return len(list(new.iterdir())) if new.is_dir() else 0

    def log(self) -> str:
        path = self.dir / "maillog"
        return path.read_text()[-3000:] if path.exists() else "(no maillog)"
