"""KPI targets for payees and teams, and top-down vs bottom-up reconciliation."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

from provisio_calc.periods import period_bounds
from provisio_common.auth import Principal
from provisio_common.problems import Problem, invalid
from quota_service.domain.kpis import CATALOGUE, KPI_NAMES
from quota_service.domain.periods import PERIOD_HINT, is_period
from quota_service.domain.subjects import Subject
from quota_service.domain.targets import (
    Reconciliation,
    Target,
    reconcile,
    resolve_target,
    subject_of,
    target_problems,
)
from quota_service.domain.teams import Team
from quota_service.service_layer.access import (
    ensure_may_see_subject,
    ensure_may_see_team_figures,
    may_see_payee,
    may_see_team_figures,
)
from quota_service.service_layer.changes import Put, QuotaUoW, upsert_publish_audit


async def _subject_exists(uow: QuotaUoW, subject: Subject) -> bool:
    if subject.kind == "payee":
        return await uow.repos.payees.exists(subject.id)
    return await uow.repos.teams.get(subject.id) is not None


async def put_target(
    uow: QuotaUoW, principal: Principal, subject: str, kpi: str, period: str, value: Decimal
) -> Put[Target]:
    """Set a subject's target for a KPI in a period; the subject must exist (422 `subject`)."""
    errors = target_problems(subject, kpi, period, value)
    if errors:
        raise invalid(errors)
    parsed = subject_of(subject)
    async with uow:
        if not await _subject_exists(uow, parsed):
            raise invalid([{"field": "subject", "message": f"no {parsed.kind} {parsed.id!r}"}])
        held = await uow.repos.targets.get(subject, kpi, period, for_update=True)
        target = Target(subject, kpi, period, value)

        async def upsert() -> None:
            await uow.repos.targets.put(target)

        changed = await upsert_publish_audit(
            uow,
            principal,
            before=None if held is None else held.value,
            after=value,
            upsert=upsert,
            action="target.put",
            entity=f"target:{subject}:{kpi}:{period}",
            audited=str,
        )
        await uow.commit()
    return Put(held if held is not None and not changed else target, created=held is None)


async def _team_or_none(uow: QuotaUoW, subject: Subject) -> Team | None:
    if subject.kind != "team":
        return None
    team = await uow.repos.teams.get(subject.id)
    if team is None:
        raise Problem(404, f"no team {subject.id!r}")
    return team


async def get_target(uow: QuotaUoW, principal: Principal, subject: str, kpi: str, period: str) -> Target:
    """One target, if the principal may see its subject (403); 404 if none."""
    errors = target_problems(subject, kpi, period, Decimal(0))
    if errors:
        raise invalid(errors)
    parsed = subject_of(subject)
    async with uow:
        managers = await uow.repos.payees.managers()
        ensure_may_see_subject(principal, parsed, await _team_or_none(uow, parsed), managers)
        target = await uow.repos.targets.get(subject, kpi, period)
    if target is None:
        raise Problem(404, f"no {kpi} target for {subject} in {period}")
    return target


async def list_targets(
    uow: QuotaUoW, principal: Principal, subject: str | None = None, kpi: str | None = None
) -> list[Target]:
    """The targets the principal may see (of one subject, of one KPI), by subject, KPI, period."""
    async with uow:
        managers = await uow.repos.payees.managers()
        teams = {team.id: team for team in await uow.repos.teams.all()}
        found = await uow.repos.targets.find(None if subject is None else [subject], kpi)
    return [t for t in found if _may_see_subject(principal, subject_of(t.subject), teams, managers)]


def _may_see_subject(
    principal: Principal, subject: Subject, teams: Mapping[str, Team], managers: Mapping[str, str | None]
) -> bool:
    if subject.kind == "payee":
        return may_see_payee(principal, subject.id, managers)
    team = teams.get(subject.id)
    return team is not None and may_see_team_figures(principal, team, managers)


async def reconcile_targets(
    uow: QuotaUoW,
    principal: Principal,
    period: str,
    tolerance: Decimal,
    team: str | None = None,
    kpi: str | None = None,
) -> list[Reconciliation]:
    """Each team's own target beside its members' for the period (one team and one KPI, or
    every team the principal may see and every KPI with a target on either side). Members
    are those in the team on at least one day of the period."""
    errors = []
    if not is_period(period):
        errors.append({"field": "period", "message": PERIOD_HINT})
    if kpi is not None and kpi not in CATALOGUE:
        errors.append({"field": "kpi", "message": f"must be one of {', '.join(KPI_NAMES)}"})
    if tolerance < 0:
        errors.append({"field": "tolerance", "message": "must not be negative"})
    if errors:
        raise invalid(errors)
    first, last = period_bounds(period)
    async with uow:
        managers = await uow.repos.payees.managers()
        if team is not None:
            one = await uow.repos.teams.get(team)
            if one is None:
                raise Problem(404, f"no team {team!r}")
            ensure_may_see_team_figures(principal, one, managers)
            teams = [one]
        else:
            teams = [t for t in await uow.repos.teams.all() if may_see_team_figures(principal, t, managers)]
        rows: list[Reconciliation] = []
        for each in teams:
            members = each.payees_in(first, last)
            subjects = [f"team:{each.id}", *(f"payee:{m}" for m in members)]
            held: dict[tuple[str, str], dict[str, Decimal]] = {}
            for t in await uow.repos.targets.find(subjects, kpi):
                held.setdefault((t.subject, t.kpi), {})[t.period] = t.value
            for name in [kpi] if kpi is not None else list(KPI_NAMES):
                mine = resolve_target(held.get((f"team:{each.id}", name), {}), name, period)
                theirs = {
                    m: resolve_target(held.get((f"payee:{m}", name), {}), name, period) for m in members
                }
                if kpi is None and mine is None and all(v is None for v in theirs.values()):
                    continue
                rows.append(reconcile(each.id, name, period, mine, theirs, tolerance))
    return rows
