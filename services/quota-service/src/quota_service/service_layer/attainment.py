"""Attainment: won value credited to a payee (or a team's members) in a period, converted
to one currency, against the period's quota.

Calendar dates as the CRM sent them; the plan-exact attainment of each component is in
the ledger entries' explanations.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from provisio_calc.numbers import exact_sum
from provisio_calc.periods import period_bounds
from provisio_common.auth import Principal
from provisio_common.problems import Problem, invalid
from quota_service.domain.attainment import attainment, converted_value, plan_currency
from quota_service.domain.credits import Credit
from quota_service.domain.fx import Converter
from quota_service.domain.kpis import MissingFx
from quota_service.domain.periods import PERIOD_HINT, is_period, tiled
from quota_service.domain.subjects import SUBJECT_HINT, parse_subject
from quota_service.domain.teams import Team
from quota_service.service_layer.access import ensure_may_see_subject
from quota_service.service_layer.changes import QuotaUoW


@dataclass(frozen=True)
class Attainment:
    """Credited won value in a period, the quota, and value / quota x 100, in `currency`."""

    payee: str  # the payee id, or `team:<id>`
    period: str
    currency: str
    value: Decimal
    quota: Decimal | None
    attainment: Decimal | None
    missing_fx: list[MissingFx]
    members: list[str]
    members_without_quota: list[str]


async def attainment_of(
    uow: QuotaUoW, principal: Principal, subject: str, period: str, reporting_currency: str
) -> Attainment:
    """The attainment of a payee (`ann`, `payee:ann`) or a team (`team:east`) in the period,
    if `principal` may see it (a rep themselves, a manager their subtree; 403 otherwise).

    A payee's currency is their plan's (the assignment overlapping the period that starts
    last), else the payee's own `currency`, else the reporting currency; a team's is the
    reporting currency. Each credit converts at its close day's rate; one without a rate is
    listed in `missing_fx` and left out of `value`, never guessed. The quota follows PLANS.md
    rule 6 (exact row, else finer rows tiling the period)."""
    parsed = parse_subject(subject, bare_is_payee=True)
    errors = []
    if parsed is None:
        errors.append({"field": "payee", "message": f"a payee id, or {SUBJECT_HINT}"})
    if not is_period(period):
        errors.append({"field": "period", "message": PERIOD_HINT})
    if errors or parsed is None:
        raise invalid(errors)
    first, last = period_bounds(period)
    async with uow:
        managers = await uow.repos.payees.managers()
        team = None
        if parsed.kind == "team":
            team = await uow.repos.teams.get(parsed.id)
            if team is None:
                raise Problem(404, f"no team {parsed.id!r}")
        ensure_may_see_subject(principal, parsed, team, managers)
        converter_rates = await uow.repos.fx_rates.all_rates()
        currencies = {p.plan_id: str(p.document["currency"]) for p in await uow.repos.plans.latest_of_each()}
        payees = [parsed.id] if team is None else team.payees_in(first, last)
        own_currency: dict[str, str] = {}
        for payee in payees:
            document = await uow.repos.payees.document(payee) or {}
            own_currency[payee] = (
                plan_currency(document.get("assignments") or [], currencies, first, last)
                or document.get("currency")
                or reporting_currency
            )
        credits = await uow.repos.credits.won(payees, first, last)
        quota_rows = {p: {q.period: q.amount for q in await uow.repos.quotas.find(p)} for p in payees}
    if team is None:
        currency = own_currency[parsed.id]
        value, missing = converted_value(credits, Converter(converter_rates, currency))
        quota = tiled(quota_rows[parsed.id], period)
        return Attainment(
            parsed.id, period, currency, value, quota, attainment(value, quota), missing, [], []
        )
    converter = Converter(converter_rates, reporting_currency)
    value, missing = converted_value(_while_members(credits, team, first, last), converter)
    quotas, without = [], []
    for payee in payees:
        quota = tiled(quota_rows[payee], period)
        if quota is None:
            without.append(payee)
            continue
        # A member's quota is in their plan currency: converted at the period's last day.
        converted = converter.convert(quota, own_currency[payee], last)
        if converted is None:
            missing.append(MissingFx(f"quota:{payee}", own_currency[payee], last))
            without.append(payee)
        else:
            quotas.append(converted)
    team_quota = None if without else exact_sum(quotas)
    return Attainment(
        str(parsed),
        period,
        reporting_currency,
        value,
        team_quota,
        attainment(value, team_quota),
        missing,
        payees,
        without,
    )


def _while_members(credits: list[Credit], team: Team, first: date, last: date) -> list[Credit]:
    """The credits of deals each member closed on a day they were in the team."""
    spans = team.spans(first, last)
    return [
        c
        for c in credits
        if c.close_date is not None and any(p == c.payee and a <= c.close_date <= b for p, a, b in spans)
    ]
