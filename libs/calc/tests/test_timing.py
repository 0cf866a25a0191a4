"""Entry dating, retroactive true-ups, clawbacks (rules 23-26) and draws (rules 27-29)."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from provisio_calc import CalcResult, Payee, Quota, calculate
from provisio_calc.testing import make_deal, make_plan

FLAT = {"id": "c", "kind": "commission", "rate": "0.1"}
RETRO = {
    "id": "c",
    "kind": "commission",
    "tiers": {"method": "retroactive", "bands": [{"to": 100, "rate": "0.10"}, {"rate": "0.20"}]},
}
Q1 = [Quota("ana", "2027-Q1", Decimal("100000"))]


def entries(result: CalcResult) -> list[tuple[str, str, str | None]]:
    return [(e.day.isoformat(), str(e.amount), e.deal) for ln in result.lines for e in ln.entries]


def run(
    comp: dict[str, Any], deals: list[Any], as_of: date = date(2027, 12, 31), **plan_fields: Any
) -> CalcResult:
    return calculate(make_plan(comp, **plan_fields), deals, quotas=Q1, as_of=as_of)


def test_retroactive_accelerator_posts_a_true_up_on_the_deal_that_crossed_it() -> None:
    deals = [
        make_deal("1", amount="60000", close_date="2027-01-10"),
        make_deal("2", amount="50000", close_date="2027-02-10"),
    ]
    # Jan: 60000 * 0.10 = 6000. Feb: 110000 * 0.20 = 22000 -> 22000 - 6000 = 16000 on deal 2.
    assert entries(run(RETRO, deals)) == [
        ("2027-01-10", "6000.00", "crm:1"),
        ("2027-02-10", "16000.00", "crm:2"),
    ]


def test_input_order_does_not_change_dating() -> None:
    deals = [
        make_deal("2", amount="50000", close_date="2027-02-10"),
        make_deal("1", amount="60000", close_date="2027-01-10"),
    ]
    assert entries(run(RETRO, deals))[0][2] == "crm:1"


def test_cancel_inside_the_window_posts_a_reversal_on_the_changed_at_day() -> None:
    deals = [
        make_deal("1", amount="1000", close_date="2027-01-10"),
        make_deal(
            "1", revision=2, status="cancelled", close_date="2027-01-10", changed_at="2027-04-10T09:00:00Z"
        ),
    ]  # 90 days after 10 Jan
    result = run(FLAT, deals, clawback={"window_days": 90})
    assert entries(result) == [("2027-01-10", "100.0", "crm:1"), ("2027-04-10", "-100.0", "crm:1")]
    # the line stays, earning 0; the reversal is paid in April
    assert [(ln.period, ln.earned) for ln in result.lines] == [("2027-Q1", Decimal(0))]
    assert [(p.pay_period, p.earned) for p in result.payouts] == [
        ("2027-01", Decimal("100.0")),
        ("2027-04", Decimal("-100.0")),
    ]


def test_cancel_outside_the_window_posts_nothing() -> None:
    deals = [
        make_deal("1", amount="1000", close_date="2027-01-10"),
        make_deal("1", revision=2, status="lost", close_date="2027-01-10", changed_at="2027-04-11"),
    ]  # 91 days
    result = run(FLAT, deals, clawback={"window_days": 90})
    assert entries(result) == [("2027-01-10", "100.0", "crm:1")]


def test_without_clawback_the_window_is_unlimited() -> None:
    deals = [
        make_deal("1", amount="1000", close_date="2027-01-10"),
        make_deal("1", revision=2, status="open", changed_at="2027-11-30"),
    ]
    assert entries(run(FLAT, deals))[-1] == ("2027-11-30", "-100.0", "crm:1")


def test_reversal_recomputes_tiers_of_the_original_period() -> None:
    deals = [
        make_deal("1", amount="60000", close_date="2027-01-10"),
        make_deal("2", amount="50000", close_date="2027-02-10"),
        make_deal("2", revision=2, status="cancelled", changed_at="2027-05-02"),
    ]
    # after the cancel: 60000 * 0.10 = 6000, so the Q1 line goes 22000 -> 6000 on 2 May
    result = run(RETRO, deals)
    assert entries(result)[-1] == ("2027-05-02", "-16000.00", "crm:2")
    assert result.lines[0].earned == Decimal("6000.00")


def test_a_reduction_inside_the_window_reverses_by_the_reduction() -> None:
    deals = [
        make_deal("1", amount="1000", close_date="2027-01-10"),
        make_deal("1", revision=2, amount="600", changed_at="2027-02-01"),
    ]
    assert entries(run(FLAT, deals, clawback={"window_days": 30})) == [
        ("2027-01-10", "100.0", "crm:1"),
        ("2027-02-01", "-40.0", "crm:1"),
    ]


def test_a_reduction_outside_the_window_is_ignored() -> None:
    deals = [
        make_deal("1", amount="1000", close_date="2027-01-10"),
        make_deal("1", revision=2, amount="600", changed_at="2027-03-01"),
    ]
    result = run(FLAT, deals, clawback={"window_days": 30})
    assert entries(result) == [("2027-01-10", "100.0", "crm:1")]
    assert result.lines[0].value == Decimal(1000)


def test_a_later_increase_replaces_the_close_day_credit() -> None:
    deals = [
        make_deal("1", amount="1000", close_date="2027-01-10"),
        make_deal("1", revision=2, amount="1500", close_date="2027-01-10", changed_at="2027-03-01"),
    ]
    assert entries(run(FLAT, deals)) == [("2027-01-10", "150.0", "crm:1")]


def test_a_won_revision_after_a_reversal_is_dated_on_its_changed_at() -> None:
    deals = [
        make_deal("1", amount="1000", close_date="2027-01-10"),
        make_deal("1", revision=2, status="cancelled", changed_at="2027-01-20"),
        make_deal("1", revision=3, amount="1200", changed_at="2027-02-05"),
    ]
    assert entries(run(FLAT, deals)) == [
        ("2027-01-10", "100.0", "crm:1"),
        ("2027-01-20", "-100.0", "crm:1"),
        ("2027-02-05", "120.0", "crm:1"),
    ]


def test_a_reversal_changed_before_the_close_day_is_dated_then_but_applied_after() -> None:
    deals = [
        make_deal("1", amount="1000", close_date="2027-01-10"),
        make_deal("1", revision=2, status="cancelled", changed_at="2027-01-05"),
    ]
    assert entries(run(FLAT, deals)) == [("2027-01-10", "100.0", "crm:1"), ("2027-01-05", "-100.0", "crm:1")]


def test_as_of_ignores_later_revisions() -> None:
    deals = [
        make_deal("1", amount="1000", close_date="2027-01-10"),
        make_deal("1", revision=2, status="cancelled", changed_at="2027-02-10"),
    ]
    result = run(FLAT, deals, as_of=date(2027, 2, 9))
    assert entries(result) == [("2027-01-10", "100.0", "crm:1")]


def test_revision_order_in_the_input_does_not_matter() -> None:
    deals = [
        make_deal("1", revision=3, amount="1200", changed_at="2027-02-05"),
        make_deal("1", revision=2, status="cancelled", changed_at="2027-01-20"),
        make_deal("1", amount="1000", close_date="2027-01-10"),
        make_deal("1", amount="1000", close_date="2027-01-10"),
    ]  # an identical repeat
    assert len(entries(run(FLAT, deals))) == 3


def test_a_timestamp_close_is_dated_on_the_plan_timezone_day() -> None:
    deal = make_deal("1", close_date="2027-03-31T23:30:00Z")
    result = run(FLAT, [deal], timezone="Europe/Oslo")
    assert (result.lines[0].period, entries(result)[0][0]) == ("2027-Q2", "2027-04-01")


# ------------------------------------------------------------------ draws


def payouts(result: CalcResult) -> list[tuple[str, ...]]:
    return [
        (p.pay_period, str(p.earned), str(p.draw_topup), str(p.recovered), str(p.balance), str(p.payable))
        for p in result.payouts
    ]


def test_recoverable_draw() -> None:
    deals = [
        make_deal("1", amount="5000", close_date="2027-01-10"),  # Jan e = 500
        make_deal("2", amount="35000", close_date="2027-02-10"),  # Feb e = 3500
        make_deal("3", amount="50000", close_date="2027-03-10"),
    ]  # Mar e = 5000
    plan_fields = {
        "effective": {"from": "2027-01-01", "to": "2027-03-31"},
        "draw": {"amount": "2000", "per": "month"},
    }
    result = run(FLAT, deals, as_of=date(2027, 4, 30), **plan_fields)
    assert payouts(result) == [
        # Jan: 500 < 2000 -> top-up 1500, balance -1500; payable 500 + 1500 = 2000
        ("2027-01", "500.0", "1500.0", "0", "-1500.0", "2000.00"),
        # Feb: 3500 - 2000 = 1500 above the draw recovers all 1500; payable 2000
        ("2027-02", "3500.0", "0", "1500.0", "0.0", "2000.00"),
        # Mar: 5000, nothing owed -> payable 5000
        ("2027-03", "5000.0", "0", "0.0", "0.0", "5000.00"),
    ]


def test_non_recoverable_draw_is_a_guarantee() -> None:
    result = run(
        FLAT,
        [make_deal("1", amount="5000", close_date="2027-01-10")],
        as_of=date(2027, 2, 15),
        draw={"amount": "2000", "recoverable": False},
    )
    assert payouts(result) == [
        ("2027-01", "500.0", "1500.0", "0", "0", "2000.00"),
        ("2027-02", "0", "2000", "0", "0", "2000.00"),
    ]


def test_draw_per_quarter_paid_monthly_is_scaled() -> None:
    # 6000 per quarter * 1 month / 3 months = 2000 per monthly pay period
    plan = make_plan(FLAT, draw={"amount": "6000", "per": "quarter"})
    result = calculate(plan, [], payees=[Payee("ana")], as_of=date(2027, 1, 31))
    assert payouts(result) == [("2027-01", "0", "2000", "0", "-2000", "2000.00")]


def test_draws_stop_at_effective_to_and_the_balance_is_carried() -> None:
    deals = [
        make_deal("1", amount="100000", close_date="2027-02-10"),
        make_deal("1", revision=2, status="cancelled", changed_at="2027-03-10"),
    ]
    plan_fields = {"effective": {"from": "2027-01-01", "to": "2027-02-28"}, "draw": {"amount": "1000"}}
    result = run(FLAT, deals, as_of=date(2027, 4, 30), **plan_fields)
    assert payouts(result) == [
        ("2027-01", "0", "1000", "0", "-1000", "1000.00"),
        ("2027-02", "10000.0", "0", "1000", "0", "9000.00"),
        # the clawback after the plan ended is still paid (recovered from the payee)
        ("2027-03", "-10000.0", "0", "0", "0", "-10000.00"),
    ]


def test_payable_is_rounded_once_in_the_currency_minor_unit() -> None:
    # JPY: 0.0333 * 1000 = 33.3 -> 33; KWD: 0.0333 * 1000.5 = 33.31665 -> 33.317
    comp = {"id": "c", "kind": "commission", "rate": "0.0333"}
    jpy = run(comp, [make_deal(currency="JPY", amount="1000")], currency="JPY")
    kwd = run(comp, [make_deal(currency="KWD", amount="1000.5")], currency="KWD")
    assert [p.payable for p in jpy.payouts] == [Decimal("33")]
    assert [p.payable for p in kwd.payouts] == [Decimal("33.317")]
    assert kwd.payouts[0].earned == Decimal("33.31665")  # earned keeps full precision
    down = run(comp, [make_deal(currency="KWD", amount="1000.5")], currency="KWD", rounding="down")
    assert [p.payable for p in down.payouts] == [Decimal("33.316")]


def test_a_reversal_is_dated_on_the_local_day_of_changed_at() -> None:
    # 23:30 UTC on 31 March is 1 April in Oslo: the reversal is paid in April.
    deals = [
        make_deal("1", amount="1000", close_date="2027-03-10"),
        make_deal("1", revision=2, status="cancelled", changed_at="2027-03-31T23:30:00Z"),
    ]
    result = run(FLAT, deals, timezone="Europe/Oslo")
    assert entries(result)[-1] == ("2027-04-01", "-100.0", "crm:1")
    assert [p.pay_period for p in result.payouts] == ["2027-03", "2027-04"]
