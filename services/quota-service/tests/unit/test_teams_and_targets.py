"""Teams, territories and KPI targets on the fake unit of work."""

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
from quota_service.domain.teams import TeamIn, TerritoryIn
from quota_service.service_layer.payees import put_payee
from quota_service.service_layer.targets import get_target, list_targets, put_target, reconcile_targets
from quota_service.service_layer.teams import (
    get_team,
    get_territory,
    list_teams,
    list_territories,
    put_team,
    put_territory,
)

ADMIN = Principal("ada", "admin")
D = Decimal


async def company() -> FakeStore[QuotaRepositories]:
    """vp > boss > (ann, bob); cy reports to nobody. Team east: lead boss, ann and bob."""
    store = fake_store()
    for payee_id, manager in (("vp", None), ("boss", "vp"), ("ann", "boss"), ("bob", "boss"), ("cy", None)):
        await put_payee(fake_uow(store), ADMIN, payee_id, PayeeIn(name=payee_id.title(), manager=manager))
    await put_territory(fake_uow(store), ADMIN, "emea", TerritoryIn(name="EMEA", values=["DE", "FR"]))
    await put_team(fake_uow(store), ADMIN, "east", team(members=[{"payee": "ann"}, {"payee": "bob"}]))
    store.outbox.clear()
    store.audits.clear()
    return store


def team(**fields: Any) -> TeamIn:
    return TeamIn.model_validate({"name": "East", "lead": "boss", "territories": ["emea"], **fields})


async def test_a_team_is_created_audited_not_published_and_unchanged_puts_do_nothing() -> None:
    store = await company()
    body = team(members=[{"payee": "cy", "valid_from": "2027-01-01"}])
    put = await put_team(fake_uow(store), ADMIN, "west", body)
    assert put.created and put.value.members[0].payee == "cy"
    assert store.published() == []
    [audit] = store.audits
    assert (audit.action, audit.entity, audit.before) == ("team.put", "team:west", None)
    assert audit.after == put.value.document()
    again = await put_team(fake_uow(store), ADMIN, "west", body)
    assert not again.created and len(store.audits) == 1
    changed = await put_team(fake_uow(store), ADMIN, "west", team(name="West"))
    assert not changed.created and store.audits[-1].before == put.value.document()


async def test_a_bad_team_is_refused_naming_each_field_and_nothing_is_written() -> None:
    store = await company()
    with pytest.raises(Problem) as refused:
        await put_team(fake_uow(store), ADMIN, "west", team(lead="zed", territories=["mars"]))
    assert refused.value.status == 422
    assert [e["field"] for e in refused.value.errors] == ["lead", "territories[0]"]
    with pytest.raises(Problem) as bad_id:
        await put_team(fake_uow(store), ADMIN, "we st", team())
    assert bad_id.value.errors[0]["field"] == "team_id"
    assert store.audits == []


@pytest.mark.parametrize(
    ("sub", "role", "seen"),
    [
        ("ops", "ops", ["east", "solo"]),
        ("vp", "manager", ["east", "solo"]),  # east is below vp; vp leads solo
        ("boss", "manager", ["east"]),  # boss leads east
        ("ann", "rep", ["east"]),
        ("cy", "rep", ["solo"]),
        ("bob", "manager", ["east"]),  # a member sees the team he is in
    ],
)
async def test_teams_are_seen_by_everyone_readers_managers_of_all_their_people_and_their_people(
    sub: str, role: Any, seen: list[str]
) -> None:
    store = await company()
    await put_team(fake_uow(store), ADMIN, "solo", team(lead="vp", members=[{"payee": "cy"}]))
    who = Principal(sub, role)
    assert [t.id for t in await list_teams(fake_uow(store), who)] == seen
    for team_id in {"east", "solo"} - set(seen):
        with pytest.raises(Problem) as refused:
            await get_team(fake_uow(store), who, team_id)
        assert refused.value.status == 403


async def test_an_unknown_team_or_territory_is_404() -> None:
    store = await company()
    with pytest.raises(Problem) as team_missing:
        await get_team(fake_uow(store), ADMIN, "west")
    with pytest.raises(Problem) as territory_missing:
        await get_territory(fake_uow(store), "mars")
    assert team_missing.value.status == territory_missing.value.status == 404


async def test_territories_are_named_sets_of_deal_territory_values() -> None:
    store = await company()
    assert await get_territory(fake_uow(store), "emea") == {
        "id": "emea",
        "name": "EMEA",
        "values": ["DE", "FR"],
    }
    with pytest.raises(Problem) as refused:
        await put_territory(
            fake_uow(store), ADMIN, "apac", TerritoryIn(name="APAC", values=["JP", "JP", " "])
        )
    assert [e["field"] for e in refused.value.errors] == ["values[1]", "values[2]"]
    await put_territory(fake_uow(store), ADMIN, "apac", TerritoryIn(name="APAC", values=["JP"]))
    assert [t["id"] for t in await list_territories(fake_uow(store))] == ["apac", "emea"]
    assert [a.action for a in store.audits] == ["territory.put"]


async def test_a_target_is_created_audited_replaced_and_refused_for_an_unknown_subject() -> None:
    store = await company()
    put = await put_target(fake_uow(store), ADMIN, "team:east", "revenue", "2027-Q1", D("300000"))
    assert put.created and store.published() == []
    assert (store.audits[0].entity, store.audits[0].after) == ("target:team:east:revenue:2027-Q1", "300000")
    same = await put_target(fake_uow(store), ADMIN, "team:east", "revenue", "2027-Q1", D("300000.00"))
    assert not same.created and len(store.audits) == 1
    for subject in ("team:west", "payee:zed"):
        with pytest.raises(Problem) as refused:
            await put_target(fake_uow(store), ADMIN, subject, "calls", "2027", D(1))
        assert refused.value.status == 422 and refused.value.errors[0]["field"] == "subject"
    with pytest.raises(Problem) as bad:
        await put_target(fake_uow(store), ADMIN, "east", "fun", "2027-Q1", D(-1))
    assert [e["field"] for e in bad.value.errors] == ["subject", "kpi", "value"]


async def test_targets_are_seen_as_their_subjects_are() -> None:
    store = await company()
    for subject in ("payee:ann", "payee:bob", "payee:cy", "team:east"):
        await put_target(fake_uow(store), ADMIN, subject, "calls", "2027-Q1", D(10))

    def subjects(targets: list[Any]) -> list[str]:
        return [t.subject for t in targets]

    assert subjects(await list_targets(fake_uow(store), Principal("ann", "rep"))) == ["payee:ann"]
    assert subjects(await list_targets(fake_uow(store), Principal("boss", "manager"))) == [
        "payee:ann",
        "payee:bob",
        "team:east",
    ]
    assert len(await list_targets(fake_uow(store), Principal("p", "payroll"), kpi="calls")) == 4
    assert subjects(await list_targets(fake_uow(store), ADMIN, subject="payee:cy")) == ["payee:cy"]
    mine = await get_target(fake_uow(store), Principal("ann", "rep"), "payee:ann", "calls", "2027-Q1")
    assert mine.value == 10
    with pytest.raises(Problem) as refused:
        await get_target(fake_uow(store), Principal("ann", "rep"), "team:east", "calls", "2027-Q1")
    assert refused.value.status == 403
    with pytest.raises(Problem) as missing:
        await get_target(fake_uow(store), ADMIN, "payee:ann", "calls", "2027-Q2")
    assert missing.value.status == 404


async def test_reconcile_shows_the_team_target_beside_its_members_and_flags_the_gap() -> None:
    store = await company()
    for subject, kpi, period, value in (
        ("team:east", "revenue", "2027-Q1", "100"),
        ("payee:ann", "revenue", "2027-Q1", "40"),
        ("payee:bob", "revenue", "2027-01", "20"),
        ("payee:bob", "revenue", "2027-02", "20"),
        ("payee:bob", "revenue", "2027-03", "20"),  # bob's months tile his quarter: 60
        ("payee:ann", "win_rate", "2027-Q1", "0.2"),
        ("payee:cy", "calls", "2027-Q1", "99"),  # cy is not in east
    ):
        await put_target(fake_uow(store), ADMIN, subject, kpi, period, D(value))
    rows = await reconcile_targets(fake_uow(store), ADMIN, "2027-Q1", D("0.05"))
    assert [(r.kpi, r.team_target, r.bottom_up, r.gap, r.flagged) for r in rows] == [
        ("win_rate", None, D("0.2"), None, True),
        ("revenue", D(100), D(100), D(0), False),
    ]
    [calls] = await reconcile_targets(fake_uow(store), ADMIN, "2027-Q1", D("0.05"), team="east", kpi="calls")
    assert (calls.team_target, calls.bottom_up, calls.members) == (None, None, {"ann": None, "bob": None})


async def test_reconcile_is_for_those_who_may_see_the_team_and_checks_its_input() -> None:
    store = await company()
    with pytest.raises(Problem) as refused:
        await reconcile_targets(fake_uow(store), Principal("ann", "rep"), "2027-Q1", D(0), team="east")
    assert refused.value.status == 403
    assert await reconcile_targets(fake_uow(store), Principal("cy", "manager"), "2027-Q1", D(0)) == []
    with pytest.raises(Problem) as bad:
        await reconcile_targets(fake_uow(store), ADMIN, "2027-Q9", D(-1), kpi="fun")
    assert [e["field"] for e in bad.value.errors] == ["period", "kpi", "tolerance"]
    with pytest.raises(Problem) as missing:
        await reconcile_targets(fake_uow(store), ADMIN, "2027-Q1", D(0), team="west")
    assert missing.value.status == 404
