"""Measures: what one deal or activity counts for a component (before crediting shares)."""

from __future__ import annotations

from decimal import Decimal

from provisio_calc.inputs import Activity, Deal
from provisio_calc.numbers import ONE
from provisio_calc.plan import Measure


class CompiledMeasure:
    """A plan measure ready for the hot loop: metric plus frozen filter sets."""

    __slots__ = ("activity_kind", "deal_types", "has_filters", "metric", "products", "territories")

    def __init__(self, measure: Measure) -> None:
        self.metric = measure.metric
        self.activity_kind = (
            measure.metric.split(":", 1)[1] if measure.metric.startswith("activity:") else None
        )
        self.deal_types = frozenset(measure.deal_types) if measure.deal_types is not None else None
        self.products = frozenset(measure.products) if measure.products is not None else None
        self.territories = frozenset(measure.territories) if measure.territories is not None else None
        # True when any of deal_types, products, territories is given.
        self.has_filters = (
            self.deal_types is not None or self.products is not None or self.territories is not None
        )

    def deal_passes(self, deal: Deal) -> bool:
        """The deal filters (rules 13, 14): type, territory, at least one matching product line."""
        if self.deal_types is not None and deal.type not in self.deal_types:
            return False
        if self.territories is not None and deal.territory not in self.territories:
            return False
        if self.products is not None:
            products = self.products
            return any(line.product in products for line in deal.lines)
        return True

    def deal_value(self, deal: Deal, fx_rate: Decimal) -> Decimal | None:
        """The deal's value under this measure in plan currency, or None when it does not count."""
        if self.activity_kind is not None or (self.has_filters and not self.deal_passes(deal)):
            return None
        metric = self.metric
        if metric == "deals":
            return ONE
        products = self.products
        if metric == "amount":
            if products is None:
                raw = deal.amount
            else:
                raw = sum((ln.amount for ln in deal.lines if ln.product in products), Decimal(0))
        else:  # margin
            raw = sum(
                (ln.margin for ln in deal.lines if products is None or ln.product in products),
                Decimal(0),
            )
        # FxBook gives the plan currency ONE itself: `is` spares the comparison.
        return raw if fx_rate is ONE or fx_rate == ONE else raw * fx_rate

    def activity_value(self, activity: Activity, linked: Deal | None) -> Decimal | None:
        """1 for a matching activity; deal filters apply through its deal (rule 15)."""
        if self.activity_kind is None or activity.kind != self.activity_kind:
            return None
        if self.has_filters and (linked is None or not self.deal_passes(linked)):
            return None
        return ONE
