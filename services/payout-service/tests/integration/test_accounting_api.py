"""Commission expense over real HTTP, Postgres and the broker: the plan (with its
accounting section) on `plans.v1`, the deals' contract terms on `deals.v1` (an older
revision arriving last changes nothing), the entries on `ledger.v1`; the monthly report,
the journal as JSON and CSV and the schedules; roles and bad months."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator
from datetime import date
from typing import Any

import pytest
from payout_fakes import deal_record, ledger_record, plan_record
from payout_http import Payout, running_payout

from provisio_common.auth import Role
from provisio_common.settings import ProvisioSettings
from provisio_common.testing.plugin import CreateDb, eventually

TODAY = date(2027, 6, 10)


@pytest.fixture
async def payout(fresh_db: CreateDb, base_settings: ProvisioSettings) -> AsyncIterator[Payout]:
    async with running_payout(
        fresh_db, base_settings, TODAY, account_deferred_commissions="1450", account_commission_expense="6100"
    ) as running:
        yield running


def entry(entry_id: str, amount: str, day: str, **fields: Any) -> Any:
    return ledger_record(entry_id, "ann", amount=amount, entry_date=day, pay_period=day[:7], **fields)


async def books(payout: Payout) -> None:
    """D-1: 24 months from January (its older revision said 12 and arrives last), paid 2,400
    in January and reversed in May; D-2: 6 months (expensed); D-3: 36 months in EUR."""
    await payout.publish(plan_record(accounting={"capitalize": ["commission"]}), "quota-service")
    for record in [
        deal_record(
            "D-1", contract_months=24, contract_start="2027-01-01", changed_at="2027-01-20T09:00:00Z"
        ),
        deal_record("D-2", contract_months=6, close_date="2027-03-20"),
        deal_record("D-3", contract_months=36, currency="EUR", close_date="2027-02-01"),
        deal_record("D-1", contract_months=12, changed_at="2027-01-10T09:00:00Z", revision=2),
    ]:
        await payout.publish(record, "deal-ingest")
    for record in [
        entry("e1", "2400", "2027-01-15"),
        entry("e2", "-2400", "2027-05-10"),
        entry("e3", "600", "2027-03-20", deal="generic:D-2"),
        entry("e4", "1000", "2027-02-01", deal="generic:D-3", currency="EUR"),
        entry("e5", "75.555", "2027-02-28", component="club", deal=None),
    ]:
        await payout.publish(record)

    async def arrived() -> bool:
        r = await payout.call("GET", "/accounting/schedules", "ops", "otto")
        found = {e["entry_id"]: e for e in r.json()["entries"]}
        return (
            len(found) == 5
            and found["e1"]["term_months"] == 24
            and found["e4"]["treatment"] == "capitalized"
            and found["e3"]["reason"].startswith("a term of 6 months")
        )

    await eventually(arrived, timeout_s=30)


async def test_the_report_journal_and_schedules_over_the_consumer(payout: Payout) -> None:
    await books(payout)
    # The older D-1 revision (12 months, arrived last) did not replace the latest terms.
    schedules = await payout.json("GET", "/accounting/schedules?deal=generic:D-1", "payroll", "pat")
    assert schedules["deal"] == "generic:D-1"
    e1, e2 = schedules["entries"]
    assert (e1["entry_id"], e1["treatment"], e1["reason"]) == (
        "e1",
        "capitalized",
        "a term of 24 months (contract_months)",
    )
    assert e1["schedule"][0] == {"month": "2027-01", "amount": "100", "recognized_in": "2027-01"}
    assert e1["schedule"][-1]["month"] == "2028-12" and len(e1["schedule"]) == 24
    assert e2["schedule"][0] == {"month": "2027-01", "amount": "-100", "recognized_in": "2027-05"}

    report = await payout.json(
        "GET", "/accounting/commission-expense?from=2027-01&to=2027-06", "admin", "ada"
    )
    rows = {
        (r["month"], r["currency"]): (
            r["capitalized"],
            r["amortization"],
            r["expensed"],
            r["expense"],
            r["asset_opening"],
            r["asset_closing"],
        )
        for r in report["months"]
    }
    assert (report["from"], report["to"]) == ("2027-01", "2027-06")
    third = "27.777777777778"  # 1000 / 36 at 1e-12
    assert rows == {
        ("2027-01", "USD"): ("2400", "100", "0", "100", "0", "2300"),
        ("2027-02", "EUR"): ("1000", third, "0", third, "0", "972.222222222222"),
        ("2027-02", "USD"): ("0", "100", "75.555", "175.555", "2300", "2200"),
        ("2027-03", "EUR"): ("0", third, "0", third, "972.222222222222", "944.444444444444"),
        ("2027-03", "USD"): ("0", "100", "600", "700", "2200", "2100"),
        ("2027-04", "EUR"): ("0", third, "0", third, "944.444444444444", "916.666666666666"),
        ("2027-04", "USD"): ("0", "100", "0", "100", "2100", "2000"),
        ("2027-05", "EUR"): ("0", third, "0", third, "916.666666666666", "888.888888888888"),
        ("2027-05", "USD"): ("-2400", "-400", "0", "-400", "2000", "0"),
        ("2027-06", "EUR"): ("0", third, "0", third, "888.888888888888", "861.11111111111"),
    }

    may = await payout.json("GET", "/accounting/journal/2027-05", "payroll", "pat")
    assert may["month"] == "2027-05"
    assert [(x["currency"], x["kind"], x["account"], x["debit"], x["credit"]) for x in may["lines"]] == [
        ("EUR", "amortization", "6100", "27.78", "0.00"),
        ("EUR", "amortization", "1450", "0.00", "27.78"),
        ("USD", "capitalized", "commissions_payable", "2400.00", "0.00"),
        ("USD", "capitalized", "1450", "0.00", "2400.00"),
        ("USD", "amortization", "1450", "400.00", "0.00"),
        ("USD", "amortization", "6100", "0.00", "400.00"),
    ]
    assert may["totals"] == [
        {"currency": "EUR", "debit": "27.78", "credit": "27.78"},
        {"currency": "USD", "debit": "2800.00", "credit": "2800.00"},
    ]
    feb = await payout.call("GET", "/accounting/journal/2027-02.csv", "ops", "otto")
    assert feb.headers["content-type"].startswith("text/csv")
    table = list(csv.reader(io.StringIO(feb.text)))
    assert table[0] == ["month", "currency", "kind", "account", "account_name", "debit", "credit"]
    assert ["2027-02", "USD", "expensed", "6100", "commission_expense", "75.56", "0.00"] in table
    assert ["2027-02", "EUR", "amortization", "1450", "deferred_commissions", "0.00", "27.78"] in table
    assert len(table) == 1 + 8  # EUR capitalized, amortization; USD amortization, expensed


async def test_only_admin_payroll_and_ops_read_and_bad_months_name_the_field(payout: Payout) -> None:
    paths = [
        "/accounting/commission-expense?from=2027-01&to=2027-02",
        "/accounting/journal/2027-01",
        "/accounting/journal/2027-01.csv",
        "/accounting/schedules",
    ]
    others: tuple[Role, ...] = ("rep", "manager")
    for path in paths:
        assert (await payout.client.get(path)).status_code == 401
        for role in others:
            await payout.call("GET", path, role, "ann", expect=403)
        for role in ("admin", "payroll", "ops"):
            await payout.call("GET", path, role, "x")
    for path, field in [
        ("/accounting/commission-expense?from=2027-1&to=2027-02", "from"),
        ("/accounting/commission-expense?from=2027-01&to=2027-13", "to"),
        ("/accounting/commission-expense?from=2027-03&to=2027-02", "from"),
        ("/accounting/commission-expense?from=2027-01", "to"),
        ("/accounting/journal/May-2027", "month"),
        ("/accounting/journal/2027-5.csv", "month"),
    ]:
        problem = await payout.json("GET", path, "ops", "otto", expect=422)
        assert [e["field"] for e in problem["errors"]] == [field], (path, problem)
