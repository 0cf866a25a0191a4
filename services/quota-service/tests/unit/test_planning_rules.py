"""Pure planning rules: period tiling (PLANS.md rule 6), trends, teams, targets and their
reconciliation, plan diffs, CSV imports."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest

from quota_service.domain.attainment import plan_currency
from quota_service.domain.imports import RowError, payee_rows, quota_rows, read_csv, target_rows
from quota_service.domain.periods import previous_periods, tiled
from quota_service.domain.plans import FieldChange, StoredPlanVersion, plan_diff
from quota_service.domain.subjects import Subject, parse_subject
from quota_service.domain.targets import reconcile, resolve_target, target_problems
from quota_service.domain.teams import MemberIn, TeamIn, team_of, team_problems

D = Decimal


def test_an_exact_row_wins_else_finer_rows_tile_and_a_coarser_row_is_never_divided() -> None:
    months = {"2027-01": D(10), "2027-02": D(20), "2027-03": D(30)}
    assert tiled(months, "2027-Q1") == 60
    assert tiled({**months, "2027-Q1": D(100)}, "2027-Q1") == 100
    assert tiled(months, "2027-H1") is None  # Q2 missing
    assert tiled({**months, "2027-Q2": D(5)}, "2027-H1") == 65
    assert tiled({"2027": D(120)}, "2027-Q1") is None
    # year -> halves -> quarters -> months, the exact row winning at each level
    assert tiled({**months, "2027-Q2": D(5), "2027-H2": D(1)}, "2027") == 66
    assert tiled({"2027-01": D(1), "2027-02": D(1)}, "2027-Q1") is None


def test_previous_periods_keep_the_kind_and_cross_years() -> None:
    assert previous_periods("2027-Q1", 3) == ["2026-Q3", "2026-Q4", "2027-Q1"]
    assert previous_periods("2027-01", 2) == ["2026-12", "2027-01"]
    assert previous_periods("2027-H2", 1) == ["2027-H2"]
    assert previous_periods("2027", 2) == ["2026", "2027"]


def test_subjects() -> None:
    assert parse_subject("payee:ann") == Subject("payee", "ann")
    assert parse_subject("team:east") == Subject("team", "east")
    assert parse_subject("ann") is None and parse_subject("ann", bare_is_payee=True) == Subject(
        "payee", "ann"
    )
    assert parse_subject("org:x") is None and parse_subject("team:") is None


def team_body(**fields: Any) -> TeamIn:
    return TeamIn.model_validate({"name": "East", "lead": "boss", **fields})


def test_a_team_needs_known_people_and_territories_and_ordered_unoverlapping_ranges() -> None:
    body = team_body(
        lead="nobody",
        members=[
            {"payee": "ann", "valid_from": "2027-01-01", "valid_to": "2027-03-31"},
            {"payee": "ann", "valid_from": "2027-03-31"},
            {"payee": "bob", "valid_from": "2027-02-01", "valid_to": "2027-01-01"},
            {"payee": "zed"},
        ],
        territories=["emea", "mars"],
    )
    assert team_problems(body, {"boss", "ann", "bob"}, {"emea"}) == [
        {"field": "lead", "message": "no payee 'nobody'"},
        {"field": "members[2].valid_to", "message": "is before valid_from"},
        {"field": "members[3].payee", "message": "no payee 'zed'"},
        {"field": "members[1]", "message": "overlaps members[0] of the same payee"},
        {"field": "territories[1]", "message": "no territory 'mars'"},
    ]


def test_team_members_on_a_day_and_spans_clipped_to_a_period() -> None:
    team = team_of(
        "east",
        team_body(
            members=[
                {"payee": "bob"},
                {"payee": "ann", "valid_from": "2027-02-01", "valid_to": "2027-02-28"},
                {"payee": "ann", "valid_from": "2027-03-15"},
                {"payee": "cy", "valid_to": "2026-12-31"},
            ]
        ),
    )
    assert [m.payee for m in team.members_on(date(2027, 2, 10))] == ["ann", "bob"]
    assert [m.payee for m in team.members_on(date(2027, 3, 1))] == ["bob"]
    assert team.spans(date(2027, 1, 1), date(2027, 3, 31)) == [
        ("ann", date(2027, 2, 1), date(2027, 2, 28)),
        ("ann", date(2027, 3, 15), date(2027, 3, 31)),
        ("bob", date(2027, 1, 1), date(2027, 3, 31)),
    ]
    assert team.payees_in(date(2027, 1, 1), date(2027, 3, 31)) == ["ann", "bob"]
    assert team.people == {"boss", "ann", "bob", "cy"}
    assert type(team).from_document(team.document()) == team


def test_a_member_range_is_inclusive() -> None:
    assert MemberIn(payee="a", valid_from=date(2027, 1, 1), valid_to=date(2027, 1, 1)).valid_to == date(
        2027, 1, 1
    )


def test_target_problems_name_each_field() -> None:
    assert target_problems("payee:ann", "revenue", "2027-Q1", D(1)) == []
    fields = [e["field"] for e in target_problems("ann", "happiness", "2027-Q5", D(-1))]
    assert fields == ["subject", "kpi", "period", "value"]


def test_targets_of_additive_kpis_tile_and_ratios_do_not() -> None:
    months = {"2027-01": D(10), "2027-02": D(10), "2027-03": D(10)}
    assert resolve_target(months, "calls", "2027-Q1") == 30
    assert (
        resolve_target({"2027-01": D("0.2"), "2027-02": D("0.2"), "2027-03": D("0.2")}, "win_rate", "2027-Q1")
        is None
    )
    assert resolve_target({"2027-Q1": D("0.3")}, "win_rate", "2027-Q1") == D("0.3")


def test_reconcile_sums_additive_kpis_and_flags_a_gap_beyond_the_tolerance() -> None:
    members = {"bob": D(50), "ann": D(40), "cy": None}
    row = reconcile("east", "revenue", "2027-Q1", D(100), members, D("0.05"))
    assert (row.aggregation, row.bottom_up, row.gap, row.flagged) == ("sum", D(90), D(10), True)
    assert list(row.members) == ["ann", "bob", "cy"]
    assert not reconcile("east", "revenue", "2027-Q1", D(100), members, D("0.1")).flagged  # 10 is not > 10


def test_reconcile_averages_ratios_and_flags_a_missing_side() -> None:
    row = reconcile("east", "win_rate", "2027-Q1", D("0.3"), {"ann": D("0.2"), "bob": D("0.4")}, D(0))
    assert (row.aggregation, row.bottom_up, row.gap, row.flagged) == ("mean", D("0.3"), D(0), False)
    no_team = reconcile("east", "calls", "2027-Q1", None, {"ann": D(5)}, D("0.05"))
    assert (no_team.gap, no_team.flagged) == (None, True)
    no_members = reconcile("east", "calls", "2027-Q1", D(5), {"ann": None}, D("0.05"))
    assert (no_members.bottom_up, no_members.flagged) == (None, True)


def version(number: int, document: dict[str, Any]) -> StoredPlanVersion:
    return StoredPlanVersion("ae", number, document, "", "ada", datetime(2027, 1, 1, tzinfo=UTC))


def test_plan_diff_names_components_added_removed_and_each_changed_field() -> None:
    old = {
        "id": "ae",
        "currency": "USD",
        "effective": {"from": "2027-01-01", "to": "2027-12-31"},
        "components": [
            {
                "id": "base",
                "kind": "commission",
                "tiers": {"bands": [{"to": "100", "rate": "0.1"}, {"rate": "0.2"}]},
            },
            {"id": "club", "kind": "bonus", "amount": "5000"},
        ],
    }
    new = {
        "id": "ae",
        "currency": "USD",
        "name": "AE",
        "effective": {"from": "2027-01-01", "to": "2027-06-30"},
        "components": [
            {"id": "spif", "kind": "spif", "per_deal": "500"},
            {
                "id": "base",
                "kind": "commission",
                "tiers": {
                    "bands": [{"to": "100", "rate": "0.1"}, {"to": "150", "rate": "0.15"}, {"rate": "0.2"}]
                },
                "cap": "60000",
            },
        ],
    }
    diff = plan_diff(version(1, old), version(2, new))
    assert (diff.from_version, diff.to_version) == (1, 2)
    assert diff.components_added == ["spif"] and diff.components_removed == ["club"]
    assert diff.fields == [
        FieldChange("effective.to", "2027-12-31", "2027-06-30"),
        FieldChange("name", None, "AE"),
    ]
    assert diff.components_changed == {
        "base": [
            FieldChange("cap", None, "60000"),
            FieldChange("tiers.bands[1].rate", "0.2", "0.15"),
            FieldChange("tiers.bands[1].to", None, "150"),
            FieldChange("tiers.bands[2].rate", None, "0.2"),
        ]
    }
    assert plan_diff(version(1, old), version(1, old)).components_changed == {}


def test_plan_currency_is_that_of_the_assignment_in_force_that_starts_last() -> None:
    assignments: list[dict[str, Any]] = [
        {"plan": "us", "valid_from": "2026-01-01", "valid_to": None},
        {"plan": "eu", "valid_from": "2027-02-01", "valid_to": "2027-12-31"},
        {"plan": "gone", "valid_from": "2027-03-01"},
    ]
    currencies = {"us": "USD", "eu": "EUR"}
    assert plan_currency(assignments, currencies, date(2027, 1, 1), date(2027, 3, 31)) == "EUR"
    assert plan_currency(assignments, currencies, date(2027, 1, 1), date(2027, 1, 31)) == "USD"
    assert plan_currency([], currencies, date(2027, 1, 1), date(2027, 1, 31)) is None


def test_read_csv_checks_the_header_and_numbers_rows_by_line() -> None:
    rows, errors = read_csv(
        "\ufeffpayee,period,amount\nann,2027-Q1,10\n\n bob ,2027,5\n",
        ("payee",),
        ("payee", "period", "amount"),
    )
    assert errors == [] and rows == [
        (2, {"payee": "ann", "period": "2027-Q1", "amount": "10"}),
        (4, {"payee": "bob", "period": "2027", "amount": "5"}),
    ]
    _, bad = read_csv("payee,quota\nann,1\n", ("payee", "period"), ("payee", "period", "amount"))
    assert bad == [
        RowError(1, "period", "missing column"),
        RowError(1, "quota", "not a column of this format (payee,period,amount)"),
    ]
    _, long = read_csv("payee,period,amount\nann,2027,1,extra\n", ("payee",), ("payee", "period", "amount"))
    assert long == [RowError(2, "row", "has more values than the header")]


def test_payee_rows_merge_with_what_is_stored_and_check_the_hierarchy_with_the_file() -> None:
    text = "id,name,manager,roles\nann,Ann,boss,rep\nboss,Boss,,manager|admin\nbob,,,\n"
    rows, _ = read_csv(text, ("id",), ("id", "name", "manager", "roles", "team", "territories"))
    existing = {"bob": {"id": "bob", "name": "Bob", "crm_ids": ["hubspot:9"], "roles": ["manager"]}}
    parsed, errors = payee_rows(rows, existing, {"bob": None})
    assert errors == []
    by_id = {payee_id: payee for _, payee_id, payee in parsed}
    assert by_id["ann"].manager == "boss" and by_id["boss"].roles == ["manager", "admin"]
    # bob: the empty name keeps his name; roles column empty means rep; crm_ids kept.
    assert (by_id["bob"].name, by_id["bob"].roles, by_id["bob"].crm_ids) == ("Bob", ["rep"], ["hubspot:9"])


def test_payee_rows_report_every_problem_with_its_row() -> None:
    text = "id,name,manager,roles\nann,Ann,zed,rep\nann,Ann,,\nbad id,X,,\ncy,,,\ndan,Dan,,king\n"
    text += "x,X,y,\ny,Y,x,\n"
    rows, _ = read_csv(text, ("id",), ("id", "name", "manager", "roles", "team", "territories"))
    _, errors = payee_rows(rows, {}, {})
    assert [(e.row, e.field) for e in sorted(errors, key=lambda e: e.row)] == [
        (2, "manager"),
        (3, "id"),
        (4, "id"),
        (5, "name"),
        (6, "roles"),
        (7, "manager"),
        (8, "manager"),
    ]


def test_quota_rows_report_every_problem_and_allow_an_identical_repeat() -> None:
    text = "payee,period,amount\nann,2027-Q1,10\nann,2027-Q1,10\nann,2027-Q1,11\n"
    text += "zed,2027-Q5,1.5.1\nann,2027,-1\n"
    rows, _ = read_csv(text, ("payee", "period", "amount"), ("payee", "period", "amount"))
    parsed, errors = quota_rows(rows, {"ann"})
    assert parsed == [(2, "ann", "2027-Q1", D(10))]
    assert [(e.row, e.field) for e in errors] == [(4, "amount"), (5, "payee"), (5, "amount"), (6, "amount")]


def test_target_rows_need_known_subjects_kpis_periods_and_values() -> None:
    text = (
        "subject,kpi,period,value\nteam:east,revenue,2027-Q1,100\npayee:zed,calls,2027,1\nann,fun,2027-13,x\n"
    )
    rows, _ = read_csv(text, ("subject",), ("subject", "kpi", "period", "value"))
    parsed, errors = target_rows(rows, {"ann"}, {"east"})
    assert parsed == [(2, "team:east", "revenue", "2027-Q1", D(100))]
    assert [(e.row, e.field) for e in errors] == [
        (3, "subject"),
        (4, "value"),
        (4, "subject"),
        (4, "kpi"),
        (4, "period"),
    ]


@pytest.mark.parametrize("period", ["2027-Q5", "27"])
def test_a_bad_period_is_a_problem(period: str) -> None:
    assert target_problems("team:east", "calls", period, D(1))[0]["field"] == "period"
