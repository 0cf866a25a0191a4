"""Who reads what (DESIGN.md §7) on payees, quotas and plans, `GET /me`, and plan diffs."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from quota_fakes import fake_store, fake_uow

from provisio_common.auth import Principal
from provisio_common.problems import Problem
from provisio_common.testing.fakes import FakeStore
from quota_service.adapters.repositories import QuotaRepositories
from quota_service.domain.payees import PayeeIn
from quota_service.domain.teams import TeamIn
from quota_service.service_layer.me import me
from quota_service.service_layer.payees import get_payee, list_payees, put_payee
from quota_service.service_layer.plans import diff_plan, get_plan, list_plans, put_plan
from quota_service.service_layer.quotas import get_quota, list_quotas, put_quota
from quota_service.service_layer.targets import put_target
from quota_service.service_layer.teams import put_team

ADMIN = Principal("ada", "admin")
PLAN = """
id: {id}
name: Plan {id}
currency: USD
period: quarter
effective: {{from: 2027-01-01, to: 2027-12-31}}
components:
  - {{id: base, kind: commission, rate: "0.10"}}
"""


async def company() -> FakeStore[QuotaRepositories]:
    """vp > boss > ann (plan ae), bob (plan se); cy alone (plan ops). Quotas for everyone."""
    store = fake_store()
    for plan_id in ("ae", "se", "ops"):
        await put_plan(fake_uow(store), ADMIN, plan_id, PLAN.format(id=plan_id))
    people: list[tuple[str, str | None, str | None]] = [
        ("vp", None, None),
        ("boss", "vp", None),
        ("ann", "boss", "ae"),
        ("bob", "boss", "se"),
        ("cy", None, "ops"),
    ]
    for payee_id, manager, plan in people:
        assignments = [] if plan is None else [{"plan": plan, "valid_from": "2027-01-01"}]
        body = PayeeIn.model_validate(
            {"name": payee_id.title(), "manager": manager, "assignments": assignments}
        )
        await put_payee(fake_uow(store), ADMIN, payee_id, body)
        await put_quota(fake_uow(store), ADMIN, payee_id, "2027-Q1", Decimal(100))
    return store


@pytest.mark.parametrize(
    ("sub", "role", "payees", "plans"),
    [
        ("ops", "ops", ["ann", "bob", "boss", "cy", "vp"], ["ae", "ops", "se"]),
        ("pay", "payroll", ["ann", "bob", "boss", "cy", "vp"], ["ae", "ops", "se"]),
        ("boss", "manager", ["ann", "bob", "boss"], ["ae", "se"]),
        ("vp", "manager", ["ann", "bob", "boss", "vp"], ["ae", "se"]),
        ("ann", "rep", ["ann"], ["ae"]),
        ("cy", "rep", ["cy"], ["ops"]),
    ],
)
async def test_lists_hold_what_the_caller_may_see(
    sub: str, role: Any, payees: list[str], plans: list[str]
) -> None:
    store = await company()
    who = Principal(sub, role)
    assert [p["id"] for p in await list_payees(fake_uow(store), who)] == payees
    assert [q.payee for q in await list_quotas(fake_uow(store), who)] == payees
    assert [p.plan_id for p in await list_plans(fake_uow(store), who)] == plans


@pytest.mark.parametrize(
    ("sub", "role", "payee", "plan", "allowed"),
    [
        ("ann", "rep", "ann", "ae", True),
        ("ann", "rep", "bob", "se", False),
        ("boss", "manager", "bob", "se", True),
        ("boss", "manager", "cy", "ops", False),
        ("bob", "manager", "ann", "ae", False),
    ],
)
async def test_one_record_is_refused_outside_the_callers_scope(
    sub: str, role: Any, payee: str, plan: str, allowed: bool
) -> None:
    store = await company()
    who = Principal(sub, role)
    reads = [
        get_payee(fake_uow(store), who, payee),
        get_quota(fake_uow(store), who, payee, "2027-Q1"),
        get_plan(fake_uow(store), who, plan),
        diff_plan(fake_uow(store), who, plan, 1, 1),
    ]
    for read in reads:
        if allowed:
            await read
        else:
            with pytest.raises(Problem) as refused:
                await read
            assert refused.value.status == 403


async def test_me_is_the_callers_own_record_manager_plans_quotas_targets_and_teams() -> None:
    store = await company()
    await put_target(fake_uow(store), ADMIN, "payee:ann", "calls", "2027-Q1", Decimal(50))
    await put_team(
        fake_uow(store),
        ADMIN,
        "east",
        TeamIn.model_validate({"name": "E", "lead": "boss", "members": [{"payee": "ann"}]}),
    )
    mine = await me(fake_uow(store), Principal("ann", "rep"))
    assert (mine.payee["id"], mine.manager and mine.manager["name"]) == ("ann", "Boss")
    [plan] = mine.plans
    assert (plan.assignment["plan"], plan.plan and plan.plan.version) == ("ae", 1)
    assert [(q.period, q.amount) for q in mine.quotas] == [("2027-Q1", Decimal(100))]
    assert [t.kpi for t in mine.targets] == ["calls"] and mine.teams == ["east"]
    top = await me(fake_uow(store), Principal("vp", "manager"))
    assert (top.manager, top.plans, top.teams) == (None, [], [])
    with pytest.raises(Problem) as missing:
        await me(fake_uow(store), Principal("payroll-bot", "payroll"))
    assert missing.value.status == 404


async def test_a_plan_diff_defaults_to_the_latest_against_the_one_before() -> None:
    store = await company()
    await put_plan(fake_uow(store), ADMIN, "ae", PLAN.format(id="ae").replace('"0.10"', '"0.12"'))
    diff = await diff_plan(fake_uow(store), ADMIN, "ae", None, None)
    assert (diff.from_version, diff.to_version) == (1, 2)
    assert [(c.field, c.before, c.after) for c in diff.components_changed["base"]] == [
        ("rate", "0.10", "0.12")
    ]
    for version in (3, 0):
        with pytest.raises(Problem) as missing:
            await diff_plan(fake_uow(store), ADMIN, "ae", version, 2)
        assert missing.value.status == 404
    with pytest.raises(Problem) as unknown:
        await diff_plan(fake_uow(store), ADMIN, "zz", None, None)
    assert unknown.value.detail == "no plan 'zz'"
