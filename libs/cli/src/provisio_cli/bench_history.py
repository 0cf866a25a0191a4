"""History, memory and restart figures (issue #10 item 6), on the benchmark's stack.

- history: the latency of a new deal (webhook sent -> its entry in payout-service's
  ledger), one deal at a time, when N deals are already held by calc-engine. The history
  is loaded fast, straight into calc-engine's tables with COPY (what its consumer would
  have stored): won deals with close dates spread over the last 365 days, so the current
  quarter holds its share of them. They belong to payees on no plan, so calc-engine loads
  and computes them like any held deal but posts nothing for them (a ledger caught up on
  1M deals would take the services hours to build on this machine).
- memory: calc-engine's resident set after each size, as MB per 100k deals held.
- restart: calc-engine stopped by its pid with N deals held, started again: seconds
  until it answers ready, then the latency of the first new deal after it.
"""

from __future__ import annotations

import asyncio
import json
import random
import statistics
import time
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx

from provisio_cli.bench import Bench, say
from provisio_cli.bench_workload import DealEvent, stream
from provisio_common.events import DealSnapshot

HISTORY_PAYEES = 50
CHUNK = 50_000


def _rss_mb(pid: int) -> float:
    for line in open(f"/proc/{pid}/status"):  # noqa: SIM115 - a tiny /proc read
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


async def add_history_payees(bench: Bench) -> None:
    """The payees who own the history: on no plan."""
    async with httpx.AsyncClient(timeout=60) as client:
        for n in range(HISTORY_PAYEES):
            response = await client.put(
                f"{bench.urls['quota-service']}/payees/hist-{n:02d}",
                headers=bench.admin,
                json={"name": f"history {n}", "assignments": []},
            )
            response.raise_for_status()
    await bench.settled(set())


async def load_history(bench: Bench, first: int, count: int, today: date) -> None:
    """COPY deals `first` .. `first + count - 1` into calc-engine's `deals` and `deal_revisions`
    (with the `people` a keyed run looks them up by: their owner)."""
    template = DealSnapshot.model_validate(
        {
            "source": "generic",
            "external_id": "H-0",
            "revision": 1,
            "status": "won",
            "amount": "1.00",
            "currency": "USD",
            "close_date": today.isoformat(),
            "changed_at": datetime.now(UTC).isoformat(),
            "owner": "hist-00",
            "type": "new",
        }
    ).to_data()
    rnd = random.Random(first)
    conn = await bench.connect("provisio_calc")
    try:
        for start in range(first, first + count, CHUNK):
            revisions, held = [], []
            for n in range(start, min(start + CHUNK, first + count)):
                close = today - timedelta(days=rnd.randrange(365))
                document = dict(
                    template,
                    external_id=f"H-{n}",
                    amount=f"{rnd.randrange(1_000, 50_000)}.{rnd.randrange(100):02d}",
                    close_date=close.isoformat(),
                    changed_at=f"{close.isoformat()}T12:00:00Z",
                    owner=f"hist-{n % HISTORY_PAYEES:02d}",
                )
                revisions.append((f"generic:H-{n}", 1, json.dumps(document), close, [document["owner"]]))
                held.append((f"generic:H-{n}", 1, "won"))
            await conn.copy_records_to_table(
                "deal_revisions",
                records=revisions,
                columns=["deal", "revision", "document", "close_day", "people"],
            )
            await conn.copy_records_to_table("deals", records=held, columns=["deal", "revision", "status"])
        await conn.execute("ANALYZE deal_revisions; ANALYZE deals")
    finally:
        await conn.close()


async def one_at_a_time(bench: Bench, events: list[DealEvent], tag: str) -> list[float]:
    """Send new deals one at a time; each one's seconds until it is on the statements."""
    out = []
    payout = await bench.connect("provisio_payout")
    try:
        async with httpx.AsyncClient(timeout=120) as client:
            for n, event in enumerate(events):
                key = f"generic:{event.deal}"
                started = time.perf_counter()
                await bench.send(client, event, f"{tag}-{n}")
                while not await bench.visible(payout, [key]):  # noqa: ASYNC110 - polls the database
                    await asyncio.sleep(0.005)
                out.append(time.perf_counter() - started)
    finally:
        await payout.close()
    return out


async def history(
    bench: Bench, owners: list[str], sizes: list[int], samples: dict[int, int]
) -> dict[str, Any]:
    """The `history`, `memory` and `restart` sections: latency and RSS at each size of
    history (loaded cumulatively), then a restart at the largest."""
    today = datetime.now(UTC).date()
    await add_history_payees(bench)
    held = 0
    rows: list[dict[str, Any]] = []
    rss: dict[int, float] = {}
    for size in sizes:
        begun = time.perf_counter()
        await load_history(bench, held, size - held, today)
        held = size
        say(f"history: {size:,} deals held (loaded in {time.perf_counter() - begun:.0f}s)")
        warm = stream(1, owners, today, seed=size, prefix=f"W{size}", changed=0, cancelled=0)
        await one_at_a_time(bench, warm, f"warm-{size}")  # the first look at the new history
        probe = stream(samples[size], owners, today, seed=size + 1, prefix=f"H{size}", changed=0, cancelled=0)
        latencies = await one_at_a_time(bench, probe, f"hist-{size}")
        per_deal = statistics.median(latencies) * 1000
        pid = bench.stack.pid("calc-engine")
        assert pid is not None
        rss[size] = _rss_mb(pid)
        say(
            f"history: {size:,} held: {per_deal:.0f} ms per deal "
            f"(median of {len(latencies)}), RSS {rss[size]:.0f} MB"
        )
        rows.append(
            {
                "deals_held": size,
                "per_deal_ms": round(per_deal, 1),
                "p90_ms": round(statistics.quantiles(latencies, n=10)[8] * 1000, 1)
                if len(latencies) > 1
                else None,
                "samples": len(latencies),
                "calc_engine_rss_mb": round(rss[size]),
            }
        )
    low, high = min(sizes), max(sizes)
    per_100k = (rss[high] - rss[low]) / ((high - low) / 100_000)
    bench.stack.stop("calc-engine")
    begun = time.perf_counter()
    bench.stack.start_processes()
    ready = time.perf_counter() - begun
    after = stream(1, owners, today, seed=high + 2, prefix="R", changed=0, cancelled=0)
    [first] = await one_at_a_time(bench, after, "restart")
    say(
        f"restart: calc-engine ready {ready:.1f}s after start with {high:,} deals held; "
        f"first deal {first:.1f}s"
    )
    return {
        "history": rows,
        "memory": {"calc_engine_rss_mb_per_100k_deals": round(per_100k, 1), "deals_held": [low, high]},
        "restart": {"deals_held": high, "ready_s": round(ready, 1), "first_deal_ms": round(first * 1000)},
    }
