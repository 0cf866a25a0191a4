"""Property tests: order and duplicates, incremental == full, marginal <= retroactive,
caps, split credits, and no float anywhere in an output."""

from __future__ import annotations

import random
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from provisio_calc import Deal, Payee, Quota, calculate
from provisio_calc.earning import earn
from provisio_calc.incremental import IncrementalEngine
from provisio_calc.plan import Component
from provisio_calc.testing import make_deal, make_plan

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
AS_OF = date(2028, 3, 31)
PAYEES = [Payee("mgr", roles=("manager",)), Payee("a", manager="mgr"), Payee("b", manager="mgr"), Payee("c")]
QUOTAS = [Quota(p, q, Decimal(50000)) for p in ("a", "b", "c") for q in ("2027-Q1", "2027-Q2", "2027-Q3")]
PLAN = make_plan(
    {
        "id": "tiers",
        "kind": "commission",
        "measure": {"metric": "amount", "deal_types": ["new"]},
        "tiers": {
            "method": "retroactive",
            "bands": [{"to": 50, "rate": "0.05"}, {"to": 100, "rate": "0.10"}, {"rate": "0.15"}],
        },
        "threshold": 20,
        "cap": "9000",
    },
    {
        "id": "marginal",
        "kind": "commission",
        "target_incentive": "5000",
        "tiers": {"bands": [{"to": 100, "multiplier": 1}, {"multiplier": "1.5"}]},
    },
    {"id": "flat", "kind": "commission", "rate": "0.013", "measure": {"metric": "margin"}},
    {"id": "per", "kind": "spif", "per_deal": "75", "window": {"from": "2027-02-01", "to": "2027-05-31"}},
    {"id": "bonus", "kind": "bonus", "when": {"attainment_at_least": 90}, "rate_of_excess": "0.02"},
    {
        "id": "override",
        "kind": "commission",
        "credit": ["team_rollup"],
        "rate": "0.01",
        "applies_to": {"roles": ["manager"]},
    },
    {
        "id": "contest",
        "kind": "contest",
        "window": {"from": "2027-01-01", "to": "2027-06-30"},
        "prizes": [{"rank": 1, "amount": "1000"}, {"rank": 2, "value": "300", "cash": False}],
    },
    clawback={"window_days": 60},
    draw={"amount": "1500"},
)

day_st = st.integers(min_value=0, max_value=240).map(lambda n: date(2027, 1, 1) + timedelta(n))
amount_st = st.integers(min_value=-5000, max_value=90000).map(lambda n: Decimal(n) / 4)
split_st = st.sampled_from(
    [
        [],
        [("a", "0.5"), ("b", "0.5")],
        [("a", "0.25"), ("c", "0.75")],
        [("b", "0.6"), ("c", "0.3")],
    ]
)


@st.composite
def revision_st(draw: Any, deal_id: str, revision: int) -> Deal:
    close = draw(day_st)
    changed = close + timedelta(draw(st.integers(min_value=-5, max_value=120)))
    return make_deal(
        deal_id,
        revision=revision,
        status=draw(st.sampled_from(["won", "won", "won", "cancelled", "lost", "open"])),
        amount=str(draw(amount_st)),
        close_date=close.isoformat(),
        changed_at=changed.isoformat(),
        owner=draw(st.sampled_from(["a", "b", "c", "zed"])),
        type=draw(st.sampled_from(["new", "renewal"])),
        splits=[{"payee": p, "share": s} for p, s in draw(split_st)],
        lines=[{"product": "x", "amount": "1", "margin": str(draw(amount_st))}],
    )


@st.composite
def history_st(draw: Any) -> list[Deal]:
    deals = []
    for n in range(draw(st.integers(min_value=1, max_value=8))):
        for revision in range(1, draw(st.integers(min_value=1, max_value=3)) + 1):
            deals.append(draw(revision_st(str(n), revision)))
    return deals


def full(deals: list[Deal]) -> dict[str, Any]:
    return calculate(PLAN, deals, payees=PAYEES, quotas=QUOTAS, as_of=AS_OF).to_dict()


@SETTINGS
@given(history_st(), st.randoms(use_true_random=False))
def test_order_and_duplicates_do_not_change_anything(deals: list[Deal], rnd: random.Random) -> None:
    shuffled = deals + rnd.sample(deals, k=min(3, len(deals)))
    rnd.shuffle(shuffled)
    assert full(shuffled) == full(deals)


@SETTINGS
@given(history_st(), st.randoms(use_true_random=False))
def test_incremental_deltas_sum_to_a_full_recompute(deals: list[Deal], rnd: random.Random) -> None:
    result = calculate(PLAN, deals, payees=PAYEES, quotas=QUOTAS, as_of=AS_OF)
    engine = IncrementalEngine(PLAN, payees=PAYEES, quotas=QUOTAS, as_of=AS_OF)
    arrivals = deals + rnd.sample(deals, k=min(2, len(deals)))
    rnd.shuffle(arrivals)
    totals: dict[tuple[str, str, str], Decimal] = {}
    for deal in arrivals:
        for delta in engine.apply_deal(deal):
            key = (delta.payee, delta.component, delta.period)
            totals[key] = totals.get(key, Decimal(0)) + delta.amount
    expected = {(ln.payee, ln.component, ln.period): ln.earned for ln in result.lines}
    assert {k: v for k, v in totals.items() if v != 0} == {k: v for k, v in expected.items() if v != 0}
    assert {k: v for k, v in engine.earned().items() if v != 0} == {
        k: v for k, v in expected.items() if v != 0
    }
    # each line's dated entries add up to its earnings
    for line in result.lines:
        assert sum((e.amount for e in line.entries), Decimal(0)) == line.earned


@SETTINGS
@given(history_st())
def test_caps_hold_and_no_float_appears(deals: list[Deal]) -> None:
    data = full(deals)
    for line in data["lines"]:
        if line["component"] == "tiers":
            assert Decimal(line["earned"]) <= Decimal(9000)

    def walk(value: Any) -> None:
        assert not isinstance(value, float)
        if isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)
        elif isinstance(value, str) and value[:1].isdigit():
            assert "E" not in value and "e" not in value.split("-")[0]

    walk(data)


rates_st = st.lists(st.integers(min_value=0, max_value=50), min_size=1, max_size=5).map(sorted)


@SETTINGS
@given(
    rates_st,
    st.lists(st.integers(min_value=1, max_value=300), min_size=4, max_size=4),
    st.integers(min_value=0, max_value=400_000),
    st.booleans(),
)
def test_marginal_never_exceeds_retroactive_for_ascending_rates(
    rates: list[int], steps: list[int], value: int, by_value: bool
) -> None:
    bounds = []
    total = 0
    for step in steps[: len(rates) - 1]:
        total += step
        bounds.append(total)
    bands = [{"to": b, "rate": str(Decimal(r) / 100)} for b, r in zip(bounds, rates, strict=False)]
    bands.append({"rate": str(Decimal(rates[-1]) / 100)})
    quota = Decimal(100000)
    tiers = {"basis": "value" if by_value else "attainment", "bands": bands}
    marginal = Component.model_validate(
        {"id": "m", "kind": "commission", "tiers": {**tiers, "method": "marginal"}}
    )
    retro = Component.model_validate(
        {"id": "r", "kind": "commission", "tiers": {**tiers, "method": "retroactive"}}
    )
    v = Decimal(value)
    assert earn(marginal, v, Decimal(1), quota) <= earn(retro, v, Decimal(1), quota)


@SETTINGS
@given(
    st.lists(st.integers(min_value=1, max_value=20), min_size=1, max_size=6),
    st.integers(min_value=1, max_value=10**9),
)
def test_split_credits_sum_to_the_deal_value(weights: list[int], cents: int) -> None:
    total = sum(weights)
    # exact decimal shares: each weight/total rounded to 6 places, the last one takes the rest
    shares = [(Decimal(w) / Decimal(total)).quantize(Decimal("0.000001")) for w in weights[:-1]]
    shares.append(Decimal(1) - sum(shares, Decimal(0)))
    if any(s <= 0 for s in shares):
        return
    amount = Decimal(cents) / 100
    deal = make_deal(
        amount=str(amount), splits=[{"payee": f"p{i}", "share": str(s)} for i, s in enumerate(shares)]
    )
    plan = make_plan({"id": "c", "kind": "commission", "rate": "1"})
    result = calculate(plan, [deal], as_of=AS_OF)
    assert sum((ln.value for ln in result.lines), Decimal(0)) == amount
