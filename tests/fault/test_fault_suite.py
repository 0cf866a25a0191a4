"""The fault suite in `make test` (issue 14): a real stack (`make up`'s processes, started
and killed by pid, on free ports in a temporary folder) and a mixed stream of deals (new,
changed, cancelled, lost, re-won; shuffled, retried, duplicated) sent while two more
calc-engine replicas join its consumer group (one later killed with SIGKILL), each service
is killed with SIGKILL at a seeded random point, the broker is restarted, Postgres is
stopped for 30 s, a poison message is published and an oversized outbox row is planted.
After each fault, once settled: every deal's ledger sum equals `calculate` on the
revisions deal-ingest holds, the statements too, no DLQ holds anything but the poison, no
outbox parks anything but the planted rows, and `POST /recompute` posts 0
(`provisio_cli.faults`).

`make test` sends 2,000 deals (about 5,000 deliveries; some 12 minutes on two cores);
`PROVISIO_FAULT_DEALS=N` sends another number, and `provisio check-faults` runs the same
suite from the command line."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from provisio_cli.differential import Urls
from provisio_cli.fault_stack import FaultStack, throwaway_stack
from provisio_cli.faults import FAULTS, run_suite

DEALS = int(os.environ.get("PROVISIO_FAULT_DEALS", "2000"))
OUTAGE_S = 30.0

# The stack's processes outlive the Popen objects that started them (they are tracked, and
# stopped, by pid, as `make up` does): the subprocess module's warning about that is noise.
pytestmark = pytest.mark.filterwarnings(r"ignore:subprocess \d+ is still running:ResourceWarning")


@pytest.fixture(scope="module")
def fault_stack() -> Iterator[tuple[FaultStack, Urls]]:
    """One stack for the module; every process stopped by its pid at the end, also on failure."""
    with throwaway_stack() as started:
        yield started


async def test_no_fault_loses_or_double_counts_a_deal(fault_stack: tuple[FaultStack, Urls]) -> None:
    fs, urls = fault_stack
    suite = await run_suite(fs, urls, seed=13, deal_count=DEALS, outage_s=OUTAGE_S)
    if not suite.passed:
        print(f"the processes' logs: {fs.save_logs()}")
    assert suite.problems == []
    assert [f.fault for f in suite.faults] == [f.name for f in FAULTS]
    assert (suite.lost, suite.double_counted) == (0, 0), suite.figures()
    assert all(f.posted == 0 for f in suite.faults)
    assert all(f.input_differences == 0 for f in suite.faults)
    assert suite.deals == DEALS
