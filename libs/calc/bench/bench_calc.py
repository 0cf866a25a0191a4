"""Benchmark of the plan engine (run: python libs/calc/bench/bench_calc.py [--sizes 100000,1000000]).

Prints full-recompute throughput (deals/s on one core; `calculate` is single-threaded,
so that is also the per-core figure), the cost of one incremental update at 10k vs 1M
deals of history, and peak RSS. Synthetic data: the PLANS.md AE plan, 200 reps under
20 managers, quarterly quotas, deals spread over 2027 with 2% cancelled and 5% in EUR.
"""

from __future__ import annotations

import argparse
import gc
import json
import random
import resource
import subprocess
import sys
import time
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

from provisio_calc import Deal, FxRate, Payee, Quota, calculate, load_plan
from provisio_calc.incremental import IncrementalEngine

PLAN = load_plan((Path(__file__).parents[1] / "examples" / "ae-2027.yaml").read_text())
MANAGERS = [Payee(f"m{i}", roles=("manager",)) for i in range(20)]
REPS = [Payee(f"r{i}", manager=f"m{i % 20}") for i in range(200)]
PAYEES = MANAGERS + REPS
QUOTAS = [Quota(p.id, f"2027-Q{q}", Decimal(400000)) for p in REPS for q in range(1, 5)]
FX = [FxRate(date(2027, 1, 1) + timedelta(days=7 * w), "EUR", "USD", Decimal("1.08")) for w in range(53)]
TYPES = ["new", "new", "upsell", "renewal"]


def synthetic_deals(count: int, seed: int = 7) -> list[Deal]:
    """`count` deals (plus a cancelling revision for 2% of them), as deals.v1 data."""
    rnd = random.Random(seed)
    deals = []
    for n in range(count):
        close = date(2027, 1, 1) + timedelta(days=rnd.randrange(365))
        amount = f"{rnd.randrange(1000, 60000)}.{rnd.randrange(100):02d}"
        data = {
            "source": "hubspot",
            "external_id": str(n),
            "revision": 1,
            "status": "won",
            "amount": amount,
            "currency": "EUR" if rnd.random() < 0.05 else "USD",
            "close_date": close.isoformat(),
            "changed_at": close.isoformat(),
            "owner": f"r{rnd.randrange(200)}",
            "type": rnd.choice(TYPES),
            "lines": [{"product": rnd.choice(["widget-pro", "platform"]), "amount": amount, "margin": "0"}],
        }
        deals.append(Deal.from_dict(data))
        if rnd.random() < 0.02:
            cancel = dict(
                data,
                revision=2,
                status="cancelled",
                changed_at=(close + timedelta(days=rnd.randrange(120))).isoformat(),
            )
            deals.append(Deal.from_dict(cancel))
    return deals


def peak_rss_mb() -> float:
    """Peak resident set size of this process, in MB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def full_recompute(count: int) -> None:
    """Build `count` deals, then time `calculate` alone (the engine's full recompute)."""
    started = time.perf_counter()
    deals = synthetic_deals(count)
    parsing = time.perf_counter() - started
    gc.collect()
    started = time.perf_counter()
    result = calculate(
        PLAN, deals, payees=PAYEES, quotas=QUOTAS, fx=FX, as_of=date(2028, 1, 31), explain=False
    )
    elapsed = time.perf_counter() - started
    print(
        f"full recompute {count:>9,} deals: calculate {elapsed:6.2f} s = "
        f"{count / elapsed:>7,.0f} deals/s per core; with parsing deals.v1 data "
        f"{count / (elapsed + parsing):>7,.0f} deals/s; {len(result.lines):,} lines, "
        f"{len(result.payouts):,} payouts; peak RSS {peak_rss_mb():,.0f} MB",
        flush=True,
    )
    _result(
        {
            "kind": "full",
            "deals": count,
            "deals_per_s": round(count / elapsed),
            "rss_mb": round(peak_rss_mb()),
        }
    )


def _result(figures: dict[str, object]) -> None:
    """One machine-readable line for `provisio bench` (results.json)."""
    print(f"RESULT {json.dumps(figures)}", flush=True)


def incremental(history: int, probes: int = 2000) -> None:
    """Apply `history` deals, then time `probes` more single-revision updates."""
    engine = IncrementalEngine(PLAN, payees=PAYEES, quotas=QUOTAS, fx=FX, as_of=date(2028, 1, 31))
    for deal in synthetic_deals(history):
        engine.apply_deal(deal)
    updates = [
        Deal.from_dict(
            {
                "source": "probe",
                "external_id": d.external_id,
                "revision": 1,
                "status": "won",
                "amount": str(d.amount),
                "currency": "USD",
                "close_date": str(d.close_date),
                "owner": d.owner,
                "type": d.type,
            }
        )
        for d in synthetic_deals(probes, seed=99)
        if d.revision == 1
    ]
    cancels = [
        Deal.from_dict(
            {
                "source": "probe",
                "external_id": d.external_id,
                "revision": 2,
                "status": "cancelled",
                "amount": str(d.amount),
                "currency": "USD",
                "close_date": str(d.close_date),
                "changed_at": str(d.close_date),
                "owner": d.owner,
            }
        )
        for d in updates
    ]
    started = time.perf_counter()
    for deal in updates:
        engine.apply_deal(deal)
    won = (time.perf_counter() - started) / len(updates)
    started = time.perf_counter()
    for deal in cancels:
        engine.apply_deal(deal)
    cancelled = (time.perf_counter() - started) / len(cancels)
    print(
        f"incremental, {history:>9,} deals of history: {won * 1e6:6.1f} µs per new won "
        f"deal, {cancelled * 1e6:6.1f} µs per cancellation; peak RSS "
        f"{peak_rss_mb():,.0f} MB",
        flush=True,
    )
    _result(
        {
            "kind": "incremental",
            "deals_held": history,
            "per_deal_ms": round(won * 1000, 4),
            "per_cancellation_ms": round(cancelled * 1000, 4),
            "rss_mb": round(peak_rss_mb()),
        }
    )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--history", default="10000,1000000")
    parser.add_argument("--scenario", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.scenario:
        kind, size = args.scenario.split(":")
        (full_recompute if kind == "full" else incremental)(int(size))
        return 0
    print(f"python {sys.version.split()[0]}; each scenario in its own process (own peak RSS)", flush=True)
    scenarios = [f"full:{s}" for s in args.sizes.split(",") if s]
    scenarios += [f"incremental:{h}" for h in args.history.split(",") if h]
    for scenario in scenarios:
        subprocess.run([sys.executable, __file__, "--scenario", scenario], check=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
