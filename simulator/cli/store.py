"""`pulsecheck store`: inspect a collection store (SQLite).

`pulsecheck store stats DB [--json]` counts accepted replies and rejections by agency,
round and status, plus non-reply deliveries (broadcast batches and their recipients).
"""

from __future__ import annotations

import argparse
import json
import sqlite3
from typing import Any

from simulator.cli import EXIT_OK
from simulator.collect import store as store_mod
from simulator.validation import InputError


def add_parser(sub: argparse._SubParsersAction[Any]) -> None:
    parser = sub.add_parser(
        "store",
        help="Inspect a collection store (SQLite).",
        description="Inspect a collection store (SQLite).",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    stats = actions.add_parser("stats", help="counts by agency, round and status")
    stats.add_argument("db", help="store file written by `pulsecheck serve`")
    stats.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        conn = store_mod.open_reader(args.db)
        rows = store_mod.stats(conn)
        transactions, recipients = store_mod.delivery_totals(conn)
        conn.close()
    except FileNotFoundError:
        raise InputError(args.db, "DB", args.db, "file not found") from None
    except sqlite3.DatabaseError as err:
        raise InputError(args.db, "DB", args.db, f"must be a pulsecheck store ({err})") from None
    if args.json:
        print(json.dumps(_as_json(rows, transactions, recipients), indent=2))
    else:
        _print_table(rows, transactions, recipients)
    return EXIT_OK


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
