"""The KPI catalogue: what each KPI counts, as pure functions over plain facts.

Facts are built from the replicas quota-service holds (`deals.v1`, `activities.v1`,
`ledger.v1`), with CRM references resolved to payees and money converted to one
currency (a missing rate is reported in `missing_fx`, never guessed). A `KpiBasis` holds
the sums a subject's KPIs are ratios of; a team's basis is the sum of its members'
bases, so every team KPI is pooled (team win rate = all won / all won and lost), never a
mean of member KPIs. The README ("KPI catalogue") gives every formula.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal

from provisio_calc import BadSplit, Deal, Split, direct_credits
from provisio_calc.numbers import divide, exact_product, exact_sum

Level = Literal["input", "middle", "output", "economics"]
Unit = Literal["count", "ratio", "currency", "days", "currency_per_day"]
Better = Literal["higher", "lower"]
ZERO = Decimal(0)
HUNDRED = Decimal(100)
NO_LEAD_SOURCE = "unknown"


@dataclass(frozen=True)
class KpiDef:
    """One KPI of the catalogue."""

    name: str
    level: Level
    unit: Unit
    better: Better
    additive: bool  # a team's figure (and its members' targets) adds up


CATALOGUE: dict[str, KpiDef] = {
    k.name: k
    for k in (
        KpiDef("calls", "input", "count", "higher", True),
        KpiDef("meetings", "input", "count", "higher", True),
        KpiDef("emails", "input", "count", "higher", True),
        KpiDef("demos", "input", "count", "higher", True),
        KpiDef("new_opportunities", "middle", "count", "higher", True),
        KpiDef("win_rate", "middle", "ratio", "higher", False),
        KpiDef("avg_deal_size", "middle", "currency", "higher", False),
        KpiDef("sales_cycle_days", "middle", "days", "lower", False),
        KpiDef("lead_conversion", "middle", "ratio", "higher", False),
        KpiDef("revenue", "output", "currency", "higher", True),
        KpiDef("margin", "output", "currency", "higher", True),
        KpiDef("cost_of_sales", "economics", "ratio", "lower", False),
        KpiDef("pipeline_velocity", "economics", "currency_per_day", "higher", True),
    )
}
KPI_NAMES = tuple(CATALOGUE)
ACTIVITY_KPIS: dict[str, str] = {"call": "calls", "meeting": "meetings", "email": "emails", "demo": "demos"}
# KPIs whose value needs converted money: incomplete while a rate is missing.
MONEY_KPIS = frozenset({"avg_deal_size", "revenue", "margin", "cost_of_sales", "pipeline_velocity"})


def day_of(value: date | datetime | str | None) -> date | None:
    """The calendar day of a date or timestamp as the CRM sent it (a timestamp keeps the
    day of its own offset), or None."""
    if value is None or value == "":
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value) if len(value) > 10 else date.fromisoformat(value)
    return value.date() if isinstance(value, datetime) else value


# --- facts ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class MissingFx:
    """An amount that could not be converted: no `currency -> target` rate on or before `day`."""

    item: str  # a deal (`source:external_id`) or a ledger entry (`ledger:<entry id>`)
    currency: str
    day: date | None


@dataclass(frozen=True)
class DealFact:
    """One deal's current snapshot, as the KPIs read it."""

    key: str
    status: str
    created: date | None
    closed: date | None
    lead_source: str
    amount: Decimal | None  # converted at the close day's rate; None when missing
    margin: Decimal | None  # sum of line margins (a line without one counts 0), converted
    currency: str
    credits: tuple[tuple[str, Decimal], ...]  # (payee, share) as the plan credits it


@dataclass(frozen=True)
class ActivityFact:
    """One activity: its kind, its owner (a payee id where known) and its day."""

    key: str
    kind: str
    owner: str
    day: date


@dataclass(frozen=True)
class CommissionFact:
    """One ledger entry (a delta of earnings) for a payee, converted at its entry day."""

    entry_id: str
    payee: str
    day: date
    amount: Decimal | None
    currency: str


Rate = Callable[[str, date], Decimal | None]


def resolve(ref: str, crm_index: Mapping[str, str]) -> str:
    """A CRM user reference (`hubspot:123`) as its payee id; a bare payee id as itself."""
    return crm_index.get(ref, ref)


def credit_shares(owner: str, splits: Iterable[tuple[str, Decimal]]) -> tuple[tuple[str, Decimal], ...]:
    """The direct credit of a deal (PLANS.md rules 9-10, libs/calc's `direct_credits`): its
    splits if any, else 100% to the owner; a bad split credits no one. A payee named twice
    gets the sum of their shares."""
    deal = Deal("", "", 1, "won", ZERO, "USD", None, None, owner, tuple(Split(p, s) for p, s in splits))
    try:
        pairs = direct_credits(deal)
    except BadSplit:
        return ()
    merged: dict[str, Decimal] = {}
    for payee, share in pairs:
        merged[payee] = exact_sum((merged.get(payee, ZERO), share))
    return tuple(sorted(merged.items()))


def deal_fact(document: Mapping[str, Any], crm_index: Mapping[str, str], rate: Rate) -> DealFact:
    """The fact of one `deals.v1` snapshot: people resolved, money converted at the rate of
    its close day (or its created day when it has not closed)."""
    created, closed = day_of(document.get("created_date")), day_of(document.get("close_date"))
    currency = str(document["currency"])
    priced_on = closed or created
    fx = None if priced_on is None else rate(currency, priced_on)
    amount = Decimal(str(document["amount"]))
    margin = exact_sum(
        Decimal(str(line["margin"])) for line in document.get("lines") or [] if line.get("margin") is not None
    )
    splits = [
        (resolve(s["payee"], crm_index), Decimal(str(s["share"]))) for s in document.get("splits") or []
    ]
    return DealFact(
        key=f"{document['source']}:{document['external_id']}",
        status=str(document["status"]),
        created=created,
        closed=closed,
        lead_source=document.get("lead_source") or NO_LEAD_SOURCE,
        amount=None if fx is None else exact_product(amount, fx),
        margin=None if fx is None else exact_product(margin, fx),
        currency=currency,
        credits=credit_shares(resolve(str(document["owner"]), crm_index), splits),
    )


def activity_fact(document: Mapping[str, Any], crm_index: Mapping[str, str]) -> ActivityFact | None:
    """The fact of one `activities.v1` record (its owner resolved), or None for an unknown kind."""
    day = day_of(document["occurred_at"])
    if document["kind"] not in ACTIVITY_KPIS or day is None:
        return None
    key = f"{document['source']}:{document['external_id']}"
    return ActivityFact(key, str(document["kind"]), resolve(str(document["owner"]), crm_index), day)


def commission_fact(
    entry_id: str, payee: str, day: date, amount: Decimal, currency: str, rate: Rate
) -> CommissionFact:
    """The fact of one ledger entry, converted at the rate of its entry day."""
    fx = rate(currency, day)
    return CommissionFact(entry_id, payee, day, None if fx is None else exact_product(amount, fx), currency)


# --- the basis: the sums every KPI is made of ----------------------------------------------


def _add(values: dict[str, Decimal], key: str, amount: Decimal) -> None:
    values[key] = exact_sum((values.get(key, ZERO), amount))


@dataclass
class KpiBasis:
    """The sums of one subject over some days; KPIs are these sums and their ratios.

    Deal figures weigh each deal by the subject's credit share (a deal split 50/50 counts
    0.5 for each payee, and 1 for a team holding both)."""

    activities: dict[str, Decimal] = field(default_factory=dict)  # by KPI name
    created: Decimal = ZERO  # deals created
    won: Decimal = ZERO  # won deals closed
    lost: Decimal = ZERO  # lost deals closed
    won_amount: Decimal = ZERO  # converted amount of won deals closed (those with a rate)
    won_priced: Decimal = ZERO  # won deals closed whose amount converted
    margin: Decimal = ZERO
    cycle_days: Decimal = ZERO  # days from created to close of won deals closed
    cycle_deals: Decimal = ZERO  # won deals closed with a created date
    cohort_created: dict[str, Decimal] = field(default_factory=dict)  # created, by lead source
    cohort_won: dict[str, Decimal] = field(default_factory=dict)  # of those, won (at any date)
    commissions: Decimal = ZERO  # converted ledger entries dated in the days
    missing_fx: dict[str, MissingFx] = field(default_factory=dict)

    def plus(self, other: KpiBasis) -> KpiBasis:
        """The basis of both (a team of members)."""
        out = KpiBasis()
        for basis in (self, other):
            for kpi, count in basis.activities.items():
                _add(out.activities, kpi, count)
            for source, count in basis.cohort_created.items():
                _add(out.cohort_created, source, count)
            for source, count in basis.cohort_won.items():
                _add(out.cohort_won, source, count)
            out.missing_fx.update(basis.missing_fx)
        for name in (
            "created",
            "won",
            "lost",
            "won_amount",
            "won_priced",
            "margin",
            "cycle_days",
            "cycle_deals",
            "commissions",
        ):
            setattr(out, name, exact_sum((getattr(self, name), getattr(other, name))))
        return out


def _within(day: date | None, first: date, last: date) -> bool:
    return day is not None and first <= day <= last


def basis_of(
    payee: str,
    first: date,
    last: date,
    deals: Iterable[DealFact],
    activities: Iterable[ActivityFact],
    commissions: Iterable[CommissionFact],
) -> KpiBasis:
    """The basis of one payee over the days [first, last]."""
    basis = KpiBasis()
    for deal in deals:
        share = dict(deal.credits).get(payee)
        if share is not None:
            _count_deal(basis, deal, share, first, last)
    for activity in activities:
        if activity.owner == payee and _within(activity.day, first, last):
            _add(basis.activities, ACTIVITY_KPIS[activity.kind], Decimal(1))
    for entry in commissions:
        if entry.payee == payee and _within(entry.day, first, last):
            if entry.amount is None:
                item = f"ledger:{entry.entry_id}"
                basis.missing_fx[item] = MissingFx(item, entry.currency, entry.day)
            else:
                basis.commissions = exact_sum((basis.commissions, entry.amount))
    return basis


def _count_deal(basis: KpiBasis, deal: DealFact, share: Decimal, first: date, last: date) -> None:
    if _within(deal.created, first, last):
        basis.created = exact_sum((basis.created, share))
        _add(basis.cohort_created, deal.lead_source, share)
        if deal.status == "won":
            _add(basis.cohort_won, deal.lead_source, share)
    if not _within(deal.closed, first, last):
        return
    if deal.status == "lost":
        basis.lost = exact_sum((basis.lost, share))
    if deal.status != "won":
        return
    assert deal.closed is not None
    basis.won = exact_sum((basis.won, share))
    if deal.amount is None or deal.margin is None:
        basis.missing_fx[deal.key] = MissingFx(deal.key, deal.currency, deal.closed)
    else:
        basis.won_amount = exact_sum((basis.won_amount, exact_product(deal.amount, share)))
        basis.margin = exact_sum((basis.margin, exact_product(deal.margin, share)))
        basis.won_priced = exact_sum((basis.won_priced, share))
    if deal.created is not None:
        days = Decimal((deal.closed - deal.created).days)
        basis.cycle_days = exact_sum((basis.cycle_days, exact_product(days, share)))
        basis.cycle_deals = exact_sum((basis.cycle_deals, share))


# --- the KPIs --------------------------------------------------------------------------------


def _ratio(numerator: Decimal, denominator: Decimal) -> Decimal | None:
    return None if denominator == 0 else divide(numerator, denominator)


def kpi_values(basis: KpiBasis) -> dict[str, Decimal | None]:
    """Every KPI of the catalogue from one basis (None where a ratio has nothing to divide by)."""
    win_rate = _ratio(basis.won, exact_sum((basis.won, basis.lost)))
    avg_deal_size = _ratio(basis.won_amount, basis.won_priced)
    cycle = _ratio(basis.cycle_days, basis.cycle_deals)
    velocity = None
    if win_rate is not None and avg_deal_size is not None and cycle is not None and cycle > 0:
        velocity = divide(exact_product(exact_product(basis.created, win_rate), avg_deal_size), cycle)
    values: dict[str, Decimal | None] = {
        kpi: basis.activities.get(kpi, ZERO) for kpi in ("calls", "meetings", "emails", "demos")
    }
    values |= {
        "new_opportunities": basis.created,
        "win_rate": win_rate,
        "avg_deal_size": avg_deal_size,
        "sales_cycle_days": cycle,
        "lead_conversion": _ratio(exact_sum(basis.cohort_won.values()), basis.created),
        "revenue": basis.won_amount,
        "margin": basis.margin,
        "cost_of_sales": None if basis.won_amount <= 0 else divide(basis.commissions, basis.won_amount),
        "pipeline_velocity": velocity,
    }
    return values


def lead_conversion_by_source(basis: KpiBasis) -> dict[str, Decimal | None]:
    """`lead_conversion` per lead source: won / created among deals created in the days."""
    return {
        source: _ratio(basis.cohort_won.get(source, ZERO), created)
        for source, created in sorted(basis.cohort_created.items())
    }


def kpi_attainment(kpi: str, actual: Decimal | None, target: Decimal | None) -> Decimal | None:
    """actual / target x 100, or target / actual x 100 for a KPI where lower is better
    (sales_cycle_days, cost_of_sales); None without both a positive target and an actual
    (and, lower-better, a positive actual)."""
    if actual is None or target is None or target <= 0:
        return None
    if CATALOGUE[kpi].better == "lower":
        return None if actual <= 0 else divide(target * HUNDRED, actual)
    return divide(actual * HUNDRED, target)


def ranks(values: Mapping[str, Decimal | None], better: Better = "higher") -> dict[str, int | None]:
    """PLANS.md rule 21: rank = 1 + the number of entrants strictly better (1, 2, 2, 4); an
    entrant without a value has no rank."""
    known = [v for v in values.values() if v is not None]
    out: dict[str, int | None] = {}
    for who, value in values.items():
        if value is None:
            out[who] = None
        elif better == "higher":
            out[who] = 1 + sum(1 for v in known if v > value)
        else:
            out[who] = 1 + sum(1 for v in known if v < value)
    return out
