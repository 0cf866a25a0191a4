"""The engine's inputs: deal snapshots, activities, payees, quotas and fx rates."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from provisio_calc.numbers import parse_decimal
from provisio_calc.periods import parse_period, parse_when

DEAL_STATUSES = ("open", "won", "lost", "cancelled")
DEAL_TYPES = ("new", "renewal", "upsell")


class InputInvalid(ValueError):
    """An input record that cannot be used; `field` names the offending field."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def _text(d: Mapping[str, Any], field: str, *, required: bool = True) -> str | None:
    value = d.get(field)
    if type(value) is str and value:
        return value  # the common case, first
    if value is None or value == "":
        if required:
            raise InputInvalid(field, "is required")
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise InputInvalid(field, f"must be a string, got {value!r}")
    return str(value)


def _decimal(value: object, field: str) -> Decimal:
    try:
        return parse_decimal(value)
    except ValueError as exc:
        raise InputInvalid(field, str(exc)) from None


def _when(value: object, field: str) -> date | datetime:
    if isinstance(value, datetime | date):
        return value
    if not isinstance(value, str):
        raise InputInvalid(field, f"must be an ISO 8601 date or timestamp, got {value!r}")
    try:
        return parse_when(value)
    except ValueError as exc:
        raise InputInvalid(field, str(exc)) from None


@dataclass(frozen=True, slots=True)
class Split:
    """One split of a deal: `payee` gets `share` (0 < share <= 1) of its value."""

    payee: str
    share: Decimal


@dataclass(frozen=True, slots=True)
class DealLine:
    """One product line of a deal."""

    product: str
    amount: Decimal
    margin: Decimal


def _revision(d: Mapping[str, Any]) -> int:
    """A deal's `revision`: an integer (an integral decimal string or Decimal is accepted)."""
    revision_raw = d.get("revision")
    if isinstance(revision_raw, bool) or revision_raw is None:
        raise InputInvalid("revision", "is required (an integer)")
    try:
        revision = int(revision_raw)
    except (TypeError, ValueError):
        raise InputInvalid("revision", f"must be an integer, got {revision_raw!r}") from None
    if isinstance(revision_raw, Decimal | str) and Decimal(str(revision_raw)) != revision:
        raise InputInvalid("revision", f"must be an integer, got {revision_raw!r}")
    return revision


def _status(d: Mapping[str, Any]) -> str:
    """A deal's `status`, one of DEAL_STATUSES."""
    status = _text(d, "status")
    if status not in DEAL_STATUSES:
        raise InputInvalid("status", f"must be one of {', '.join(DEAL_STATUSES)}, got {status!r}")
    assert status is not None
    return status


def _currency(d: Mapping[str, Any]) -> str:
    """A deal's `currency`: a three-letter upper-case ISO 4217 code."""
    currency = _text(d, "currency")
    assert currency is not None
    if len(currency) != 3 or not currency.isalpha() or not currency.isupper():
        raise InputInvalid("currency", f"must be an ISO 4217 code, got {currency!r}")
    return currency


def _close_and_changed(d: Mapping[str, Any], status: str) -> tuple[date | datetime | None, date | datetime]:
    """A deal's `close_date` (required when won) and `changed_at` (its close date when absent)."""
    close_raw = d.get("close_date")
    close_date = None if close_raw in (None, "") else _when(close_raw, "close_date")
    if status == "won" and close_date is None:
        raise InputInvalid("close_date", "is required for a won deal")
    changed_raw = d.get("changed_at")
    # Without changed_at the revision is taken as made on its close date.
    changed_at = close_date if changed_raw in (None, "") else _when(changed_raw, "changed_at")
    if changed_at is None:
        raise InputInvalid("changed_at", "is required when there is no close_date")
    return close_date, changed_at


def _splits(d: Mapping[str, Any]) -> list[Split]:
    """A deal's `splits`: a list of {payee, share} objects."""
    splits_raw = d.get("splits") or []
    if not isinstance(splits_raw, list):
        raise InputInvalid("splits", "must be a list")
    splits = []
    for i, item in enumerate(splits_raw):
        if not isinstance(item, Mapping):
            raise InputInvalid(f"splits[{i}]", "must be an object {payee, share}")
        payee = _text(item, "payee", required=False)
        if payee is None:
            raise InputInvalid(f"splits[{i}].payee", "is required")
        if item.get("share") is None:
            raise InputInvalid(f"splits[{i}].share", "is required")
        splits.append(Split(payee, _decimal(item["share"], f"splits[{i}].share")))
    return splits


def _deal_lines(d: Mapping[str, Any]) -> list[DealLine]:
    """A deal's product `lines`: {product, amount, margin} objects (amount, margin default to 0)."""
    lines_raw = d.get("lines") or []
    if not isinstance(lines_raw, list):
        raise InputInvalid("lines", "must be a list")
    lines = []
    for i, item in enumerate(lines_raw):
        if not isinstance(item, Mapping):
            raise InputInvalid(f"lines[{i}]", "must be an object {product, amount, margin}")
        product = _text(item, "product", required=False)
        if product is None:
            raise InputInvalid(f"lines[{i}].product", "is required")
        line_amount = _decimal(item.get("amount", "0"), f"lines[{i}].amount")
        margin_raw = item.get("margin")
        margin = Decimal(0) if margin_raw is None else _decimal(margin_raw, f"lines[{i}].margin")
        lines.append(DealLine(product, line_amount, margin))
    return lines


@dataclass(frozen=True, slots=True)
class Deal:
    """One deal snapshot (DESIGN.md section 3), as carried by deals.v1."""

    source: str
    external_id: str
    revision: int
    status: str
    amount: Decimal
    currency: str
    close_date: date | datetime | None
    changed_at: date | datetime | None
    owner: str
    splits: tuple[Split, ...] = ()
    lines: tuple[DealLine, ...] = ()
    type: str | None = None
    territory: str | None = None
    created_date: date | datetime | None = None
    customer: str | None = None
    lead_source: str | None = None

    @property
    def key(self) -> str:
        """`source:external_id`, the deal's identity (and an exception's `deal`)."""
        return f"{self.source}:{self.external_id}"

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Deal:
        """Build from the `data` object of a deals.v1 event; raises InputInvalid naming the field."""
        if not isinstance(d, Mapping):
            raise InputInvalid("deal", "must be a JSON object")
        source = _text(d, "source")
        external_id = _text(d, "external_id")
        revision = _revision(d)
        status = _status(d)
        if d.get("amount") is None:
            raise InputInvalid("amount", "is required (a decimal string)")
        amount = _decimal(d["amount"], "amount")
        currency = _currency(d)
        close_date, changed_at = _close_and_changed(d, status)
        created_raw = d.get("created_date")
        created = None if created_raw in (None, "") else _when(created_raw, "created_date")
        owner = _text(d, "owner")
        splits = _splits(d)
        lines = _deal_lines(d)
        deal_type = _text(d, "type", required=False)
        if deal_type is not None and deal_type not in DEAL_TYPES:
            raise InputInvalid("type", f"must be one of {', '.join(DEAL_TYPES)}, got {deal_type!r}")
        assert source is not None and external_id is not None and owner is not None
        return cls(
            source=source,
            external_id=external_id,
            revision=revision,
            status=status,
            amount=amount,
            currency=currency,
            close_date=close_date,
            changed_at=changed_at,
            owner=owner,
            splits=tuple(splits),
            lines=tuple(lines),
            type=deal_type,
            territory=_text(d, "territory", required=False),
            created_date=created,
            customer=_text(d, "customer", required=False),
            lead_source=_text(d, "lead_source", required=False),
        )


@dataclass(frozen=True, slots=True)
class Activity:
    """One activity (activities.v1): a call, meeting, email or demo by `owner`."""

    source: str
    external_id: str
    kind: str
    owner: str
    occurred_at: date | datetime
    deal: str | None = None

    @property
    def key(self) -> str:
        """`source:external_id`."""
        return f"{self.source}:{self.external_id}"

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Activity:
        """Build from the `data` object of an activities.v1 event."""
        if not isinstance(d, Mapping):
            raise InputInvalid("activity", "must be a JSON object")
        source = _text(d, "source")
        external_id = _text(d, "external_id")
        kind = _text(d, "kind")
        owner = _text(d, "owner")
        if d.get("occurred_at") in (None, ""):
            raise InputInvalid("occurred_at", "is required")
        occurred = _when(d["occurred_at"], "occurred_at")
        assert source is not None and external_id is not None
        assert kind is not None and owner is not None
        return cls(source, external_id, kind, owner, occurred, _text(d, "deal", required=False))


@dataclass(frozen=True, slots=True)
class Payee:
    """Who earns: an id, a manager (the hierarchy), roles, a team and territories."""

    id: str
    name: str = ""
    manager: str | None = None
    roles: tuple[str, ...] = ("rep",)
    team: str | None = None
    territories: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Quota:
    """A payee's quota for one period ("2027", "2027-H1", "2027-Q1" or "2027-01")."""

    payee: str
    period: str
    amount: Decimal

    def __post_init__(self) -> None:
        try:
            parse_period(self.period)
        except ValueError as exc:
            raise InputInvalid("period", str(exc)) from None


@dataclass(frozen=True, slots=True)
class FxRate:
    """1 `from_currency` = `rate` `to_currency`, from `day` on."""

    day: date
    from_currency: str
    to_currency: str
    rate: Decimal
