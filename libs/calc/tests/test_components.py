"""Every component and option, table-driven, with the arithmetic written out."""

from __future__ import annotations

import json
from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from provisio_calc import Activity, CalcResult, FxRate, InputInvalid, Payee, Quota, calculate
from provisio_calc.inputs import Deal
from provisio_calc.numbers import format_decimal
from provisio_calc.testing import make_deal, make_plan

AS_OF = date(2027, 12, 31)
Q1 = [Quota("ana", "2027-Q1", Decimal("100000"))]

TIERS = [{"to": 100, "rate": "0.10"}, {"to": 150, "rate": "0.15"}, {"rate": "0.20"}]


def run(
    component: dict[str, Any],
    deals: list[Deal],
    quotas: list[Quota] = Q1,
    **kw: Any,
) -> CalcResult:
    return calculate(make_plan(component), deals, quotas=quotas, as_of=kw.pop("as_of", AS_OF), **kw)


def earned(result: CalcResult) -> dict[tuple[str, str], str]:
    return {(ln.payee, ln.period): str(ln.earned.normalize()) if ln.earned else "0" for ln in result.lines}


def one(result: CalcResult) -> Decimal:
    assert len(result.lines) == 1, result.lines
    return result.lines[0].earned


def deals_of(*amounts: str) -> list[Deal]:
    return [make_deal(str(i), amount=a) for i, a in enumerate(amounts)]


COMMISSION_CASES = [
    # (name, component, deal amounts, expected earned in Q1)
    ("flat rate: 0.10 * 1000", {"rate": "0.10"}, ["1000"], "100"),
    (
        "flat rate on several deals: 0.03 * (1000 + 2500.50)",
        {"rate": "0.03"},
        ["1000", "2500.50"],
        "105.0150",
    ),
    (
        "marginal: 100000*0.10 + 50000*0.15 + 10000*0.20 = 19500",
        {"tiers": {"method": "marginal", "bands": TIERS}},
        ["60000", "100000"],
        "19500",
    ),
    (
        "retroactive: all 160000 at the 0.20 band = 32000",
        {"tiers": {"method": "retroactive", "bands": TIERS}},
        ["60000", "100000"],
        "32000",
    ),
    (
        "band edge, marginal: exactly 100% -> 100000*0.10 = 10000, nothing in band 1",
        {"tiers": {"method": "marginal", "bands": TIERS}},
        ["100000"],
        "10000",
    ),
    (
        "band edge, retroactive: exactly 100% is in band 1 (lower bound included) -> 15000",
        {"tiers": {"method": "retroactive", "bands": TIERS}},
        ["100000"],
        "15000",
    ),
    (
        "just under the edge, retroactive: 99999.99 * 0.10 = 9999.999",
        {"tiers": {"method": "retroactive", "bands": TIERS}},
        ["99999.99"],
        "9999.999",
    ),
    (
        "value basis: 5000*0.05 + 3000*0.10 = 550",
        {"tiers": {"basis": "value", "bands": [{"to": 5000, "rate": "0.05"}, {"rate": "0.10"}]}},
        ["8000"],
        "550",
    ),
    (
        "multiplier, marginal: 1*10000*100000/100000 + 1.5*10000*20000/100000 = 13000",
        {
            "target_incentive": "10000",
            "tiers": {"bands": [{"to": 100, "multiplier": 1}, {"multiplier": "1.5"}]},
        },
        ["120000"],
        "13000",
    ),
    (
        "multiplier, retroactive: 1.5*10000*120000/100000 = 18000",
        {
            "target_incentive": "10000",
            "tiers": {
                "method": "retroactive",
                "bands": [{"to": 100, "multiplier": 1}, {"multiplier": "1.5"}],
            },
        },
        ["120000"],
        "18000",
    ),
    ("threshold 50: 49999/100000 = 49.999% < 50 -> 0", {"rate": "0.1", "threshold": 50}, ["49999"], "0"),
    (
        "threshold 50: exactly 50% earns on all of V: 0.1 * 50000 = 5000",
        {"rate": "0.1", "threshold": 50},
        ["50000"],
        "5000",
    ),
    ("cap: 0.1 * 80000 = 8000, capped at 5000", {"rate": "0.1", "cap": "5000"}, ["80000"], "5000"),
    ("per_deal: 3 deals * 500 = 1500", {"per_deal": "500"}, ["1", "2", "3"], "1500"),
    ("negative V under a flat rate: 0.1 * -500 = -50", {"rate": "0.1"}, ["-500"], "-50"),
    (
        "negative V under tiers earns 0",
        {"tiers": {"basis": "value", "bands": [{"rate": "0.1"}]}},
        ["-500"],
        "0",
    ),
]


@pytest.mark.parametrize(
    ("name", "fields", "amounts", "expected"), COMMISSION_CASES, ids=[c[0] for c in COMMISSION_CASES]
)
def test_commission(name: str, fields: dict[str, Any], amounts: list[str], expected: str) -> None:
    result = run({"id": "c", "kind": "commission", **fields}, deals_of(*amounts))
    assert one(result) == Decimal(expected)
    line = result.lines[0]
    assert sum(e.amount for e in line.entries) == line.earned


def test_multiplier_division_is_carried_to_28_digits_dividing_last() -> None:
    # 1 * 1000 * 10000 / 30000 = 333.33..., 28 significant digits, half-even.
    comp = {
        "id": "c",
        "kind": "commission",
        "target_incentive": "1000",
        "tiers": {"bands": [{"multiplier": 1}]},
    }
    result = run(comp, deals_of("10000"), [Quota("ana", "2027-Q1", Decimal("30000"))])
    assert one(result) == Decimal("333.3333333333333333333333333")
    assert result.lines[0].attainment == Decimal("33.33333333333333333333333333")


def test_marginal_bands_crossed_are_explained() -> None:
    result = run({"id": "c", "kind": "commission", "tiers": {"bands": TIERS}}, deals_of("160000"))
    bands = result.lines[0].explanation["bands"]
    assert [(b["from"], b.get("to"), b["slice"], b["earned"]) for b in bands] == [
        ("0", "100", "100000", "10000"),
        ("100", "150", "50000", "7500"),
        ("150", None, "10000", "2000"),
    ]
    assert result.lines[0].explanation["quota"] == "100000"


BONUS_CASES = [
    ("bar 120, 119999/100000 = 119.999% -> 0", {"amount": "5000"}, ["119999"], "0"),
    ("bar 120, exactly 120% -> 5000 once", {"amount": "5000"}, ["60000", "60000"], "5000"),
    ("rate_of_excess: 0.05 * (130000 - 120% * 100000) = 500", {"rate_of_excess": "0.05"}, ["130000"], "500"),
    ("rate_of_excess below the bar -> 0", {"rate_of_excess": "0.05"}, ["110000"], "0"),
]


@pytest.mark.parametrize(
    ("name", "fields", "amounts", "expected"), BONUS_CASES, ids=[c[0] for c in BONUS_CASES]
)
def test_bonus(name: str, fields: dict[str, Any], amounts: list[str], expected: str) -> None:
    comp = {"id": "b", "kind": "bonus", "when": {"attainment_at_least": 120}, **fields}
    assert one(run(comp, deals_of(*amounts))) == Decimal(expected)


def test_missing_quota_is_an_exception_not_a_zero() -> None:
    plan = make_plan(
        {"id": "tiered", "kind": "commission", "tiers": {"bands": TIERS}},
        {"id": "flat", "kind": "commission", "rate": "0.01"},
    )
    result = calculate(plan, deals_of("1000"), as_of=AS_OF)
    assert [(ln.component, ln.earned) for ln in result.lines] == [("flat", Decimal("10"))]
    assert [(e.kind, e.payee) for e in result.exceptions] == [("missing_quota", "ana")]
    assert result.lines[0].attainment is None


def test_quota_zero_counts_as_missing() -> None:
    result = run(
        {"id": "c", "kind": "commission", "rate": "0.1", "threshold": 1},
        deals_of("1000"),
        [Quota("ana", "2027-Q1", Decimal(0))],
    )
    assert result.lines == [] and result.exceptions[0].kind == "missing_quota"


@pytest.mark.parametrize(
    ("rows", "expected"),
    [
        # exact row wins
        ([("2027-Q1", "900"), ("2027-01", "1")], "900"),
        # months tile the quarter: 100 + 200 + 300
        ([("2027-01", "100"), ("2027-02", "200"), ("2027-03", "300")], "600"),
        # an incomplete tiling is missing
        ([("2027-01", "100"), ("2027-02", "200")], None),
        # a coarser quota is never divided
        ([("2027", "1200")], None),
    ],
)
def test_quota_resolution(rows: list[tuple[str, str]], expected: str | None) -> None:
    quotas = [Quota("ana", p, Decimal(a)) for p, a in rows]
    result = run({"id": "c", "kind": "commission", "rate": "0.1"}, deals_of("300"), quotas)
    line = result.lines[0]
    quota = line.explanation["quota"]
    assert quota == expected


def test_year_quota_from_halves_and_quarters() -> None:
    # H1 exact (500); H2 = Q3 (200) + Q4 (300) -> year = 1000.
    quotas = [
        Quota("ana", "2027-H1", Decimal(500)),
        Quota("ana", "2027-Q3", Decimal(200)),
        Quota("ana", "2027-Q4", Decimal(300)),
    ]
    plan = make_plan({"id": "c", "kind": "commission", "rate": "0.1", "threshold": 10}, period="year")
    result = calculate(plan, deals_of("250"), quotas=quotas, as_of=AS_OF)
    assert result.lines[0].attainment == Decimal(25)


def test_spif_counts_only_deals_in_its_window() -> None:
    comp = {
        "id": "s",
        "kind": "spif",
        "per_deal": "100",
        "window": {"from": "2027-02-01", "to": "2027-02-28"},
    }
    deals = [
        make_deal("1", close_date="2027-01-31"),
        make_deal("2", close_date="2027-02-01"),
        make_deal("3", close_date="2027-02-28"),
        make_deal("4", close_date="2027-03-01"),
    ]
    assert one(run(comp, deals)) == Decimal(200)  # deals 2 and 3 * 100


def test_contest_ranks_ties_share_the_higher_rank() -> None:
    comp = {
        "id": "k",
        "kind": "contest",
        "window": {"from": "2027-01-01", "to": "2027-03-31"},
        "prizes": [
            {"rank": 1, "value": "3000", "reward": "Trip", "cash": False},
            {"rank": 2, "amount": "1000"},
            {"rank": 3, "amount": "500"},
            {"rank": 4, "amount": "100"},
        ],
    }
    deals = [
        make_deal("1", owner="a", amount="900"),
        make_deal("2", owner="b", amount="500"),
        make_deal("3", owner="c", amount="500"),
        make_deal("4", owner="d", amount="100"),
        make_deal("5", owner="e", amount="0"),
    ]
    result = run(comp, deals, [])
    # ranks 1, 2, 2, 4; nobody has rank 3; e has value 0 and is no entrant
    assert [(ln.payee, ln.earned, ln.cash) for ln in result.lines] == [
        ("a", Decimal(3000), False),
        ("b", Decimal(1000), True),
        ("c", Decimal(1000), True),
        ("d", Decimal(100), True),
    ]
    payout_a = next(p for p in result.payouts if p.payee == "a")
    assert (payout_a.pay_period, payout_a.earned, payout_a.non_cash, payout_a.payable) == (
        "2027-03",
        Decimal(0),
        Decimal(3000),
        Decimal(0),
    )
    assert all(ln.entries[0].day == date(2027, 3, 31) for ln in result.lines)
    # before the window ends there are no prizes
    assert run(comp, deals, [], as_of=date(2027, 3, 30)).lines == []


def test_team_rollup_and_applies_to() -> None:
    payees = [
        Payee("vp", roles=("manager",)),
        Payee("mgr", manager="vp", roles=("manager",)),
        Payee("ana", manager="mgr"),
        Payee("bob", manager="mgr"),
    ]
    plan = make_plan(
        {"id": "rep", "kind": "commission", "rate": "0.1", "applies_to": {"roles": ["rep"]}},
        {
            "id": "override",
            "kind": "commission",
            "rate": "0.02",
            "credit": ["team_rollup"],
            "applies_to": {"roles": ["manager"]},
        },
    )
    deals = [
        make_deal("1", owner="ana", amount="1000"),
        make_deal(
            "2",
            owner="ana",
            amount="3000",
            splits=[{"payee": "ana", "share": "0.5"}, {"payee": "bob", "share": "0.5"}],
        ),
    ]
    result = calculate(plan, deals, payees=payees, as_of=AS_OF)
    got = {(ln.payee, ln.component): (ln.value, ln.earned) for ln in result.lines}
    assert got == {
        ("ana", "rep"): (Decimal(2500), Decimal(250)),  # 1000 + 0.5 * 3000
        ("bob", "rep"): (Decimal(1500), Decimal(150)),  # 0.5 * 3000
        # both managers get every share again: 1000 + 1500 + 1500 = 4000; 0.02 * 4000 = 80
        ("mgr", "override"): (Decimal(4000), Decimal(80)),
        ("vp", "override"): (Decimal(4000), Decimal(80)),
    }
    assert result.exceptions == []


@pytest.mark.parametrize(
    ("measure", "expected_value"),
    [
        ({"metric": "amount"}, "1500"),  # 1000 + 500
        ({"metric": "amount", "products": ["pro"]}, "700"),  # lines: 600 + 100
        ({"metric": "margin"}, "300"),  # 150 + 50 + 100
        ({"metric": "margin", "products": ["basic"]}, "50"),
        ({"metric": "deals"}, "2"),
        ({"metric": "deals", "products": ["basic"]}, "1"),  # only deal 1 has a basic line
        ({"metric": "amount", "deal_types": ["renewal"]}, "500"),
        ({"metric": "amount", "territories": ["NO"]}, "1000"),
    ],
)
def test_measures_and_filters(measure: dict[str, Any], expected_value: str) -> None:
    deals = [
        make_deal(
            "1",
            amount="1000",
            territory="NO",
            lines=[
                {"product": "pro", "amount": "600", "margin": "150"},
                {"product": "basic", "amount": "400", "margin": "50"},
            ],
        ),
        make_deal(
            "2",
            amount="500",
            type="renewal",
            territory="SE",
            lines=[{"product": "pro", "amount": "100", "margin": "100"}],
        ),
    ]
    result = run({"id": "c", "kind": "commission", "rate": "1", "measure": measure}, deals)
    assert result.lines[0].value == Decimal(expected_value)


def test_deals_metric_counts_shares_and_per_deal_pays_by_share() -> None:
    deal = make_deal(splits=[{"payee": "ana", "share": "0.4"}, {"payee": "bob", "share": "0.6"}])
    result = run(
        {"id": "c", "kind": "commission", "per_deal": "500", "measure": {"metric": "deals"}}, [deal], []
    )
    assert {ln.payee: (ln.value, ln.earned) for ln in result.lines} == {
        "ana": (Decimal("0.4"), Decimal("200")),
        "bob": (Decimal("0.6"), Decimal("300")),
    }


def test_activity_measure() -> None:
    deals = [make_deal("d1", type="new"), make_deal("d2", type="renewal")]
    acts = [
        Activity("crm", "a1", "call", "ana", date(2027, 1, 3), "d1"),
        Activity("crm", "a2", "call", "ana", date(2027, 1, 4), "d2"),  # renewal deal: filtered
        Activity("crm", "a3", "call", "ana", date(2027, 1, 5), None),  # no deal: fails filters
        Activity("crm", "a4", "email", "ana", date(2027, 1, 5), "d1"),  # other kind
        Activity("crm", "a1", "call", "ana", date(2027, 1, 3), "d1"),  # identical repeat
    ]
    comp = {
        "id": "calls",
        "kind": "commission",
        "rate": "10",
        "measure": {"metric": "activity:call", "deal_types": ["new"]},
    }
    result = run(comp, deals, [], activities=acts)
    assert [(ln.value, ln.earned) for ln in result.lines] == [(Decimal(1), Decimal(10))]
    unfiltered = {"id": "calls", "kind": "commission", "rate": "10", "measure": {"metric": "activity:call"}}
    assert one(run(unfiltered, deals, [], activities=acts)) == Decimal(30)


def test_fx_uses_the_latest_rate_on_or_before_the_close_day() -> None:
    fx = [
        FxRate(date(2027, 1, 1), "EUR", "USD", Decimal("1.10")),
        FxRate(date(2027, 1, 16), "EUR", "USD", Decimal("1.20")),
        FxRate(date(2027, 1, 10), "USD", "EUR", Decimal("0.5")),
    ]  # wrong direction: unused
    deal = make_deal(currency="EUR", amount="1000", close_date="2027-01-15")
    result = run({"id": "c", "kind": "commission", "rate": "0.1"}, [deal], [], fx=fx)
    assert one(result) == Decimal("110")  # 1000 EUR * 1.10 * 0.1
    assert result.lines[0].explanation["credits"][0]["fx_rate"] == "1.1"


def test_missing_fx_parks_the_whole_deal() -> None:
    deal = make_deal("9", currency="EUR", close_date="2027-01-15")
    fx = [FxRate(date(2027, 1, 16), "EUR", "USD", Decimal("1.2"))]  # only after the close day
    result = run({"id": "c", "kind": "commission", "rate": "0.1"}, [deal, make_deal("1")], [], fx=fx)
    assert one(result) == Decimal(100)
    assert [(e.kind, e.deal) for e in result.exceptions] == [("missing_fx", "crm:9")]


def test_bad_split_credits_no_one_under_any_component() -> None:
    plan = make_plan(
        {"id": "a", "kind": "commission", "rate": "0.1"},
        {"id": "b", "kind": "commission", "rate": "0.2", "credit": ["team_rollup"]},
    )
    deal = make_deal(splits=[{"payee": "ana", "share": "0.5"}, {"payee": "bob", "share": "0.4"}])
    result = calculate(
        plan, [deal], payees=[Payee("ana", manager="m"), Payee("bob"), Payee("m")], as_of=AS_OF
    )
    assert result.lines == []
    assert [(e.kind, e.deal) for e in result.exceptions] == [("bad_split", "crm:1")]


def test_unknown_payee_once_per_payee_and_deal() -> None:
    deals = [
        make_deal("1", owner="zed"),
        make_deal("1", owner="zed", revision=2),
        make_deal("2", owner="zed"),
    ]
    result = run({"id": "c", "kind": "commission", "rate": "0.1"}, deals, [], payees=[Payee("ana")])
    assert [(e.kind, e.payee, e.deal) for e in result.exceptions] == [
        ("unknown_payee", "zed", "crm:1"),
        ("unknown_payee", "zed", "crm:2"),
    ]
    # without a payee list nobody is unknown
    assert run({"id": "c", "kind": "commission", "rate": "0.1"}, deals, []).exceptions == []


def test_only_deals_closing_inside_effective_are_credited() -> None:
    deals = [make_deal("1", close_date="2026-12-31"), make_deal("2", close_date="2027-01-01")]
    plan = make_plan(
        {"id": "c", "kind": "commission", "rate": "0.1"}, effective={"from": "2027-01-01", "to": "2027-02-15"}
    )
    result = calculate(plan, deals, as_of=AS_OF)
    assert [(ln.period, ln.value) for ln in result.lines] == [("2027-Q1", Decimal(1000))]


def test_period_cut_by_effective_uses_the_full_quota() -> None:
    # effective.from is the first day of a period; `to` may cut one (here Q1 at 15 Feb)
    plan = make_plan(
        {"id": "c", "kind": "commission", "rate": "0.1", "threshold": 50},
        effective={"from": "2027-01-01", "to": "2027-02-15"},
    )
    deals = [make_deal("1", close_date="2027-02-10", amount="40000"), make_deal("2", close_date="2027-02-16")]
    result = calculate(plan, deals, quotas=Q1, as_of=AS_OF)
    assert result.lines[0].attainment == Decimal(40)  # 40000 / 100000, not prorated
    assert result.lines[0].earned == 0


def test_two_different_snapshots_with_one_revision_are_bad_input() -> None:
    with pytest.raises(InputInvalid) as caught:
        run(
            {"id": "c", "kind": "commission", "rate": "0.1"},
            [make_deal("1", amount="1"), make_deal("1", amount="2")],
        )
    assert caught.value.field == "revision"


def test_explanations_are_json_safe_and_name_the_plan_version() -> None:
    plan = make_plan({"id": "c", "kind": "commission", "rate": "0.1"}, version=3)
    result = calculate(plan, deals_of("10"), as_of=AS_OF)
    explanation = result.lines[0].explanation
    assert explanation["plan_version"] == 3
    assert explanation["credits"][0]["deal"] == "crm:0"
    json.dumps(result.to_dict())


def test_calculate_leaves_the_garbage_collector_as_it_found_it() -> None:
    import gc

    assert gc.isenabled()
    run({"id": "c", "kind": "commission", "rate": "0.1"}, deals_of("1"))
    assert gc.isenabled()


SPLIT_DEAL = {"splits": [{"payee": "ana", "share": "0.3"}, {"payee": "bob", "share": "0.7"}]}


@pytest.mark.parametrize(
    ("credit", "expected"),
    [
        # rule 9: splits if any, else the owner
        (["owner", "splits"], {("ana", "1"): "1300", ("bob", "1"): "700"}),
        # owner alone: the owner's direct share (100% unsplit, own share of a split deal)
        (["owner"], {("ana", "1"): "1300"}),
        # splits alone: split payees of split deals only
        (["splits"], {("ana", "1"): "300", ("bob", "1"): "700"}),
    ],
)
def test_owner_and_splits_alone(credit: list[str], expected: dict[tuple[str, str], str]) -> None:
    deals = [make_deal("1", amount="1000"), make_deal("2", amount="1000", **SPLIT_DEAL)]
    result = run({"id": "c", "kind": "commission", "rate": "1", "credit": credit}, deals, [])
    assert {(ln.payee, "1"): format_decimal(ln.value) for ln in result.lines} == expected


def test_applies_to_teams_and_payees_must_all_match() -> None:
    payees = [Payee("ana", team="north"), Payee("bob", team="north"), Payee("cid", team="south")]
    comp = {
        "id": "c",
        "kind": "commission",
        "rate": "0.1",
        "applies_to": {"teams": ["north"], "payees": ["bob", "cid"]},
    }
    deals = [make_deal(str(i), owner=p) for i, p in enumerate(["ana", "bob", "cid"])]
    assert [ln.payee for ln in run(comp, deals, [], payees=payees).lines] == ["bob"]


def test_value_basis_multiplier_bands_still_need_a_quota() -> None:
    comp = {
        "id": "c",
        "kind": "commission",
        "target_incentive": "100",
        "tiers": {"basis": "value", "bands": [{"multiplier": 1}]},
    }
    result = run(comp, deals_of("10"), [])
    assert result.lines == [] and result.exceptions[0].kind == "missing_quota"
