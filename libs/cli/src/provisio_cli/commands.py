"""The subcommands of `provisio` (argument parsing lives in main.py)."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from provisio_cli.stack import Stack


def up(ns: argparse.Namespace) -> int:
    """`provisio up`: start the local stack and load the demo company."""
    return Stack(Path(ns.state)).up()


def down(ns: argparse.Namespace) -> int:
    """`provisio down`: stop every process of the local stack."""
    return Stack(Path(ns.state)).down()


def status(ns: argparse.Namespace) -> int:
    """`provisio status`: print which stack processes run; 3 when none does."""
    return Stack(Path(ns.state)).status()


def logs(ns: argparse.Namespace) -> int:
    """`provisio logs`: follow the log files of the stack's processes."""
    files = sorted((Path(ns.state) / "logs").glob("*.log"))
    if not files:
        print("no logs yet: run `make up`", file=sys.stderr)
        return 1
    return subprocess.call(["tail", "-n", "50", "-F", *map(str, files)])


def token(ns: argparse.Namespace) -> int:
    """`provisio token`: print a bearer token for `--sub` with `--role`, signed with the stack's secret."""
    from provisio_common.auth import mint_token

    print(mint_token(Stack(Path(ns.state)).settings(), ns.sub, ns.role))
    return 0


def send_deal(ns: argparse.Namespace) -> int:
    """Sign a payload the way the chosen CRM door expects and POST it."""
    from provisio_cli.send import send

    config = Stack(Path(ns.state)).config() if not (ns.url and ns.secret) else {}
    url = ns.url or f"http://127.0.0.1:{config['ports']['deal-ingest']}"
    secret = ns.secret or config["webhook_secrets"].get(ns.door, "")
    text = sys.stdin.read() if ns.file == "-" else Path(ns.file).read_text()
    if ns.door == "salesforce-outbound":
        payload: Any = text.encode()
    elif ns.door == "generic":
        payload = {"type": ns.type, "data": json.loads(text)}
    else:
        payload = json.loads(text)
    response = send(ns.door, url, secret, payload, msg_id=ns.id)
    print(response.status_code, response.text)
    return 0 if response.is_success else 1


def replay(ns: argparse.Namespace) -> int:
    """Mark every retained outbox row unsent; the running relays publish them again."""
    import asyncio

    import sqlalchemy as sa

    from provisio_cli.stack import DATABASES
    from provisio_common.db import create_engine

    settings = Stack(Path(ns.state)).settings()
    names = [ns.service] if ns.service else list(DATABASES)

    async def run() -> None:
        for name in names:
            engine = create_engine(settings.dsn(DATABASES[name]))
            try:
                async with engine.begin() as conn:
                    result = await conn.execute(
                        sa.text("UPDATE outbox SET sent_at = NULL WHERE sent_at IS NOT NULL")
                    )
                    await conn.execute(sa.text("SELECT pg_notify('provisio_outbox', '')"))
                print(f"{name}: {result.rowcount} outbox rows queued for re-publishing")
            finally:
                await engine.dispose()

    asyncio.run(run())
    return 0


def bench(ns: argparse.Namespace) -> int:
    """The plan engine benchmark (libs/calc/bench), then the service-level ones on one
    throwaway stack; the figures printed and written to `<state>/bench/results.json`.
    `--quick`: small sizes, for development (a couple of minutes)."""
    from provisio_cli.bench import QUICK, Sizes, run
    from provisio_cli.bench_results import engine_figures, results, write

    script = Path(__file__).resolve().parents[3] / "calc" / "bench" / "bench_calc.py"
    status = 0
    lines: list[str] = []
    if script.exists():
        sizes = ["--sizes", "10000,50000", "--history", "10000"] if ns.quick else []
        with subprocess.Popen(
            [sys.executable, str(script), *sizes], stdout=subprocess.PIPE, text=True
        ) as calc:
            assert calc.stdout is not None
            for line in calc.stdout:
                lines.append(line)
                if not line.startswith("RESULT "):
                    print(line, end="", flush=True)
        status = calc.returncode
    else:
        print(f"(no plan engine benchmark at {script})")
    service = run(QUICK if ns.quick else Sizes())
    path = write(results(service, engine_figures(lines), quick=ns.quick), Path(ns.state))
    print(f"\nresults: {path}")
    return status


def check_differential(ns: argparse.Namespace) -> int:
    """`provisio check-differential`: seeded scenarios through a throwaway stack vs the engine."""
    from provisio_cli.differential import run

    return run(
        ns.seeds, ns.first, timeout_s=ns.timeout, mode=ns.mode, verbose=ns.verbose, per_stack=ns.per_stack
    )


def check_faults(ns: argparse.Namespace) -> int:
    """`provisio check-faults`: the fault suite on a throwaway stack (figures; 1 on any loss)."""
    from provisio_cli.faults import run

    return run(seed=ns.seed, deal_count=ns.deals, outage_s=ns.outage)


def serve(ns: argparse.Namespace) -> int:
    """`provisio serve`: run one service in the foreground."""
    module = {
        "deal-ingest": "deal_ingest",
        "calc-engine": "calc_engine",
        "quota-service": "quota_service",
        "payout-service": "payout_service",
    }[ns.service]
    return subprocess.call([sys.executable, "-m", f"{module}.main"])
