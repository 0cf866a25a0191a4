"""The incremental form the calc-engine runs on every event.

It keeps, per (payee, component, period), the aggregate value V, the credited count N
and the earned total E, and per deal the contribution of its current state. Applying
one deal revision recomputes only that deal's state (from its own revisions), swaps
its contribution in the aggregates and returns the ledger deltas E' - E for every
affected (payee, component, period): O(1) in the size of history. The sum of the
deltas per key equals `calculate` on the same inputs, exactly, in any arrival order.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, localcontext

from provisio_calc.contest import awards
from provisio_calc.inputs import Activity, Deal, FxRate, InputInvalid, Payee, Quota
from provisio_calc.numbers import EXACT, ZERO
from provisio_calc.periods import local_day, period_of
from provisio_calc.plan import Plan
from provisio_calc.result import CalcException
from provisio_calc.setup import Aggregate, Contribution, Key, Setup
from provisio_calc.timeline import deal_events


@dataclass(frozen=True, slots=True)
class Delta:
    """One ledger entry to post: E' - E for (payee, component, period), caused by `deal`."""

    payee: str
    component: str
    period: str
    amount: Decimal
    day: date
    deal: str | None


class IncrementalEngine:
    """Earnings of one plan kept up to date one event at a time."""

    def __init__(
        self,
        plan: Plan,
        *,
        payees: Iterable[Payee] | None = None,
        quotas: Iterable[Quota] = (),
        fx: Iterable[FxRate] = (),
        as_of: date | None = None,
        days: Sequence[tuple[date, date]] | None = None,
    ) -> None:
        self.plan = plan
        # `days`: the spans one version of a plan computes (provisio_calc.versions); a
        # plan with several versions is one engine per version (contests then span them).
        self.setup = Setup(plan, payees, quotas, fx, days)
        self.as_of = as_of
        self._revisions: dict[str, dict[int, Deal]] = {}
        self._contribution: dict[str, Contribution] = {}
        self._aggs: dict[Key, Aggregate] = {}
        self._keys_by_payee: dict[str, set[Key]] = {}
        self._contest_keys: dict[int, set[Key]] = {}
        self._prizes: dict[tuple[str, int], Decimal] = {}
        self._activities: dict[str, Activity] = {}
        self._activities_by_deal: dict[str, list[str]] = {}
        self.deal_exceptions: dict[str, CalcException] = {}
        # Deals in a foreign currency, so that a new rate re-converts only those.
        self._foreign: dict[str, set[str]] = {}

    # ---------------------------------------------------------------- events

    def apply_deal(self, deal: Deal) -> list[Delta]:
        """Take one deal snapshot (any revision, any order) and return the deltas it causes.

        Identical repeats return no deltas; a different snapshot with a known revision
        raises InputInvalid; a revision changed after `as_of` is ignored.
        """
        tz = self.setup.tz
        changed = deal.changed_at
        if self.as_of is not None and changed is not None and local_day(changed, tz) > self.as_of:
            return []
        revisions = self._revisions.setdefault(deal.key, {})
        known = revisions.get(deal.revision)
        if known is not None:
            if known != deal:
                raise InputInvalid(
                    "revision",
                    f"deal {deal.key} has two different snapshots with revision {deal.revision}",
                )
            return []
        revisions[deal.revision] = deal
        if deal.currency != self.plan.currency:
            self._foreign.setdefault(deal.currency, set()).add(deal.key)
        with localcontext(EXACT):
            deltas = self._rederive(deal.key, None)
            # Activities filtered through this deal see its latest revision now.
            for activity_key in self._activities_by_deal.get(deal.key, ()):
                deltas.extend(self._count_activity(self._activities[activity_key]))
            return deltas

    def _rederive(self, deal_key: str, dated: date | None) -> list[Delta]:
        """Recompute one deal's state from its revisions and swap its contribution."""
        tz = self.setup.tz
        revisions = self._revisions[deal_key]
        ordered = [revisions[r] for r in sorted(revisions)]
        timeline = deal_events(ordered, tz, self.setup.window_days)
        snapshots = [e.snapshot for e in timeline if e.snapshot is not None]
        problem = self.setup.check(deal_key, snapshots)
        contribution: Contribution = {}
        if problem is not None:
            self.deal_exceptions[deal_key] = problem
        else:
            self.deal_exceptions.pop(deal_key, None)
            last = timeline[-1].snapshot if timeline else None
            if last is not None:
                contribution = self.setup.deal_contribution(last)
        if dated is not None:
            day = dated
        elif timeline:
            day = timeline[-1].day
        else:
            last = ordered[-1]
            when = last.changed_at or last.close_date
            day = local_day(when, tz) if when is not None else self.plan.effective.from_
        return self._swap(deal_key, contribution, day, deal_key)

    def apply_activity(self, activity: Activity) -> list[Delta]:
        """Take one activity; its deal filters look at the linked deal's latest revision."""
        known = self._activities.get(activity.key)
        if known is not None:
            if known != activity:
                raise InputInvalid("external_id", f"activity {activity.key} appears twice, differing")
            return []
        day = local_day(activity.occurred_at, self.setup.tz)
        if self.as_of is not None and day > self.as_of:
            return []
        self._activities[activity.key] = activity
        if activity.deal:
            deal_key = f"{activity.source}:{activity.deal}"
            self._activities_by_deal.setdefault(deal_key, []).append(activity.key)
        with localcontext(EXACT):
            return self._count_activity(activity)

    def _count_activity(self, activity: Activity) -> list[Delta]:
        linked = None
        if activity.deal:
            revisions = self._revisions.get(f"{activity.source}:{activity.deal}")
            if revisions:
                linked = revisions[max(revisions)]
        contribution = self.setup.activity_contribution(activity, linked)
        day = local_day(activity.occurred_at, self.setup.tz)
        return self._swap("activity " + activity.key, contribution, day, None)

    def set_quota(self, quota: Quota, day: date) -> list[Delta]:
        """A quota row arrives or changes; every line of that payee is recomputed, dated `day`."""
        self.setup.quotas.replace(quota)
        self.setup.forget_quotas()
        with localcontext(EXACT):
            keys = sorted(self._keys_by_payee.get(quota.payee, ()))
            return self._recompute(keys, day, None)

    def set_fx(self, fx: FxRate, day: date) -> list[Delta]:
        """An fx rate arrives or changes: deals in that currency are re-converted (parked
        missing_fx deals included), with deltas dated `day`, the day it was made."""
        if not self.setup.fx.set(fx):
            return []
        deltas: list[Delta] = []
        with localcontext(EXACT):
            for deal_key in sorted(self._foreign.get(fx.from_currency, ())):
                deltas.extend(self._rederive(deal_key, day))
        return deltas

    def set_as_of(self, as_of: date) -> list[Delta]:
        """Move the evaluation day forward: contests whose window ended are awarded."""
        self.as_of = as_of
        with localcontext(EXACT):
            deltas: list[Delta] = []
            for ci, is_contest in enumerate(self.setup.is_contest):
                if is_contest:
                    deltas.extend(self._contest(ci))
            return deltas

    # ---------------------------------------------------------------- state

    def earned(self) -> dict[tuple[str, str, str], Decimal]:
        """E per (payee, component id, period), contests included (prize worth)."""
        out: dict[tuple[str, str, str], Decimal] = {}
        for (payee, ci, period), agg in self._aggs.items():
            if not self.setup.is_contest[ci]:
                out[(payee, self.setup.components[ci].id, period)] = agg.earned
        for (payee, ci), worth in self._prizes.items():
            comp = self.setup.components[ci]
            assert comp.window is not None
            out[(payee, comp.id, period_of(comp.window.to, self.plan.period))] = worth
        return out

    def exceptions(self) -> list[CalcException]:
        """Current exceptions: parked deals (bad_split, missing_fx) and missing quotas."""
        found = list(self.deal_exceptions.values())
        setup = self.setup
        for payee, ci, period in self._aggs:
            if setup.needs_quota[ci] and setup.quota(payee, period) is None:
                comp_id = setup.components[ci].id
                detail = f"component {comp_id} needs a quota above 0 for {period}"
                found.append(CalcException("missing_quota", payee, None, detail, period))
        return sorted(found, key=lambda e: (e.kind, e.payee or "", e.deal or "", e.detail))

    # ---------------------------------------------------------------- internals

    def _swap(
        self, owner_key: str, contribution: Contribution, day: date, deal_ref: str | None
    ) -> list[Delta]:
        previous = self._contribution.get(owner_key, {})
        touched: list[Key] = []
        for key, (value, count) in previous.items():
            agg = self._aggs[key]
            agg.value -= value
            agg.count -= count
            touched.append(key)
        for key, (value, count) in contribution.items():
            target = self._aggs.get(key)
            if target is None:
                target = self._aggs[key] = Aggregate()
                self._keys_by_payee.setdefault(key[0], set()).add(key)
                if self.setup.is_contest[key[1]]:
                    self._contest_keys.setdefault(key[1], set()).add(key)
            target.value += value
            target.count += count
            if key not in previous:
                touched.append(key)
        if contribution:
            self._contribution[owner_key] = contribution
        else:
            self._contribution.pop(owner_key, None)
        return self._recompute(touched, day, deal_ref)

    def _recompute(self, keys: Iterable[Key], day: date, deal_ref: str | None) -> list[Delta]:
        deltas: list[Delta] = []
        contests: set[int] = set()
        for key in keys:
            payee, ci, period = key
            if self.setup.is_contest[ci]:
                contests.add(ci)
                continue
            agg = self._aggs[key]
            earned = self.setup.earned(key, agg.value, agg.count)
            if earned != agg.earned:
                comp_id = self.setup.components[ci].id
                deltas.append(Delta(payee, comp_id, period, earned - agg.earned, day, deal_ref))
                agg.earned = earned
        for ci in sorted(contests):
            deltas.extend(self._contest(ci))
        return deltas

    def _contest(self, ci: int) -> list[Delta]:
        comp = self.setup.components[ci]
        assert comp.window is not None
        values = {key[0]: self._aggs[key].value for key in self._contest_keys.get(ci, ())}
        as_of = self.as_of if self.as_of is not None else date.min
        if as_of < comp.window.to and not any(c == ci for (_, c) in self._prizes):
            return []  # the window has not ended and nothing was awarded: nothing to do
        now = {award.payee: award.prize.worth for award in awards(comp, values, as_of)}
        before = {payee: worth for (payee, c), worth in self._prizes.items() if c == ci}
        # Prizes are few (one per winner), so this scan does not grow with history.
        period = period_of(comp.window.to, self.plan.period)
        deltas = []
        for payee in sorted(set(now) | set(before)):
            change = now.get(payee, ZERO) - before.get(payee, ZERO)
            if payee in now:
                self._prizes[(payee, ci)] = now[payee]
            else:
                self._prizes.pop((payee, ci), None)
            if change != 0:
                deltas.append(Delta(payee, comp.id, period, change, comp.window.to, None))
        return deltas
