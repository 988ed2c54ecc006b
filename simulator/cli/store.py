"""`pulsecheck store`: inspect a collection store (SQLite), read it as an agency, purge it.

`pulsecheck store stats DB [--json]` counts accepted replies and rejections by agency,
round and status, plus non-reply deliveries (broadcast batches and their recipients).
`pulsecheck store replies DB --agency DHS [--key-file K]` prints one page of that agency's
replies, opening encrypted rows with the key file, and appends an audit row first.
`pulsecheck store audit DB` prints the audit log (reads and purges: who, what, when).
`pulsecheck store purge DB --older-than DAYS` removes subject, cc and body of replies
received more than DAYS ago (rows and counts stay), audited chunk by chunk.
"""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import json
import os
import sqlite3
import time
from typing import Any

from simulator.cli import EXIT_OK, HelpFormatter
from simulator.validation import InputError, finite_float

EXAMPLES = {
    "stats": ("store stats store.db", "store stats reports/ci-smoke/store.db --json"),
    "replies": (
        "store replies store.db --agency DHS --limit 10",
        "store replies store.db --agency DHS --key-file store.key --json",
    ),
    "audit": ("store audit store.db --limit 20",),
    "purge": ("store purge store.db --older-than 30",),
}


def _examples(*actions: str) -> str:
    lines = [f"  pulsecheck {line}" for action in actions for line in EXAMPLES[action]]
    return "examples:\n" + "\n".join(lines) + "\n"


def add_parser(sub: argparse._SubParsersAction[Any]) -> None:
    parser = sub.add_parser(
        "store",
        help="Inspect a collection store (SQLite), read it as an agency, purge it.",
        description="Inspect a collection store (SQLite), read it as an agency, purge it.",
        epilog=_examples(*EXAMPLES),
        formatter_class=HelpFormatter,
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    stats = actions.add_parser(
        "stats",
        help="counts by agency, round and status",
        description="Count accepted replies and rejections by agency, round and status, "
        "and the non-reply deliveries (broadcast batches and their recipients).",
        epilog=_examples("stats"),
        formatter_class=HelpFormatter,
    )
    stats.add_argument("db", help="store file written by `pulsecheck serve`")
    stats.add_argument("--json", action="store_true", help="print JSON")
    stats.set_defaults(func=run)

    replies = actions.add_parser(
        "replies",
        help="one page of an agency's replies (audited)",
        description=_doc_of("replies"),
        epilog=_examples("replies"),
        formatter_class=HelpFormatter,
    )
    replies.add_argument("db", help="store file written by `pulsecheck serve`")
    replies.add_argument("--agency", required=True, help="department code, e.g. DHS")
    replies.add_argument("--key-file", help="the store's master key file (from `serve`)")
    replies.add_argument("--after", type=int, default=0, help="start after this row id")
    replies.add_argument("--limit", type=int, default=100, help="rows, 1..1000 (default 100)")
    _principal(replies)
    replies.add_argument("--json", action="store_true", help="print JSON")
    replies.set_defaults(func=run_replies)

    audit = actions.add_parser(
        "audit",
        help="print the audit log: reads and purges",
        epilog=_examples("audit"),
        formatter_class=HelpFormatter,
    )
    audit.add_argument("db", help="store file written by `pulsecheck serve`")
    audit.add_argument("--limit", type=int, help="only the last N rows")
    audit.add_argument("--json", action="store_true", help="print JSON")
    audit.set_defaults(func=run_audit)

    purge = actions.add_parser(
        "purge",
        help="remove contents of old replies (audited)",
        description=_doc_of("purge"),
        epilog=_examples("purge"),
        formatter_class=HelpFormatter,
    )
    purge.add_argument("db", help="store file written by `pulsecheck serve`")
    purge.add_argument(
        "--older-than", type=finite_float, required=True, metavar="DAYS", help="age in days, >= 0"
    )
    _principal(purge)
    purge.set_defaults(func=run_purge)
    parser.set_defaults(func=run)


def _doc_of(action: str) -> str:
    return next(line for line in (__doc__ or "").splitlines() if f"store {action} DB" in line)


def _principal(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--principal", help="who is asking, for the audit log (default cli:<login name>)"
    )


def _who(args: argparse.Namespace) -> str:
    if args.principal:
        return str(args.principal)
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return f"cli:uid{os.getuid()}"


def _reader(db: str) -> sqlite3.Connection:
    from simulator.collect import store as store_mod  # on use: keeps `--help` light

    try:
        conn = store_mod.open_reader(db)
        conn.execute("SELECT id FROM replies LIMIT 1").fetchall()
    except FileNotFoundError:
        raise InputError(db, "DB", db, "file not found") from None
    except sqlite3.DatabaseError as err:
        raise InputError(db, "DB", db, f"must be a pulsecheck store ({err})") from None
    return conn


def _writer(db: str) -> sqlite3.Connection:
    """A connection that may append audit rows: only to an existing pulsecheck store."""
    from simulator.collect import store as store_mod

    _reader(db).close()
    return store_mod.connect(db)


def run(args: argparse.Namespace) -> int:
    from simulator.collect import store as store_mod

    conn = _reader(args.db)
    try:
        rows = store_mod.stats(conn)
        transactions, recipients = store_mod.delivery_totals(conn)
    except sqlite3.DatabaseError as err:
        raise InputError(args.db, "DB", args.db, f"must be a pulsecheck store ({err})") from None
    finally:
        conn.close()
    if args.json:
        print(json.dumps(_as_json(rows, transactions, recipients), indent=2))
    else:
        _print_table(rows, transactions, recipients)
    return EXIT_OK


def run_replies(args: argparse.Namespace) -> int:
    from simulator.collect import store as store_mod
    from simulator.collect.vault import Vault, load_key

    if not 1 <= args.limit <= 1000:
        raise InputError("--limit", "limit", args.limit, "must be between 1 and 1000")
    vault = None if args.key_file is None else Vault(load_key(args.key_file))
    conn = _writer(args.db)
    try:
        if vault is not None:
            vault.check(conn, args.key_file)
        rows = store_mod.replies_for(conn, args.agency, max(0, args.after), args.limit, vault)
        query = f"store replies --agency {args.agency} --after {args.after} --limit {args.limit}"
        entry = store_mod.AuditEntry(
            time.time_ns() // 1000,
            _who(args),
            "read",
            args.agency,
            query,
            tuple(int(r["id"]) for r in rows),
        )
        store_mod.append_audit(conn, entry)  # committed before anything is shown
    finally:
        conn.close()
    if args.json:
        print(json.dumps({"agency": args.agency, "replies": list(rows)}, indent=2))
        return EXIT_OK
    for r in rows:
        print(
            f"#{r['id']} {_when(r['received_us'])} {r['channel']} {r['collection']} "
            f"{r['sender']} round {r['round']} [{r['at_rest']}]"
        )
        print(f"  subject: {r['subject']}")
        print(f"  cc: {', '.join(r['cc'])}")
        for line in str(r["body"]).splitlines():
            print(f"  | {line}")
    locked = sum(r["at_rest"] in ("locked", "tampered") for r in rows)
    print(
        f"{len(rows)} replies of {args.agency}"
        + (f"; {locked} could not be opened" if locked else "")
    )
    return EXIT_OK


def run_audit(args: argparse.Namespace) -> int:
    from simulator.collect import store as store_mod

    if args.limit is not None and args.limit < 1:
        raise InputError("--limit", "limit", args.limit, "must be >= 1")
    conn = _reader(args.db)
    try:
        rows = store_mod.audit_log(conn, args.limit)
    finally:
        conn.close()
    if args.json:
        print(json.dumps(rows, indent=2))
        return EXIT_OK
    print(
        f"{'id':>6} {'when (UTC)':32s} {'principal':28s} {'action':6s} {'agency':8s} "
        f"{'rows':>8s}  query"
    )
    for r in rows:
        print(
            f"{r['id']:>6} {_when(r['at_us']):32s} {r['principal']:28s} {r['action']:6s} "
            f"{r['agency']:8s} {r['row_count']:>8,d}  {r['query']}"
        )
    return EXIT_OK


def run_purge(args: argparse.Namespace) -> int:
    from simulator.collect import store as store_mod

    days = args.older_than
    if not days >= 0:
        raise InputError("--older-than", "days", days, "must be a number of days >= 0")
    now_us = time.time_ns() // 1000
    before_us = now_us - int(days * 86_400e6)
    query = f"store purge --older-than {days:g} (received before {_when(before_us)})"
    conn = _writer(args.db)
    try:
        purged = store_mod.purge(conn, store_mod.Purge(before_us, now_us, _who(args), query))
    finally:
        conn.close()
    print(f"purged subject, cc and body of {purged:,d} replies received before {_when(before_us)}")
    return EXIT_OK


def _when(us: int) -> str:
    return dt.datetime.fromtimestamp(us / 1e6, dt.UTC).isoformat(timespec="microseconds")


def _as_json(rows: list[tuple[str, str, str, int]], transactions: int, recipients: int) -> Any:
    return {
        "counts": [{"agency": a, "round": r, "status": s, "count": n} for a, r, s, n in rows],
        "accepted": sum(n for _, _, s, n in rows if s == "accepted"),
        "rejected": sum(n for _, _, s, n in rows if s != "accepted"),
        "deliveries": {"transactions": transactions, "recipients": recipients},
    }


def _print_table(rows: list[tuple[str, str, str, int]], transactions: int, recipients: int) -> None:
    print(f"{'agency':10s} {'round':8s} {'status':28s} {'count':>10s}")
    for agency, round_id, status, count in rows:
        print(f"{agency:10s} {round_id:8s} {status:28s} {count:>10,d}")
    accepted = sum(n for _, _, s, n in rows if s == "accepted")
    print(f"total accepted replies: {accepted:,d}")
    print(f"non-reply deliveries: {transactions:,d} transactions, {recipients:,d} recipients")
