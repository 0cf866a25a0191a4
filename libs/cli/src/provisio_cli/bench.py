"""End-to-end benchmark (DESIGN.md §10): signed webhooks in -> ledger entries visible in
payout statements. Prints deals/s sustained, p50/p99 latency, and the ratio to the raw
commit rate `pgbench` measures on the same embedded Postgres. Asserts nothing.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from provisio_cli.stack import Stack
from provisio_common.auth import mint_token
from provisio_common.embedded import _pg_bin, free_port
from provisio_common.webhooks import signed_headers

PORT_VARS = [
    "PROVISIO_PG_PORT",
    "PROVISIO_BROKER_PORT",
    "PROVISIO_DEAL_INGEST_PORT",
    "PROVISIO_CALC_ENGINE_PORT",
    "PROVISIO_QUOTA_SERVICE_PORT",
    "PROVISIO_PAYOUT_SERVICE_PORT",
]


def _plan(year: int) -> str:
    return f"""id: bench
currency: USD
period: quarter
pay_frequency: month
effective: {{from: {year}-01-01, to: {year}-12-31}}
components:
  - id: commission
    kind: commission
    measure: {{metric: amount}}
    rate: "0.1"
"""


def _send(client: httpx.Client, url: str, secret: str, msg_id: str, data: dict[str, Any]) -> None:
    body = json.dumps({"type": "deal.snapshot", "data": data}).encode()
    headers = {"content-type": "application/json", **signed_headers(secret, msg_id, body)}
    response = client.post(f"{url}/webhooks/generic", content=body, headers=headers)
    response.raise_for_status()


def _entries(client: httpx.Client, payout: str, payee: str, headers: dict[str, str]) -> int:
    response = client.get(f"{payout}/statements/{payee}", headers=headers)
    return sum(p["entries"] for p in response.json()["pay_periods"]) if response.is_success else 0


def _pgbench_tps(stack: Stack) -> float:
    port = str(stack.config()["ports"]["postgres"])
    env = {**os.environ, "PGPASSWORD": stack.config()["pg_password"]}
    base = [str(_pg_bin("pgbench")), "-h", "127.0.0.1", "-p", port, "-U", "postgres"]
    subprocess.run(
        [str(_pg_bin("createdb")), "-h", "127.0.0.1", "-p", port, "-U", "postgres", "bench"],
        capture_output=True,
        env=env,
    )
    subprocess.run([*base, "-i", "-s", "1", "bench"], check=True, capture_output=True, env=env)
    out = subprocess.run(
        [*base, "-N", "-c", "4", "-j", "2", "-T", "10", "bench"],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    ).stdout
    line = next(x for x in out.splitlines() if x.startswith("tps"))
    return float(line.split("=")[1].split()[0])


def run(deals: int = 300, latency_samples: int = 30) -> dict[str, Any]:
    """Start a throwaway stack, send signed deal webhooks, print latency, throughput and
    pgbench tps, and return them (the `e2e` section of results.json)."""
    state = Path(tempfile.mkdtemp(prefix="provisio-bench-")) / "state"
    saved = {var: os.environ.get(var) for var in PORT_VARS}
    os.environ.update({var: str(free_port()) for var in PORT_VARS})
    stack = Stack(state)
    try:
        urls = stack.start_processes()
        settings = stack.settings()
        secret = stack.config()["webhook_secrets"]["generic"]
        admin = {"Authorization": f"Bearer {mint_token(settings, 'admin', 'admin')}"}
        today = datetime.now(UTC).date()
        with httpx.Client(timeout=30) as client:
            client.put(
                f"{urls['quota-service']}/plans/bench",
                content=_plan(today.year),
                headers={**admin, "content-type": "application/yaml"},
            ).raise_for_status()
            for rep in ("rep-a", "rep-b", "rep-c", "rep-d", "rep-lat"):
                client.put(
                    f"{urls['quota-service']}/payees/{rep}",
                    headers=admin,
                    json={"name": rep, "assignments": [{"plan": "bench"}]},
                ).raise_for_status()
            time.sleep(2)

            def deal(n: int, owner: str) -> dict[str, Any]:
                return {
                    "external_id": f"B-{owner}-{n}",
                    "status": "won",
                    "amount": f"{1000 + n}.00",
                    "currency": "USD",
                    "close_date": today.isoformat(),
                    "changed_at": datetime.now(UTC).isoformat(),
                    "owner": owner,
                    "type": "new",
                }

            # Latency: one deal at a time, until its entry shows on the statement.
            latencies = []
            for n in range(latency_samples):
                seen = _entries(client, urls["payout-service"], "rep-lat", admin)
                started = time.perf_counter()
                _send(client, urls["deal-ingest"], secret, f"lat-{n}", deal(n, "rep-lat"))
                while _entries(client, urls["payout-service"], "rep-lat", admin) <= seen:
                    time.sleep(0.005)
                latencies.append(time.perf_counter() - started)

            # Throughput: many deals at once, until every entry is visible.
            owners = ["rep-a", "rep-b", "rep-c", "rep-d"]
            started = time.perf_counter()
            with ThreadPoolExecutor(8) as pool, httpx.Client(timeout=30) as sender:
                list(
                    pool.map(
                        lambda n: _send(
                            sender, urls["deal-ingest"], secret, f"tp-{n}", deal(n, owners[n % 4])
                        ),
                        range(deals),
                    )
                )
            accepted = time.perf_counter() - started
            while sum(_entries(client, urls["payout-service"], o, admin) for o in owners) < deals:
                time.sleep(0.05)
            elapsed = time.perf_counter() - started
        tps = _pgbench_tps(stack)
    finally:
        stack.down()
        shutil.rmtree(state.parent, ignore_errors=True)
        for var, value in saved.items():
            if value is None:
                os.environ.pop(var, None)
            else:
                os.environ[var] = value
    rate = deals / elapsed
    q = statistics.quantiles(latencies, n=100)
    print("\n== end-to-end: signed webhook -> ledger entry on the payout statement ==")
    print(
        f"latency (one deal at a time, {latency_samples} samples): "
        f"p50 {q[49] * 1000:.0f} ms, p99 {q[98] * 1000:.0f} ms"
    )
    print(
        f"throughput: {deals} deals accepted in {accepted:.1f}s, all on statements after "
        f"{elapsed:.1f}s = {rate:.1f} deals/s sustained"
    )
    print(f"pgbench (simple update, 4 clients) on the same Postgres: {tps:.0f} tps")
    print(f"ratio deals/s : pgbench tps = {rate / tps:.4f}")
    return {
        "deals": deals,
        "deals_per_s": round(rate, 1),
        "p50_ms": round(q[49] * 1000),
        "p99_ms": round(q[98] * 1000),
        # Latency is measured one deal at a time (no other load), not yet at half the
        # sustained rate as issue #10 item 6 asks: `offered_per_s` says so.
        "offered_per_s": None,
        "latency_samples": latency_samples,
        "pgbench_tps": round(tps),
        "ratio": round(rate / tps, 4),
    }
