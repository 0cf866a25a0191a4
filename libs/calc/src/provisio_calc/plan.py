"""Plan documents: the models of PLANS.md and the one validator used everywhere."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    ValidationError,
    field_validator,
)

from provisio_calc.money import minor_units
from provisio_calc.numbers import parse_decimal
from provisio_calc.periods import local_day, period_bounds, period_of, zone

ACTIVITY_KINDS = ("call", "meeting", "email", "demo")
METRIC_RE = re.compile(r"^(amount|margin|deals|activity:(call|meeting|email|demo))$")


@dataclass(frozen=True)
class PlanProblem:
    """One problem in a plan document, at `path` (like "components[2].tiers.bands[1].to")."""

    path: str
    message: str

    def __str__(self) -> str:
        return f"{self.path or '(plan)'}: {self.message}"


class PlanInvalid(ValueError):
    """A plan that cannot be used; `problems` lists every problem found, not just the first."""

    def __init__(self, problems: list[PlanProblem]) -> None:
        self.problems = problems
        super().__init__("invalid plan: " + "; ".join(str(p) for p in problems))


def _to_decimal(value: object) -> Decimal:
    return parse_decimal(value)


Dec = Annotated[Decimal, BeforeValidator(_to_decimal)]
PeriodKind = Literal["month", "quarter", "half", "year"]
DealType = Literal["new", "renewal", "upsell"]
CreditKind = Literal["owner", "splits", "team_rollup"]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", populate_by_name=True)


class DateRange(_Model):
    """An inclusive range of local days."""

    from_: date = Field(alias="from")
    to: date

    def contains(self, day: date) -> bool:
        """True when from <= day <= to."""
        return self.from_ <= day <= self.to


class Measure(_Model):
    """What is counted, and which deals count."""

    metric: str = "amount"
    deal_types: tuple[DealType, ...] | None = None
    products: tuple[str, ...] | None = None
    territories: tuple[str, ...] | None = None

    @field_validator("metric")
    @classmethod
    def _known_metric(cls, value: str) -> str:
        if not METRIC_RE.match(value):
            raise ValueError(
                f"unknown metric {value!r} (amount, margin, deals or activity:<kind> "
                f"with kind {'|'.join(ACTIVITY_KINDS)})"
            )
        return value


class Band(_Model):
    """A tier band: from the previous `to` (0 for the first) up to, excluding, `to`."""

    from_: Dec | None = Field(default=None, alias="from")
    to: Dec | None = None
    rate: Dec | None = None
    multiplier: Dec | None = None


class Tiers(_Model):
    """Banded rates on a component's value."""

    basis: Literal["attainment", "value"] = "attainment"
    method: Literal["marginal", "retroactive"] = "marginal"
    bands: tuple[Band, ...]


class AppliesTo(_Model):
    """Who gets lines for a component; every given key must match."""

    roles: tuple[str, ...] | None = None
    teams: tuple[str, ...] | None = None
    payees: tuple[str, ...] | None = None


class When(_Model):
    """A bonus's bar."""

    attainment_at_least: Dec


class Prize(_Model):
    """A contest prize: `amount` (cash) or `value` of a non-cash `reward`."""

    rank: Annotated[int, Strict()]
    amount: Dec | None = None
    value: Dec | None = None
    reward: str | None = None
    cash: bool | None = None

    @property
    def is_cash(self) -> bool:
        """A prize with `amount` is cash; one with only `value` is not (rule 22)."""
        return self.amount is not None

    @property
    def worth(self) -> Decimal:
        """The prize's amount, or its non-cash value."""
        if self.amount is not None:
            return self.amount
        assert self.value is not None
        return self.value


class Component(_Model):
    """One plan component: commission, bonus, spif or contest."""

    id: str
    kind: Literal["commission", "bonus", "spif", "contest"]
    name: str | None = None
    measure: Measure | None = None
    credit: tuple[CreditKind, ...] = ("owner", "splits")
    applies_to: AppliesTo | None = None
    rate: Dec | None = None
    tiers: Tiers | None = None
    per_deal: Dec | None = None
    target_incentive: Dec | None = None
    threshold: Dec | None = None
    cap: Dec | None = None
    when: When | None = None
    amount: Dec | None = None
    rate_of_excess: Dec | None = None
    window: DateRange | None = None
    rank_by: Measure | None = None
    prizes: tuple[Prize, ...] | None = None

    @property
    def effective_measure(self) -> Measure:
        """The measure used: `rank_by` for a contest, else `measure`, else {metric: amount}."""
        chosen = self.rank_by if self.kind == "contest" else self.measure
        return chosen if chosen is not None else Measure()

    @property
    def needs_quota(self) -> bool:
        """PLANS.md rule 7: attainment tiers, multiplier bands, a threshold, or a bonus."""
        if self.kind == "contest":
            return False
        if self.kind == "bonus" or self.threshold is not None:
            return True
        if self.tiers is not None:
            if self.tiers.basis == "attainment":
                return True
            return any(b.multiplier is not None for b in self.tiers.bands)
        return False


class Clawback(_Model):
    """Reversals of won deals within `window_days` of the close day."""

    window_days: Annotated[int, Strict()]


class Draw(_Model):
    """A minimum pay per pay period, recoverable from later earnings or not."""

    amount: Dec
    per: PeriodKind = "month"
    recoverable: bool = True


class Accounting(_Model):
    """Commission expense under ASC 340-40 (payout-service): the components whose entries
    are capitalized as a cost of obtaining a contract (default: every commission and spif),
    the contract term of a deal that gives none, and the practical expedient (a term of 12
    months or less is expensed when incurred)."""

    capitalize: tuple[str, ...] | None = None
    default_term_months: Annotated[int, Strict()] | None = None
    practical_expedient: Annotated[bool, Strict()] = True

    def capitalized(self, components: tuple[Component, ...]) -> frozenset[str]:
        """The ids of the components whose entries are capitalized."""
        if self.capitalize is not None:
            return frozenset(self.capitalize)
        return frozenset(c.id for c in components if c.kind in ("commission", "spif"))


class Plan(_Model):
    """A validated plan document (PLANS.md). Build it with `load_plan`."""

    id: str
    name: str = ""
    version: Annotated[int, Strict()] | str | None = None
    currency: str
    timezone: str = "UTC"
    period: PeriodKind
    pay_frequency: PeriodKind = "month"
    effective: DateRange
    rounding: Literal["half_up", "half_even", "down"] = "half_up"
    components: tuple[Component, ...]
    clawback: Clawback | None = None
    draw: Draw | None = None
    accounting: Accounting | None = None

    def document(self) -> dict[str, Any]:
        """The normalized plan as a JSON-safe dict (decimals as strings, dates ISO)."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)

    def component(self, component_id: str) -> Component:
        """The component with this id."""
        for comp in self.components:
            if comp.id == component_id:
                return comp
        raise KeyError(component_id)


# ---------------------------------------------------------------- reading text


class _DecimalLoader(yaml.SafeLoader):
    """A YAML loader that reads floats as Decimal from their source text (rule 4)."""


def _construct_decimal(loader: yaml.SafeLoader, node: yaml.Node) -> object:
    text = str(loader.construct_scalar(node))  # type: ignore[arg-type]
    try:
        return parse_decimal(text)
    except ValueError:
        return text  # .inf / .nan: left as text so the validator reports "not a number"


_DecimalLoader.add_constructor("tag:yaml.org,2002:float", _construct_decimal)


def _no_constant(text: str) -> object:
    raise ValueError(f"{text} is not a number")


def parse_document(source: str | bytes, filename: str | None = None) -> Any:
    """Parse YAML or JSON text without ever making a float. Raises PlanInvalid."""
    text = source.decode("utf-8") if isinstance(source, bytes) else source
    stripped = text.lstrip()
    looks_json = (filename or "").lower().endswith(".json") or stripped.startswith("{")
    if looks_json:
        try:
            return json.loads(text, parse_float=Decimal, parse_constant=_no_constant)
        except ValueError as exc:
            if (filename or "").lower().endswith(".json"):
                raise PlanInvalid([PlanProblem("", f"not valid JSON: {exc}")]) from None
    try:
        return yaml.load(text, Loader=_DecimalLoader)
    except yaml.YAMLError as exc:
        raise PlanInvalid([PlanProblem("", f"not valid YAML: {exc}")]) from None


def parse_documents(source: str | bytes, filename: str | None = None) -> list[Any]:
    """Every document of a YAML stream (`---` between documents; empty ones skipped), or
    the one document of a JSON text. Never makes a float. Raises PlanInvalid."""
    text = source.decode("utf-8") if isinstance(source, bytes) else source
    stripped = text.lstrip()
    if (filename or "").lower().endswith(".json") or stripped.startswith("{"):
        return [parse_document(text, filename)]
    try:
        return [doc for doc in yaml.load_all(text, Loader=_DecimalLoader) if doc is not None]
    except yaml.YAMLError as exc:
        raise PlanInvalid([PlanProblem("", f"not valid YAML: {exc}")]) from None


# ---------------------------------------------------------------- validation


def _path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + part
    return out


def _pydantic_problems(exc: ValidationError, prefix: str = "") -> list[PlanProblem]:
    problems = []
    for err in exc.errors():
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and "[" in p))
        path = _path(loc)
        if prefix:
            path = prefix + ("." + path if path and not path.startswith("[") else path)
        message = str(err["msg"]).removeprefix("Value error, ")
        if err["type"] == "extra_forbidden":
            message = "unknown field"
        elif err["type"] == "missing":
            message = "is required"
        problems.append(PlanProblem(path, message))
    return problems


def _localize_days(raw: dict[str, Any]) -> None:
    """Windows and `effective` may be timestamps: take their day in the plan's timezone."""
    tz = raw.get("timezone", "UTC")
    try:
        zone(tz) if isinstance(tz, str) else None
    except ValueError:
        tz = "UTC"
    if not isinstance(tz, str):
        tz = "UTC"

    def fix(rng: Any) -> Any:
        if not isinstance(rng, Mapping):
            return rng
        fixed = dict(rng)
        for key in ("from", "to", "from_"):
            value = fixed.get(key)
            try:
                if isinstance(value, datetime) or (isinstance(value, str) and len(value) > 10):
                    fixed[key] = local_day(value, tz)
            except ValueError:
                pass  # left for the validator to report
        return fixed

    if "effective" in raw:
        raw["effective"] = fix(raw["effective"])
    comps = raw.get("components")
    if isinstance(comps, list):
        new = []
        for comp in comps:
            if isinstance(comp, Mapping) and "window" in comp:
                comp = dict(comp)
                comp["window"] = fix(comp["window"])
            new.append(comp)
        raw["components"] = new


def _not_negative(problems: list[PlanProblem], path: str, value: Decimal | None) -> None:
    if value is not None and value < 0:
        problems.append(PlanProblem(path, "must not be negative"))


def _check_window(problems: list[PlanProblem], path: str, window: DateRange) -> None:
    """A window runs forward. It may reach outside `effective` (rule 34): only days
    inside both count, so that is not a problem."""
    if window.from_ > window.to:
        problems.append(PlanProblem(path, "from is after to"))


def _check_tiers(problems: list[PlanProblem], path: str, comp: Component) -> None:
    tiers = comp.tiers
    assert tiers is not None
    if not tiers.bands:
        problems.append(PlanProblem(f"{path}.tiers.bands", "needs at least one band"))
        return
    previous = Decimal(0)
    last = len(tiers.bands) - 1
    for j, band in enumerate(tiers.bands):
        bp = f"{path}.tiers.bands[{j}]"
        if (band.rate is None) == (band.multiplier is None):
            problems.append(PlanProblem(bp, "a band needs exactly one of rate or multiplier"))
        _not_negative(problems, f"{bp}.rate", band.rate)
        _not_negative(problems, f"{bp}.multiplier", band.multiplier)
        if band.multiplier is not None and comp.target_incentive is None:
            problems.append(PlanProblem(f"{path}.target_incentive", "multiplier bands need target_incentive"))
        if band.from_ is not None and band.from_ != previous:
            what = "overlapping" if band.from_ < previous else "non-contiguous"
            problems.append(
                PlanProblem(
                    f"{bp}.from",
                    f"bands are {what}: this band starts at {band.from_} but the previous "
                    f"one ends at {previous} (bands start at 0 and are contiguous)",
                )
            )
        if j == last:
            if band.to is not None:
                problems.append(PlanProblem(f"{bp}.to", "the last band is open-ended: omit to"))
        elif band.to is None:
            problems.append(PlanProblem(f"{bp}.to", "only the last band may omit to"))
        if band.to is not None:
            if band.to <= previous:
                problems.append(
                    PlanProblem(
                        f"{bp}.to",
                        f"bands must ascend: to {band.to} is not above the band's lower bound {previous}",
                    )
                )
            previous = max(previous, band.to)


_ONLY_FOR: dict[str, tuple[str, ...]] = {
    "rate": ("commission", "spif"),
    "tiers": ("commission", "spif"),
    "per_deal": ("commission", "spif"),
    "target_incentive": ("commission", "spif"),
    "threshold": ("commission", "spif", "bonus"),
    "cap": ("commission", "spif", "bonus"),
    "when": ("bonus",),
    "amount": ("bonus",),
    "rate_of_excess": ("bonus",),
    "window": ("spif", "contest"),
    "rank_by": ("contest",),
    "prizes": ("contest",),
    "measure": ("commission", "spif", "bonus"),
}


def _check_fields_apply(problems: list[PlanProblem], path: str, comp: Component) -> None:
    """Each field given must be one that the component's kind uses."""
    for field, kinds in _ONLY_FOR.items():
        if getattr(comp, field) is not None and comp.kind not in kinds:
            problems.append(PlanProblem(f"{path}.{field}", f"does not apply to a {comp.kind} component"))


def _check_formula(problems: list[PlanProblem], path: str, comp: Component) -> None:
    """A commission or spif has exactly one of rate, tiers or per_deal; a bonus has a bar
    and exactly one of amount or rate_of_excess."""
    if comp.kind in ("commission", "spif"):
        given = [f for f in ("rate", "tiers", "per_deal") if getattr(comp, f) is not None]
        if len(given) != 1:
            problems.append(
                PlanProblem(
                    path,
                    f"a {comp.kind} needs exactly one of rate, tiers or per_deal"
                    + (f" (got {', '.join(given)})" if given else ""),
                )
            )
    if comp.kind == "bonus":
        if comp.when is None:
            problems.append(PlanProblem(f"{path}.when", "a bonus needs when.attainment_at_least"))
        if (comp.amount is None) == (comp.rate_of_excess is None):
            problems.append(PlanProblem(path, "a bonus needs exactly one of amount or rate_of_excess"))


def _check_prize(problems: list[PlanProblem], pp: str, prize: Prize, seen: set[int]) -> None:
    """One contest prize: a rank from 1 not seen before, exactly one of amount or value,
    a `cash` flag that agrees, and no negative amounts; adds its rank to `seen`."""
    if prize.rank < 1:
        problems.append(PlanProblem(f"{pp}.rank", "ranks start at 1"))
    if prize.rank in seen:
        problems.append(PlanProblem(f"{pp}.rank", f"rank {prize.rank} has two prizes"))
    seen.add(prize.rank)
    if (prize.amount is None) == (prize.value is None):
        problems.append(PlanProblem(pp, "a prize needs exactly one of amount or value"))
    if prize.amount is not None and prize.cash is False:
        problems.append(PlanProblem(f"{pp}.cash", "a prize with amount is cash"))
    if prize.value is not None and prize.amount is None and prize.cash is True:
        problems.append(PlanProblem(f"{pp}.cash", "a prize with only value is non-cash (cash: false)"))
    _not_negative(problems, f"{pp}.amount", prize.amount)
    _not_negative(problems, f"{pp}.value", prize.value)


def _check_prizes(problems: list[PlanProblem], path: str, comp: Component) -> None:
    """A contest has at least one prize, each valid, with no rank twice."""
    if not comp.prizes:
        problems.append(PlanProblem(f"{path}.prizes", "a contest needs at least one prize"))
    seen: set[int] = set()
    for j, prize in enumerate(comp.prizes or ()):
        _check_prize(problems, f"{path}.prizes[{j}]", prize, seen)


def _check_amounts(problems: list[PlanProblem], path: str, comp: Component) -> None:
    """Rates, amounts, the threshold, the cap and the bonus bar are not negative."""
    for field in ("rate", "per_deal", "target_incentive", "threshold", "cap", "amount", "rate_of_excess"):
        _not_negative(problems, f"{path}.{field}", getattr(comp, field))
    if comp.when is not None:
        _not_negative(problems, f"{path}.when.attainment_at_least", comp.when.attainment_at_least)


def _check_credit(problems: list[PlanProblem], path: str, comp: Component) -> None:
    """A component credits at least one credit kind, none twice."""
    if not comp.credit:
        problems.append(PlanProblem(f"{path}.credit", "needs at least one of owner, splits, team_rollup"))
    elif len(set(comp.credit)) != len(comp.credit):
        problems.append(PlanProblem(f"{path}.credit", "lists a credit kind twice"))


def _check_component(problems: list[PlanProblem], i: int, comp: Component) -> None:
    """Every rule of PLANS.md a parsed component can break, in the order they are reported."""
    path = f"components[{i}]"
    _check_fields_apply(problems, path, comp)
    _check_formula(problems, path, comp)
    if comp.kind in ("spif", "contest") and comp.window is None:
        problems.append(PlanProblem(f"{path}.window", f"a {comp.kind} needs a window"))
    if comp.window is not None:
        _check_window(problems, f"{path}.window", comp.window)
    if comp.kind == "contest":
        _check_prizes(problems, path, comp)
    if comp.tiers is not None:
        _check_tiers(problems, path, comp)
    _check_amounts(problems, path, comp)
    _check_credit(problems, path, comp)


def _check_effective_from(problems: list[PlanProblem], plan: Plan) -> None:
    """`effective.from` is the first day of a measurement period: each period is computed
    under one plan version (the newest whose `effective` contains its first day)."""
    start = plan.effective.from_
    first = period_bounds(period_of(start, plan.period))[0]
    if start != first:
        problems.append(
            PlanProblem(
                "effective.from",
                f"must be the first day of a {plan.period} (the {plan.period} containing {start} "
                f"starts on {first}): each measurement period is computed under one plan version",
            )
        )


def _check_plan(problems: list[PlanProblem], plan: Plan) -> None:
    try:
        minor_units(plan.currency)
    except ValueError as exc:
        problems.append(PlanProblem("currency", str(exc)))
    try:
        zone(plan.timezone)
    except ValueError as exc:
        problems.append(PlanProblem("timezone", str(exc)))
    if plan.effective.from_ > plan.effective.to:
        problems.append(PlanProblem("effective", "from is after to"))
    _check_effective_from(problems, plan)
    if not plan.components:
        problems.append(PlanProblem("components", "needs at least one component"))
    seen: dict[str, int] = {}
    for i, comp in enumerate(plan.components):
        if comp.id in seen:
            problems.append(
                PlanProblem(
                    f"components[{i}].id", f"duplicate id {comp.id!r} (also components[{seen[comp.id]}])"
                )
            )
        seen.setdefault(comp.id, i)
        _check_component(problems, i, comp)
    if plan.clawback is not None and plan.clawback.window_days < 0:
        problems.append(PlanProblem("clawback.window_days", "must not be negative"))
    if plan.draw is not None and plan.draw.amount <= 0:
        problems.append(PlanProblem("draw.amount", "must be above 0"))
    if not plan.id.strip():
        problems.append(PlanProblem("id", "must not be empty"))
    if plan.accounting is not None:
        _check_accounting(problems, plan.accounting, seen)


MAX_TERM_MONTHS = 600


def _check_accounting(problems: list[PlanProblem], accounting: Accounting, ids: Mapping[str, int]) -> None:
    """`capitalize` names components of the plan, once each; a default term is 1..600 months."""
    listed: set[str] = set()
    for i, component_id in enumerate(accounting.capitalize or ()):
        if component_id not in ids:
            problems.append(PlanProblem(f"accounting.capitalize[{i}]", f"unknown component {component_id!r}"))
        elif component_id in listed:
            problems.append(PlanProblem(f"accounting.capitalize[{i}]", f"lists {component_id!r} twice"))
        listed.add(component_id)
    term = accounting.default_term_months
    if term is not None and not 1 <= term <= MAX_TERM_MONTHS:
        problems.append(
            PlanProblem("accounting.default_term_months", f"must be from 1 to {MAX_TERM_MONTHS} months")
        )


def _partial_checks(problems: list[PlanProblem], raw: Mapping[str, Any]) -> None:
    """When the whole plan does not parse, still check every component that does."""
    comps = raw.get("components")
    if not isinstance(comps, list):
        return
    for i, comp_raw in enumerate(comps):
        try:
            comp = Component.model_validate(comp_raw)
        except ValidationError:
            continue
        _check_component(problems, i, comp)


def validate_plan(raw: Any) -> Plan:
    """Validate a parsed plan document; raises PlanInvalid listing every problem."""
    if not isinstance(raw, Mapping):
        raise PlanInvalid([PlanProblem("", "a plan is a mapping (YAML or JSON object)")])
    data = dict(raw)
    _localize_days(data)
    problems: list[PlanProblem] = []
    try:
        plan = Plan.model_validate(data)
    except ValidationError as exc:
        problems.extend(_pydantic_problems(exc))
        _partial_checks(problems, data)
        raise PlanInvalid(_unique(problems)) from None
    _check_plan(problems, plan)
    if problems:
        raise PlanInvalid(_unique(problems))
    return plan


def _unique(problems: list[PlanProblem]) -> list[PlanProblem]:
    return list(dict.fromkeys(problems))


def load_plan(source: str | bytes | Mapping[str, Any], *, filename: str | None = None) -> Plan:
    """Read and validate a plan from YAML or JSON text, or an already-parsed mapping.

    Raises PlanInvalid listing every problem, each with its path.
    """
    raw = source if isinstance(source, Mapping) else parse_document(source, filename)
    return validate_plan(raw)
