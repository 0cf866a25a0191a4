"""The engine's prepared view of one plan and its reference data, shared by the full and
incremental forms: crediting, measures and earning per (payee, component, period)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from provisio_calc.books import FxBook, QuotaBook
from provisio_calc.crediting import BadSplit, Hierarchy, component_credits, direct_credits
from provisio_calc.earning import Bounds, band_bounds, ceiling, earn
from provisio_calc.inputs import Activity, Deal, FxRate, Payee, Quota, Split
from provisio_calc.measures import CompiledMeasure
from provisio_calc.numbers import HUNDRED, ZERO, divide
from provisio_calc.periods import local_day, period_of
from provisio_calc.plan import Component, DateRange, Plan
from provisio_calc.result import CalcException, Entry

# (payee, component index, period); contests use period "" (their value spans the window).
Key = tuple[str, int, str]
# Per key: (value, credited count) this deal or activity adds.
Contribution = dict[Key, tuple[Decimal, Decimal]]

# A component's row of a deal's contribution: its window, measure and measure slot, and
# per credited payee (key, share, share == 1).
_CreditedRow = tuple[DateRange | None, CompiledMeasure, int, tuple[tuple[Key, Decimal, bool], ...]]


class Aggregate:
    """Running state of one (payee, component, period): V, N, E and its dated entries."""

    __slots__ = ("count", "earned", "entries", "value")

    def __init__(self) -> None:
        self.value = ZERO
        self.count = ZERO
        self.earned = ZERO
        self.entries: list[Entry] = []


def linear_coefficient(comp: Component) -> tuple[Decimal, bool] | None:
    """A flat rate or per_deal with no threshold, cap or tiers is linear in V (or N, when
    the flag is true): E' - E is then coefficient * the change, exactly, whatever the
    other deals of the line; None for every other component."""
    plain = comp.kind in ("commission", "spif") and comp.threshold is None
    plain = plain and comp.cap is None and comp.tiers is None
    if plain and comp.rate is not None:
        return (comp.rate, False)
    if plain and comp.per_deal is not None:
        return (comp.per_deal, True)
    return None


class Setup:
    """One plan with its payees, quotas and fx rates, ready to credit and earn."""

    def __init__(
        self,
        plan: Plan,
        payees: Iterable[Payee] | None,
        quotas: Iterable[Quota],
        fx: Iterable[FxRate],
        days: Sequence[tuple[date, date]] | None = None,
    ) -> None:
        self.plan = plan
        self.tz = plan.timezone
        self.components = list(plan.components)
        self.measures = [CompiledMeasure(c.effective_measure) for c in self.components]
        self.needs_quota = [c.needs_quota for c in self.components]
        self.is_contest = [c.kind == "contest" for c in self.components]
        self.payee_list_given = payees is not None
        self.hierarchy = Hierarchy(payees or ())
        self.quotas = QuotaBook(quotas)
        self.fx = FxBook(fx, plan.currency)
        self.window_days = plan.clawback.window_days if plan.clawback is not None else None
        # Components that share (credit, applies_to) share one crediting per deal.
        groups: dict[tuple[Any, ...], int] = {}
        self.credit_group: list[int] = []
        for comp in self.components:
            marker = (comp.credit, comp.applies_to)
            self.credit_group.append(groups.setdefault(marker, len(groups)))
        self.windows = [c.window for c in self.components]
        self._usable: dict[tuple[str, str], Decimal | None] = {}
        self._periods: dict[date, str] = {}
        # The days whose deals and activities count: `effective` (rule 2), or the part of
        # it a plan version computes (provisio_calc.versions) when other versions share
        # the plan. The bounds are checked first; the spans only when there are gaps.
        self.spans: tuple[tuple[date, date], ...] = (
            ((plan.effective.from_, plan.effective.to),) if days is None else tuple(days)
        )
        self._effective_from = min((f for f, _ in self.spans), default=date.max)
        self._effective_to = max((t for _, t in self.spans), default=date.min)
        self._gaps = len(self.spans) > 1
        self._bounds: dict[tuple[int, Decimal | None], Bounds] = {}
        self._shares: dict[tuple[int, str, tuple[Split, ...]], dict[str, Decimal]] = {}
        self._rows: dict[tuple[str, str, tuple[Split, ...]], list[_CreditedRow]] = {}
        # Components with the same measure share one computation per deal.
        measure_ids: dict[tuple[Any, ...], int] = {}
        self._measure_slot: list[int] = []
        for comp in self.components:
            m = comp.effective_measure
            measure_key = (m.metric, m.deal_types, m.products, m.territories)
            self._measure_slot.append(measure_ids.setdefault(measure_key, len(measure_ids)))
        self._plan_rows = [
            (
                ci,
                self.windows[ci],
                self.measures[ci],
                self._measure_slot[ci],
                self.credit_group[ci],
                self.is_contest[ci],
            )
            for ci in range(len(self.components))
        ]
        self.linear = [linear_coefficient(comp) for comp in self.components]
        self.ceilings = [ceiling(comp) for comp in self.components]

    # ---------------------------------------------------------------- deals

    def close_day(self, deal: Deal) -> date:
        """The deal's close day in the plan's timezone."""
        assert deal.close_date is not None
        return local_day(deal.close_date, self.tz)

    def counts(self, day: date) -> bool:
        """Rule 2: only deals and activities of days in `effective` (of the days this
        version computes) are credited."""
        if not self._effective_from <= day <= self._effective_to:
            return False
        return not self._gaps or any(first <= day <= last for first, last in self.spans)

    def in_scope(self, deal: Deal) -> bool:
        """Rule 2: only deals whose close day lies in `effective` are credited."""
        return self.counts(self.close_day(deal))

    def check(self, deal_key: str, snapshots: Iterable[Deal]) -> CalcException | None:
        """bad_split or missing_fx for the first snapshot the deal would earn on that has one."""
        for snapshot in snapshots:
            if not self.in_scope(snapshot):
                continue
            try:
                direct_credits(snapshot)
            except BadSplit as exc:
                return CalcException("bad_split", snapshot.owner, deal_key, str(exc))
            day = self.close_day(snapshot)
            if self.fx.rate(snapshot.currency, day) is None:
                return CalcException(
                    "missing_fx",
                    snapshot.owner,
                    deal_key,
                    f"no {snapshot.currency}->{self.plan.currency} rate on or before {day}",
                )
        return None

    def deal_contribution(self, deal: Deal) -> Contribution:
        """What one (checked) won snapshot adds to each (payee, component, period)."""
        result = self.checked_contribution(deal.key, deal)
        assert not isinstance(result, CalcException)
        return result

    def checked_contribution(self, deal_key: str, deal: Deal) -> Contribution | CalcException:
        """The snapshot's contribution, or the bad_split / missing_fx exception it raises."""
        assert deal.close_date is not None
        close = deal.close_date
        day = close if type(close) is date else local_day(close, self.tz)
        if not self._effective_from <= day <= self._effective_to or (self._gaps and not self.counts(day)):
            return {}
        rate = self.fx.rate(deal.currency, day)
        if rate is None:
            return CalcException(
                "missing_fx",
                deal.owner,
                deal_key,
                f"no {deal.currency}->{self.plan.currency} rate on or before {day}",
            )
        period = self._periods.get(day)
        if period is None:
            period = self._periods[day] = period_of(day, self.plan.period)
        rows = self._rows.get((period, deal.owner, deal.splits))
        if rows is None:
            try:
                rows = self._credited_rows(period, deal)
            except BadSplit as exc:
                return CalcException("bad_split", deal.owner, deal_key, str(exc))
        out: Contribution = {}
        values: dict[int, Decimal | None] = {}
        for window, measure, slot, credited in rows:
            if window is not None and not window.from_ <= day <= window.to:
                continue
            if slot in values:
                value = values[slot]
            else:
                value = values[slot] = measure.deal_value(deal, rate)
            if value is None:
                continue
            for key, share, whole in credited:
                # One payee appears once per component, so keys never collide here.
                out[key] = (value if whole else value * share, share)
        return out

    def _credited_rows(self, period: str, deal: Deal) -> list[_CreditedRow]:
        """Per component: its window, measure and slot, and the keys and shares a deal of
        `period` with this owner and splits credits. Crediting depends on nothing else, so
        the rows are kept in `_rows` by (period, owner, splits). Raises BadSplit for bad
        splits (never kept)."""
        direct = direct_credits(deal)
        rows = []
        for ci, window, measure, slot, group, is_contest in self._plan_rows:
            # Kept by (group, owner, splits) across periods: equal splits written
            # differently (0.5, 0.50) share the first one's shares.
            shares_key = (group, deal.owner, deal.splits)
            shares = self._shares.get(shares_key)
            if shares is None:
                comp = self.components[ci]
                shares = self._shares[shares_key] = component_credits(
                    direct, deal.owner, bool(deal.splits), comp.credit, self.hierarchy, comp.applies_to
                )
            key_period = "" if is_contest else period
            credited = tuple(((payee, ci, key_period), share, share == 1) for payee, share in shares.items())
            rows.append((window, measure, slot, credited))
        self._rows[(period, deal.owner, deal.splits)] = rows
        return rows

    # ---------------------------------------------------------------- activities

    def activity_contribution(self, activity: Activity, linked: Deal | None) -> Contribution:
        """Rule 15: 1 for the owner (and rollup managers) under each matching activity measure."""
        day = local_day(activity.occurred_at, self.tz)
        if not self.counts(day):
            return {}
        period = period_of(day, self.plan.period)
        direct = [(activity.owner, Decimal(1))]
        out: Contribution = {}
        for ci, comp in enumerate(self.components):
            window = self.windows[ci]
            if window is not None and not window.from_ <= day <= window.to:
                continue
            value = self.measures[ci].activity_value(activity, linked)
            if value is None:
                continue
            shares = component_credits(
                direct, activity.owner, False, comp.credit, self.hierarchy, comp.applies_to
            )
            key_period = "" if self.is_contest[ci] else period
            for payee, share in shares.items():
                key = (payee, ci, key_period)
                known = out.get(key)
                if known is None:
                    out[key] = (value * share, share)
                else:
                    out[key] = (known[0] + value * share, known[1] + share)
        return out

    # ---------------------------------------------------------------- earning

    def quota(self, payee: str, period: str) -> Decimal | None:
        """The usable quota (rule 6), or None when missing or <= 0 (rule 7)."""
        key = (payee, period)
        if key in self._usable:
            return self._usable[key]
        quota = self.quotas.resolve(payee, period)
        usable = quota if quota is not None and quota > 0 else None
        self._usable[key] = usable
        return usable

    def forget_quotas(self) -> None:
        """Drop cached quotas after a quota row changed."""
        self._usable.clear()

    def attainment(self, value: Decimal, quota: Decimal | None) -> Decimal | None:
        """value / quota * 100 to 28 significant digits, or None without a quota (rule 8)."""
        return None if quota is None else divide(value * HUNDRED, quota)

    def earned(
        self, key: Key, value: Decimal, count: Decimal, detail: dict[str, Any] | None = None
    ) -> Decimal:
        """E for a non-contest key; 0 when its needed quota is missing (it gets no line)."""
        payee, ci, period = key
        quota = self.quota(payee, period)
        if quota is None and self.needs_quota[ci]:
            return ZERO
        comp = self.components[ci]
        bounds = None
        if comp.tiers is not None:
            bounds_key = (ci, quota)
            bounds = self._bounds.get(bounds_key)
            if bounds is None:
                bounds = self._bounds[bounds_key] = band_bounds(comp, quota)
        return earn(comp, value, count, quota, detail, bounds)
