#!/usr/bin/env python3
"""The engine's books against the exchange simulator's (the end-to-end runs' check
that a killed engine lost or duplicated nothing).

Reads the engine's SQLite store read-only (the engine keeps running) and the
simulator's `GET /sim/books` (every order and trade the venue holds; with
--symbol, those of that symbol: another bot may share the account), and fails
unless:
  - every venue order is stored exactly once, with the venue's status and filled
    quantity (the venue never got an order twice: client order ids are unique there);
  - every venue trade is stored exactly once as a fill of that order, with the same
    side, price, quantity and fee, and no stored fill of a venue order is unknown to
    the venue;
  - every order the engine stored since it entered a venue phase reached the venue,
    unless the engine recorded it as rejected (a refused or never-sent order).
Money is compared as exact decimals.
"""
import argparse
import json
import sqlite3
import sys
import urllib.request
from decimal import Decimal

VENUE_PHASES = ("Sandbox", "LimitedReal", "Scaling")
STATUS = {"NEW": "new", "PARTIALLY_FILLED": "partiallyFilled", "FILLED": "filled",
          "CANCELED": "canceled", "REJECTED": "rejected", "EXPIRED": "expired"}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--store", required=True, help="path of the engine's bot.db")
    p.add_argument("--sim", required=True, help="base URL of the simulator")
    p.add_argument("--symbol", help="only the venue's orders and trades of this symbol")
    p.add_argument("--trade-id-prefix", default="",
                   help="what the engine puts before a venue trade id (Coinbase: trade-)")
    a = p.parse_args()
    with urllib.request.urlopen(a.sim + "/sim/books", timeout=10) as r:
        venue = json.load(r)
    if a.symbol:
        for k in ("orders", "trades"):
            venue[k] = [x for x in venue[k] if x["symbol"] == a.symbol]
    db = sqlite3.connect(f"file:{a.store}?mode=ro", uri=True)
    db.row_factory = sqlite3.Row
    orders = {r["client_order_id"]: r for r in db.execute("SELECT * FROM orders")}
    fills = list(db.execute("SELECT * FROM fills"))
    entered = db.execute(
        "SELECT MIN(at) FROM phase_events WHERE to_phase IN (?, ?, ?)", VENUE_PHASES
    ).fetchone()[0]
    problems = []

    venue_orders = {o["clientOrderId"]: o for o in venue["orders"]}
    if len(venue_orders) != len(venue["orders"]):
        problems.append("the venue holds an order id twice")
    by_venue_id = {}
    for cid, o in venue_orders.items():
        mine = orders.get(cid)
        if mine is None:
            problems.append(f"{cid} is at the venue but not in the store")
            continue
        by_venue_id[o["orderId"]] = mine
        if mine["status"] != STATUS[o["status"]] and not (
            o["status"] in ("NEW", "PARTIALLY_FILLED")
        ):
            problems.append(f"{cid}: stored {mine['status']}, venue {o['status']}")
        if Decimal(mine["filled_quantity"]) != Decimal(o["executedQty"]):
            problems.append(f"{cid}: stored filled {mine['filled_quantity']}, venue {o['executedQty']}")

    stored = {}
    for f in fills:
        key = (f["symbol"], f["trade_id"])
        if key in stored:
            problems.append(f"fill {key} stored twice")
        stored[key] = f
    venue_trades = set()
    for t in venue["trades"]:
        key = (t["symbol"], a.trade_id_prefix + str(t["id"]))
        venue_trades.add(key)
        f = stored.get(key)
        if f is None:
            problems.append(f"venue trade {key} is not stored")
            continue
        want = (t["side"], Decimal(t["price"]), Decimal(t["qty"]), Decimal(t["commission"]))
        got = (f["side"], Decimal(f["price"]), Decimal(f["quantity"]), Decimal(f["fee"]))
        if want != got:
            problems.append(f"trade {key}: stored {got}, venue {want}")
        mine = by_venue_id.get(t["orderId"])
        if mine is not None and f["order_id"] != mine["id"]:
            problems.append(f"trade {key} is stored under another order")
    venue_order_ids = {o["id"] for o in by_venue_id.values()}
    for key, f in stored.items():
        if f["order_id"] in venue_order_ids and key not in venue_trades:
            problems.append(f"stored fill {key} of a venue order is unknown to the venue")

    if entered is not None:
        for cid, o in orders.items():
            if o["created_at"] >= entered and cid not in venue_orders and o["status"] != "rejected":
                problems.append(f"{cid} ({o['status']}) was stored in a venue phase but never reached the venue")

    print(f"books: {len(venue_orders)} venue orders, {len(venue['trades'])} venue trades, "
          f"{len(orders)} stored orders, {len(fills)} stored fills; {len(problems)} problems")
    for pr in problems:
        print("  " + pr)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
