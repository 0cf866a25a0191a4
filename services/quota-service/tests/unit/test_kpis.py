"""The KPI catalogue on hand-computed examples (pure functions, no I/O).

The world: ann (CRM user hubspot:1) and bob; the reporting currency is USD; EUR->USD is
1.10 from 2027-01-01 and 1.20 from 2027-02-15; there is no GBP rate. The period is
2027-Q1 (2027-01-01 .. 2027-03-31).

| deal | credit          | created    | closed     | status | amount   | line margin | lead source |
|------|-----------------|------------|------------|--------|----------|-------------|-------------|
| d1   | ann (hubspot:1) | 2027-01-05 | 2027-02-04 | won    | 1000 USD | 300         | web         |
| d2   | ann 0.5, bob 0.5| 2027-01-10 | 2027-03-01 | won    | 2000 EUR | 500         | partner     |
| d3   | ann             | 2027-02-01 | 2027-03-15 | lost   | 500 USD  |             | web         |
| d4   | ann             | 2027-03-20 |            | open   | 700 USD  |             | (none)      |
| d5   | ann             | 2026-12-01 | 2027-01-20 | won    | 800 GBP  |             | web         |
| d6   | ann             | 2027-01-15 | 2027-04-02 | won    | 999 USD  |             | web         |

ann in Q1, each deal weighed by her share:
- new_opportunities (created in Q1): d1 1 + d2 0.5 + d3 1 + d4 1 + d6 1 = 4.5
- won / lost (closed in Q1): won d1 1 + d2 0.5 + d5 1 = 2.5; lost d3 1; win_rate = 2.5 / 3.5 = 5/7
- revenue: d1 1000 + d2 2000 x 1.20 (rate of 03-01) x 0.5 = 1200 -> 2200; d5 has no GBP rate:
  reported in missing_fx, left out of revenue, margin and avg_deal_size
- avg_deal_size = 2200 / (1 + 0.5) = 1466.67; margin = 300 + 500 x 1.20 x 0.5 = 600
- sales_cycle_days: d1 30 days, d2 50 days (x 0.5), d5 50 days -> (30 + 25 + 50) / 2.5 = 42
- lead_conversion (cohort created in Q1, won at any date): web d1, d3, d6 created, d1, d6 won
  -> 2/3; partner 0.5 / 0.5 = 1; unknown (d4) 0 / 1 = 0; overall (2 + 0.5) / 4.5 = 5/9
- commissions dated in Q1: 100 USD (02-04) + 50 EUR x 1.20 (03-01) = 160; cost_of_sales =
  160 / 2200
- pipeline_velocity = 4.5 x 5/7 x 4400/3 / 42 = 99000 / 882 = 112.2448979591836...
- activities: two calls (one by hubspot:1, one by ann), one meeting; a demo in April.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest

from quota_service.domain.fx import Converter, FxRate
from quota_service.domain.kpis import (
    CATALOGUE,
    KPI_NAMES,
    KpiBasis,
    MissingFx,
    activity_fact,
    basis_of,
    commission_fact,
    credit_shares,
    day_of,
    deal_fact,
    kpi_attainment,
    kpi_values,
    lead_conversion_by_source,
    ranks,
)

Q1 = (date(2027, 1, 1), date(2027, 3, 31))
INDEX = {"hubspot:1": "ann"}
USD = Converter(
    [
        FxRate(date(2027, 1, 1), "EUR", "USD", Decimal("1.10")),
        FxRate(date(2027, 2, 15), "EUR", "USD", Decimal("1.20")),
        FxRate(date(2027, 1, 1), "USD", "EUR", Decimal("0.5")),  # an inverse is never used
    ],
    "USD",
)


def deal(n: int, **fields: Any) -> dict[str, Any]:
    return {
        "source": "hubspot",
        "external_id": f"d{n}",
        "revision": 1,
        "status": "won",
        "currency": "USD",
        "owner": "ann",
        "splits": [],
        "lines": [],
        "changed_at": "2027-04-01T00:00:00Z",
        **fields,
    }


DEALS = [
    deal(
        1,
        owner="hubspot:1",
        amount="1000",
        created_date="2027-01-05",
        close_date="2027-02-04",
        lead_source="web",
        lines=[{"product": "p", "amount": "1000", "margin": "300"}, {"product": "q", "amount": "0"}],
    ),
    deal(
        2,
        owner="carl",
        splits=[{"payee": "hubspot:1", "share": "0.5"}, {"payee": "bob", "share": "0.5"}],
        amount="2000",
        currency="EUR",
        created_date="2027-01-10",
        close_date="2027-03-01",
        lead_source="partner",
        lines=[{"product": "p", "amount": "2000", "margin": "500"}],
    ),
    deal(
        3, status="lost", amount="500", created_date="2027-02-01", close_date="2027-03-15", lead_source="web"
    ),
    deal(4, status="open", amount="700", created_date="2027-03-20T09:00:00+02:00"),
    deal(
        5, amount="800", currency="GBP", created_date="2026-12-01", close_date="2027-01-20", lead_source="web"
    ),
    deal(6, amount="999", created_date="2027-01-15", close_date="2027-04-02", lead_source="web"),
]
ACTIVITIES = [
    {
        "source": "hubspot",
        "external_id": "a1",
        "kind": "call",
        "owner": "hubspot:1",
        "occurred_at": "2027-01-02T10:00:00Z",
    },
    {
        "source": "hubspot",
        "external_id": "a2",
        "kind": "call",
        "owner": "ann",
        "occurred_at": "2027-03-31T23:30:00-05:00",
    },
    {
        "source": "hubspot",
        "external_id": "a3",
        "kind": "meeting",
        "owner": "ann",
        "occurred_at": "2027-02-02T10:00:00Z",
    },
    {
        "source": "hubspot",
        "external_id": "a4",
        "kind": "demo",
        "owner": "ann",
        "occurred_at": "2027-04-01T10:00:00Z",
    },
    {
        "source": "hubspot",
        "external_id": "a5",
        "kind": "call",
        "owner": "bob",
        "occurred_at": "2027-02-02T10:00:00Z",
    },
]


def facts() -> tuple[list[Any], list[Any], list[Any]]:
    deals = [deal_fact(d, INDEX, USD.rate) for d in DEALS]
    activities = [a for d in ACTIVITIES if (a := activity_fact(d, INDEX)) is not None]
    commissions = [
        commission_fact("e1", "ann", date(2027, 2, 4), Decimal("100"), "USD", USD.rate),
        commission_fact("e2", "ann", date(2027, 3, 1), Decimal("50"), "EUR", USD.rate),
        commission_fact("e3", "ann", date(2027, 4, 1), Decimal("1000"), "USD", USD.rate),
        commission_fact("e4", "bob", date(2027, 3, 1), Decimal("30"), "USD", USD.rate),
    ]
    return deals, activities, commissions


def ann_q1() -> KpiBasis:
    return basis_of("ann", *Q1, *facts())


def test_the_catalogue_names_every_kpi_of_the_issue_at_its_level() -> None:
    levels = {name: kpi.level for name, kpi in CATALOGUE.items()}
    assert levels == {
        "calls": "input",
        "meetings": "input",
        "emails": "input",
        "demos": "input",
        "new_opportunities": "middle",
        "win_rate": "middle",
        "avg_deal_size": "middle",
        "sales_cycle_days": "middle",
        "lead_conversion": "middle",
        "revenue": "output",
        "margin": "output",
        "cost_of_sales": "economics",
        "pipeline_velocity": "economics",
    }
    assert [k for k in KPI_NAMES if CATALOGUE[k].better == "lower"] == ["sales_cycle_days", "cost_of_sales"]


def test_every_kpi_of_ann_in_the_quarter_by_hand() -> None:
    values = kpi_values(ann_q1())
    assert values["calls"] == 2 and values["meetings"] == 1
    assert values["emails"] == 0 and values["demos"] == 0
    assert values["new_opportunities"] == Decimal("4.5")
    assert values["win_rate"] == Decimal("0.7142857142857142857142857143")  # 5/7, 28 digits
    assert values["revenue"] == Decimal("2200")
    assert values["avg_deal_size"] == Decimal("1466.666666666666666666666667")
    assert values["margin"] == Decimal("600")
    assert values["sales_cycle_days"] == Decimal("42")
    assert values["lead_conversion"] == Decimal("0.5555555555555555555555555556")  # 5/9
    assert values["cost_of_sales"] == Decimal("0.07272727272727272727272727273")  # 160 / 2200
    velocity = values["pipeline_velocity"]
    assert velocity is not None and velocity.quantize(Decimal("1E-10")) == Decimal("112.2448979592")


def test_lead_conversion_per_lead_source_is_won_over_created_in_the_cohort() -> None:
    assert lead_conversion_by_source(ann_q1()) == {
        "partner": Decimal(1),
        "unknown": Decimal(0),
        "web": Decimal("0.6666666666666666666666666667"),
    }


def test_a_won_deal_without_a_rate_is_reported_and_left_out_of_money_never_guessed() -> None:
    basis = ann_q1()
    assert basis.missing_fx == {"hubspot:d5": MissingFx("hubspot:d5", "GBP", date(2027, 1, 20))}
    assert (basis.won, basis.won_priced) == (Decimal("2.5"), Decimal("1.5"))


def test_a_ledger_entry_without_a_rate_is_reported_too() -> None:
    entry = commission_fact("e9", "ann", date(2027, 1, 2), Decimal("5"), "SEK", USD.rate)
    basis = basis_of("ann", *Q1, [], [], [entry])
    assert basis.commissions == 0
    assert basis.missing_fx == {"ledger:e9": MissingFx("ledger:e9", "SEK", date(2027, 1, 2))}


def test_a_team_pools_its_members_figures() -> None:
    team = ann_q1().plus(basis_of("bob", *Q1, *facts()))
    values = kpi_values(team)
    # d2 counts 0.5 + 0.5 = 1 for the team: won 3, lost 1, revenue 2200 + 1200.
    assert values["win_rate"] == Decimal("0.75")
    assert values["revenue"] == Decimal("3400") and values["new_opportunities"] == Decimal(5)
    assert values["calls"] == 3
    assert values["cost_of_sales"] == Decimal("0.05588235294117647058823529412")  # 190 / 3400


def test_a_subset_of_days_counts_only_what_falls_in_it() -> None:
    january = kpi_values(basis_of("ann", date(2027, 1, 1), date(2027, 1, 31), *facts()))
    # created in January: d1, d2 (0.5), d6; closed in January: d5 (no rate).
    assert january["new_opportunities"] == Decimal("2.5")
    assert january["win_rate"] == 1 and january["revenue"] == 0
    assert january["avg_deal_size"] is None and january["cost_of_sales"] is None
    assert january["sales_cycle_days"] == 50


def test_nothing_to_divide_by_gives_none_and_zero_counts() -> None:
    values = kpi_values(KpiBasis())
    assert {k for k, v in values.items() if v is None} == {
        "win_rate",
        "avg_deal_size",
        "sales_cycle_days",
        "lead_conversion",
        "cost_of_sales",
        "pipeline_velocity",
    }
    assert values["calls"] == 0 and values["revenue"] == 0


def test_credit_shares_follow_the_plan_rules() -> None:
    assert credit_shares("ann", []) == (("ann", Decimal(1)),)
    assert credit_shares("ann", [("bob", Decimal("0.4")), ("cy", Decimal("0.6"))]) == (
        ("bob", Decimal("0.4")),
        ("cy", Decimal("0.6")),
    )
    # A bad split credits no one (PLANS.md rule 10); one payee twice gets both shares.
    assert credit_shares("ann", [("bob", Decimal("0.4")), ("cy", Decimal("0.4"))]) == ()
    assert credit_shares("ann", [("bob", Decimal("0.5")), ("bob", Decimal("0.5"))]) == (("bob", Decimal(1)),)


def test_days_are_the_calendar_days_the_crm_sent() -> None:
    assert day_of("2027-03-31T23:30:00-05:00") == date(2027, 3, 31)
    assert day_of("2027-03-20") == date(2027, 3, 20)
    assert day_of(None) is None


def test_an_activity_of_an_unknown_kind_is_no_fact() -> None:
    doc = {**ACTIVITIES[0], "kind": "lunch"}
    assert activity_fact(doc, INDEX) is None


@pytest.mark.parametrize(
    ("kpi", "actual", "target", "expected"),
    [
        ("revenue", "2200", "2000", "110"),
        ("calls", "1", "3", "33.33333333333333333333333333"),
        ("sales_cycle_days", "42", "40", "95.23809523809523809523809524"),  # lower is better
        ("cost_of_sales", "0.05", "0.1", "200"),
        ("revenue", "2200", None, None),
        ("revenue", "2200", "0", None),
        ("sales_cycle_days", "0", "40", None),
        ("win_rate", None, "0.5", None),
    ],
)
def test_kpi_attainment(kpi: str, actual: str | None, target: str | None, expected: str | None) -> None:
    got = kpi_attainment(
        kpi, None if actual is None else Decimal(actual), None if target is None else Decimal(target)
    )
    assert got == (None if expected is None else Decimal(expected))


def test_ranks_share_the_higher_rank_on_ties_and_skip_after_them() -> None:
    values = {"a": Decimal(10), "b": Decimal(20), "c": Decimal(20), "d": Decimal(5), "e": None}
    assert ranks(values) == {"a": 3, "b": 1, "c": 1, "d": 4, "e": None}
    assert ranks(values, "lower") == {"a": 2, "b": 3, "c": 3, "d": 1, "e": None}


def test_conversion_uses_the_latest_rate_on_or_before_the_day_and_no_inverse() -> None:
    assert USD.convert(Decimal("10"), "EUR", date(2027, 2, 14)) == Decimal("11.00")
    assert USD.convert(Decimal("10"), "EUR", date(2027, 2, 15)) == Decimal("12.00")
    assert USD.convert(Decimal("10"), "EUR", date(2026, 12, 31)) is None
    assert USD.convert(Decimal("10"), "USD", date(2020, 1, 1)) == Decimal("10")
    assert (
        Converter([FxRate(date(2027, 1, 1), "USD", "EUR", Decimal("0.5"))], "USD").rate(
            "EUR", date(2027, 6, 1)
        )
        is None
    )
