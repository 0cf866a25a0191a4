"""Commission expense (ASC 340-40), hand-computed: rule 1 (the plan's accounting section and
the deal's terms), rule 2 (capitalized or expensed), rule 3 (straight-line schedules with
cumulative catch-up; reversals), rule 4 (the monthly report), rule 5 (the journal, rounded
by differences of rounded cumulative totals); the deal-terms handler and the use cases on
the fake unit of work."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from payout_fakes import deal_record, fake_store, fake_uow, ledger_record, plan_record

from payout_service.domain.accounting import (
    AccountingPolicy,
    Accounts,
    DealTerms,
    EntrySchedule,
    JournalLine,
    MonthFigures,
    commission_expense,
    entry_schedule,
    journal,
    journal_csv,
    month_of,
    month_text,
    parse_month,
    postings,
    straight_line,
    treat,
)
from payout_service.domain.errors import Unprocessable
from payout_service.domain.plans import PlanVersionDoc
from payout_service.domain.statements import LedgerEntry
from payout_service.service_layer.accounting import deal_schedules, expense_report, month_journal, on_deal
from payout_service.service_layer.handlers import ledger_entry, on_ledger_entry, on_plan_version
from provisio_common.money import format_amount
from provisio_common.problems import Problem

D = Decimal
POLICY = AccountingPolicy(frozenset({"commission", "spif"}))
NO_EXPEDIENT = AccountingPolicy(frozenset({"commission", "spif"}), practical_expedient=False)


def m(text: str) -> int:
    return parse_month(text, "month")


def entry(entry_id: str, amount: str, day: str, **fields: Any) -> LedgerEntry:
    return ledger_entry(ledger_record(entry_id, amount=amount, entry_date=day, pay_period=day[:7], **fields))


def terms(months: int | None = 24, start: str | None = None, **fields: Any) -> DealTerms:
    extra: dict[str, Any] = {"contract_months": months, "contract_start": start}
    record = deal_record("D-1", **{k: v for k, v in extra.items() if v is not None}, **fields)
    return DealTerms.of(record.key, record.to_data())


def scheduled(e: LedgerEntry, t: DealTerms | None = None, policy: AccountingPolicy = POLICY) -> EntrySchedule:
    return entry_schedule(e, treat(e, policy, t))


def figures(rows: list[MonthFigures]) -> dict[tuple[str, str], tuple[str, ...]]:
    """(month, currency) -> capitalized, amortization, expensed, opening, closing (normalized)."""
    return {
        (month_text(r.month), r.currency): tuple(
            format_amount(v)
            for v in (r.capitalized, r.amortization, r.expensed, r.asset_opening, r.asset_closing)
        )
        for r in rows
    }


def lines(found: list[JournalLine]) -> list[tuple[str, str, str, str, str]]:
    return [(x.currency, x.kind, x.account_name, str(x.debit), str(x.credit)) for x in found]


# ---------------------------------------------------------------- months


def test_months_count_across_years_and_read_only_yyyy_mm() -> None:
    assert m("2028-01") - m("2027-12") == 1
    assert month_text(m("2027-05")) == "2027-05" and month_of(date(2027, 5, 31)) == m("2027-05")
    for bad in ("2027-13", "2027-5", "27-05", "2027-Q1", "0000-01", "2027-05-01"):
        with pytest.raises(Unprocessable) as caught:
            parse_month(bad, "from")
        assert caught.value.field == "from"


# ---------------------------------------------------------------- rule 1: the plan's section


def doc(**accounting: Any) -> PlanVersionDoc:
    fields: dict[str, Any] = {"accounting": accounting} if accounting else {}
    record = plan_record("flat", 1, **fields)
    return PlanVersionDoc(record.plan_id, record.version, record.document, record.created_at)


def test_without_an_accounting_section_commissions_and_spifs_are_capitalized_with_the_expedient() -> None:
    policy = doc().accounting()
    assert policy == AccountingPolicy(frozenset({"commission"}), None, True, "UTC")  # club, trip: no


def test_the_plans_accounting_section_sets_components_default_term_and_expedient() -> None:
    policy = doc(capitalize=["club"], default_term_months=36, practical_expedient=False).accounting()
    assert policy == AccountingPolicy(frozenset({"club"}), 36, False, "UTC")


def test_contract_start_defaults_to_the_close_day_in_the_plan_timezone() -> None:
    late = entry("e", "1200", "2027-02-01")
    closed = terms(24, close_date="2027-01-31T23:30:00-05:00")  # 2027-02-01 04:30 UTC
    oslo = AccountingPolicy(frozenset({"commission"}), timezone="Europe/Oslo")
    new_york = AccountingPolicy(frozenset({"commission"}), timezone="America/New_York")
    assert treat(late, oslo, closed).start == m("2027-02")
    assert treat(late, new_york, closed).start == m("2027-01")
    assert treat(late, oslo, terms(24, "2026-11-01")).start == m("2026-11")
    # Terms not replicated yet: the plan's default term from the entry's own month.
    defaulted = AccountingPolicy(frozenset({"commission"}), default_term_months=24)
    assert (treat(late, defaulted, None).term_months, treat(late, defaulted, None).start) == (
        24,
        m("2027-02"),
    )


# ---------------------------------------------------------------- rule 2: capitalized or expensed


@pytest.mark.parametrize(
    ("policy", "deal_terms", "fields", "capitalized", "reason"),
    [
        (POLICY, terms(24), {}, True, "a term of 24 months (contract_months)"),
        (POLICY, terms(13), {}, True, "a term of 13 months (contract_months)"),
        (POLICY, terms(12), {}, False, "expensed when incurred (practical expedient)"),
        (NO_EXPEDIENT, terms(1), {}, True, "a term of 1 months (contract_months)"),
        (POLICY, terms(24), {"component": "club"}, False, "component 'club' is not capitalized"),
        (POLICY, terms(24), {"deal": None}, False, "the entry has no deal"),
        (POLICY, terms(None), {}, False, "no contract_months and the plan no default_term_months"),
        (
            AccountingPolicy(frozenset({"commission"}), default_term_months=36),
            terms(None),
            {},
            True,
            "a term of 36 months (default_term_months)",
        ),
        (
            AccountingPolicy(frozenset({"commission"}), default_term_months=36),
            terms(6),
            {},
            False,
            "a term of 6 months (contract_months)",
        ),
        (None, terms(24), {}, False, "plan flat version 1 is not known here"),
    ],
)
def test_rule_2_capitalizes_a_listed_component_with_a_deal_and_a_long_enough_term(
    policy: AccountingPolicy | None,
    deal_terms: DealTerms,
    fields: dict[str, Any],
    capitalized: bool,
    reason: str,
) -> None:
    found = treat(entry("e", "100", "2027-01-15", **fields), policy, deal_terms)
    assert found.capitalized is capitalized
    assert reason in found.reason


# ---------------------------------------------------------------- rule 3: schedules


def test_equal_monthly_amounts_sum_exactly_the_last_month_takes_the_rest() -> None:
    assert straight_line(D("2400"), 24) == [D("100")] * 24
    seven = straight_line(D("100"), 7)
    assert seven[:6] == [D("14.285714285714")] * 6 and seven[6] == D("14.285714285716")
    assert sum(seven) == D("100")
    assert sum(straight_line(D("-0.01"), 36)) == D("-0.01")


def test_a_24_month_deal_paid_2400_in_january_amortizes_100_a_month_for_24_months() -> None:
    s = scheduled(entry("e", "2400", "2027-01-15"), terms(24))
    assert [(month_text(r.month), r.amount, month_text(r.recognized_in)) for r in s.rows[:2]] == [
        ("2027-01", D("100"), "2027-01"),
        ("2027-02", D("100"), "2027-02"),
    ]
    assert month_text(s.rows[-1].month) == "2028-12" and len(s.rows) == 24
    report = figures(commission_expense(postings([s]), m("2027-01"), m("2029-01")))
    assert report[("2027-01", "USD")] == ("2400", "100", "0", "0", "2300")
    assert report[("2027-02", "USD")] == ("0", "100", "0", "2300", "2200")
    assert report[("2028-12", "USD")] == ("0", "100", "0", "100", "0")
    assert ("2029-01", "USD") not in report  # nothing left: the row is left out


def test_a_6_month_deal_under_the_expedient_is_expensed_in_its_month() -> None:
    s = scheduled(entry("e", "600", "2027-03-20"), terms(6))
    assert (s.treatment.capitalized, s.rows) == (False, ())
    assert figures(commission_expense(postings([s]), m("2027-01"), m("2027-12"))) == {
        ("2027-03", "USD"): ("0", "0", "600", "0", "0")
    }
    # Without the expedient the same deal amortizes over its 6 months from January.
    s = scheduled(entry("e", "600", "2027-03-20"), terms(6), NO_EXPEDIENT)
    report = figures(commission_expense(postings([s]), m("2027-01"), m("2027-12")))
    assert report[("2027-03", "USD")] == ("600", "300", "0", "0", "300")  # Jan-Mar caught up
    assert report[("2027-06", "USD")] == ("0", "100", "0", "100", "0")


def test_a_full_reversal_in_month_5_reverses_the_expense_recognized_and_nets_to_zero() -> None:
    paid = scheduled(entry("e1", "2400", "2027-01-15"), terms(24))
    reversed_ = scheduled(entry("e2", "-2400", "2027-05-10"), terms(24))
    assert [month_text(r.recognized_in) for r in reversed_.rows[:5]] == ["2027-05"] * 5
    report = figures(commission_expense(postings([paid, reversed_]), m("2027-01"), m("2028-12")))
    assert report[("2027-04", "USD")] == ("0", "100", "0", "2100", "2000")
    # May: -2400 capitalized; amortization 100 (January's schedule) - 500 (Jan-May caught up).
    assert report[("2027-05", "USD")] == ("-2400", "-400", "0", "2000", "0")
    assert [k for k in report if k[0] > "2027-05"] == []  # +100 - 100 every month after
    may = journal(postings([paid, reversed_]), m("2027-05"), Accounts())
    assert lines(may) == [
        ("USD", "capitalized", "commissions_payable", "2400.00", "0"),
        ("USD", "capitalized", "deferred_commissions", "0", "2400.00"),
        ("USD", "amortization", "deferred_commissions", "400.00", "0"),
        ("USD", "amortization", "commission_expense", "0", "400.00"),
    ]


def test_a_partial_reversal_in_month_5_leaves_the_rest_of_the_schedule() -> None:
    paid = scheduled(entry("e1", "2400", "2027-01-15"), terms(24))
    clawed = scheduled(entry("e2", "-1200", "2027-05-10"), terms(24))
    report = figures(commission_expense(postings([paid, clawed]), m("2027-01"), m("2029-01")))
    # May: amortization 100 - 50 x 5 (Jan-May of the reversal's schedule) = -150.
    assert report[("2027-05", "USD")] == ("-1200", "-150", "0", "2000", "950")
    assert report[("2027-06", "USD")] == ("0", "50", "0", "950", "900")
    assert report[("2028-12", "USD")] == ("0", "50", "0", "50", "0")
    expense = [p.amount for p in postings([paid, clawed]) if p.kind != "capitalized"]
    assert sum(expense) == D("1200")


def test_a_late_entry_catches_up_the_months_before_it_in_its_own_month() -> None:
    late = scheduled(entry("e", "2400", "2027-04-20"), terms(24, "2027-01-01"))
    report = figures(commission_expense(postings([late]), m("2027-01"), m("2027-05")))
    assert report == {
        ("2027-04", "USD"): ("2400", "400", "0", "0", "2000"),
        ("2027-05", "USD"): ("0", "100", "0", "2000", "1900"),
    }


def test_an_entry_after_its_whole_schedule_is_recognized_at_once() -> None:
    old = scheduled(entry("e", "1300", "2029-03-01"), terms(13, "2027-01-01"))
    assert figures(commission_expense(postings([old]), m("2029-03"), m("2029-03"))) == {
        ("2029-03", "USD"): ("1300", "1300", "0", "0", "0")
    }


# ---------------------------------------------------------------- rule 4 and 5: two currencies


def test_two_currencies_are_reported_and_journaled_apart_each_in_its_minor_unit() -> None:
    usd = scheduled(entry("u", "100", "2027-01-05"), terms(7, "2027-01-01"), NO_EXPEDIENT)
    jpy = scheduled(entry("j", "1000", "2027-01-05", currency="JPY"), terms(36, "2027-01-01"))
    bonus = scheduled(entry("b", "50.5", "2027-02-05", component="club", currency="JPY"), terms(36))
    items = postings([usd, jpy, bonus])
    report = figures(commission_expense(items, m("2027-01"), m("2027-02")))
    assert report == {
        ("2027-01", "JPY"): ("1000", "27.777777777778", "0", "0", "972.222222222222"),
        ("2027-01", "USD"): ("100", "14.285714285714", "0", "0", "85.714285714286"),
        ("2027-02", "JPY"): ("0", "27.777777777778", "50.5", "972.222222222222", "944.444444444444"),
        ("2027-02", "USD"): ("0", "14.285714285714", "0", "85.714285714286", "71.428571428572"),
    }
    # USD over 7 months: round(cumulative) differences 14.29, 14.28, 14.29, 14.28, ... = 100.00.
    usd_amortization = [
        sum(
            x.debit
            for x in journal(items, month, Accounts())
            if x.currency == "USD" and x.kind == "amortization"
        )
        for month in range(m("2027-01"), m("2027-08"))
    ]
    assert [str(v) for v in usd_amortization] == [
        "14.29", "14.28", "14.29", "14.28", "14.29", "14.28", "14.29",
    ]  # fmt: skip
    assert sum(usd_amortization) == D("100.00")
    # JPY over 36 months: 28, 28, 27, ... (no minor digits); 50.5 expensed rounds half-up to 51.
    feb = journal(items, m("2027-02"), Accounts("1450", "2100", "6100"))
    assert [(x.currency, x.kind, x.account, str(x.debit), str(x.credit)) for x in feb] == [
        ("JPY", "amortization", "6100", "28", "0"),
        ("JPY", "amortization", "1450", "0", "28"),
        ("JPY", "expensed", "6100", "51", "0"),
        ("JPY", "expensed", "2100", "0", "51"),
        ("USD", "amortization", "6100", "14.28", "0"),
        ("USD", "amortization", "1450", "0", "14.28"),
    ]
    text = journal_csv(feb).splitlines()
    assert text[0] == "month,currency,kind,account,account_name,debit,credit"
    assert text[1] == "2027-02,JPY,amortization,6100,commission_expense,28,0"
    assert text[-1] == "2027-02,USD,amortization,1450,deferred_commissions,0.00,14.28"


# ---------------------------------------------------------------- the handler and use cases


async def test_the_latest_terms_in_history_are_kept_whatever_the_arrival_order() -> None:
    store = fake_store()
    first = deal_record(contract_months=24, changed_at="2027-01-15T12:00:00Z")
    later = deal_record(contract_months=36, changed_at="2027-02-01T12:00:00Z", revision=2)
    for record in (later, first, later):
        async with fake_uow(store) as uow:
            await on_deal(uow, record)
            await uow.commit()
    async with fake_uow(store) as uow:
        held = await uow.repos.deals.get("generic:D-1")
    assert held is not None and held.contract_months == 36


async def test_the_report_journal_and_schedules_come_from_the_replicas() -> None:
    store = fake_store()
    async with fake_uow(store) as uow:
        await on_plan_version(uow, plan_record())
        await on_deal(uow, deal_record(contract_months=24, contract_start="2027-01-01"))
        await on_ledger_entry(uow, ledger_record("e1", amount="2400", entry_date="2027-01-15"))
        await on_ledger_entry(uow, ledger_record("e2", amount="-2400", entry_date="2027-05-10"))
        await on_ledger_entry(uow, ledger_record("e3", amount="75", component="club", deal=None))
        await uow.commit()
    report = figures(await expense_report(fake_uow(store), "2027-01", "2027-06"))
    assert report[("2027-01", "USD")] == ("2400", "100", "0", "0", "2300")
    assert report[("2027-02", "USD")] == ("0", "100", "75", "2300", "2200")
    assert report[("2027-05", "USD")] == ("-2400", "-400", "0", "2000", "0")
    found = await month_journal(fake_uow(store), "2027-02", Accounts())
    assert lines(found.lines)[2:] == [
        ("USD", "expensed", "commission_expense", "75.00", "0"),
        ("USD", "expensed", "commissions_payable", "0", "75.00"),
    ]
    schedules = await deal_schedules(fake_uow(store), "generic:D-1")
    assert [(s.entry.entry_id, s.treatment.capitalized, len(s.rows)) for s in schedules] == [
        ("e1", True, 24),
        ("e2", True, 24),
    ]
    assert len(await deal_schedules(fake_uow(store), None)) == 3


@pytest.mark.parametrize(
    ("first", "last", "field"),
    [("2027-1", "2027-02", "from"), ("2027-01", "2027-13", "to"), ("2027-03", "2027-02", "from")],
)
async def test_a_bad_range_is_a_422_naming_the_field(first: str, last: str, field: str) -> None:
    with pytest.raises(Problem) as caught:
        await expense_report(fake_uow(fake_store()), first, last)
    assert caught.value.status == 422 and [e["field"] for e in caught.value.errors] == [field]
