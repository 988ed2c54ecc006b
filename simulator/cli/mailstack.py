"""`pulsecheck mailstack`: start and stop a real mail stack (Postfix + Dovecot) on loopback.

Theory of operation: `mailstack up --dir DIR` checks its flags (quota, user files, TLS
files), builds a `simulator.collect.mailstack.MailStack` in DIR and starts it: Postfix
receiving SMTP and submission, Dovecot storing each mailbox's Maildir under a quota and
serving IMAP. It prints the ports, the CA file a client must trust and the credentials
file (never a password), then waits for Ctrl-C or SIGTERM and stops both servers. With
`--detach` it returns at once, leaving the stack running; `mailstack down --dir DIR`
stops it later from the files in DIR. The stack module loads only when a command runs,
so `--help` stays light. Missing packages or a non-root user are bad input (exit 2).
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from simulator.cli import EXIT_BAD_INPUT, EXIT_FAILED, EXIT_OK, HelpFormatter
from simulator.validation import InputError

if TYPE_CHECKING:  # the stack module loads on use: `--help` stays light
    from simulator.collect.mailstack import MailStack

HELP = "Run a real mail stack (Postfix -> LMTP -> Dovecot Maildir, IMAP) on loopback."
DEFAULT_QUOTA = "10M"  # as simulator.collect.mailstack.DEFAULT_QUOTA

EPILOG = """\
Mailboxes: one per default collection address (hr@opm.example, ...), or per address in
--users files ("address [password]" per line), plus catchall@mailstack.test for every
other .example/.test address. Passwords are generated unless given and written to
DIR/credentials (0600). A full mailbox (the catch-all has no quota) is refused at
RCPT: 552 5.2.2 Mailbox is full.
Needs root and Debian's postfix, dovecot-core, dovecot-imapd and dovecot-lmtpd.

examples:
  pulsecheck mailstack up --dir /tmp/stack --quota 10M    # Ctrl-C stops it
  pulsecheck mailstack up --dir /tmp/stack --smtp-port 2526 --quota 64k --detach
  pulsecheck replay s.parquet --workforce wf.parquet \\
      --target smtp://127.0.0.1:2526 --speedup 2000 --out reports/stack1
  pulsecheck mailstack down --dir /tmp/stack
"""


def add_parser(sub: argparse._SubParsersAction[Any]) -> None:
    parser = sub.add_parser(
        "mailstack",
        help=HELP,
        description=HELP + " `up` starts it in a directory and prints its ports, CA file "
        "and credentials file; `down` stops the one running in a directory.",
        epilog=EPILOG,
        formatter_class=HelpFormatter,
    )
    parser.add_argument("action", choices=("up", "down"), help="up: start it; down: stop it")
    parser.add_argument(
        "--dir", required=True, help="directory for its configuration, queue, logs and mail"
    )
    parser.add_argument(
        "--quota",
        default=DEFAULT_QUOTA,
        metavar="SIZE",
        help="up: storage quota per mailbox, e.g. 512k, 10M, 1G (default %(default)s)",
    )
    parser.add_argument(
        "--quota-messages", type=int, metavar="N", help="up: also limit each mailbox to N messages"
    )
    parser.add_argument(
        "--users",
        action="append",
        metavar="FILE",
        help="up: mailbox addresses, 'address [password]' per line (repeatable; default "
        "the default collection addresses)",
    )
    parser.add_argument(
        "--ca-file",
        metavar="FILE",
        help="up: the CA that signed --cert-file (default: make a new CA in DIR/tls)",
    )
    parser.add_argument(
        "--cert-file", metavar="FILE", help="up: server certificate (PEM) for STARTTLS"
    )
    parser.add_argument("--key-file", metavar="FILE", help="up: its private key (PEM)")
    for name in ("smtp", "submission", "imap"):
        parser.add_argument(
            f"--{name}-port",
            type=int,
            default=0,
            metavar="PORT",
            help=f"up: {name} port (default: a free one)",
        )
    parser.add_argument(
        "--detach", action="store_true", help="up: return once it is running (stop with down)"
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from simulator.collect import mailstack

    if args.action == "down":
        state = mailstack.read_state(Path(args.dir))
        mailstack.stop_dir(Path(args.dir))
        print(f"mail stack in {args.dir} stopped (smtp port {state.get('smtp_port')})")
        return EXIT_OK
    stack = build_stack(args)
    reason = mailstack.unavailable()
    if reason:
        print(f"pulsecheck mailstack: error: {reason}", file=sys.stderr)
        return EXIT_BAD_INPUT
    try:
        stack.start()
    except mailstack.MailStackError as err:
        print(f"pulsecheck mailstack: the stack did not start: {err}", file=sys.stderr)
        return EXIT_FAILED
    print(describe(stack, args.detach), flush=True)
    if args.detach:
        return EXIT_OK
    stopping = threading.Event()

    def stop(signum: int, frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, stop)
    try:
        while not stopping.wait(1.0):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        stack.stop()
    print(f"mail stack in {stack.dir} stopped", flush=True)
    return EXIT_OK


def build_stack(args: argparse.Namespace) -> MailStack:
    """The stack the flags describe; every flag is checked before anything starts."""
    from simulator.collect import mailstack

    quota = mailstack.check_quota(args.quota)
    users: dict[str, str | None] | None = None
    for path in args.users or ():
        users = {**(users or {}), **mailstack.read_users(Path(path))}
    if args.users and not users:
        raise InputError("command line", "--users", args.users, "files naming at least one address")
    given = [args.ca_file, args.cert_file, args.key_file]
    tls: tuple[Path, Path, Path] | None = None
    if any(given):
        if not all(given):
            raise InputError(
                "command line", "--ca-file/--cert-file/--key-file", given, "all three or none"
            )
        for flag, value in zip(("--ca-file", "--cert-file", "--key-file"), given, strict=True):
            if not Path(value).is_file():
                raise InputError("command line", flag, value, "an existing PEM file")
        tls = (Path(args.ca_file), Path(args.cert_file), Path(args.key_file))
    state = Path(args.dir) / mailstack.STATE_FILE
    if state.exists() and mailstack.running_pids(Path(args.dir)):
        raise InputError("command line", "--dir", args.dir, "a directory with no stack running")
    ports = (args.smtp_port, args.submission_port, args.imap_port)
    for flag, port in zip(("--smtp-port", "--submission-port", "--imap-port"), ports, strict=True):
        if not 0 <= port <= 65535:
            raise InputError("command line", flag, port, "a port between 1 and 65535 (0: free)")
    return mailstack.MailStack(
        args.dir,
        quota=quota,
        quota_messages=args.quota_messages,
        tls=tls,
        users=users,
        ports=ports,
    )


def describe(stack: MailStack, detached: bool) -> str:
    from simulator.collect.mailstack import CATCH_ALL

    limit = stack.quota + (f", {stack.quota_messages} messages" if stack.quota_messages else "")
    stop = f"pulsecheck mailstack down --dir {stack.dir}" if detached else "Ctrl-C"
    return "\n".join(
        [
            f"mail stack up in {stack.dir}",
            f"  smtp        127.0.0.1:{stack.smtp_port}  (no AUTH from loopback)",
            f"  submission  127.0.0.1:{stack.submission_port}  (STARTTLS, then AUTH PLAIN/LOGIN)",
            f"  imap        127.0.0.1:{stack.imap_port}  (LOGIN; STARTTLS offered)",
            f"  CA file     {stack.ca_file}",
            f"  credentials {stack.credentials_file}  (address password per line)",
            f"  mailboxes   {len(stack.users)} (quota {limit} each), catch-all {CATCH_ALL}",
            f"  replay to it: --target smtp://127.0.0.1:{stack.smtp_port}",
            f"stop: {stop}",
        ]
    )
