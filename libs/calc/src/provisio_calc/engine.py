"""`calculate`: the pure function from inputs to lines, payouts and exceptions."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from decimal import Decimal, localcontext
from typing import Any

from provisio_calc.contest import awards
from provisio_calc.draws import payouts as build_payouts
from provisio_calc.inputs import Activity, Deal, FxRate, InputInvalid, Payee, Quota
from provisio_calc.numbers import EXACT, format_decimal
from provisio_calc.periods import local_day, local_instant, period_of
from provisio_calc.plan import Plan
from provisio_calc.result import CalcException, CalcResult, Entry, Line
from provisio_calc.setup import Aggregate, Contribution, Key, Setup
from provisio_calc.timeline import collect_revisions, deal_events

_EventOrder = tuple[date, int, str, str, int]


def dedupe_activities(activities: Iterable[Activity]) -> list[Activity]:
    """Identical repeats are ignored; two different activities with one key are bad input."""
    seen: dict[str, Activity] = {}
    for activity in activities:
        known = seen.get(activity.key)
        if known is None:
            seen[activity.key] = activity
        elif known != activity:
            raise InputInvalid("external_id", f"activity {activity.key} appears twice, differing")
    return [seen[k] for k in sorted(seen)]


def calculate(
    plan: Plan,
    deals: Iterable[Deal],
    *,
    payees: Iterable[Payee] | None = None,
    quotas: Iterable[Quota] = (),
    fx: Iterable[FxRate] = (),
    activities: Iterable[Activity] = (),
    as_of: date,
    explain: bool = True,
) -> CalcResult:
    """Compute every line, payout and exception of `plan` as of `as_of`.

    `deals` holds every known snapshot (all revisions) of each deal; the highest
    revision changed on or before `as_of` wins and the history drives clawbacks.
    With `explain`, each line's explanation also lists the credits and entries.
    Raises InputInvalid for contradictory inputs (two different snapshots with one revision).
    """
    with localcontext(EXACT):
        return _Calculation(plan, payees, quotas, fx, as_of, explain).run(deals, activities)


class _Calculation:
    def __init__(
        self,
        plan: Plan,
        payees: Iterable[Payee] | None,
        quotas: Iterable[Quota],
        fx: Iterable[FxRate],
        as_of: date,
        explain: bool,
    ) -> None:
        self.setup = Setup(plan, payees, quotas, fx)
        self.plan = plan
        self.as_of = as_of
        self.explain = explain
        self.exceptions: list[CalcException] = []

    def run(self, deals: Iterable[Deal], activities: Iterable[Activity]) -> CalcResult:
        setup = self.setup
        tz = setup.tz
        by_deal = collect_revisions(deals, tz, self.as_of)
        events: list[tuple[_EventOrder, date, str, str | None, Contribution]] = []
        latest: dict[str, Deal] = {}
        final_snapshot: dict[str, Deal | None] = {}
        for deal_key in sorted(by_deal):
            revisions = [by_deal[deal_key][r] for r in sorted(by_deal[deal_key])]
            latest[deal_key] = revisions[-1]
            timeline = deal_events(revisions, tz, setup.window_days)
            snapshots = [e.snapshot for e in timeline if e.snapshot is not None]
            problem = setup.check(deal_key, snapshots)
            if problem is not None:
                self.exceptions.append(problem)
                continue
            contributions: dict[int, Contribution] = {}
            for event in timeline:
                snap = event.snapshot
                if snap is None:
                    contribution: Contribution = {}
                else:
                    contribution = contributions.get(id(snap)) or setup.deal_contribution(snap)
                    contributions[id(snap)] = contribution
                events.append((event.order, event.day, deal_key, deal_key, contribution))
            if timeline:
                final_snapshot[deal_key] = timeline[-1].snapshot
        activity_list = [
            a for a in dedupe_activities(activities) if local_day(a.occurred_at, tz) <= self.as_of
        ]
        for activity in activity_list:
            linked = latest.get(f"{activity.source}:{activity.deal}") if activity.deal else None
            contribution = setup.activity_contribution(activity, linked)
            if not contribution:
                continue
            day, micros = local_instant(activity.occurred_at, tz)
            order = (day, micros, activity.source, activity.external_id, 0)
            events.append((order, day, "activity " + activity.key, None, contribution))
        events.sort(key=lambda event: event[0])

        aggs: dict[Key, Aggregate] = {}
        current: dict[str, Contribution] = {}
        is_contest = setup.is_contest
        for _order, day, owner_key, deal_ref, contribution in events:
            previous = current.get(owner_key, {})
            touched: list[Key] = []
            for key, (value, count) in previous.items():
                agg = aggs[key]
                agg.value -= value
                agg.count -= count
                touched.append(key)
            for key, (value, count) in contribution.items():
                target = aggs.get(key)
                if target is None:
                    target = aggs[key] = Aggregate()
                target.value += value
                target.count += count
                if key not in previous:
                    touched.append(key)
            current[owner_key] = contribution
            for key in touched:
                if is_contest[key[1]]:
                    continue
                agg = aggs[key]
                earned = setup.earned(key, agg.value, agg.count)
                if earned != agg.earned:
                    agg.entries.append(Entry(day, earned - agg.earned, deal_ref))
                    agg.earned = earned

        credits = self._credits(current, final_snapshot) if self.explain else {}
        lines = self._lines(aggs, credits)
        universe = set(setup.hierarchy.payees)
        for revisions_by_number in by_deal.values():
            for snapshot in revisions_by_number.values():
                universe.add(snapshot.owner)
                universe.update(s.payee for s in snapshot.splits)
        universe.update(a.owner for a in activity_list)
        self._unknown_payees(by_deal, activity_list)
        payout_rows = build_payouts(self.plan, lines, universe, self.as_of)
        exceptions = sorted(self.exceptions, key=lambda e: (e.kind, e.payee or "", e.deal or "", e.detail))
        return CalcResult(self.plan.id, self.plan.currency, lines, payout_rows, exceptions)

    # ---------------------------------------------------------------- lines

    def _credits(
        self, current: dict[str, Contribution], final_snapshot: dict[str, Deal | None]
    ) -> dict[Key, list[dict[str, Any]]]:
        setup = self.setup
        credits: dict[Key, list[dict[str, Any]]] = {}
        for owner_key in sorted(current):
            contribution = current[owner_key]
            snapshot = final_snapshot.get(owner_key)
            for key, (value, share) in contribution.items():
                row: dict[str, Any]
                if snapshot is None:
                    row = {"activity": owner_key.removeprefix("activity "), "share": format_decimal(share)}
                else:
                    day = setup.close_day(snapshot)
                    rate = setup.fx.rate(snapshot.currency, day)
                    row = {
                        "deal": owner_key,
                        "revision": snapshot.revision,
                        "close_day": day.isoformat(),
                        "amount": format_decimal(snapshot.amount),
                        "currency": snapshot.currency,
                        "share": format_decimal(share),
                        "value": format_decimal(value),
                    }
                    if rate is not None and snapshot.currency != self.plan.currency:
                        row["fx_rate"] = format_decimal(rate)
                credits.setdefault(key, []).append(row)
        return credits

    def _explanation(
        self, key: Key, agg: Aggregate, quota: Decimal | None, credits: list[dict[str, Any]] | None
    ) -> dict[str, Any]:
        setup = self.setup
        comp = setup.components[key[1]]
        detail: dict[str, Any] = {
            "plan": self.plan.id,
            "plan_version": self.plan.version,
            "component": comp.id,
            "kind": comp.kind,
            "measure": comp.effective_measure.model_dump(mode="json", exclude_none=True),
            "credit": list(comp.credit),
            "value": format_decimal(agg.value),
            "credited_deals": format_decimal(agg.count),
            "quota": None if quota is None else format_decimal(quota),
        }
        setup.earned(key, agg.value, agg.count, detail)
        detail["earned"] = format_decimal(agg.earned)
        if credits is not None:
            detail["credits"] = credits
            detail["entries"] = [
                {"day": e.day.isoformat(), "amount": format_decimal(e.amount), "deal": e.deal}
                for e in agg.entries
            ]
        return detail

    def _lines(self, aggs: dict[Key, Aggregate], credits: dict[Key, list[dict[str, Any]]]) -> list[Line]:
        setup = self.setup
        lines: list[Line] = []
        contest_values: dict[int, dict[str, Decimal]] = {}
        for key in sorted(aggs, key=lambda k: (k[0], k[1], k[2])):
            payee, ci, period = key
            agg = aggs[key]
            comp = setup.components[ci]
            if setup.is_contest[ci]:
                contest_values.setdefault(ci, {})[payee] = agg.value
                continue
            quota = setup.quota(payee, period)
            if quota is None and setup.needs_quota[ci]:
                self.exceptions.append(
                    CalcException(
                        "missing_quota",
                        payee,
                        None,
                        f"component {comp.id} needs a quota above 0 for {period}",
                    )
                )
                continue
            explanation = self._explanation(key, agg, quota, credits.get(key, []) if self.explain else None)
            lines.append(
                Line(
                    payee,
                    comp.id,
                    period,
                    agg.value,
                    setup.attainment(agg.value, quota),
                    agg.earned,
                    True,
                    explanation,
                    tuple(agg.entries),
                )
            )
        for ci in sorted(contest_values):
            lines.extend(self._contest_lines(ci, contest_values[ci]))
        order = {c.id: i for i, c in enumerate(self.plan.components)}
        lines.sort(key=lambda ln: (ln.payee, order[ln.component], ln.period))
        return lines

    def _contest_lines(self, ci: int, values: dict[str, Decimal]) -> list[Line]:
        comp = self.setup.components[ci]
        assert comp.window is not None
        period = period_of(comp.window.to, self.plan.period)
        lines = []
        for award in awards(comp, values, self.as_of):
            worth = award.prize.worth
            entries = (Entry(comp.window.to, worth, None),) if worth != 0 else ()
            explanation: dict[str, Any] = {
                "plan": self.plan.id,
                "plan_version": self.plan.version,
                "component": comp.id,
                "kind": "contest",
                "measure": comp.effective_measure.model_dump(mode="json", exclude_none=True),
                "window": {"from": comp.window.from_.isoformat(), "to": comp.window.to.isoformat()},
                "value": format_decimal(award.value),
                "rank": award.rank,
                "prize": award.prize.model_dump(mode="json", exclude_none=True),
                "earned": format_decimal(worth),
            }
            lines.append(
                Line(
                    award.payee,
                    comp.id,
                    period,
                    award.value,
                    None,
                    worth,
                    award.prize.is_cash,
                    explanation,
                    entries,
                )
            )
        return lines

    def _unknown_payees(self, by_deal: dict[str, dict[int, Deal]], activities: list[Activity]) -> None:
        setup = self.setup
        if not setup.payee_list_given:
            return
        known = setup.hierarchy.payees
        for deal_key in sorted(by_deal):
            seen: set[str] = set()
            for snapshot in by_deal[deal_key].values():
                for payee in [snapshot.owner, *(s.payee for s in snapshot.splits)]:
                    if payee not in known and payee not in seen:
                        seen.add(payee)
                        self.exceptions.append(
                            CalcException(
                                "unknown_payee", payee, deal_key, f"{payee} is not in the payee list"
                            )
                        )
        for activity in activities:
            if activity.owner not in known:
                self.exceptions.append(
                    CalcException(
                        "unknown_payee",
                        activity.owner,
                        None,
                        f"{activity.owner} (owner of activity {activity.key}) is not in the payee list",
                    )
                )
