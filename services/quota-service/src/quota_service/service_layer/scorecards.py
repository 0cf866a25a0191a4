"""Scorecards (every KPI of a payee or team: actual, target, attainment, trend) and
leaderboards (one KPI, ranked as PLANS.md rule 21), from the replicas quota-service holds."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import reduce
from typing import Any

from provisio_calc.periods import period_bounds
from provisio_common.auth import Principal
from provisio_common.problems import Problem, invalid
from quota_service.domain.fx import Converter
from quota_service.domain.kpis import (
    CATALOGUE,
    KPI_NAMES,
    MONEY_KPIS,
    ActivityFact,
    CommissionFact,
    DealFact,
    KpiBasis,
    KpiDef,
    MissingFx,
    activity_fact,
    basis_of,
    commission_fact,
    deal_fact,
    kpi_attainment,
    kpi_values,
    lead_conversion_by_source,
    ranks,
)
from quota_service.domain.periods import PERIOD_HINT, is_period, previous_periods
from quota_service.domain.subjects import SUBJECT_HINT, Subject, parse_subject
from quota_service.domain.targets import resolve_target
from quota_service.domain.teams import Team
from quota_service.service_layer.access import ensure_may_see_subject, may_see_payee
from quota_service.service_layer.changes import QuotaUoW

MAX_TREND = 12
Span = tuple[str, date, date]  # a payee's days that count for a subject


@dataclass(frozen=True)
class Facts:
    """What the KPIs of some payees over some days are computed from."""

    deals: list[DealFact]
    activities: list[ActivityFact]
    commissions: list[CommissionFact]

    def basis(self, spans: Iterable[Span]) -> KpiBasis:
        """The pooled basis of these (payee, first, last) spans."""
        return reduce(
            KpiBasis.plus,
            (basis_of(p, a, b, self.deals, self.activities, self.commissions) for p, a, b in spans),
            KpiBasis(),
        )


async def load_facts(
    uow: QuotaUoW, payees: Collection[str] | None, first: date, last: date, currency: str
) -> Facts:
    """The facts of `payees` (or everyone) between `first` and `last`: CRM references resolved
    with the payees' `crm_ids`, money converted to `currency` with the rates held."""
    links = await uow.repos.payees.links()
    index = {ref: link.id for link in links for ref in link.crm_ids}
    refs = None
    if payees is not None:
        refs = {*payees, *(ref for link in links if link.id in payees for ref in link.crm_ids)}
    converter = Converter(await uow.repos.fx_rates.all_rates(), currency)
    deals = [deal_fact(d, index, converter.rate) for d in await uow.repos.deals.touching(first, last, refs)]
    activities = [
        fact
        for document in await uow.repos.activities.between(first, last, refs)
        if (fact := activity_fact(document, index)) is not None
    ]
    commissions = [
        commission_fact(c.entry_id, c.payee, c.entry_date, c.amount, c.currency, converter.rate)
        for c in await uow.repos.commissions.between(first, last, payees)
    ]
    return Facts(deals, activities, commissions)


def _spans(subject: Subject, team: Team | None, first: date, last: date) -> list[Span]:
    if team is None:
        return [(subject.id, first, last)]
    return team.spans(first, last)


@dataclass(frozen=True)
class KpiLine:
    """One KPI of a scorecard."""

    kpi: KpiDef
    actual: Decimal | None
    target: Decimal | None
    attainment: Decimal | None
    complete: bool  # False while an amount it needs lacks an fx rate
    trend: list[tuple[str, Decimal | None]]  # the last N periods, oldest first, this one last


@dataclass(frozen=True)
class Scorecard:
    """Every KPI of a subject in a period."""

    subject: str
    period: str
    currency: str
    kpis: list[KpiLine]
    lead_conversion_by_source: dict[str, Decimal | None]
    missing_fx: list[MissingFx]
    members: list[str]  # a team's members in the period


async def _subject_in_scope(uow: QuotaUoW, principal: Principal, text: str) -> tuple[Subject, Team | None]:
    subject = parse_subject(text)
    if subject is None:
        raise invalid([{"field": "subject", "message": SUBJECT_HINT}])
    team = None
    managers = await uow.repos.payees.managers()
    if subject.kind == "team":
        team = await uow.repos.teams.get(subject.id)
        if team is None:
            raise Problem(404, f"no team {subject.id!r}")
    ensure_may_see_subject(principal, subject, team, managers)
    if subject.kind == "payee" and subject.id not in managers:
        raise Problem(404, f"no payee {subject.id!r}")
    return subject, team


async def scorecard(
    uow: QuotaUoW, principal: Principal, subject_text: str, period: str, trend: int, currency: str
) -> Scorecard:
    """Every KPI of `payee:<id>` or `team:<id>` in `period`: actual, target, attainment and the
    actuals of the last `trend` periods. A team's figures pool its members' (each member
    counting on the days they were in the team); its target is the team's own."""
    if not is_period(period):
        raise invalid([{"field": "period", "message": PERIOD_HINT}])
    if not 1 <= trend <= MAX_TREND:
        raise invalid([{"field": "trend", "message": f"must be between 1 and {MAX_TREND}"}])
    async with uow:
        subject, team = await _subject_in_scope(uow, principal, subject_text)
        periods = previous_periods(period, trend)
        span_first, span_last = period_bounds(periods[0])[0], period_bounds(period)[1]
        payees = [subject.id] if team is None else team.payees_in(span_first, span_last)
        facts = await load_facts(uow, payees, span_first, span_last, currency)
        rows: dict[str, dict[str, Decimal]] = {}
        for t in await uow.repos.targets.find([str(subject)]):
            rows.setdefault(t.kpi, {})[t.period] = t.value
    bases = {p: facts.basis(_spans(subject, team, *period_bounds(p))) for p in periods}
    values = {p: kpi_values(basis) for p, basis in bases.items()}
    current = bases[period]
    lines = []
    for name, kpi in CATALOGUE.items():
        actual = values[period][name]
        target = resolve_target(rows.get(name, {}), name, period)
        lines.append(
            KpiLine(
                kpi=kpi,
                actual=actual,
                target=target,
                attainment=kpi_attainment(name, actual, target),
                complete=name not in MONEY_KPIS or not current.missing_fx,
                trend=[(p, values[p][name]) for p in periods],
            )
        )
    first, last = period_bounds(period)
    return Scorecard(
        subject=str(subject),
        period=period,
        currency=currency,
        kpis=lines,
        lead_conversion_by_source=lead_conversion_by_source(current),
        missing_fx=sorted(current.missing_fx.values(), key=lambda m: m.item),
        members=[] if team is None else team.payees_in(first, last),
    )


@dataclass(frozen=True)
class Standing:
    """One row of a leaderboard; `payee`, `name` and `value` are None where hidden."""

    rank: int | None
    payee: str | None
    name: str | None
    value: Decimal | None
    you: bool


@dataclass(frozen=True)
class Leaderboard:
    """One KPI in one period, ranked."""

    kpi: str
    period: str
    currency: str
    team: str | None
    names_hidden: bool
    standings: list[Standing]


def _population(
    documents: Iterable[Mapping[str, Any]], team: Team | None, first: date, last: date
) -> dict[str, list[Span]]:
    if team is not None:
        spans: dict[str, list[Span]] = {}
        for span in team.spans(first, last):
            spans.setdefault(span[0], []).append(span)
        return spans
    return {
        str(d["id"]): [(str(d["id"]), first, last)]
        for d in documents
        if "rep" in (d.get("roles") or []) and d.get("active", True)
    }


async def leaderboard(
    uow: QuotaUoW,
    principal: Principal,
    kpi: str,
    period: str,
    team_id: str | None,
    currency: str,
    names_for_reps: bool,
) -> Leaderboard:
    """Everyone in the population ranked by one KPI (rule 21: 1 + the number strictly
    better; lower is better for sales_cycle_days and cost_of_sales). The population is the
    team's members in the period, or every active payee with the role `rep`; a manager
    ranks their subtree only. A rep sees every rank but only their own row's payee, name
    and value, unless `names_for_reps` lets them see everyone's."""
    errors = []
    if kpi not in CATALOGUE:
        errors.append({"field": "kpi", "message": f"must be one of {', '.join(KPI_NAMES)}"})
    if not is_period(period):
        errors.append({"field": "period", "message": PERIOD_HINT})
    if errors:
        raise invalid(errors)
    first, last = period_bounds(period)
    async with uow:
        managers = await uow.repos.payees.managers()
        documents = {str(d["id"]): d for d in await uow.repos.payees.documents()}
        team = None
        if team_id is not None:
            team = await uow.repos.teams.get(team_id)
            if team is None:
                raise Problem(404, f"no team {team_id!r}")
        population = _population(documents.values(), team, first, last)
        if principal.role == "manager":
            population = {p: s for p, s in population.items() if may_see_payee(principal, p, managers)}
        elif principal.role == "rep" and principal.sub not in documents:
            raise Problem(403, f"rep {principal.sub!r} is not a payee")
        facts = await load_facts(uow, list(population), first, last, currency)
    values = {p: kpi_values(facts.basis(spans))[kpi] for p, spans in population.items()}
    ranked = ranks(values, CATALOGUE[kpi].better)
    hide = principal.role == "rep" and not names_for_reps
    standings = []
    for payee in sorted(population, key=lambda p: (ranked[p] is None, ranked[p] or 0, p)):
        you = payee == principal.sub
        shown = not hide or you
        name = documents[payee].get("name") if payee in documents else None
        standings.append(
            Standing(
                rank=ranked[payee],
                payee=payee if shown else None,
                name=name if shown else None,
                value=values[payee] if shown else None,
                you=you,
            )
        )
    return Leaderboard(kpi, period, currency, team_id, hide, standings)
