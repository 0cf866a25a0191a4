"""PLANS.md rules 33-36 ("Settled later"): one test each, on the pure engine."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from provisio_calc import Activity, Payee, PlanInvalid, calculate
from provisio_calc.testing import make_deal, make_plan

RATE = {"id": "c", "kind": "commission", "rate": "0.10"}


def test_rule_33_after_effective_to_no_top_up_but_the_balance_is_recovered_from_later_cash() -> None:
    plan = make_plan(RATE, effective={"from": "2027-01-01", "to": "2027-02-28"}, draw={"amount": "1000"})
    # cancelled inside February, won again in April (a re-win after the plan ended)
    deals = [
        make_deal("1", close_date="2027-02-10", amount="5000"),
        make_deal("1", revision=2, status="cancelled", changed_at="2027-02-20"),
        make_deal("1", revision=3, close_date="2027-02-10", amount="17000", changed_at="2027-04-05"),
    ]
    result = calculate(plan, deals, payees=[Payee("ana")], as_of=date(2027, 5, 31))
    rows = [
        (p.pay_period, *(int(v) for v in (p.earned, p.draw_topup, p.recovered, p.balance, p.payable)))
        for p in result.payouts
    ]
    assert rows == [
        ("2027-01", 0, 1000, 0, -1000, 1000),
        ("2027-02", 0, 1000, 0, -2000, 1000),
        # no top-up after effective.to; the 1700 of later cash recovers what is owed first
        ("2027-04", 1700, 0, 1700, -300, 0),
    ]
    assert all(p.draw_topup == 0 for p in result.payouts if p.pay_period > "2027-02")


def test_rule_34_a_window_may_reach_outside_effective_and_only_days_inside_both_count() -> None:
    spif = {"id": "s", "kind": "spif", "window": {"from": "2026-12-01", "to": "2027-01-31"}, "per_deal": "50"}
    contest = {
        "id": "k",
        "kind": "contest",
        "window": {"from": "2027-12-01", "to": "2028-01-31"},
        "prizes": [{"rank": 1, "amount": "700"}],
    }
    plan = make_plan(RATE, spif, contest)  # effective 2027; neither window is rejected
    deals = [
        make_deal("1", close_date="2026-12-15"),  # in the spif window, before effective
        make_deal("2", close_date="2027-01-20"),  # inside both
        make_deal("3", close_date="2027-12-20", owner="bob"),  # in the contest window, inside effective
        make_deal("4", close_date="2028-01-10", owner="cy", amount="9000"),  # after effective
    ]
    result = calculate(plan, deals, as_of=date(2028, 2, 1))
    spifs = {(ln.payee, ln.period): ln.earned for ln in result.lines if ln.component == "s"}
    assert spifs == {("ana", "2027-Q1"): Decimal(50)}
    prizes = [(ln.payee, ln.value, ln.earned) for ln in result.lines if ln.component == "k"]
    assert prizes == [("bob", Decimal(1000), Decimal(700))]  # cy's deal after effective does not count


def test_rule_34_no_window_message_calls_an_overlap_outside() -> None:
    try:
        make_plan(
            RATE, {"id": "s", "kind": "spif", "window": {"from": "2026-06-01", "to": "2028-06-30"}, "rate": 1}
        )
    except PlanInvalid as exc:  # pragma: no cover - the assertion below explains
        raise AssertionError(f"an overlapping window was rejected: {exc}") from exc


def test_rule_35_activities_after_as_of_are_ignored() -> None:
    plan = make_plan(
        {"id": "calls", "kind": "commission", "measure": {"metric": "activity:call"}, "rate": "5"}
    )

    def call(n: str, when: str) -> Activity:
        return Activity.from_dict(
            {"source": "crm", "external_id": n, "kind": "call", "owner": "ana", "occurred_at": when}
        )

    activities = [
        call("1", "2027-01-10T10:00:00Z"),
        call("2", "2027-01-11T10:00:00Z"),
        call("3", "2027-01-12"),
    ]
    result = calculate(plan, [], activities=activities, as_of=date(2027, 1, 11))
    assert [(ln.value, ln.earned) for ln in result.lines] == [(Decimal(2), Decimal(10))]


def test_rule_36_unknown_payee_only_for_the_latest_revisions_people_and_activity_owners() -> None:
    plan = make_plan(RATE)
    deals = [
        # zed owned revision 1 only; ana owns the latest: nothing for zed
        make_deal("1", owner="zed"),
        make_deal("1", revision=2, owner="ana", changed_at="2027-01-20"),
        # yan is a split payee of the latest revision: raised
        make_deal("2", splits=[{"payee": "ana", "share": "0.5"}, {"payee": "yan", "share": "0.5"}]),
        # a revision changed after as_of does not count as the latest
        make_deal("3", owner="ana"),
        make_deal("3", revision=2, owner="xia", changed_at="2027-03-01"),
    ]
    activity = Activity.from_dict(
        {
            "source": "crm",
            "external_id": "a1",
            "kind": "call",
            "owner": "wu",
            "occurred_at": "2027-01-05",
            "deal": "1",
        }
    )
    result = calculate(plan, deals, payees=[Payee("ana")], activities=[activity], as_of=date(2027, 2, 1))
    assert [(e.kind, e.payee, e.deal) for e in result.exceptions] == [
        ("unknown_payee", "wu", None),
        ("unknown_payee", "yan", "crm:2"),
    ]
