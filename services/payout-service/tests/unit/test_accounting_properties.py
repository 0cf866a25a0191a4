"""Commission expense, for any entries (hypothesis): every schedule sums to its entry
exactly; the report recognizes exactly the entries as expense and its asset ends at zero;
each month's journal balances, its asset account reaches exactly zero after the last
schedule month, and its expense equals the entries to the minor unit."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from payout_fakes import deal_record, ledger_record

from payout_service.domain.accounting import (
    AccountingPolicy,
    Accounts,
    DealTerms,
    EntrySchedule,
    Posting,
    commission_expense,
    entry_schedule,
    journal,
    month_of,
    postings,
    treat,
)
from payout_service.service_layer.handlers import ledger_entry
from provisio_common.money import minor_units

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
CURRENCIES = ("USD", "JPY", "KWD")
FIRST = date(2027, 1, 1)


@dataclass(frozen=True)
class Case:
    """One entry: amount, currency, days after FIRST, component, the deal's term and start."""

    amount: Decimal
    currency: str
    day: int
    component: str
    term: int | None
    start_offset: int


def case(minor_only: bool) -> st.SearchStrategy[Case]:
    @st.composite
    def build(draw: st.DrawFn) -> Case:
        currency = draw(st.sampled_from(CURRENCIES))
        digits = minor_units(currency) if minor_only else draw(st.integers(0, 14))
        units = draw(st.integers(-(10**9), 10**9))
        return Case(
            amount=Decimal(units).scaleb(-digits),
            currency=currency,
            day=draw(st.integers(0, 900)),
            component=draw(st.sampled_from(["commission", "commission", "spif", "club"])),
            term=draw(st.one_of(st.none(), st.integers(1, 60))),
            start_offset=draw(st.integers(-30, 30)),
        )

    return build()


def schedules(cases: list[Case], policy: AccountingPolicy) -> list[EntrySchedule]:
    found = []
    for n, c in enumerate(cases):
        day = date.fromordinal(FIRST.toordinal() + c.day)
        start = date.fromordinal(day.toordinal() + 30 * c.start_offset)
        record = deal_record(f"D-{n}", contract_start=start.isoformat(), contract_months=c.term)
        if c.term is None:
            record = deal_record(f"D-{n}", contract_start=start.isoformat())
        terms = DealTerms.of(record.key, record.to_data())
        e = ledger_entry(
            ledger_record(
                f"e{n}",
                amount=format(c.amount, "f"),
                currency=c.currency,
                entry_date=day.isoformat(),
                pay_period=day.isoformat()[:7],
                component=c.component,
                deal=record.key,
            )
        )
        found.append(entry_schedule(e, treat(e, policy, terms)))
    return found


def span(items: list[Posting]) -> tuple[int, int]:
    months = [p.month for p in items]
    return min(months), max(months) + 1  # one month after the last schedule month


def totals(cases: list[Case]) -> dict[str, Decimal]:
    found: dict[str, Decimal] = defaultdict(Decimal)
    for c in cases:
        found[c.currency] += c.amount
    return found


POLICIES = st.builds(
    AccountingPolicy,
    st.just(frozenset({"commission", "spif"})),
    st.one_of(st.none(), st.integers(1, 48)),
    st.booleans(),
)


@SETTINGS
@given(st.lists(case(minor_only=False), min_size=1, max_size=12), POLICIES)
def test_at_full_precision_schedules_sum_to_entries_and_the_asset_ends_at_zero(
    cases: list[Case], policy: AccountingPolicy
) -> None:
    found = schedules(cases, policy)
    for s in found:
        if s.treatment.capitalized:
            assert sum((r.amount for r in s.rows), Decimal(0)) == s.entry.amount
            assert len(s.rows) == s.treatment.term_months
            assert all(r.recognized_in >= s.month for r in s.rows)
    items = postings(found)
    first, last = span(items)
    report = commission_expense(items, first, last)
    expense: dict[str, Decimal] = defaultdict(Decimal)
    for row in report:
        assert row.asset_closing == row.asset_opening + row.capitalized - row.amortization
        expense[row.currency] += row.expense
    assert {c: v for c, v in expense.items() if v} == {c: v for c, v in totals(cases).items() if v}
    assert all(r.asset_closing == 0 for r in report if r.month == last)
    asset: dict[str, Decimal] = defaultdict(Decimal)
    for month in range(first, last + 1):
        for line in journal(items, month, Accounts()):
            if line.account_name == "deferred_commissions":
                asset[line.currency] += line.debit - line.credit
    assert all(v == 0 for v in asset.values())


@SETTINGS
@given(st.lists(case(minor_only=True), min_size=1, max_size=12), POLICIES)
def test_in_minor_units_the_journal_balances_and_its_expense_equals_the_entries(
    cases: list[Case], policy: AccountingPolicy
) -> None:
    items = postings(schedules(cases, policy))
    first, last = span(items)
    accounts: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    for month in range(first, last + 1):
        debits: dict[str, Decimal] = defaultdict(Decimal)
        credits: dict[str, Decimal] = defaultdict(Decimal)
        for line in journal(items, month, Accounts()):
            assert line.debit == line.debit.quantize(Decimal(1).scaleb(-minor_units(line.currency)))
            assert (line.debit == 0) != (line.credit == 0)
            debits[line.currency] += line.debit
            credits[line.currency] += line.credit
            accounts[(line.currency, line.account_name)] += line.debit - line.credit
        assert debits == credits
    for currency, total in totals(cases).items():
        assert accounts[(currency, "deferred_commissions")] == 0
        assert accounts[(currency, "commission_expense")] == total
        assert accounts[(currency, "commissions_payable")] == -total
    assert month_of(FIRST) - 40 <= first
