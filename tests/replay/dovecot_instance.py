"""A throwaway Dovecot IMAP server on a loopback port: one passwd-file user, one Maildir.

Used by the read-back tests; needs root and Debian's dovecot-imapd. Messages are put into
the Maildir directly (`deliver`), as a local delivery agent would put them.
"""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import time
from pathlib import Path

CONF = """\
base_dir = {d}/run
state_dir = {d}/state
log_path = {d}/dovecot.log
protocols = imap
listen = 127.0.0.1
{ssl}
disable_plaintext_auth = no
auth_mechanisms = plain login
first_valid_uid = 1
default_login_user = dovenull
default_internal_user = dovecot
mail_location = maildir:{d}/mail/%n
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {d}/users
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={d}/mail/%n
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {imaps_port}
  }}
  chroot =
}}
service anvil {{
  chroot =
}}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def unavailable() -> str | None:
    """Why a Dovecot instance cannot run here, or None when it can."""
    if shutil.which("dovecot") is None or not Path("/usr/lib/dovecot/imap").exists():
        return "dovecot is not installed (Debian packages dovecot-core, dovecot-imapd)"
    if os.geteuid() != 0:
        return "dovecot needs root to start"
    for user in ("dovecot", "dovenull", "mail"):
        try:
            pwd.getpwnam(user)
        except KeyError:
            return f"the {user} user does not exist"
    return None


class DovecotInstance:
    """Dovecot under `root`, with `user` (an address) and the password in `password`."""

    def __init__(
        self,
        root: Path,
        user: str = "replies@collect.example",
        tls: tuple[Path, Path, Path] | None = None,  # CA, server certificate, its key
    ) -> None:
        self.dir = root
        self.port = free_port()
        self.imaps_port = free_port() if tls else 0
        self.tls = tls
        self.user = user
        self.password = "pc-" + os.urandom(8).hex()
        self.owner = pwd.getpwnam("mail")
        self._count = 0

    @property
    def home(self) -> Path:
        return self.dir / "mail" / self.user.partition("@")[0]

    def start(self) -> None:
        self.dir.mkdir(parents=True, exist_ok=True)
        self.dir.chmod(0o755)
        for sub in ("run", "state"):
            (self.dir / sub).mkdir(exist_ok=True)
        self.make_folder("")
        (self.dir / "users").write_text(f"{self.user}:{{PLAIN}}{self.password}\n")
        ssl = "ssl = no"
        if self.tls is not None:  # STARTTLS on the imap port, implicit TLS on imaps
            ssl = f"ssl = yes\nssl_cert = <{self.tls[1]}\nssl_key = <{self.tls[2]}"
        (self.dir / "dovecot.conf").write_text(
            CONF.format(
                d=self.dir,
                port=self.port,
                imaps_port=self.imaps_port,
                uid=self.owner.pw_uid,
                gid=self.owner.pw_gid,
                ssl=ssl,
            )
        )
        # the daemon keeps the standard streams it inherits: give it none to hold open
        subprocess.run(
            ["dovecot", "-c", str(self.dir / "dovecot.conf")],
            check=True,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.1)
        raise RuntimeError(f"dovecot did not listen on {self.port}: {self.log()}")

    def stop(self) -> None:
        subprocess.run(
            ["doveadm", "-c", str(self.dir / "dovecot.conf"), "stop"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        shutil.rmtree(self.dir, ignore_errors=True)

    def folder(self, name: str) -> Path:
        """The Maildir of a mailbox: the home itself for INBOX, else `.NAME` under it."""
        return self.home if name in ("", "INBOX") else self.home / f".{name}"

    def make_folder(self, name: str) -> Path:
        path = self.folder(name)
        for sub in ("cur", "new", "tmp"):
            (path / sub).mkdir(parents=True, exist_ok=True)
        for p in [self.dir / "mail", self.home, path, *(path / s for s in ("cur", "new", "tmp"))]:
            os.chown(p, self.owner.pw_uid, self.owner.pw_gid)
        return path

    def deliver(self, message: bytes, folder: str = "INBOX") -> None:
        """Put one message into a mailbox, as a local delivery agent would."""
        self._count += 1
        path = self.folder(folder)
        name = f"{time.time_ns()}.P{os.getpid()}Q{self._count}.pulsecheck.test"
        tmp = path / "tmp" / name
        tmp.write_bytes(message)
        os.chown(tmp, self.owner.pw_uid, self.owner.pw_gid)
        tmp.rename(path / "new" / name)

    def log(self) -> str:
        path = self.dir / "dovecot.log"
        return path.read_text()[-3000:] if path.exists() else "(no dovecot.log)"
