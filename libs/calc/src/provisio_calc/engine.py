"""`calculate`: the pure function from inputs to lines, payouts and exceptions."""

from __future__ import annotations

import gc
from collections.abc import Container, Iterable, Sequence
from datetime import date
from decimal import Decimal, localcontext
from operator import itemgetter
from typing import Any

from provisio_calc.contest import awards
from provisio_calc.draws import payouts as build_payouts
from provisio_calc.inputs import Activity, Deal, FxRate, InputInvalid, Payee, Quota
from provisio_calc.numbers import EXACT, ZERO, format_decimal
from provisio_calc.periods import local_day, local_instant, period_of
from provisio_calc.plan import Plan, PlanInvalid
from provisio_calc.result import CalcException, CalcResult, Entry, Line, make_entry
from provisio_calc.setup import Aggregate, Contribution, Key, Setup
from provisio_calc.timeline import collect_revisions, deal_events
from provisio_calc.versions import VersionSlice, succession_problems, version_slices

_EventOrder = tuple[date, int, str, str, int]
# (order, day, key of the contribution it replaces or None, deal ref, contribution, or
# None with the snapshot whose contribution is computed when the event is applied)
_Event = tuple[_EventOrder, date, str | None, str | None, Contribution | None, Deal | None]


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
    plan: Plan | Sequence[Plan],
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

    `plan` is one plan document, or the versions of one plan, oldest first (see
    `provisio_calc.versions`: each measurement period is computed under the newest
    version whose `effective` contains its first day; each line's explanation names
    its `plan_version`). `deals` holds every known snapshot (all revisions) of each
    deal; the highest revision changed on or before `as_of` wins and the history drives
    clawbacks. With `explain`, each line's explanation also lists the credits and
    entries. Raises InputInvalid for contradictory inputs (two different snapshots with
    one revision) and PlanInvalid for versions that do not belong to one plan.
    """
    # The run allocates millions of small acyclic containers; the cyclic collector would
    # rescan them again and again (about a quarter of the time) without freeing any.
    collecting = gc.isenabled()
    gc.disable()
    try:
        with localcontext(EXACT):
            if isinstance(plan, Plan):
                return _Calculation(plan, payees, quotas, fx, as_of, explain).run(deals, activities)
            versions = list(plan)
            if not versions:
                raise ValueError("calculate needs at least one plan version")
            problems = [p for i, v in enumerate(versions) for p in succession_problems(versions[:i], v)]
            if problems:
                raise PlanInvalid(problems)
            if len(versions) == 1:
                return _Calculation(versions[0], payees, quotas, fx, as_of, explain).run(deals, activities)
            return _calculate_versions(versions, deals, payees, quotas, fx, activities, as_of, explain)
    finally:
        if collecting:
            gc.enable()


def _calculate_versions(
    versions: list[Plan],
    deals: Iterable[Deal],
    payees: Iterable[Payee] | None,
    quotas: Iterable[Quota],
    fx: Iterable[FxRate],
    activities: Iterable[Activity],
    as_of: date,
    explain: bool,
) -> CalcResult:
    """Each version computes the days it governs; contests and payouts span versions."""
    tz = versions[-1].timezone
    by_deal = collect_revisions(deals, tz, as_of)
    activity_list = [a for a in dedupe_activities(activities) if local_day(a.occurred_at, tz) <= as_of]
    payee_list = None if payees is None else list(payees)
    quota_list, fx_list = list(quotas), list(fx)
    runs: list[tuple[VersionSlice, _Calculation]] = []
    lines: list[Line] = []
    contest_values: dict[str, dict[str, Decimal]] = {}
    exceptions: list[CalcException] = []
    for piece in version_slices(versions):
        if not piece.credited:
            continue  # superseded everywhere: it computes nothing
        calc = _Calculation(piece.plan, payee_list, quota_list, fx_list, as_of, explain, piece.credited)
        version_lines, values = calc.compute(by_deal, activity_list)
        lines.extend(version_lines)
        for ci, of_contest in values.items():
            merged = contest_values.setdefault(calc.setup.components[ci].id, {})
            for payee, value in of_contest.items():
                merged[payee] = merged.get(payee, ZERO) + value
        exceptions.extend(calc.exceptions)
        runs.append((piece, calc))
    for comp_id, by_payee in contest_values.items():
        deciding = _contest_version(runs, comp_id)
        if deciding is not None:
            ci = next(i for i, c in enumerate(deciding.plan.components) if c.id == comp_id)
            lines.extend(deciding._contest_lines(ci, by_payee))
    newest = _Calculation(versions[-1], payee_list, (), (), as_of, explain)
    universe, unknown = newest.universe(by_deal, activity_list)
    exceptions.extend(unknown)
    order: dict[str, int] = {}
    for version in reversed(versions):
        for comp in version.components:
            order.setdefault(comp.id, len(order))
    lines.sort(key=lambda ln: (ln.payee, order[ln.component], ln.period))
    payout_rows = build_payouts(versions, lines, universe, as_of)
    unique = sorted(set(exceptions), key=lambda e: (e.kind, e.payee or "", e.deal or "", e.detail))
    last = versions[-1]
    return CalcResult(last.id, last.currency, lines, payout_rows, unique, len(runs))


def _contest_version(runs: list[tuple[VersionSlice, _Calculation]], comp_id: str) -> _Calculation | None:
    """The version that awards a contest: the newest that defines it and counts some day
    of its window (its prizes, window end and ranking apply)."""
    for piece, calc in reversed(runs):
        for comp in piece.plan.components:
            window = comp.window
            counted = window is not None and piece.credits_any((window.from_, window.to))
            if comp.id == comp_id and comp.kind == "contest" and counted:
                return calc
    return None


def _changes(previous: Contribution, contribution: Contribution) -> Contribution:
    """The change per key: the new contribution minus the one it replaces."""
    changes: Contribution = {k: (-v, -n) for k, (v, n) in previous.items()}
    for key, (value, count) in contribution.items():
        change = changes.get(key)
        if change is None:
            changes[key] = (value, count)
        else:
            changes[key] = (change[0] + value, change[1] + count)
    return changes


def _in_order(events: list[_Event]) -> list[_Event]:
    """The events sorted by their order key. Each day's events are sorted apart, then the
    days: the same sequence as one sort (the key starts with the day and sorts are stable,
    so ties keep their input order), with about half the comparisons."""
    by_day: dict[date, list[_Event]] = {}
    for event in events:
        day = event[0][0]
        of_day = by_day.get(day)
        if of_day is None:
            by_day[day] = [event]
        else:
            of_day.append(event)
    ordered: list[_Event] = []
    by_order = itemgetter(0)
    for day in sorted(by_day):
        of_day = by_day[day]
        of_day.sort(key=by_order)
        ordered.extend(of_day)
    return ordered


class _Calculation:
    def __init__(
        self,
        plan: Plan,
        payees: Iterable[Payee] | None,
        quotas: Iterable[Quota],
        fx: Iterable[FxRate],
        as_of: date,
        explain: bool,
        days: Sequence[tuple[date, date]] | None = None,
    ) -> None:
        self.setup = Setup(plan, payees, quotas, fx, days)
        self.plan = plan
        self.as_of = as_of
        self.explain = explain
        self.exceptions: list[CalcException] = []

    def run(self, deals: Iterable[Deal], activities: Iterable[Activity]) -> CalcResult:
        setup = self.setup
        by_deal = collect_revisions(deals, setup.tz, self.as_of)
        # Rule 35: activities after as_of are ignored, like revisions.
        activity_list = [
            a for a in dedupe_activities(activities) if local_day(a.occurred_at, setup.tz) <= self.as_of
        ]
        lines, contest_values = self.compute(by_deal, activity_list)
        for ci in sorted(contest_values):
            lines.extend(self._contest_lines(ci, contest_values[ci]))
        order = {c.id: i for i, c in enumerate(self.plan.components)}
        lines.sort(key=lambda ln: (ln.payee, order[ln.component], ln.period))
        universe, unknown = self.universe(by_deal, activity_list)
        self.exceptions.extend(unknown)
        payout_rows = build_payouts(self.plan, lines, universe, self.as_of)
        exceptions = sorted(self.exceptions, key=lambda e: (e.kind, e.payee or "", e.deal or "", e.detail))
        return CalcResult(self.plan.id, self.plan.currency, lines, payout_rows, exceptions)

    def compute(
        self, by_deal: dict[str, dict[int, Deal]], activity_list: list[Activity]
    ) -> tuple[list[Line], dict[int, dict[str, Decimal]]]:
        """The lines of every non-contest key, and each contest's value per payee (ranked
        by the caller: a contest may span versions)."""
        events, final_snapshot = self._deal_events(by_deal)
        events.extend(self._activity_events(activity_list, by_deal))
        aggs, current = self._apply(_in_order(events))
        credits = self._credits(current, final_snapshot) if self.explain else {}
        return self._lines(aggs, credits)

    # ---------------------------------------------------------------- events

    def _deal_events(
        self, by_deal: dict[str, dict[int, Deal]]
    ) -> tuple[list[_Event], dict[str, Deal | None]]:
        """Every deal's dated states as events; bad_split / missing_fx deals are parked."""
        setup = self.setup
        tz = setup.tz
        explain = self.explain
        events: list[_Event] = []
        final_snapshot: dict[str, Deal | None] = {}
        # Input order does not matter: events are sorted on a total order below.
        for deal_key, by_revision in by_deal.items():
            if len(by_revision) == 1:
                # The common case, kept lean: one revision, at most one state.
                (only,) = by_revision.values()
                if only.status != "won":
                    continue
                assert only.close_date is not None
                day, micros = local_instant(only.close_date, tz)
                order = (day, micros, only.source, only.external_id, 0)
                # A deal with one state replaces nothing: no need to remember it, unless
                # the explanation lists its credit. Its contribution (or its bad_split /
                # missing_fx) is computed when applied, so it is never held for long.
                owner_key = deal_key if explain else None
                events.append((order, day, owner_key, deal_key, None, only))
                if explain:
                    final_snapshot[deal_key] = only
                continue
            revisions = [by_revision[r] for r in sorted(by_revision)]
            timeline = deal_events(revisions, tz, setup.window_days)
            contributions: dict[int, Contribution] = {}
            problem: CalcException | None = None
            for event in timeline:
                snap = event.snapshot
                if snap is not None and id(snap) not in contributions:
                    checked = setup.checked_contribution(deal_key, snap)
                    if isinstance(checked, CalcException):
                        problem = checked
                        break
                    contributions[id(snap)] = checked
            if problem is not None:
                self.exceptions.append(problem)
                continue
            for event in timeline:
                snap = event.snapshot
                contribution = {} if snap is None else contributions[id(snap)]
                events.append((event.order, event.day, deal_key, deal_key, contribution, None))
            if timeline:
                final_snapshot[deal_key] = timeline[-1].snapshot
        return events, final_snapshot

    def _activity_events(
        self, activities: list[Activity], by_deal: dict[str, dict[int, Deal]]
    ) -> list[_Event]:
        """One event per counted activity; deal filters look at its deal's latest revision."""
        setup = self.setup
        events: list[_Event] = []
        for activity in activities:
            revisions = by_deal.get(f"{activity.source}:{activity.deal}") if activity.deal else None
            linked = revisions[max(revisions)] if revisions else None
            contribution = setup.activity_contribution(activity, linked)
            if not contribution:
                continue
            day, micros = local_instant(activity.occurred_at, setup.tz)
            order = (day, micros, activity.source, activity.external_id, 0)
            owner_key = "activity " + activity.key if self.explain else None
            events.append((order, day, owner_key, None, contribution, None))
        return events

    def _apply(self, events: list[_Event]) -> tuple[dict[Key, Aggregate], dict[str, Contribution]]:
        """Apply events in order; each posts E' - E per touched key, dated on its day."""
        setup = self.setup
        aggs: dict[Key, Aggregate] = {}
        current: dict[str, Contribution] = {}
        is_contest = setup.is_contest
        linear = setup.linear
        ceilings = setup.ceilings
        earned_for = setup.earned
        event_contribution = self._event_contribution
        for _order, day, owner_key, deal_ref, given, snapshot in events:
            contribution = given if given is not None else event_contribution(deal_ref, snapshot)
            if contribution is None:
                continue
            previous = current.get(owner_key) if owner_key is not None else None
            changes = _changes(previous, contribution) if previous else contribution
            if owner_key is not None:
                current[owner_key] = contribution
            for key, (value, count) in changes.items():
                agg = aggs.get(key)
                if agg is None:
                    agg = aggs[key] = Aggregate()
                agg.value += value
                agg.count += count
                ci = key[1]
                if is_contest[ci]:
                    continue  # contests are ranked once, at the end
                coefficient = linear[ci]
                if coefficient is not None:
                    delta = coefficient[0] * (count if coefficient[1] else value)
                    if delta:
                        agg.entries.append(make_entry(day, delta, deal_ref))
                        agg.earned += delta
                    continue
                top = ceilings[ci]
                if top is not None and agg.earned == top and value >= ZERO and count >= ZERO:
                    continue  # E cannot grow past its ceiling, nor shrink as V and N grow
                earned = earned_for(key, agg.value, agg.count)
                if earned != agg.earned:
                    agg.entries.append(make_entry(day, earned - agg.earned, deal_ref))
                    agg.earned = earned
        return aggs, current

    def _event_contribution(self, deal_ref: str | None, snapshot: Deal | None) -> Contribution | None:
        """The contribution of a deal snapshot whose event carries none, computed when applied;
        None (with the exception recorded) when the snapshot has a bad_split or missing_fx."""
        assert snapshot is not None and deal_ref is not None
        checked = self.setup.checked_contribution(deal_ref, snapshot)
        if isinstance(checked, CalcException):
            self.exceptions.append(checked)
            return None
        return checked

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

    def _lines(
        self, aggs: dict[Key, Aggregate], credits: dict[Key, list[dict[str, Any]]]
    ) -> tuple[list[Line], dict[int, dict[str, Decimal]]]:
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
                        period,
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
        return lines, contest_values

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

    def universe(
        self, by_deal: dict[str, dict[int, Deal]], activities: list[Activity]
    ) -> tuple[set[str], list[CalcException]]:
        """Rule 12: the payee list, every deal's owner and split payees (any revision held
        as of as_of), activity owners. With a payee list, one unknown_payee per (payee,
        deal) for the owner and split payees of the deal's latest revision only (rule 36:
        a payee only in a superseded revision raises nothing), and one per activity whose
        owner is not on it (its `deal` null)."""
        setup = self.setup
        known = setup.hierarchy.payees
        universe = set(known)
        check = setup.payee_list_given
        unknown: list[CalcException] = []
        add = universe.add
        for deal_key, revisions in by_deal.items():
            if len(revisions) == 1:
                (latest,) = revisions.values()
            else:
                for snapshot in revisions.values():
                    add(snapshot.owner)
                    for split in snapshot.splits:
                        add(split.payee)
                latest = revisions[max(revisions)]
            add(latest.owner)
            for split in latest.splits:
                add(split.payee)
            if check:
                _unknown_payees(deal_key, latest, known, unknown)
        for activity in activities:
            universe.add(activity.owner)
            if check and activity.owner not in known:
                unknown.append(
                    CalcException(
                        "unknown_payee",
                        activity.owner,
                        None,
                        f"{activity.owner} (owner of activity {activity.key}) is not in the payee list",
                    )
                )
        return universe, unknown


def _unknown_payees(deal_key: str, latest: Deal, known: Container[str], out: list[CalcException]) -> None:
    """One unknown_payee per person of the deal's latest revision not on the payee list."""
    owner = latest.owner
    if owner not in known:
        out.append(CalcException("unknown_payee", owner, deal_key, f"{owner} is not in the payee list"))
    if latest.splits:
        reported = {owner}
        for split in latest.splits:
            payee = split.payee
            if payee not in known and payee not in reported:
                reported.add(payee)
                out.append(
                    CalcException("unknown_payee", payee, deal_key, f"{payee} is not in the payee list")
                )
