"""Read-only engine runs for what-if, simulation and explanation: the replicas loaded as the
ledger loads them (`load_inputs`), libs/calc `calculate` run off the event loop."""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime

from calc_engine.domain.inputs import Inputs
from provisio_calc import CalcResult, Deal, Plan, calculate


@contextlib.contextmanager
def cyclic_gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while a whole history is loaded and computed.

    Reading 100k deal revisions allocates millions of small acyclic objects; the collector
    would rescan them again and again (it tripled the load time of `POST /simulate`) and
    free nothing. `calculate` pauses it the same way for its own run.
    """
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


def today() -> date:
    """The as-of day of a run: today in UTC, as the ledger's reconciliation uses."""
    return datetime.now(UTC).date()


async def run_engine(
    plan: Plan | Sequence[Plan],
    inputs: Inputs,
    as_of: date,
    *,
    deals: Sequence[Deal] | None = None,
    explain: bool = False,
) -> CalcResult:
    """`calculate` on the inputs (or on `deals` instead of theirs), in a worker thread so a
    long run does not stall the service's other requests and its consumers."""
    return await asyncio.to_thread(
        calculate,
        plan,
        inputs.deals if deals is None else deals,
        payees=inputs.payees,
        quotas=inputs.quotas,
        activities=inputs.activities,
        fx=inputs.fx,
        as_of=as_of,
        explain=explain,
    )
