"""Who may read what in quota-service (DESIGN.md §7).

admin, ops and payroll read everything; a manager reads their subtree (themselves and
everyone below them); a rep reads themselves: their payee record, quotas, targets,
scorecards and the plans they are assigned to. A team's figures are visible to a manager
only when its lead and every member are in their subtree; a team's make-up (who is in
it) also to its lead and members.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from provisio_common.auth import Principal, ensure_may_see, reports_to
from provisio_common.problems import Problem
from quota_service.domain.subjects import Subject
from quota_service.domain.teams import Team


def sees_everyone(principal: Principal) -> bool:
    """admin, ops and payroll read every payee's records."""
    return principal.role in ("admin", "ops", "payroll")


def may_see_payee(principal: Principal, payee: str, managers: Mapping[str, str | None]) -> bool:
    """The rule of `ensure_may_see`, as a test."""
    if sees_everyone(principal) or principal.sub == payee:
        return True
    return principal.role == "manager" and reports_to(payee, principal.sub, managers)


def may_see_team_figures(principal: Principal, team: Team, managers: Mapping[str, str | None]) -> bool:
    """Everyone-readers; a manager whose subtree holds the team's lead and every member."""
    if sees_everyone(principal):
        return True
    return principal.role == "manager" and all(reports_to(p, principal.sub, managers) for p in team.people)


def ensure_may_see_team_figures(principal: Principal, team: Team, managers: Mapping[str, str | None]) -> None:
    """403 unless `may_see_team_figures`."""
    if not may_see_team_figures(principal, team, managers):
        raise Problem(403, f"{principal.role} {principal.sub!r} may not see the figures of team {team.id!r}")


def may_see_team(principal: Principal, team: Team, managers: Mapping[str, str | None]) -> bool:
    """Who may see a team's make-up: whoever may see its figures, and its lead and members."""
    return principal.sub in team.people or may_see_team_figures(principal, team, managers)


def ensure_may_see_team(principal: Principal, team: Team, managers: Mapping[str, str | None]) -> None:
    """403 unless `may_see_team`."""
    if not may_see_team(principal, team, managers):
        raise Problem(403, f"{principal.role} {principal.sub!r} may not see team {team.id!r}")


def ensure_may_see_subject(
    principal: Principal, subject: Subject, team: Team | None, managers: Mapping[str, str | None]
) -> None:
    """A payee's figures as `ensure_may_see`, a team's as `ensure_may_see_team_figures`."""
    if subject.kind == "payee":
        ensure_may_see(principal, subject.id, managers)
    else:
        assert team is not None
        ensure_may_see_team_figures(principal, team, managers)


def visible_plan_ids(
    principal: Principal, payees: Iterable[Mapping[str, Any]], managers: Mapping[str, str | None]
) -> set[str] | None:
    """The plans a principal may read: None for every plan (everyone-readers), else the
    plans assigned to a payee they may see."""
    if sees_everyone(principal):
        return None
    return {
        str(assignment["plan"])
        for payee in payees
        if may_see_payee(principal, str(payee["id"]), managers)
        for assignment in payee.get("assignments") or []
    }
