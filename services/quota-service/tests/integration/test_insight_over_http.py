"""Planning and insight over real HTTP, Postgres and the broker, one app for the module:
teams and territories, KPI targets and their reconciliation, the KPI catalogue fed by
deals.v1, activities.v1, ledger.v1 and credits.v1, scorecards, leaderboards, attainment,
`GET /me`, who reads what, plan diffs and bulk imports.

The company (set up once, over HTTP and Kafka): boss manages ann (hubspot:1) and bob
(hubspot:2); cy stands alone. Team east: lead boss, members ann and bob. Plan ae (USD,
two versions). EUR->USD 1.5 from 2027-01-01. In 2027-Q1 ann wins d1 (1000 USD) and half
of d2 (2000 EUR, split with bob), loses d3; bob has the other half of d2; ann makes two
calls and a meeting, bob sends an email; ann earns 150 USD of commission.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from quota_http import Quota, count_rows, produce, read_topic

from provisio_common.auth import Role
from provisio_common.events import ActivityRecord, CreditRecord, DealSnapshot, LedgerEntryRecord, Schema
from provisio_common.testing.plugin import eventually

PLAN = """
id: ae
name: AE
currency: USD
period: quarter
effective: {from: 2027-01-01, to: 2027-12-31}
components:
  - {id: base, kind: commission, rate: "0.10"}
"""


def deal(n: int, **fields: Any) -> DealSnapshot:
    data = {
        "source": "hubspot",
        "external_id": f"d{n}",
        "revision": 1,
        "status": "won",
        "amount": "1000",
        "currency": "USD",
        "created_date": "2027-01-10",
        "close_date": "2027-02-09",
        "changed_at": "2027-02-09T12:00:00Z",
        "owner": "hubspot:1",
        **fields,
    }
    return DealSnapshot.model_validate(data)


def credit(n: int, payee: str, amount: str, currency: str = "USD", share: str = "1") -> CreditRecord:
    data = {
        "deal": f"hubspot:d{n}",
        "revision": 1,
        "payee": payee,
        "share": share,
        "amount": amount,
        "currency": currency,
        "status": "won",
        "close_date": "2027-02-09",
    }
    return CreditRecord.model_validate(data)


def activity(n: int, kind: str, owner: str = "hubspot:1") -> ActivityRecord:
    data = {
        "source": "hubspot",
        "external_id": f"a{n}",
        "kind": kind,
        "owner": owner,
        "occurred_at": "2027-02-01T10:00:00Z",
    }
    return ActivityRecord.model_validate(data)


LEDGER = LedgerEntryRecord.model_validate(
    {
        "entry_id": "e1",
        "payee": "ann",
        "plan": "ae",
        "plan_version": 2,
        "component": "base",
        "period": "2027-Q1",
        "entry_date": "2027-02-09",
        "pay_period": "2027-02",
        "amount": "150",
        "currency": "USD",
        "cause_event": "x",
        "posted_at": "2027-02-09T12:00:00Z",
    }
)


class Client:
    """httpx on the app, a token per call."""

    def __init__(self, app: Quota, http: httpx.AsyncClient) -> None:
        self.app = app
        self.http = http

    def headers(self, who: tuple[str, Role]) -> dict[str, str]:
        return self.app.headers(who[1], who[0])

    async def get(self, url: str, who: tuple[str, Role] = ("ada", "admin")) -> httpx.Response:
        return await self.http.get(url, headers=self.headers(who))

    async def put(
        self, url: str, body: dict[str, Any], who: tuple[str, Role] = ("ada", "admin")
    ) -> httpx.Response:
        response = await self.http.put(url, json=body, headers=self.headers(who))
        return response

    async def ok(self, url: str, body: dict[str, Any]) -> None:
        response = await self.put(url, body)
        assert response.status_code in (200, 201), (url, response.text)

    async def csv(self, url: str, text: str, who: tuple[str, Role] = ("ada", "admin")) -> httpx.Response:
        headers = {**self.headers(who), "content-type": "text/csv"}
        return await self.http.post(url, content=text.encode(), headers=headers)


ANN: tuple[str, Role] = ("ann", "rep")
BOB: tuple[str, Role] = ("bob", "rep")
BOSS: tuple[str, Role] = ("boss", "manager")
CY_MANAGER: tuple[str, Role] = ("cy", "manager")
OPS: tuple[str, Role] = ("o", "ops")
PAYROLL: tuple[str, Role] = ("p", "payroll")


@pytest.fixture(scope="module")
async def world(app: Quota) -> AsyncIterator[Client]:
    async with httpx.AsyncClient(base_url=app.url, timeout=20) as http:
        client = Client(app, http)
        yaml = {**app.headers(), "content-type": "application/yaml"}
        for text in (PLAN, PLAN.replace('"0.10"', '"0.12"')):
            assert (await http.put("/plans/ae", content=text, headers=yaml)).status_code == 201
        assignment = [{"plan": "ae", "valid_from": "2027-01-01"}]
        await client.ok("/payees/boss", {"name": "Boss", "roles": ["manager"]})
        for payee, crm in (("ann", "hubspot:1"), ("bob", "hubspot:2")):
            body = {"name": payee.title(), "manager": "boss", "crm_ids": [crm], "assignments": assignment}
            await client.ok(f"/payees/{payee}", body)
        await client.ok("/payees/cy", {"name": "Cy"})
        await client.ok("/territories/emea", {"name": "EMEA", "values": ["DE", "FR"]})
        members = [{"payee": "ann", "valid_from": "2027-01-01"}, {"payee": "bob", "valid_from": "2027-01-01"}]
        await client.ok(
            "/teams/east", {"name": "East", "lead": "boss", "members": members, "territories": ["emea"]}
        )
        for month in ("2027-01", "2027-02", "2027-03"):
            await client.ok(f"/quotas/ann/{month}", {"amount": "1000"})
        await client.ok("/quotas/bob/2027-Q1", {"amount": "2000"})
        await client.ok("/fx-rates/2027-01-01/EUR/USD", {"rate": "1.5"})
        for subject, kpi, value in (
            ("payee:ann", "revenue", "4000"),
            ("payee:ann", "calls", "10"),
            ("payee:bob", "revenue", "4000"),
            ("team:east", "revenue", "9000"),
        ):
            await client.ok(f"/targets/{subject}/{kpi}/2027-Q1", {"value": value})
        split = [{"payee": "hubspot:1", "share": "0.5"}, {"payee": "hubspot:2", "share": "0.5"}]
        records: list[Schema] = [
            deal(1),
            deal(2, amount="2000", currency="EUR", splits=split, owner="hubspot:2"),
            deal(3, status="lost", close_date="2027-03-01"),
            activity(1, "call"),
            activity(2, "call"),
            activity(3, "meeting", owner="ann"),
            activity(4, "email", owner="hubspot:2"),
            LEDGER,
            credit(1, "ann", "1000"),
            credit(2, "ann", "1000", "EUR", "0.5"),
            credit(2, "bob", "1000", "EUR", "0.5"),
        ]
        await produce(app.settings, "deal-ingest", *records)

        async def settled() -> bool:
            card = (await client.get("/scorecards/payee:ann/2027-Q1")).json()
            values = {k["kpi"]: k["actual"] for k in card["kpis"]}
            seen = (await client.get("/attainment/team:east/2027-Q1")).json()
            return (values["revenue"], values["calls"], values["emails"], values["cost_of_sales"]) == (
                "2500",
                "2",
                "0",
                "0.06",
            ) and seen["value"] == "4000"

        await eventually(settled)
        yield client


async def test_attainment_converts_before_summing_tiles_quotas_and_rolls_up_teams(world: Client) -> None:
    ann = (await world.get("/attainment/ann/2027-Q1", ANN)).json()
    # 1000 USD + 1000 EUR x 1.5; the quota is three monthly rows of 1000 tiling the quarter
    assert (ann["currency"], ann["value"], ann["quota"], ann["attainment"]) == (
        "USD",
        "2500",
        "3000",
        "83.33333333333333333333333333",
    )
    team = (await world.get("/attainment/team:east/2027-Q1", BOSS)).json()
    assert (team["payee"], team["value"], team["quota"], team["attainment"]) == (
        "team:east",
        "4000",
        "5000",
        "80",
    )
    assert team["members"] == ["ann", "bob"] and team["missing_fx"] == []
    statuses = [
        (await world.get("/attainment/ann/2027-Q1", who)).status_code
        for who in (BOB, CY_MANAGER, OPS, PAYROLL)
    ]
    assert statuses == [403, 403, 200, 200]
    assert (await world.get("/attainment/team:east/2027-Q1", ANN)).status_code == 403
    assert (await world.get("/attainment/team:west/2027-Q1")).status_code == 404


async def test_teams_and_territories(world: Client) -> None:
    east = (await world.get("/teams/east", ANN)).json()
    assert (east["lead"], [m["payee"] for m in east["members"]], east["territories"]) == (
        "boss",
        ["ann", "bob"],
        ["emea"],
    )
    members = (await world.get("/teams/east/members?as_of=2026-12-31", BOSS)).json()
    assert (members["as_of"], members["members"]) == ("2026-12-31", [])
    members = (await world.get("/teams/east/members?as_of=2027-02-01", BOSS)).json()
    assert [m["payee"] for m in members["members"]] == ["ann", "bob"]
    assert [t["id"] for t in (await world.get("/teams", ANN)).json()] == ["east"]
    assert (await world.get("/teams", ("cy", "rep"))).json() == []
    assert (await world.get("/teams/east", ("cy", "rep"))).status_code == 403
    assert (await world.get("/teams/west")).status_code == 404
    bad = await world.put("/teams/west", {"name": "West", "lead": "zed", "members": [{"payee": "nobody"}]})
    assert bad.status_code == 422 and [e["field"] for e in bad.json()["errors"]] == [
        "lead",
        "members[0].payee",
    ]
    assert (await world.put("/teams/west", {"name": "West", "lead": "cy"}, BOSS)).status_code == 403
    assert (await world.get("/territories", ANN)).json() == [
        {"id": "emea", "name": "EMEA", "values": ["DE", "FR"]}
    ]
    assert (await world.get("/territories/mars")).status_code == 404
    assert (await world.put("/territories/x", {"name": "X"}, OPS)).status_code == 403
    assert await count_rows(world.app, "SELECT count(*) FROM audit_log WHERE action = 'team.put'") == 1


async def test_targets_and_top_down_vs_bottom_up(world: Client) -> None:
    mine = (await world.get("/targets", ANN)).json()
    assert [(t["subject"], t["kpi"], t["value"]) for t in mine] == [
        ("payee:ann", "calls", "10"),
        ("payee:ann", "revenue", "4000"),
    ]
    assert len((await world.get("/targets", BOSS)).json()) == 4
    one = await world.get("/targets/team:east/revenue/2027-Q1", BOSS)
    assert one.json() == {"subject": "team:east", "kpi": "revenue", "period": "2027-Q1", "value": "9000"}
    assert (await world.get("/targets/team:east/revenue/2027-Q1", ANN)).status_code == 403
    assert (await world.get("/targets/payee:ann/calls/2027-Q2")).status_code == 404
    bad = await world.put("/targets/payee:zed/fun/2027-Q1", {"value": "1"})
    assert bad.status_code == 422 and [e["field"] for e in bad.json()["errors"]] == ["kpi"]
    assert (await world.put("/targets/payee:zed/calls/2027-Q1", {"value": "1"})).json()["errors"][0][
        "field"
    ] == ("subject")
    [row] = (await world.get("/targets/reconcile?period=2027-Q1&team=east&kpi=revenue", BOSS)).json()
    assert (row["team_target"], row["aggregation"], row["bottom_up"], row["gap"], row["flagged"]) == (
        "9000",
        "sum",
        "8000",
        "1000",
        True,
    )
    assert row["tolerance"] == "0.05" and row["members_without_target"] == []
    [loose] = (await world.get("/targets/reconcile?period=2027-Q1&kpi=revenue&tolerance=0.2", OPS)).json()
    assert not loose["flagged"]
    assert (await world.get("/targets/reconcile?period=2027-Q1", ANN)).status_code == 403
    assert (await world.get("/targets/reconcile?period=2027-Q1&team=east", CY_MANAGER)).status_code == 403


async def test_scorecards_show_every_kpi_at_every_level_for_payees_and_teams(world: Client) -> None:
    card = (await world.get("/scorecards/payee:ann/2027-Q1?trend=2", ANN)).json()
    kpis = {k["kpi"]: k for k in card["kpis"]}
    assert {k["level"] for k in card["kpis"]} == {"input", "middle", "output", "economics"}
    assert (kpis["revenue"]["actual"], kpis["revenue"]["target"], kpis["revenue"]["attainment"]) == (
        "2500",
        "4000",
        "62.5",
    )
    assert (kpis["calls"]["actual"], kpis["calls"]["attainment"]) == ("2", "20")
    assert kpis["revenue"]["trend"] == [
        {"period": "2026-Q4", "actual": "0"},
        {"period": "2027-Q1", "actual": "2500"},
    ]
    assert (kpis["win_rate"]["actual"], kpis["sales_cycle_days"]["actual"]) == (
        "0.6",  # won 1 + 0.5, lost 1
        "30",
    )
    assert (kpis["cost_of_sales"]["actual"], kpis["cost_of_sales"]["better"]) == ("0.06", "lower")
    assert card["currency"] == "USD" and card["missing_fx"] == []
    team = (await world.get("/scorecards/team:east/2027-Q1", BOSS)).json()
    values = {k["kpi"]: (k["actual"], k["target"]) for k in team["kpis"]}
    assert values["revenue"] == ("4000", "9000") and values["emails"] == ("1", None)
    assert team["members"] == ["ann", "bob"]
    statuses = [
        (await world.get(url, who)).status_code
        for url, who in (
            ("/scorecards/payee:bob/2027-Q1", ANN),
            ("/scorecards/team:east/2027-Q1", ANN),
            ("/scorecards/payee:ann/2027-Q1", CY_MANAGER),
            ("/scorecards/payee:zed/2027-Q1", OPS),
            ("/scorecards/ann/2027-Q1", OPS),
            ("/scorecards/payee:ann/2027-Q1?trend=13", OPS),
            ("/scorecards/payee:ann/2027-Q1", PAYROLL),
        )
    ]
    assert statuses == [403, 403, 403, 404, 422, 422, 200]


async def test_leaderboards_rank_with_shared_ranks_and_hide_others_from_reps(world: Client) -> None:
    board = (await world.get("/leaderboards/revenue/2027-Q1", OPS)).json()
    assert [(e["rank"], e["payee"], e["value"]) for e in board["entries"]] == [
        (1, "ann", "2500"),
        (2, "bob", "1500"),
        (3, "cy", "0"),
    ]
    seen_by_bob = (await world.get("/leaderboards/revenue/2027-Q1?team=east", BOB)).json()
    assert seen_by_bob["names_hidden"]
    assert [(e["rank"], e["payee"], e["value"], e["you"]) for e in seen_by_bob["entries"]] == [
        (1, None, None, False),
        (2, "bob", "1500", True),
    ]
    by_boss = (await world.get("/leaderboards/emails/2027-Q1", BOSS)).json()
    assert [(e["rank"], e["payee"]) for e in by_boss["entries"]] == [(1, "bob"), (2, "ann")]
    assert (await world.get("/leaderboards/fun/2027-Q1")).status_code == 422
    assert (await world.get("/leaderboards/calls/2027-Q1?team=west")).status_code == 404


async def test_me_and_who_reads_what(world: Client) -> None:
    me = (await world.get("/me", ANN)).json()
    assert (me["payee"]["id"], me["manager"], me["teams"]) == (
        "ann",
        {"id": "boss", "name": "Boss"},
        ["east"],
    )
    assert [(p["plan"], p["version"], p["currency"]) for p in me["plans"]] == [("ae", 2, "USD")]
    assert [q["period"] for q in me["quotas"]] == ["2027-01", "2027-02", "2027-03"]
    assert [t["kpi"] for t in me["targets"]] == ["calls", "revenue"]
    assert (await world.get("/me", ("ada", "admin"))).status_code == 404
    assert [p["id"] for p in (await world.get("/payees", ANN)).json()] == ["ann"]
    assert [p["id"] for p in (await world.get("/payees", BOSS)).json()] == ["ann", "bob", "boss"]
    assert len((await world.get("/payees", PAYROLL)).json()) >= 4
    assert (await world.get("/payees/bob", ANN)).status_code == 403
    assert (await world.get("/quotas?payee=bob", ANN)).json() == []
    assert (await world.get("/quotas/bob/2027-Q1", BOSS)).status_code == 200
    assert (await world.get("/quotas/cy/2027-Q1", BOSS)).status_code == 403
    assert [p["plan_id"] for p in (await world.get("/plans", ANN)).json()] == ["ae"]
    assert (await world.get("/plans", ("cy", "rep"))).json() == []
    assert (await world.get("/plans/ae?version=1", ("cy", "rep"))).status_code == 403


async def test_plan_diff(world: Client) -> None:
    diff = (await world.get("/plans/ae/diff", ANN)).json()
    assert diff == {
        "plan_id": "ae",
        "from_version": 1,
        "to_version": 2,
        "fields": [],
        "components_added": [],
        "components_removed": [],
        "components_changed": [{"id": "base", "fields": [{"field": "rate", "from": "0.10", "to": "0.12"}]}],
    }
    same = (await world.get("/plans/ae/diff?from=2&to=2", OPS)).json()
    assert same["components_changed"] == []
    assert (await world.get("/plans/ae/diff?from=1&to=9")).status_code == 404
    assert (await world.get("/plans/ae/diff", ("cy", "rep"))).status_code == 403


async def test_bulk_import_dry_run_reports_every_row_and_a_real_run_is_all_or_nothing(world: Client) -> None:
    bad = "id,name,manager,roles\nimp-1,One,boss,rep\nimp-2,Two,zed,rep\nimp 3,Three,,\n"
    dry = await world.csv("/import/payees?dry_run=true", bad)
    assert dry.status_code == 200
    assert (dry.json()["valid"], [(e["row"], e["field"]) for e in dry.json()["errors"]]) == (
        False,
        [(3, "manager"), (4, "id")],
    )
    refused = await world.csv("/import/payees", bad)
    assert refused.status_code == 422
    assert [e["field"] for e in refused.json()["errors"]] == ["row 3: manager", "row 4: id"]
    assert (await world.get("/payees/imp-1")).status_code == 404
    good = "id,name,manager,roles,team,territories\nimp-1,One,boss,rep,east,DE\nimp-2,Two,imp-1,rep,,\n"
    preview = (await world.csv("/import/payees?dry_run=true", good)).json()
    assert (preview["valid"], preview["created"]) == (True, 2)
    assert (await world.get("/payees/imp-1")).status_code == 404
    done = (await world.csv("/import/payees", good)).json()
    assert (done["dry_run"], done["rows"], done["created"]) == (False, 2, 2)
    assert (await world.get("/payees/imp-2")).json()["manager"] == "imp-1"
    quotas = (
        await world.csv("/import/quotas", "payee,period,amount\nimp-1,2027-Q1,500\nimp-2,2027,900.50\n")
    ).json()
    assert quotas["created"] == 2
    targets = await world.csv("/import/targets", "subject,kpi,period,value\npayee:imp-1,calls,2027-Q1,30\n")
    assert targets.json()["created"] == 1
    assert (await world.csv("/import/quotas", "payee,period,amount\n", BOSS)).status_code == 403
    published = {
        e["subject"]
        for e in await read_topic(world.app.settings, "payees.v1", 6)
        if e["subject"].startswith("imp")
    }
    assert published == {"imp-1", "imp-2"}
    quota_events = await read_topic(world.app.settings, "quotas.v1", 6)
    assert {e["subject"] for e in quota_events if e["subject"].startswith("imp")} == {
        "imp-1:2027-Q1",
        "imp-2:2027",
    }
    audited = (
        "SELECT count(*) FROM audit_log WHERE action IN ('payee.import', 'quota.import', 'target.import')"
    )
    assert await count_rows(world.app, audited) == 3  # one row per import, not per record
