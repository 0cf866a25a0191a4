"""Teams (a lead and members over date ranges) and territories (named sets)."""

from __future__ import annotations

from typing import Any

from provisio_common.auth import Principal
from provisio_common.problems import Problem, invalid
from quota_service.domain.subjects import ENTITY_ID
from quota_service.domain.teams import (
    Team,
    TeamIn,
    TerritoryIn,
    team_of,
    team_problems,
    territory_problems,
)
from quota_service.service_layer.access import ensure_may_see_team, may_see_team
from quota_service.service_layer.changes import Put, QuotaUoW, upsert_publish_audit


def _check_id(field: str, value: str) -> None:
    if not ENTITY_ID.match(value):
        raise invalid([{"field": field, "message": "letters, digits, . _ - only"}])


async def put_team(uow: QuotaUoW, principal: Principal, team_id: str, body: TeamIn) -> Put[Team]:
    """Create or replace a team. Its lead, members and territories must exist, a range may
    not end before it starts, and one payee's ranges may not overlap (422 naming each)."""
    _check_id("team_id", team_id)
    async with uow:
        payees = set(await uow.repos.payees.managers())
        territories = {t["id"] for t in await uow.repos.territories.all()}
        errors = team_problems(body, payees, territories)
        if errors:
            raise invalid(errors)
        held = await uow.repos.teams.get(team_id, for_update=True)
        team = team_of(team_id, body)

        async def upsert() -> None:
            await uow.repos.teams.put(team)

        changed = await upsert_publish_audit(
            uow,
            principal,
            before=held,
            after=team,
            upsert=upsert,
            action="team.put",
            entity=f"team:{team_id}",
            audited=Team.document,
        )
        await uow.commit()
    return Put(held if held is not None and not changed else team, created=held is None)


async def get_team(uow: QuotaUoW, principal: Principal, team_id: str) -> Team:
    """One team, if the principal may see it (403), else 404 if unknown."""
    async with uow:
        team = await uow.repos.teams.get(team_id)
        if team is None:
            raise Problem(404, f"no team {team_id!r}")
        ensure_may_see_team(principal, team, await uow.repos.payees.managers())
    return team


async def list_teams(uow: QuotaUoW, principal: Principal) -> list[Team]:
    """The teams the principal may see, by id."""
    async with uow:
        managers = await uow.repos.payees.managers()
        return [team for team in await uow.repos.teams.all() if may_see_team(principal, team, managers)]


async def put_territory(
    uow: QuotaUoW, principal: Principal, territory_id: str, body: TerritoryIn
) -> Put[dict[str, Any]]:
    """Create or replace a territory: a name and the deal `territory` values it covers."""
    _check_id("territory_id", territory_id)
    errors = territory_problems(body)
    if errors:
        raise invalid(errors)
    document = {"id": territory_id, **body.model_dump()}
    async with uow:
        held = await uow.repos.territories.get(territory_id, for_update=True)

        async def upsert() -> None:
            await uow.repos.territories.put(territory_id, document)

        await upsert_publish_audit(
            uow,
            principal,
            before=held,
            after=document,
            upsert=upsert,
            action="territory.put",
            entity=f"territory:{territory_id}",
        )
        await uow.commit()
    return Put(document, created=held is None)


async def get_territory(uow: QuotaUoW, territory_id: str) -> dict[str, Any]:
    """One territory; 404 if unknown."""
    async with uow:
        document = await uow.repos.territories.get(territory_id)
    if document is None:
        raise Problem(404, f"no territory {territory_id!r}")
    return document


async def list_territories(uow: QuotaUoW) -> list[dict[str, Any]]:
    """Every territory, by id."""
    async with uow:
        return await uow.repos.territories.all()
