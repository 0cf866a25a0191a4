"""The running system computes what the engine computes: seeded random scenarios through
the four real services (shuffled, retried and duplicated webhooks), compared to the cent
with libs/calc `calculate` on the same inputs (libs/cli `provisio_cli.differential`).

Several seeds share one stack (everything is namespaced per seed); `make
check-differential` runs many more against throwaway stacks."""

from __future__ import annotations

from provisio_cli.differential import MAX_SHOWN, Credentials, Urls, check_seed, describe
from provisio_common.auth import mint_token

from .conftest import Stack

SEEDS = [1, 2, 3]


async def test_seeded_scenarios_match_the_engine_to_the_cent(stack: Stack) -> None:
    urls = Urls(stack.ingest, stack.calc, stack.quota, stack.payout)
    creds = Credentials(mint_token(stack.settings, "admin", "admin"), stack.webhook_secret)
    report: list[str] = []
    for seed in SEEDS:
        scenario, _observed, differences = await check_seed(urls, creds, seed, timeout_s=30)
        if differences:
            report.append(f"seed {seed}: {len(differences)} difference(s)")
            report.extend(f"  {line}" for line in differences[:MAX_SHOWN])
            report.extend(f"    {line}" for line in describe(scenario))
    assert not report, "the services disagree with the engine:\n" + "\n".join(report)
