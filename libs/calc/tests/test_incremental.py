"""The incremental form: deltas E' - E per event, as PLANS.md "Incremental computation" says."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from provisio_calc import Activity, FxRate, InputInvalid, Payee, Quota, calculate
from provisio_calc.incremental import Delta, IncrementalEngine
from provisio_calc.testing import make_deal, make_plan

RETRO = make_plan(
    {
        "id": "c",
        "kind": "commission",
        "tiers": {"method": "retroactive", "bands": [{"to": 100, "rate": "0.10"}, {"rate": "0.20"}]},
    },
    clawback={"window_days": 30},
)
Q1 = [Quota("ana", "2027-Q1", Decimal(100000))]


def amounts(deltas: list[Delta]) -> list[tuple[str, str, str | None]]:
    return [(d.day.isoformat(), str(d.amount), d.deal) for d in deltas]


def test_a_crossing_deal_posts_the_retroactive_true_up() -> None:
    engine = IncrementalEngine(RETRO, quotas=Q1)
    assert amounts(engine.apply_deal(make_deal("1", amount="60000", close_date="2027-01-10"))) == [
        ("2027-01-10", "6000.00", "crm:1")
    ]
    # 110000 * 0.20 = 22000; E was 6000 -> 16000, attributed to deal 2
    assert amounts(engine.apply_deal(make_deal("2", amount="50000", close_date="2027-02-10"))) == [
        ("2027-02-10", "16000.00", "crm:2")
    ]


def test_cancel_inside_the_window_posts_negative_deltas_outside_none() -> None:
    engine = IncrementalEngine(RETRO, quotas=Q1)
    engine.apply_deal(make_deal("1", amount="60000", close_date="2027-01-10"))
    engine.apply_deal(make_deal("2", amount="50000", close_date="2027-01-12"))
    inside = make_deal("1", revision=2, status="cancelled", changed_at="2027-02-09")
    # without deal 1: 50000 * 0.10 = 5000; E was 22000 -> -17000 on the cancel day
    assert amounts(engine.apply_deal(inside)) == [("2027-02-09", "-17000.00", "crm:1")]
    outside = make_deal("2", revision=2, status="cancelled", changed_at="2027-02-12")  # 31 days
    assert engine.apply_deal(outside) == []


def test_duplicates_post_nothing_and_conflicts_are_refused() -> None:
    engine = IncrementalEngine(RETRO, quotas=Q1)
    deal = make_deal("1", amount="60000")
    assert engine.apply_deal(deal) != []
    assert engine.apply_deal(deal) == []
    with pytest.raises(InputInvalid):
        engine.apply_deal(make_deal("1", amount="1"))


def test_an_old_revision_arriving_late_changes_nothing() -> None:
    engine = IncrementalEngine(RETRO, quotas=Q1)
    engine.apply_deal(
        make_deal("1", revision=2, amount="60000", close_date="2027-01-10", changed_at="2027-01-11")
    )
    assert engine.apply_deal(make_deal("1", amount="60000", close_date="2027-01-10")) == []


def test_a_quota_change_recomputes_that_payees_lines() -> None:
    engine = IncrementalEngine(RETRO, quotas=Q1)
    engine.apply_deal(make_deal("1", amount="60000"))
    # quota 50000: 120% -> all 60000 at 0.20 = 12000; E was 6000
    deltas = engine.set_quota(Quota("ana", "2027-Q1", Decimal(50000)), date(2027, 3, 1))
    assert amounts(deltas) == [("2027-03-01", "6000.00", None)]


def test_contests_are_awarded_when_the_window_ends() -> None:
    plan = make_plan(
        {
            "id": "k",
            "kind": "contest",
            "window": {"from": "2027-01-01", "to": "2027-03-31"},
            "prizes": [{"rank": 1, "amount": "1000"}],
        }
    )
    engine = IncrementalEngine(plan, as_of=date(2027, 3, 1))
    assert engine.apply_deal(make_deal("1", owner="a", amount="10")) == []
    assert amounts(engine.set_as_of(date(2027, 3, 31))) == [("2027-03-31", "1000", None)]
    # b overtakes a: a loses the prize, b wins it
    deltas = engine.apply_deal(make_deal("2", owner="b", amount="20"))
    assert sorted((d.payee, str(d.amount)) for d in deltas) == [("a", "-1000"), ("b", "1000")]
    full = calculate(
        plan,
        [make_deal("1", owner="a", amount="10"), make_deal("2", owner="b", amount="20")],
        as_of=date(2027, 3, 31),
    )
    assert {(ln.payee, ln.earned) for ln in full.lines} == {("b", Decimal(1000))}


def test_missing_quota_keys_earn_nothing_incrementally() -> None:
    engine = IncrementalEngine(RETRO)
    assert engine.apply_deal(make_deal("1")) == []


def test_a_rate_arriving_later_releases_a_parked_deal() -> None:
    plan = make_plan({"id": "c", "kind": "commission", "rate": "0.1"})
    engine = IncrementalEngine(plan)
    deal = make_deal("1", currency="EUR", amount="1000", close_date="2027-01-15")
    assert engine.apply_deal(deal) == []
    assert engine.deal_exceptions["crm:1"].kind == "missing_fx"
    rate = FxRate(date(2027, 1, 1), "EUR", "USD", Decimal("1.1"))
    # 1000 EUR * 1.1 * 0.1 = 110, dated the day the rate was entered
    assert amounts(engine.set_fx(rate, date(2027, 2, 3))) == [("2027-02-03", "110.00", "crm:1")]
    assert "crm:1" not in engine.deal_exceptions
    full = calculate(plan, [deal], fx=[rate], as_of=date(2027, 12, 31))
    assert full.lines[0].earned == Decimal("110.00")
    # a corrected rate re-converts: 1000 * 1.2 * 0.1 = 120, so +10
    changed = FxRate(date(2027, 1, 1), "EUR", "USD", Decimal("1.2"))
    assert amounts(engine.set_fx(changed, date(2027, 2, 4))) == [("2027-02-04", "10.00", "crm:1")]


def test_exceptions_are_listed() -> None:
    engine = IncrementalEngine(RETRO)
    engine.apply_deal(make_deal("1"))
    engine.apply_deal(make_deal("2", splits=[{"payee": "a", "share": "0.5"}]))
    assert [(e.kind, e.payee, e.deal) for e in engine.exceptions()] == [
        ("bad_split", "ana", "crm:2"),
        ("missing_quota", "ana", None),
    ]


def test_activities_incrementally_equal_the_full_calculation() -> None:
    plan = make_plan(
        {
            "id": "calls",
            "kind": "commission",
            "rate": "2",
            "credit": ["owner", "team_rollup"],
            "measure": {"metric": "activity:call", "deal_types": ["new"]},
        },
    )
    payees = [Payee("ana", manager="mgr"), Payee("mgr")]
    deals = [make_deal("d1"), make_deal("d2", type="renewal")]
    acts = [
        Activity("crm", str(i), "call", "ana", date(2027, 1, 1 + i), d)
        for i, d in enumerate(["d1", "d2", "d1", None])
    ]
    full = calculate(plan, deals, payees=payees, activities=acts, as_of=date(2027, 12, 31))
    engine = IncrementalEngine(plan, payees=payees)
    for deal in deals:
        engine.apply_deal(deal)
    for activity in acts:
        engine.apply_activity(activity)
    # two calls on the new deal: 2 * 2 = 4 for ana, and again for her manager
    expected = {("ana", "calls", "2027-Q1"): Decimal(4), ("mgr", "calls", "2027-Q1"): Decimal(4)}
    assert {(ln.payee, ln.component, ln.period): ln.earned for ln in full.lines} == expected
    assert engine.earned() == expected


def test_an_activity_arriving_before_its_deal_counts_once_the_deal_arrives() -> None:
    plan = make_plan(
        {
            "id": "calls",
            "kind": "commission",
            "rate": "2",
            "measure": {"metric": "activity:call", "deal_types": ["new"]},
        }
    )
    engine = IncrementalEngine(plan)
    assert engine.apply_activity(Activity("crm", "a", "call", "ana", date(2027, 1, 2), "d1")) == []
    assert amounts(engine.apply_deal(make_deal("d1"))) == [("2027-01-02", "2", None)]
    # the deal becomes a renewal: the call no longer passes the filter
    renewal = make_deal("d1", revision=2, type="renewal", changed_at="2027-01-20")
    assert amounts(engine.apply_deal(renewal)) == [("2027-01-02", "-2", None)]
