"""Load the engine's inputs from calc-engine's replicas."""

from __future__ import annotations

from datetime import date

from calc_engine.adapters.repositories import CalcRepositories
from calc_engine.domain.inputs import Inputs, to_activity, to_payee
from calc_engine.domain.people import crm_index


async def load_inputs(repos: CalcRepositories, window: tuple[date, date] | None = None) -> Inputs:
    """Everything the engine needs; with `window`, only the deals (all their revisions)
    that have a revision closing inside it (parsed once per process, `ParsedDeals`)."""
    payee_documents = await repos.payees.documents()
    index = crm_index(payee_documents.values())
    quotas = await repos.quotas.all()
    fx = await repos.fx_rates.all()
    deals = await repos.parsed.load(repos.deals, window, index)
    activity_documents = await repos.activities.documents()
    return Inputs(
        payee_documents=payee_documents,
        payees=[to_payee(d) for d in payee_documents.values()],
        quotas=quotas,
        deals=deals,
        activities=[to_activity(d, index) for d in activity_documents],
        fx=fx,
    )
