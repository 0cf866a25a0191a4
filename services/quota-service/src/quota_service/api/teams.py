"""Teams and territories: `PUT /teams/{id}`, `GET /teams`, `GET /teams/{id}`,
`GET /teams/{id}/members?as_of=`, `PUT /territories/{id}`, `GET /territories`, `GET /territories/{id}`."""

from __future__ import annotations

from datetime import UTC, date, datetime

from fastapi import APIRouter, Response
from pydantic import BaseModel

from provisio_common.deps import UoW
from provisio_common.problems import problem_responses
from quota_service.api.deps import Admin, AnyRole, Scoped, put_responses
from quota_service.domain.teams import Membership, Team, TeamIn, TerritoryIn
from quota_service.service_layer import teams

router = APIRouter(tags=["teams"])


class MemberView(BaseModel):
    """One membership: the payee is in the team from `valid_from` to `valid_to` (inclusive;
    null is an open end)."""

    payee: str
    valid_from: date | None
    valid_to: date | None


class TeamView(BaseModel):
    """A team: its lead, its members over date ranges, the territories it covers."""

    id: str
    name: str
    lead: str
    members: list[MemberView]
    territories: list[str]


class MembersView(BaseModel):
    """The members of a team on one day."""

    team: str
    lead: str
    as_of: date
    members: list[MemberView]


class TerritoryView(BaseModel):
    """A territory: a named set of the `territory` values deals carry."""

    id: str
    name: str
    values: list[str]


def _member(m: Membership) -> MemberView:
    return MemberView(payee=m.payee, valid_from=m.valid_from, valid_to=m.valid_to)


def _view(team: Team) -> TeamView:
    return TeamView(
        id=team.id,
        name=team.name,
        lead=team.lead,
        members=[_member(m) for m in team.members],
        territories=list(team.territories),
    )


@router.put("/teams/{team_id}", response_model=TeamView, responses=put_responses(TeamView, 401, 403, 422))
async def put_team(team_id: str, body: TeamIn, uow: UoW, principal: Admin, response: Response) -> TeamView:
    """Create (201) or replace (200) a team: a lead, members over date ranges (one payee's
    ranges may not overlap), and the territories it covers. Lead, members and territories
    must exist (422 naming each). Audited; teams are not published (no topic carries them).

    Roles: admin.
    """
    put = await teams.put_team(uow, principal, team_id, body)
    response.status_code = 201 if put.created else 200
    return _view(put.value)


@router.get("/teams", response_model=list[TeamView], responses=problem_responses(401))
async def list_teams(uow: UoW, principal: Scoped) -> list[TeamView]:
    """The teams the caller may see, by id.

    Roles: admin, ops, payroll (every team), manager (teams whose lead and members are all
    in their subtree, and teams they lead or are in), rep (teams they lead or are in).
    """
    return [_view(team) for team in await teams.list_teams(uow, principal)]


@router.get("/teams/{team_id}", response_model=TeamView, responses=problem_responses(401, 403, 404))
async def get_team(team_id: str, uow: UoW, principal: Scoped) -> TeamView:
    """One team.

    Roles: admin, ops, payroll, manager (a team of their subtree, or theirs), rep (their team).
    """
    return _view(await teams.get_team(uow, principal, team_id))


@router.get(
    "/teams/{team_id}/members", response_model=MembersView, responses=problem_responses(401, 403, 404, 422)
)
async def team_members(team_id: str, uow: UoW, principal: Scoped, as_of: date | None = None) -> MembersView:
    """The team's members on `as_of` (default: today, UTC), by payee.

    Roles: admin, ops, payroll, manager (a team of their subtree, or theirs), rep (their team).
    """
    day = as_of or datetime.now(UTC).date()
    team = await teams.get_team(uow, principal, team_id)
    return MembersView(
        team=team.id, lead=team.lead, as_of=day, members=[_member(m) for m in team.members_on(day)]
    )


@router.put(
    "/territories/{territory_id}",
    response_model=TerritoryView,
    responses=put_responses(TerritoryView, 401, 403, 422),
)
async def put_territory(
    territory_id: str, body: TerritoryIn, uow: UoW, principal: Admin, response: Response
) -> TerritoryView:
    """Create (201) or replace (200) a territory: a name and the deal `territory` values it
    covers. Audited.

    Roles: admin.
    """
    put = await teams.put_territory(uow, principal, territory_id, body)
    response.status_code = 201 if put.created else 200
    return TerritoryView.model_validate(put.value)


@router.get("/territories", response_model=list[TerritoryView], responses=problem_responses(401))
async def list_territories(uow: UoW, principal: AnyRole) -> list[TerritoryView]:
    """Every territory, by id (they name regions, not people's figures).

    Roles: admin, ops, payroll, manager, rep.
    """
    return [TerritoryView.model_validate(d) for d in await teams.list_territories(uow)]


@router.get(
    "/territories/{territory_id}", response_model=TerritoryView, responses=problem_responses(401, 404)
)
async def get_territory(territory_id: str, uow: UoW, principal: AnyRole) -> TerritoryView:
    """One territory.

    Roles: admin, ops, payroll, manager, rep.
    """
    return TerritoryView.model_validate(await teams.get_territory(uow, territory_id))
