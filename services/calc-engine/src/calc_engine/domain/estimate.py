"""What-if for a rep (`POST /estimate`): the hypothetical revision of one deal, and what it
changes in each of the payee's lines: value, attainment, earned, the tier bands crossed and
the threshold, bonus bar or cap crossed. Pure: two engine runs in, their difference out."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, Literal

from calc_engine.domain.plan_versions import version_named
from provisio_calc import Component, Line, Plan
from provisio_common.events import revision_order
from provisio_common.money import exact_sum

HYPOTHETICAL_SOURCE = "estimate"
HYPOTHETICAL_ID = "hypothetical"
HYPOTHETICAL_DEAL = f"{HYPOTHETICAL_SOURCE}:{HYPOTHETICAL_ID}"
# A change may not touch what identifies the revision (calc-engine sets those).
FIXED_FIELDS = ("source", "external_id", "revision", "changed_at")

Direction = Literal["up", "down"]


def start_of(day: date) -> datetime:
    """Midnight UTC of `day`: a `changed_at` whose local day is on or before `day` in
    every timezone west of UTC and `day` itself east of it, so an as-of `day` keeps it."""
    return datetime.combine(day, time(), tzinfo=UTC)


def new_deal_document(fields: Mapping[str, Any], payee: str, today: date) -> dict[str, Any]:
    """A hypothetical deal as `deals.v1` data: won, closing today and owned by the payee
    unless `fields` say otherwise, with an identity no real deal has."""
    return {
        "status": "won",
        "close_date": today.isoformat(),
        "owner": payee,
        **fields,
        "source": HYPOTHETICAL_SOURCE,
        "external_id": HYPOTHETICAL_ID,
        "revision": 1,
        "changed_at": start_of(today).isoformat(),
    }


def fixed_field_errors(fields: Mapping[str, Any], prefix: str) -> list[dict[str, str]]:
    """One 422 error per field a change may not set."""
    return [
        {"field": f"{prefix}.{name}", "message": "is set by calc-engine; a change may not give it"}
        for name in FIXED_FIELDS
        if name in fields
    ]


def changed_document(
    history: Iterable[Mapping[str, Any]], fields: Mapping[str, Any], today: date
) -> dict[str, Any]:
    """The next revision of a deal: its current snapshot with `fields` changed, won unless
    `fields` give a status, closing on its expected close date (today when it has none)
    unless `fields` give one, and changed after every revision held (so it is the latest)."""
    revisions = list(history)
    current = max(revisions, key=revision_order)
    latest = max(revision_order(r)[0] for r in revisions)
    changed_at = max(latest + timedelta(microseconds=1), start_of(today))
    return {
        **current,
        "status": "won",
        "close_date": current.get("close_date") or today.isoformat(),
        **fields,
        "changed_at": changed_at.isoformat(),
    }


def people_of(deal: Mapping[str, Any]) -> set[str]:
    """The owner and split payees of a deal snapshot."""
    return {deal["owner"], *(split["payee"] for split in deal.get("splits") or [])}


@dataclass(frozen=True)
class BandCrossing:
    """A tier band the line's value entered (`up`) or left (`down`), as the plan writes it
    (bounds in % of quota with `basis: attainment`, in currency with `basis: value`)."""

    band: int
    basis: str
    lower: Decimal
    upper: Decimal | None
    rate: Decimal | None
    multiplier: Decimal | None
    direction: Direction


@dataclass(frozen=True)
class LimitCrossing:
    """A threshold (%), bonus bar (%) or cap (amount) the change makes met or applied (`up`),
    or no longer (`down`)."""

    kind: Literal["threshold", "bar", "cap"]
    at: Decimal
    direction: Direction


@dataclass(frozen=True)
class LineChange:
    """One (component, period) of the payee before and after the hypothetical revision."""

    component: str
    period: str
    cash: bool
    value_before: Decimal
    value_after: Decimal
    attainment_before: Decimal | None
    attainment_after: Decimal | None
    earned_before: Decimal
    earned_after: Decimal
    delta: Decimal
    bands_crossed: tuple[BandCrossing, ...]
    limits_crossed: tuple[LimitCrossing, ...]


def _top_band(line: Line | None) -> int:
    """The highest band the line's value reaches (0 for no value: bands start at 0)."""
    if line is None:
        return 0
    return max((row["band"] for row in line.explanation.get("bands", [])), default=0)


def band_crossings(comp: Component, before: Line | None, after: Line | None) -> tuple[BandCrossing, ...]:
    """The bands between the highest reached before and after, in the order crossed."""
    if comp.tiers is None:
        return ()
    low, high = _top_band(before), _top_band(after)
    direction: Direction = "up" if high >= low else "down"
    indexes = range(low + 1, high + 1) if high >= low else range(low, high, -1)
    bands = comp.tiers.bands
    crossings = []
    for j in indexes:
        lower = Decimal(0) if j == 0 else bands[j - 1].to
        assert lower is not None
        band = bands[j]
        crossings.append(
            BandCrossing(j, comp.tiers.basis, lower, band.to, band.rate, band.multiplier, direction)
        )
    return tuple(crossings)


def _met(line: Line | None, key: str, at: Decimal, flag: str) -> bool:
    """Whether a limit held on a line (a missing line has value 0: met only at 0%)."""
    if line is None:
        return flag == "met" and at <= 0
    detail = line.explanation.get(key)
    return bool(detail and detail.get(flag))


def limit_crossings(comp: Component, before: Line | None, after: Line | None) -> tuple[LimitCrossing, ...]:
    """The threshold, bonus bar and cap whose state differs before and after."""
    limits: list[tuple[Literal["threshold", "bar", "cap"], Decimal | None, str, str]] = [
        ("threshold", comp.threshold, "threshold", "met"),
        ("bar", comp.when.attainment_at_least if comp.when else None, "bar", "met"),
        ("cap", comp.cap, "cap", "applied"),
    ]
    crossings = []
    for kind, at, key, flag in limits:
        if at is None:
            continue
        was, now = _met(before, key, at, flag), _met(after, key, at, flag)
        if was != now:
            crossings.append(LimitCrossing(kind, at, "up" if now else "down"))
    return tuple(crossings)


def _zero_attainment(line: Line) -> Decimal | None:
    """The attainment of no value against the other run's quota (None without one)."""
    return None if line.explanation.get("quota") is None else Decimal(0)


def line_change(plan: Plan | Sequence[Plan], before: Line | None, after: Line | None) -> LineChange:
    """The change of one (component, period) line; a side without a line counts as value 0.
    `plan` may be the plan's versions: the component is read from the line's own version."""
    either = after or before
    assert either is not None
    versions: Sequence[Plan] = (plan,) if isinstance(plan, Plan) else plan
    comp = version_named(versions, either.explanation.get("plan_version")).component(either.component)
    earned_before = Decimal(0) if before is None else before.earned
    earned_after = Decimal(0) if after is None else after.earned
    return LineChange(
        component=either.component,
        period=either.period,
        cash=either.cash,
        value_before=Decimal(0) if before is None else before.value,
        value_after=Decimal(0) if after is None else after.value,
        attainment_before=_zero_attainment(either) if before is None else before.attainment,
        attainment_after=_zero_attainment(either) if after is None else after.attainment,
        earned_before=earned_before,
        earned_after=earned_after,
        delta=exact_sum((earned_after, earned_before.copy_negate())),
        bands_crossed=band_crossings(comp, before, after),
        limits_crossed=limit_crossings(comp, before, after),
    )


def line_changes(
    plan: Plan | Sequence[Plan], before: Iterable[Line], after: Iterable[Line]
) -> list[LineChange]:
    """Every line of one payee whose value or earnings differ between the two runs, in plan
    component order, then period. Lines the change leaves as they were are not listed."""
    old = {(line.component, line.period): line for line in before}
    new = {(line.component, line.period): line for line in after}
    newest = plan if isinstance(plan, Plan) else plan[-1]
    order = {comp.id: i for i, comp in enumerate(newest.components)}
    changes = []
    for key in sorted(set(old) | set(new), key=lambda k: (order.get(k[0], len(order)), k[1])):
        was, now = old.get(key), new.get(key)
        if was is not None and now is not None and (was.value, was.earned) == (now.value, now.earned):
            continue
        changes.append(line_change(plan, was, now))
    return changes
