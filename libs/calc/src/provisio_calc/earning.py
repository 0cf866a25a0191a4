"""What a component earns in one period from its value V, credited deal count N and quota.

Call inside `decimal.localcontext(EXACT)`: products and sums are then exact; only
divisions are rounded, to 28 significant digits (PLANS.md rule 8).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from provisio_calc.numbers import HUNDRED, ZERO, divide, format_decimal
from provisio_calc.plan import Component


def _s(value: Decimal | None) -> str | None:
    return None if value is None else format_decimal(value)


Bounds = list[tuple[Decimal, Decimal | None, Decimal, Decimal | None]]


def band_bounds(comp: Component, quota: Decimal | None) -> Bounds:
    """[(lower, upper or None, band's `from` as written, band's `to` as written)] in value terms."""
    assert comp.tiers is not None
    attainment = comp.tiers.basis == "attainment"
    bounds = []
    lower_written = ZERO
    for band in comp.tiers.bands:
        upper_written = band.to
        if attainment:
            assert quota is not None
            lower = lower_written * quota / HUNDRED
            upper = None if upper_written is None else upper_written * quota / HUNDRED
        else:
            lower, upper = lower_written, upper_written
        bounds.append((lower, upper, lower_written, upper_written))
        if upper_written is not None:
            lower_written = upper_written
    return bounds


def _band_earning(comp: Component, index: int, amount: Decimal, quota: Decimal | None) -> Decimal:
    """One band's pay on `amount` of value: rate * amount, or multiplier * TI * amount / quota."""
    assert comp.tiers is not None
    band = comp.tiers.bands[index]
    if band.rate is not None:
        return band.rate * amount
    assert band.multiplier is not None and comp.target_incentive is not None
    assert quota is not None
    return divide(band.multiplier * comp.target_incentive * amount, quota)


# (band index, written from, written to, slice of value, earned in band)
_Crossed = list[tuple[int, Decimal, Decimal | None, Decimal, Decimal]]


def _marginal_bands(
    comp: Component, value: Decimal, quota: Decimal | None, bounds: Bounds
) -> tuple[Decimal, _Crossed]:
    """Marginal tiers: each band pays its own rate on the slice of value inside it."""
    crossed: _Crossed = []
    total = ZERO
    for j, (lower, upper, lw, uw) in enumerate(bounds):
        if value <= lower:
            break
        top = value if upper is None or value < upper else upper
        piece = top - lower
        earned = _band_earning(comp, j, piece, quota)
        total += earned
        crossed.append((j, lw, uw, piece, earned))
    return total, crossed


def _retroactive_band(
    comp: Component, value: Decimal, quota: Decimal | None, bounds: Bounds
) -> tuple[Decimal, _Crossed]:
    """Retroactive tiers: all of the value pays the rate of the one band it reaches."""
    for j, (lower, upper, lw, uw) in enumerate(bounds):
        if lower <= value and (upper is None or value < upper):
            total = _band_earning(comp, j, value, quota)
            return total, [(j, lw, uw, value, total)]
    return ZERO, []


def _tier_detail(comp: Component, crossed: _Crossed, detail: dict[str, Any]) -> None:
    """Write the tiers' basis and method and one row per band crossed into `detail`."""
    assert comp.tiers is not None
    bands = comp.tiers.bands
    detail["tiers"] = {"basis": comp.tiers.basis, "method": comp.tiers.method}
    if comp.target_incentive is not None:
        detail["tiers"]["target_incentive"] = _s(comp.target_incentive)
    rows = []
    for j, lw, uw, piece, earned in crossed:
        row: dict[str, Any] = {"band": j, "from": _s(lw)}
        if uw is not None:
            row["to"] = _s(uw)
        if bands[j].rate is not None:
            row["rate"] = _s(bands[j].rate)
        else:
            row["multiplier"] = _s(bands[j].multiplier)
        row["slice"] = _s(piece)
        row["earned"] = _s(earned)
        rows.append(row)
    detail["bands"] = rows


def _tiers(
    comp: Component,
    value: Decimal,
    quota: Decimal | None,
    detail: dict[str, Any] | None,
    bounds: Bounds | None,
) -> Decimal:
    """A tiered component's earning on `value`, marginal or retroactive."""
    assert comp.tiers is not None
    crossed: _Crossed = []
    total = ZERO
    if value > 0:
        if bounds is None:
            bounds = band_bounds(comp, quota)
        if comp.tiers.method == "marginal":
            total, crossed = _marginal_bands(comp, value, quota, bounds)
        else:
            total, crossed = _retroactive_band(comp, value, quota, bounds)
    if detail is not None:
        _tier_detail(comp, crossed, detail)
    return total


def _bonus(comp: Component, value: Decimal, quota: Decimal | None, detail: dict[str, Any] | None) -> Decimal:
    """A bonus: a fixed amount, or a rate on the value above the bar, once attainment reaches the bar."""
    assert comp.when is not None and quota is not None
    bar = comp.when.attainment_at_least
    met = value * HUNDRED >= bar * quota
    if comp.amount is not None:
        earned = comp.amount if met else ZERO
        if detail is not None:
            detail["formula"] = f"{_s(comp.amount)} when attainment >= {_s(bar)}%"
    else:
        assert comp.rate_of_excess is not None
        excess = value - bar * quota / HUNDRED
        earned = comp.rate_of_excess * excess if met else ZERO
        if detail is not None:
            detail["formula"] = (
                f"rate_of_excess {_s(comp.rate_of_excess)} * (value - {_s(bar)}% * quota)"
                f" when attainment >= {_s(bar)}%"
            )
            detail["excess"] = _s(excess)
    if detail is not None:
        detail["bar"] = {"attainment_at_least": _s(bar), "met": met}
    return earned


def _before_limits(
    comp: Component,
    value: Decimal,
    count: Decimal,
    quota: Decimal | None,
    detail: dict[str, Any] | None,
    bounds: Bounds | None,
) -> Decimal:
    """The earning from the component's formula (bonus, rate, tiers or per_deal), before threshold and cap."""
    if comp.kind == "bonus":
        return _bonus(comp, value, quota, detail)
    if comp.rate is not None:
        if detail is not None:
            detail["formula"] = f"rate {_s(comp.rate)} * value"
        return comp.rate * value
    if comp.tiers is not None:
        earned = _tiers(comp, value, quota, detail, bounds)
        if detail is not None:
            detail["formula"] = (
                "sum of band rate * slice of value in band"
                if comp.tiers.method == "marginal"
                else "all of value at the rate of the band it reaches"
            )
        return earned
    assert comp.per_deal is not None
    if detail is not None:
        detail["formula"] = f"per_deal {_s(comp.per_deal)} * credited deals {_s(count)}"
    return comp.per_deal * count


def _apply_threshold(
    comp: Component, value: Decimal, quota: Decimal | None, earned: Decimal, detail: dict[str, Any] | None
) -> Decimal:
    """Zero the earning unless attainment reaches the component's threshold (if it has one)."""
    if comp.threshold is None:
        return earned
    assert quota is not None
    met = value * HUNDRED >= comp.threshold * quota
    if detail is not None:
        detail["threshold"] = {"percent": _s(comp.threshold), "met": met}
    return earned if met else ZERO


def _apply_cap(comp: Component, earned: Decimal, detail: dict[str, Any] | None) -> Decimal:
    """Limit the earning to the component's cap (if it has one)."""
    if comp.cap is None:
        return earned
    capped = earned > comp.cap
    if detail is not None:
        detail["cap"] = {"amount": _s(comp.cap), "applied": capped}
        if capped:
            detail["cap"]["uncapped"] = _s(earned)
    return comp.cap if capped else earned


def _never_decreases(comp: Component) -> bool:
    """True when E can only stay or grow as V and N grow (quota fixed, above 0): the formula
    is a bonus, a flat rate, marginal tiers or per_deal with no negative coefficient, and a
    threshold (not negative) is only met at V >= 0, where the formula earns at least 0."""
    if comp.threshold is not None and comp.threshold < 0:
        return False
    if comp.kind == "bonus":
        coefficient = comp.amount if comp.amount is not None else comp.rate_of_excess
        return coefficient is not None and coefficient >= 0
    if comp.rate is not None:
        return comp.rate >= 0
    if comp.tiers is not None:
        if comp.tiers.method != "marginal":
            return False
        bands = comp.tiers.bands
        factors = [band.rate if band.rate is not None else band.multiplier for band in bands]
        if any(band.rate is None for band in bands):
            factors.append(comp.target_incentive)  # multiplier bands pay multiplier * TI / quota
        return all(factor is not None and factor >= 0 for factor in factors)
    return comp.per_deal is not None and comp.per_deal >= 0


def ceiling(comp: Component) -> Decimal | None:
    """The most `comp` earns in a period, when E never decreases as V and N grow: once a
    line has earned it, credit that adds to V and N leaves E unchanged. None for a contest,
    a formula that may decrease, or an unbounded one (no cap, not a fixed-amount bonus)."""
    if comp.kind == "contest" or (comp.cap is not None and comp.cap < 0) or not _never_decreases(comp):
        return None
    if comp.kind == "bonus" and comp.amount is not None:
        return comp.cap if comp.cap is not None and comp.amount > comp.cap else comp.amount
    return comp.cap


def earn(
    comp: Component,
    value: Decimal,
    count: Decimal,
    quota: Decimal | None,
    detail: dict[str, Any] | None = None,
    bounds: Bounds | None = None,
) -> Decimal:
    """E for one (payee, component, period) (PLANS.md rules 17-19).

    `quota` is None when missing or <= 0; callers must not call this for a component
    that needs a quota without one. When `detail` is a dict, the arithmetic is
    written into it for the explanation. `bounds` may pass `band_bounds(comp, quota)`
    computed once by the caller.
    """
    earned = _before_limits(comp, value, count, quota, detail, bounds)
    earned = _apply_threshold(comp, value, quota, earned, detail)
    return _apply_cap(comp, earned, detail)
