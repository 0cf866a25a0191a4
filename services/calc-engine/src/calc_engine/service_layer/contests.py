"""Contests end on time: when a contest window has ended (in the plan's timezone), its plan
is reconciled once, so the prizes are posted even if no later event comes.

The prizes are posted by `reconcile_plan`, the reconciliation every event runs (so
`POST /recompute` still posts 0); a settlement is marked in the inbox (consumer
`contest-settlement`, one row per plan, contest and window end) in the same transaction,
so it happens exactly once, also after a restart that missed the moment, and replicas
racing for it serialize on that row.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from calc_engine.domain.contests import ended_contests
from calc_engine.domain.plan_versions import held_versions
from calc_engine.service_layer import CalcUoW
from calc_engine.service_layer.clock import Clock, as_of_day
from calc_engine.service_layer.reconcile import reconcile_plan
from provisio_common.uow import InboxMark

log = logging.getLogger(__name__)

SETTLEMENT = "contest-settlement"


async def settle_ended_contests(new_uow: Callable[[], CalcUoW], clock: Clock) -> int:
    """One pass: each plan with a contest that has ended and is not settled yet is
    reconciled as of `clock`'s day and its ended contests marked settled, one transaction
    per plan. Returns the entries posted."""
    now = clock()
    async with new_uow() as uow:
        plan_ids = sorted(await uow.repos.plans.ids())
    posted = 0
    for plan_id in plan_ids:
        async with new_uow() as uow:
            ended = ended_contests(plan_id, held_versions(await uow.repos.plans.versions(plan_id)), now)
            fresh = [
                contest
                for contest in ended
                if await uow.record_inbox(InboxMark(SETTLEMENT, contest.mark, SETTLEMENT, 0, 0))
            ]
            if not fresh:
                continue  # nothing new: the unit of work ends without a commit
            cause = f"contest:{fresh[-1].mark}"
            count = await reconcile_plan(uow, plan_id, cause, as_of=as_of_day(clock))
            await uow.commit()
        log.info("settled %s (posted %d)", ", ".join(c.mark for c in fresh), count)
        posted += count
    return posted
