"""Load the engine's inputs from calc-engine's replicas."""

from __future__ import annotations

from datetime import date

from calc_engine.adapters.repositories import CalcRepositories
from calc_engine.domain.inputs import Inputs, to_activity
from calc_engine.domain.keyed import KeyedRun, references_of


async def load_inputs(
    repos: CalcRepositories,
    window: tuple[date, date] | None = None,
    keyed: KeyedRun | None = None,
    activities: bool = True,
) -> Inputs:
    """Everything the engine needs (payees, quotas and fx rates read again only when they
    changed, `adapters.reference_data`); with `window`, only the deals (all their revisions)
    that have a revision closing inside it (parsed once per process, `ParsedDeals`), and
    the deals the activities name wherever they close; with `keyed` too, only those naming
    one of its payees in such a revision, and no activities (a plan run keyed counts none,
    `domain.keyed`). `activities=False`: none either (a run of periods of a plan that
    counts none)."""
    reference = await repos.reference.load(repos)
    index = reference.index
    people = None if keyed is None else references_of(keyed.payees, index)
    activity_documents = await repos.activities.documents() if activities and keyed is None else []
    linked = {f"{d['source']}:{d['deal']}" for d in activity_documents if d.get("deal")}
    deals = await repos.parsed.load(repos.deals, window, index, people, linked)
    return Inputs(
        payee_documents=reference.payee_documents,
        payees=reference.payees,
        quotas=reference.quotas,
        deals=deals,
        activities=[to_activity(d, index) for d in activity_documents],
        fx=reference.fx,
    )
