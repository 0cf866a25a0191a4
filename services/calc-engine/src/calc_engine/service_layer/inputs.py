"""Load the engine's inputs from calc-engine's replicas."""

from __future__ import annotations

from datetime import date

from calc_engine.adapters.repositories import CalcRepositories
from calc_engine.domain.inputs import Inputs, in_history_order, to_activity, to_deal, to_payee
from calc_engine.domain.people import crm_index


async def load_inputs(repos: CalcRepositories, window: tuple[date, date] | None = None) -> Inputs:
    """Everything the engine needs; with `window`, only the deals (all their revisions)
    that have a revision closing inside it."""
    payee_documents = await repos.payees.documents()
    index = crm_index(payee_documents.values())
    quotas = await repos.quotas.all()
    fx = await repos.fx_rates.all()
    revisions = await repos.deals.revisions(window)
    activity_documents = await repos.activities.documents()
    return Inputs(
        payee_documents=payee_documents,
        payees=[to_payee(d) for d in payee_documents.values()],
        quotas=quotas,
        deals=[to_deal(d, index) for d in in_history_order(revisions)],
        activities=[to_activity(d, index) for d in activity_documents],
        fx=fx,
    )
