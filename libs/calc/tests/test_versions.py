"""Effective-dated plan versions: each measurement period is computed entirely under the
newest version whose `effective` contains its first day (provisio_calc.versions)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from provisio_calc import CalcResult, Payee, PlanInvalid, Quota, calculate, load_plan
from provisio_calc.inputs import Deal
from provisio_calc.plan import Plan
from provisio_calc.testing import make_deal, make_plan
from provisio_calc.versions import order_versions, version_slices

AS_OF = date(2027, 12, 31)
RATE = {"id": "c", "kind": "commission", "rate": "0.10"}


def version(number: int, *components: dict[str, Any], **fields: Any) -> Plan:
    return make_plan(*(components or (RATE,)), version=number, **fields)


def earned(result: CalcResult) -> dict[tuple[str, str, str], tuple[str, Any]]:
    """(payee, component, period) -> (earned, the version its explanation names)."""
    return {
        (ln.payee, ln.component, ln.period): (
            format(ln.earned.normalize(), "f"),
            ln.explanation["plan_version"],
        )
        for ln in result.lines
    }


def deal(n: int, day: str, amount: str = "1000", **fields: Any) -> Deal:
    return make_deal(str(n), close_date=day, amount=amount, **fields)


def test_each_period_is_computed_under_the_newest_version_containing_its_first_day() -> None:
    v1 = version(1)
    v2 = version(2, {**RATE, "rate": "0.20"}, effective={"from": "2027-04-01", "to": "2027-12-31"})
    deals = [deal(1, "2027-03-31"), deal(2, "2027-04-01"), deal(3, "2027-11-30")]
    result = calculate([v1, v2], deals, as_of=AS_OF)
    assert earned(result) == {
        ("ana", "c", "2027-Q1"): ("100", 1),
        ("ana", "c", "2027-Q2"): ("200", 2),
        ("ana", "c", "2027-Q4"): ("200", 2),
    }
    assert result.versions == 2


def test_a_version_newer_in_number_wins_even_when_given_first() -> None:
    v1 = version(1)
    v2 = version(2, {**RATE, "rate": "0.20"})
    assert order_versions([v2, v1]) == [v1, v2]
    result = calculate(order_versions([v2, v1]), [deal(1, "2027-02-01")], as_of=AS_OF)
    assert earned(result) == {("ana", "c", "2027-Q1"): ("200", 2)}


def test_deals_of_periods_outside_every_version_earn_nothing() -> None:
    v1 = version(1, effective={"from": "2027-01-01", "to": "2027-03-31"})
    v2 = version(2, effective={"from": "2027-07-01", "to": "2027-12-31"})
    deals = [deal(1, "2027-02-01"), deal(2, "2027-05-05"), deal(3, "2027-08-08")]
    assert set(earned(calculate([v1, v2], deals, as_of=AS_OF))) == {
        ("ana", "c", "2027-Q1"),
        ("ana", "c", "2027-Q3"),
    }


def test_the_newest_version_computes_the_whole_period_even_where_its_effective_ends_inside_it() -> None:
    # v2 contains 1 January, so Q1 is v2's; its effective ends 15 February (rule 2: later
    # deals of Q1 are not credited), although v1 would have credited them. Q2 is v1's again.
    v1 = version(1)
    v2 = version(2, {**RATE, "rate": "0.20"}, effective={"from": "2027-01-01", "to": "2027-02-15"})
    deals = [deal(1, "2027-02-15"), deal(2, "2027-02-16"), deal(3, "2027-04-01")]
    assert earned(calculate([v1, v2], deals, as_of=AS_OF)) == {
        ("ana", "c", "2027-Q1"): ("200", 2),
        ("ana", "c", "2027-Q2"): ("100", 1),
    }


def test_annual_periods_and_a_version_for_the_next_year() -> None:
    v1 = version(1, {**RATE, "threshold": 50}, period="year")
    v2 = version(
        2, {**RATE, "rate": "0.05"}, period="year", effective={"from": "2028-01-01", "to": "2028-12-31"}
    )
    quotas = [Quota("ana", "2027", Decimal("1000"))]
    deals = [deal(1, "2027-06-30"), deal(2, "2028-01-01", "2000")]
    assert earned(calculate([v1, v2], deals, quotas=quotas, as_of=date(2028, 12, 31))) == {
        ("ana", "c", "2027"): ("100", 1),
        ("ana", "c", "2028"): ("100", 2),
    }


def test_a_version_may_change_the_period() -> None:
    # quarterly until March, monthly from April: no day is computed twice
    v1 = version(1)
    v2 = version(2, period="month", effective={"from": "2027-04-01", "to": "2027-12-31"})
    deals = [deal(1, "2027-03-01"), deal(2, "2027-04-02"), deal(3, "2027-05-03")]
    assert earned(calculate([v1, v2], deals, as_of=AS_OF)) == {
        ("ana", "c", "2027-Q1"): ("100", 1),
        ("ana", "c", "2027-04"): ("100", 2),
        ("ana", "c", "2027-05"): ("100", 2),
    }


def test_effective_from_must_be_the_first_day_of_a_measurement_period() -> None:
    for period, start in (("quarter", "2027-02-01"), ("month", "2027-02-15"), ("year", "2027-04-01")):
        with pytest.raises(PlanInvalid) as caught:
            make_plan(RATE, period=period, effective={"from": start, "to": "2027-12-31"})
        assert [p.path for p in caught.value.problems] == ["effective.from"]
        assert "first day of a" in caught.value.problems[0].message
    make_plan(RATE, period="month", effective={"from": "2027-02-01", "to": "2027-12-31"})  # fine


def test_versions_of_one_plan_share_id_currency_timezone_and_pay_frequency() -> None:
    for field, value in (("currency", "EUR"), ("timezone", "Europe/Oslo"), ("pay_frequency", "quarter")):
        with pytest.raises(PlanInvalid) as caught:
            calculate([version(1), version(2, **{field: value})], [], as_of=AS_OF)
        assert [p.path for p in caught.value.problems] == [field]


def test_one_version_in_a_list_is_the_plan_itself() -> None:
    plan = load_plan(
        "id: x\ncurrency: USD\nperiod: quarter\neffective: {from: 2027-01-01, to: 2027-12-31}\n"
        "components: [{id: c, kind: commission, tiers: {bands: [{to: 100, rate: 0.1}, {rate: 0.2}]}}]\n"
        "draw: {amount: 100}\n"
    )
    deals = [deal(1, "2027-01-05", "900"), deal(2, "2027-02-05", "300")]
    quotas = [Quota("ana", "2027-Q1", Decimal(1000))]
    alone = calculate(plan, deals, quotas=quotas, as_of=AS_OF)
    assert calculate([plan], deals, quotas=quotas, as_of=AS_OF) == alone


def test_a_clawback_of_a_deal_of_an_older_version_reverses_at_that_versions_rate() -> None:
    v1 = version(1)
    v2 = version(2, {**RATE, "rate": "0.20"}, effective={"from": "2027-04-01", "to": "2027-12-31"})
    deals = [
        deal(1, "2027-03-10"),
        deal(1, "2027-03-10", revision=2, status="cancelled", changed_at="2027-04-20"),
    ]
    result = calculate([v1, v2], deals, as_of=AS_OF)
    [line] = result.lines
    assert (line.period, line.earned, line.explanation["plan_version"]) == ("2027-Q1", Decimal(0), 1)
    assert [(e.day.isoformat(), e.amount) for e in line.entries] == [
        ("2027-03-10", Decimal("100.0")),
        ("2027-04-20", Decimal("-100.0")),
    ]


def test_spif_deals_count_under_the_version_governing_their_day() -> None:
    spif = {"id": "s", "kind": "spif", "window": {"from": "2027-03-01", "to": "2027-04-30"}, "per_deal": "50"}
    v1 = version(1, RATE, spif)
    v2 = version(2, RATE, effective={"from": "2027-04-01", "to": "2027-12-31"})  # the spif is dropped
    v3 = version(3, RATE, {**spif, "per_deal": "70"}, effective={"from": "2027-04-01", "to": "2027-12-31"})
    deals = [deal(1, "2027-03-05"), deal(2, "2027-04-05")]
    assert earned(calculate([v1, v2], deals, as_of=AS_OF))[("ana", "s", "2027-Q1")] == ("50", 1)
    assert ("ana", "s", "2027-Q2") not in earned(calculate([v1, v2], deals, as_of=AS_OF))
    assert earned(calculate([v1, v3], deals, as_of=AS_OF))[("ana", "s", "2027-Q2")] == ("70", 3)


def test_a_contest_spans_versions_and_is_awarded_by_the_newest_that_counts_in_its_window() -> None:
    contest = {
        "id": "q",
        "kind": "contest",
        "window": {"from": "2027-03-01", "to": "2027-04-30"},
        "prizes": [{"rank": 1, "amount": "1000"}],
    }
    v1 = version(1, RATE, contest)
    v2 = version(
        2,
        RATE,
        {**contest, "prizes": [{"rank": 1, "amount": "1500"}]},
        effective={"from": "2027-04-01", "to": "2027-12-31"},
    )
    # ana: 1000 in March (v1) + 1000 in April (v2) = 2000; bob: 1500 in April
    deals = [deal(1, "2027-03-05"), deal(2, "2027-04-05"), deal(3, "2027-04-06", "1500", owner="bob")]
    result = calculate([v1, v2], deals, as_of=AS_OF)
    prizes = [
        (ln.payee, ln.value, ln.earned, ln.explanation["plan_version"])
        for ln in result.lines
        if ln.component == "q"
    ]
    assert prizes == [("ana", Decimal(2000), Decimal(1500), 2)]
    # a newer version that drops the contest leaves it to the older one, over its days only
    v2_without = version(2, RATE, effective={"from": "2027-04-01", "to": "2027-12-31"})
    result = calculate([v1, v2_without], deals, as_of=AS_OF)
    prizes = [
        (ln.payee, ln.value, ln.earned, ln.explanation["plan_version"])
        for ln in result.lines
        if ln.component == "q"
    ]
    assert prizes == [("ana", Decimal(1000), Decimal(1000), 1)]
    # before the window ends nothing is awarded
    assert not [ln for ln in calculate([v1, v2], deals, as_of=date(2027, 4, 29)).lines if ln.component == "q"]


def payouts(result: CalcResult) -> list[tuple[str, str, str, str, str]]:
    def text(value: Decimal) -> str:
        return format(value.normalize(), "f")

    return [
        (p.pay_period, text(p.earned), text(p.draw_topup), text(p.recovered), text(p.balance))
        for p in result.payouts
    ]


def test_each_pay_period_takes_the_draw_of_the_version_that_covers_it() -> None:
    v1 = version(1, draw={"amount": "500"})
    v2 = version(
        2,
        draw={"amount": "800", "recoverable": False},
        effective={"from": "2027-03-01", "to": "2027-12-31"},
        period="month",
    )
    v3 = version(3, effective={"from": "2027-04-01", "to": "2027-12-31"}, period="month")  # no draw
    result = calculate(
        [v1, v2, v3], [deal(1, "2027-04-10", "9000")], payees=[Payee("ana")], as_of=date(2027, 4, 30)
    )
    assert payouts(result) == [
        ("2027-01", "0", "500", "0", "-500"),
        ("2027-02", "0", "500", "0", "-1000"),
        ("2027-03", "0", "800", "0", "-1000"),  # v2's draw: a guarantee, no balance
        ("2027-04", "900", "0", "900", "-100"),  # no draw under v3: recovered (rule 33)
    ]


def test_slices_share_the_days_out() -> None:
    v1 = version(1)
    v2 = version(2, effective={"from": "2027-04-01", "to": "2027-05-10"})
    [s1, s2] = version_slices([v1, v2])
    assert s2.governed == ((date(2027, 4, 1), date(2027, 6, 30)),)
    assert s2.credited == ((date(2027, 4, 1), date(2027, 5, 10)),)
    assert s1.governed == ((date(2027, 1, 1), date(2027, 3, 31)), (date(2027, 7, 1), date(2027, 12, 31)))
