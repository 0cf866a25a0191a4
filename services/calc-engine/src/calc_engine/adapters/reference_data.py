"""Payees, quotas and fx rates parsed once, kept between runs in one calc-engine process.

Every reconciliation needs every payee (the hierarchy and the CRM references), every quota
and every fx rate; reading and parsing them again each time (1,000 payee documents of JSON)
cost more than computing a keyed run. They change rarely: each run asks the database only
for their version (`References.version`, moved in the same transaction as any write to
them) and reads them again only when it moved.

One instance per process and database (the app's runtime makes it); replicas each keep
their own: a version is never reused for other contents, so none can keep stale data.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from calc_engine.adapters.repositories import CalcRepositories
from calc_engine.domain.inputs import to_payee
from calc_engine.domain.people import crm_index
from provisio_calc import FxRate, Payee, Quota


@dataclass(frozen=True)
class ReferenceData:
    """The payees (documents, parsed, and their CRM reference index), quotas and fx rates
    of one version. Shared between runs: read it, never change it."""

    version: tuple[int, int]
    payee_documents: dict[str, dict[str, Any]]
    index: dict[str, str]
    payees: list[Payee]
    quotas: list[Quota]
    fx: list[FxRate]


class ReferenceCache:
    """A read-through cache of the reference data, keyed by its version."""

    def __init__(self) -> None:
        self._held: ReferenceData | None = None
        self.loads = 0  # times read from the database (for tests and curiosity)

    async def load(self, repos: CalcRepositories) -> ReferenceData:
        """The reference data as committed (with this transaction's own writes)."""
        # The version is read before the data: data newer than its label only makes the
        # next run read again, never keep something stale.
        version = await repos.references.version()
        held = self._held
        if held is None or held.version != version:
            documents = await repos.payees.documents()
            held = self._held = ReferenceData(
                version=version,
                payee_documents=documents,
                index=crm_index(documents.values()),
                payees=[to_payee(d) for d in documents.values()],
                quotas=await repos.quotas.all(),
                fx=await repos.fx_rates.all(),
            )
            self.loads += 1
        return held
