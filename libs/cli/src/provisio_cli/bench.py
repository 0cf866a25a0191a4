"""End-to-end benchmark (DESIGN.md §10, issue #10 item 6): signed webhooks in -> ledger
entries on the payout statements, on a throwaway stack of `make up`'s processes.

The workload is `bench_workload`'s: the realistic plan, 1,000 payees in a hierarchy, a
mixed stream. Two phases:
- throughput: the stream sent by 8 concurrent senders (closed loop); `deals_per_s` is
  events ÷ seconds from the first send until the stack has settled (every new deal on the
  statements, every outbox sent, every consumer group at the end of its partitions);
- latency: a second stream offered open-loop at half that rate; for each new deal, from
  the moment its webhook was sent to the moment payout-service's ledger (what statements
  read) holds an entry of it, looked at every 10 ms.
Then `pgbench` on the same Postgres; `ratio` = deals/s ÷ pgbench tps. Asserts nothing.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from provisio_cli.bench_workload import DealEvent, hierarchy, payee_body, plan_yaml, quotas_csv, reps, stream
from provisio_cli.fault_checks import BrokerLag
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
DATABASES = ("provisio_ingest", "provisio_calc", "provisio_quota", "provisio_payout")
SENDERS = 8
LOOK_S = 0.01  # between two looks at payout-service's ledger
SETTLE_TIMEOUT_S = 900.0


@contextmanager
def throwaway_stack(prefix: str = "provisio-bench-") -> Iterator[Stack]:
    """`make up`'s processes on free ports under a temporary state folder (not started
    yet: `start_processes`), stopped by pid and deleted at the end."""
    state = Path(tempfile.mkdtemp(prefix=prefix)) / "state"
    saved = {var: os.environ.get(var) for var in PORT_VARS}
    os.environ.update({var: str(free_port()) for var in PORT_VARS})
    stack = Stack(state)
    try:
        yield stack
    finally:
        stack.down()
        shutil.rmtree(state.parent, ignore_errors=True)
        for var, value in saved.items():
            if value is None:
                os.environ.pop(var, None)
            else:
                os.environ[var] = value


def say(line: str) -> None:
    """A progress line, with the time."""
    print(f"  [{datetime.now(UTC):%H:%M:%S}] {line}", flush=True)


class Bench:
    """A started stack seen by the benchmark: URLs, credentials, database access."""

    def __init__(self, stack: Stack, urls: dict[str, str]) -> None:
        self.stack = stack
        self.urls = urls
        config = stack.config()
        self.secret = config["webhook_secrets"]["generic"]
        self.admin = {"Authorization": f"Bearer {mint_token(stack.settings(), 'admin', 'admin')}"}
        self.pg = {
            "host": "127.0.0.1",
            "port": config["ports"]["postgres"],
            "user": "postgres",
            "password": config["pg_password"],
        }
        self.broker = BrokerLag(stack.settings().kafka_bootstrap)

    async def connect(self, database: str) -> asyncpg.Connection:
        """A connection to one service database (as the superuser)."""
        return await asyncpg.connect(database=database, **self.pg)

    async def send(self, client: httpx.AsyncClient, event: DealEvent, delivery: str) -> None:
        """One signed generic webhook, until accepted (202)."""
        body = json.dumps({"type": "deal.snapshot", "data": event.data}).encode()
        headers = {"content-type": "application/json", **signed_headers(self.secret, delivery, body)}
        for _ in range(100):  # a 503 (database briefly busy) is retried, as a CRM would
            response = await client.post(
                f"{self.urls['deal-ingest']}/webhooks/generic", content=body, headers=headers
            )
            if response.status_code != 503:
                response.raise_for_status()
                return
            await asyncio.sleep(float(response.headers.get("retry-after", "1")))
        response.raise_for_status()

    async def set_up(self, today: date, payees: int) -> list[str]:
        """The plan, the payees (8 at a time) and their quotas; return the reps' ids."""
        people = hierarchy(payees)
        quota = self.urls["quota-service"]
        async with httpx.AsyncClient(timeout=60) as client:
            response = await client.put(
                f"{quota}/plans/bench",
                content=plan_yaml(today),
                headers={**self.admin, "content-type": "application/yaml"},
            )
            response.raise_for_status()
            gate = asyncio.Semaphore(SENDERS)

            async def put(index: int) -> None:
                payee = people[index]
                async with gate:
                    answer = await client.put(
                        f"{quota}/payees/{payee.id}", headers=self.admin, json=payee_body(payee)
                    )
                    answer.raise_for_status()

            # Managers before their reps: the VP and managers first, then the rest at once.
            managers = sum(1 for p in people if p.manager in (None, "vp"))
            for index in range(managers):
                await put(index)
            await asyncio.gather(*(put(i) for i in range(managers, len(people))))
            response = await client.post(
                f"{quota}/import/quotas",
                content=quotas_csv(people, today),
                headers={**self.admin, "content-type": "text/csv"},
            )
            response.raise_for_status()
        await self.settled(set())
        return reps(people)

    async def visible(self, conn: asyncpg.Connection, deals: list[str]) -> set[str]:
        """Which of `deals` (`generic:` keys) have an entry in payout-service's ledger."""
        rows = await conn.fetch(
            "SELECT DISTINCT deal FROM ledger_entries WHERE deal = ANY($1::text[])", deals
        )
        return {row["deal"] for row in rows}

    async def settled(self, deals: set[str]) -> float:
        """Wait until every deal of `deals` is on the statements, every outbox is sent and
        every consumer group is at the end of its partitions; return when that was seen."""
        deadline = time.monotonic() + SETTLE_TIMEOUT_S
        payout = await self.connect("provisio_payout")
        try:
            waiting = sorted(deals)
            while waiting:
                waiting = sorted(set(waiting) - await self.visible(payout, waiting))
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{len(waiting)} deals never reached the statements")
                if waiting:
                    await asyncio.sleep(LOOK_S)
            while True:
                seen = time.perf_counter()
                if not await self.unsent(*DATABASES) and not await self.broker.behind():
                    return seen
                if time.monotonic() > deadline:
                    raise TimeoutError("the stack did not settle")
                await asyncio.sleep(0.05)
        finally:
            await payout.close()

    async def unsent(self, *databases: str) -> int:
        """Outbox rows not sent yet (nor parked) in these service databases."""
        total = 0
        for database in databases:
            conn = await self.connect(database)
            try:
                total += await conn.fetchval(
                    "SELECT count(*) FROM outbox WHERE sent_at IS NULL AND parked_at IS NULL"
                )
            finally:
                await conn.close()
        return total

    async def throughput_accepted(self, events: list[DealEvent], tag: str) -> None:
        """Send `events` with 8 concurrent senders (closed loop), each until accepted."""
        queue: asyncio.Queue[tuple[int, DealEvent]] = asyncio.Queue()
        for item in enumerate(events):
            queue.put_nowait(item)
        async with httpx.AsyncClient(timeout=60) as client:

            async def sender() -> None:
                while not queue.empty():
                    n, event = queue.get_nowait()
                    await self.send(client, event, f"{tag}-{n}")

            await asyncio.gather(*(sender() for _ in range(SENDERS)))

    async def throughput(self, events: list[DealEvent]) -> tuple[float, float]:
        """Send `events` with 8 senders; (seconds until all accepted, until settled)."""
        started = time.perf_counter()
        await self.throughput_accepted(events, "tp")
        accepted = time.perf_counter() - started
        return accepted, await self.settled(set(earning(events))) - started

    async def latency(self, events: list[DealEvent], rate: float) -> list[float]:
        """Offer `events` at `rate` per second (open loop); each new deal's seconds from
        its webhook being sent to its first entry in payout-service's ledger."""
        sent_at: dict[str, float] = {}
        seen_at: dict[str, float] = {}
        new = earning(events)
        payout = await self.connect("provisio_payout")
        done = asyncio.Event()

        async def look() -> None:
            while not done.is_set() or len(seen_at) < len(new):
                pending = [d for d in new if d in sent_at and d not in seen_at]
                if pending:
                    now = time.perf_counter()
                    for deal in await self.visible(payout, pending):
                        seen_at[deal] = now
                await asyncio.sleep(LOOK_S)

        async with httpx.AsyncClient(timeout=60) as client:
            watcher = asyncio.create_task(look())
            start = time.perf_counter()
            tasks = []
            for n, event in enumerate(events):
                delay = start + n / rate - time.perf_counter()
                if delay > 0:
                    await asyncio.sleep(delay)
                if event.kind == "new":
                    sent_at[f"generic:{event.deal}"] = time.perf_counter()
                tasks.append(asyncio.create_task(self.send(client, event, f"lat-{n}")))
            await asyncio.gather(*tasks)
            done.set()
            await asyncio.wait_for(watcher, SETTLE_TIMEOUT_S)
        await payout.close()
        return [seen_at[d] - sent_at[d] for d in new]


def earning(events: list[DealEvent]) -> list[str]:
    """The `generic:` keys of the stream's new deals that are not cancelled later in it
    (a deal cancelled before calc-engine saw it earning never reaches a statement)."""
    cancelled = {e.deal for e in events if e.kind == "cancelled"}
    return [f"generic:{e.deal}" for e in events if e.kind == "new" and e.deal not in cancelled]


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


@dataclass(frozen=True)
class Sizes:
    """How big each stage is: `make bench`'s, or `--quick`'s (a couple of minutes)."""

    deals: int = 1500
    latency_events: int = 400
    payees: int = 1000
    scale_events: int = 2000
    history: tuple[int, ...] = (10_000, 100_000, 1_000_000)
    history_samples: tuple[int, ...] = (20, 10, 3)


QUICK = Sizes(
    deals=150,
    latency_events=40,
    payees=100,
    scale_events=1000,  # the first fetch of each replica (up to 500) is not counted
    history=(1_000, 10_000),
    history_samples=(3, 3),
)


def run(sizes: Sizes = Sizes()) -> dict[str, Any]:
    """Every service-level figure on one throwaway stack, printed as well: `e2e`, then
    `scale_out`, then `history`, `memory` and `restart` (bench_history)."""
    from provisio_cli.bench_history import history
    from provisio_cli.bench_scale import scale_out

    with throwaway_stack() as stack:
        urls = stack.start_processes()
        bench = Bench(stack, urls)
        today = datetime.now(UTC).date()

        async def measure() -> tuple[float, float, list[float], float, list[str]]:
            try:
                owners = await bench.set_up(today, sizes.payees)
                say(f"set up: plan, {sizes.payees} payees, quotas")
                load = stream(sizes.deals, owners, today, seed=10, prefix="B")
                accepted, elapsed = await bench.throughput(load)
                rate = sizes.deals / elapsed
                say(f"throughput: {rate:.1f} deals/s; now latency at {rate / 2:.1f}/s")
                later = datetime.now(UTC) + timedelta(seconds=1)
                probe = stream(sizes.latency_events, owners, today, seed=11, prefix="L", start=later)
                latencies = await bench.latency(probe, rate / 2)
                return accepted, elapsed, latencies, rate / 2, owners
            finally:
                await bench.broker.close()

        accepted, elapsed, latencies, offered, owners = asyncio.run(measure())
        tps = _pgbench_tps(stack)
        e2e = _e2e_figures(sizes, accepted, elapsed, latencies, offered, tps)

        async def grow() -> dict[str, Any]:
            try:
                out = {"scale_out": await scale_out(bench, owners, sizes.scale_events, [1, 2])}
                samples = dict(zip(sizes.history, sizes.history_samples, strict=True))
                return out | await history(bench, owners, list(sizes.history), samples)
            finally:
                await bench.broker.close()

        return {"e2e": e2e, **asyncio.run(grow())}


def _e2e_figures(
    sizes: Sizes, accepted: float, elapsed: float, latencies: list[float], offered: float, tps: float
) -> dict[str, Any]:
    rate = sizes.deals / elapsed
    q = statistics.quantiles(latencies, n=100)
    print("\n== end-to-end: signed webhook -> ledger entry on the payout statement ==")
    print(
        f"workload: {sizes.payees} payees (VP > managers > reps), "
        "retroactive tiers, team roll-up override, spif"
    )
    print(
        f"throughput: {sizes.deals} events (new, changed, cancelled) accepted in {accepted:.1f}s, settled "
        f"after {elapsed:.1f}s = {rate:.1f} deals/s sustained"
    )
    print(
        f"latency at half that load ({offered:.1f}/s offered, {len(latencies)} new deals): "
        f"p50 {q[49] * 1000:.0f} ms, p99 {q[98] * 1000:.0f} ms"
    )
    print(f"pgbench (simple update, 4 clients) on the same Postgres: {tps:.0f} tps")
    print(f"ratio deals/s : pgbench tps = {rate / tps:.4f}", flush=True)
    return {
        "deals": sizes.deals,
        "deals_per_s": round(rate, 1),
        "p50_ms": round(q[49] * 1000),
        "p99_ms": round(q[98] * 1000),
        "offered_per_s": round(offered, 1),
        "latency_samples": len(latencies),
        "payees": sizes.payees,
        "pgbench_tps": round(tps),
        "ratio": round(rate / tps, 4),
    }
