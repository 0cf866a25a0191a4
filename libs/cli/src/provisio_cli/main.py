"""`provisio`: the one command line of Provisio.

provisio up | down | status | logs      run the local stack (make up / make down)
provisio token --role rep --sub ID      mint a local bearer token
provisio send-deal ...                  sign and send a deal to the generic webhook door
provisio calc ...                       the offline plan engine (PLANS.md contract)
provisio bench                          the benchmarks (make bench)
provisio check-differential --seeds N   random scenarios through a throwaway stack vs the engine
provisio check-faults                   kill -9, broker restart, Postgres outage, poison: 0 lost?
"""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    """Parse `argv` (default: sys.argv) and run the subcommand; returns the exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args and args[0] == "calc":
        from provisio_calc.cli import main as calc_main

        return calc_main(args[1:])
    parser = argparse.ArgumentParser(
        prog="provisio", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("up", "down", "status", "logs"):
        p = sub.add_parser(name)
        p.add_argument("--state", default=".provisio", help="state folder (default .provisio)")
    token = sub.add_parser("token", help="mint a local HS256 token from the stack's secret")
    token.add_argument("--role", required=True, choices=["admin", "manager", "rep", "payroll", "ops"])
    token.add_argument("--sub", required=True, help="payee id (rep, manager) or client id")
    token.add_argument("--state", default=".provisio")
    send = sub.add_parser("send-deal", help="sign and POST one delivery to a CRM door")
    send.add_argument(
        "file",
        help="generic: the deal's data object; other doors: the CRM's own payload (- for stdin)",
    )
    send.add_argument(
        "--door",
        default="generic",
        choices=["generic", "hubspot", "pipedrive", "salesforce", "salesforce-outbound"],
    )
    send.add_argument("--url", help="deal-ingest base URL (default: from the stack)")
    send.add_argument("--secret", help="the door's secret (default: from the stack)")
    send.add_argument("--type", default="deal.snapshot", choices=["deal.snapshot", "activity"])
    send.add_argument("--id", help="delivery id (webhook-id / meta.id; default: a new one)")
    send.add_argument("--state", default=".provisio")
    replay = sub.add_parser("replay", help="re-publish every retained outbox row")
    replay.add_argument(
        "--service", choices=["deal-ingest", "calc-engine", "quota-service", "payout-service"]
    )
    replay.add_argument("--state", default=".provisio")
    bench = sub.add_parser("bench", help="run the benchmarks")
    bench.add_argument("--quick", action="store_true", help="small sizes, for development (about 2 minutes)")
    bench.add_argument("--state", default=".provisio", help="results.json goes to <state>/bench/")
    differential = sub.add_parser(
        "check-differential",
        help="seeded scenarios through a throwaway stack, compared to the cent with the engine",
    )
    differential.add_argument("--seeds", type=int, default=10, help="how many seeds to run")
    differential.add_argument("--first", type=int, default=1, help="the first seed")
    differential.add_argument(
        "--timeout", type=float, default=60, help="seconds without progress before a seed counts as unsettled"
    )
    differential.add_argument("--per-stack", type=int, default=10, help="seeds per throwaway stack")
    differential.add_argument(
        "--mode",
        default="shuffled",
        choices=["shuffled", "in-order", "control"],
        help="shuffled with retries and duplicates (default); every snapshot in order; "
        "only each deal's last snapshot, in order (checks the harness)",
    )
    differential.add_argument("--verbose", action="store_true", help="describe each failing scenario")
    faults = sub.add_parser(
        "check-faults",
        help="kill, restart and starve a throwaway stack under a stream of deals; count what was lost",
    )
    faults.add_argument("--seed", type=int, default=13, help="the stream's and the fault points' seed")
    faults.add_argument("--deals", type=int, default=2000, help="deals in the stream")
    faults.add_argument("--outage", type=float, default=30, help="seconds Postgres stays down")
    serve = sub.add_parser("serve", help="run one service in the foreground")
    serve.add_argument("service", choices=["deal-ingest", "calc-engine", "quota-service", "payout-service"])
    ns = parser.parse_args(args)

    from provisio_cli import commands

    handler = getattr(commands, ns.command.replace("-", "_"))
    result: int = handler(ns)
    return result


if __name__ == "__main__":
    raise SystemExit(main())
