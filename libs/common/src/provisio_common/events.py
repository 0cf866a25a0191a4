"""The event envelope and the versioned event schemas of DESIGN.md §3.

Every message on every topic is an `Envelope` serialized as JSON. The `data` payloads
are validated by the schema models below at the edges that produce and consume them.
Amounts travel as decimal strings; a JSON number in an amount field is refused.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    field_validator,
)

from provisio_common.ids import new_id
from provisio_common.money import is_currency_code, parse_amount


def _decimal_text(value: Decimal) -> str:
    return str(value)


Amount = Annotated[Decimal, BeforeValidator(parse_amount), PlainSerializer(_decimal_text)]
"""A Decimal read from a decimal string (never a float) and written back as one."""


def utcnow() -> datetime:
    return datetime.now(UTC)


class Envelope(BaseModel):
    """The one envelope every message carries."""

    model_config = ConfigDict(populate_by_name=True, extra="forbid")

    id: str = Field(default_factory=new_id, min_length=1)
    type: str = Field(min_length=1)
    source: str = Field(min_length=1)
    time: datetime = Field(default_factory=utcnow)
    subject: str = Field(min_length=1)
    schema_version: int = Field(default=1, alias="schema", ge=1)
    data: dict[str, Any]

    def to_bytes(self) -> bytes:
        return json.dumps(self.to_json(), separators=(",", ":")).encode()

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)

    @classmethod
    def from_bytes(cls, raw: bytes) -> Envelope:
        return cls.model_validate_json(raw)


class _Schema(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def to_data(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=False)


def _currency(value: str) -> str:
    if not is_currency_code(value):
        raise ValueError("must be an ISO 4217 code such as USD")
    return value


Currency = Annotated[str, BeforeValidator(lambda v: v.upper() if isinstance(v, str) else v)]


class Split(_Schema):
    payee: str = Field(min_length=1)
    share: Amount


class DealLine(_Schema):
    product: str = Field(min_length=1)
    amount: Amount
    margin: Amount | None = None


DealStatus = Literal["open", "won", "lost", "cancelled"]
DealType = Literal["new", "renewal", "upsell"]


class DealSnapshot(_Schema):
    """`deals.v1` data: one whole deal snapshot at one revision."""

    source: str = Field(min_length=1)
    external_id: str = Field(min_length=1)
    revision: int = Field(ge=1)
    status: DealStatus
    amount: Amount
    currency: Currency
    close_date: date | datetime | None = None
    created_date: date | datetime | None = None
    changed_at: datetime
    territory: str | None = None
    owner: str = Field(min_length=1)
    splits: list[Split] = Field(default_factory=list)
    lines: list[DealLine] = Field(default_factory=list)
    type: DealType | None = None
    customer: str | None = None
    lead_source: str | None = None

    _check_currency = field_validator("currency")(_currency)

    @property
    def key(self) -> str:
        return f"{self.source}:{self.external_id}"


class ActivityRecord(_Schema):
    """`activities.v1` data."""

    source: str = Field(min_length=1)
    external_id: str = Field(min_length=1)
    kind: Literal["call", "meeting", "email", "demo"]
    owner: str = Field(min_length=1)
    occurred_at: datetime
    deal: str | None = None


class PlanVersion(_Schema):
    """`plans.v1` data: one stored version of a plan document."""

    plan_id: str
    version: int = Field(ge=1)
    document: dict[str, Any]
    created_at: datetime


class PlanAssignment(_Schema):
    plan: str
    valid_from: date | None = None
    valid_to: date | None = None


class PayeeRecord(_Schema):
    """`payees.v1` data: the whole payee (compacted by id)."""

    id: str
    name: str
    email: str | None = None
    manager: str | None = None
    roles: list[str] = Field(default_factory=lambda: ["rep"])
    team: str | None = None
    territories: list[str] = Field(default_factory=list)
    currency: str | None = None
    payroll_id: str | None = None
    crm_ids: list[str] = Field(default_factory=list)
    assignments: list[PlanAssignment] = Field(default_factory=list)
    active: bool = True


class QuotaRecord(_Schema):
    """`quotas.v1` data: one payee's quota for one period (amount null = deleted)."""

    payee: str
    period: str
    amount: Amount | None


class FxRateRecord(_Schema):
    """`fxrates.v1` data: 1 `from_currency` = `rate` `to_currency` from `day` on
    (rate null = deleted)."""

    day: date
    from_currency: str = Field(pattern=r"^[A-Z]{3}$")
    to_currency: str = Field(pattern=r"^[A-Z]{3}$")
    rate: Amount | None


class CreditRecord(_Schema):
    """`credits.v1` data: the value of one deal credited to one payee at one revision."""

    deal: str
    revision: int
    payee: str
    share: Amount
    amount: Amount
    currency: str
    status: DealStatus
    close_date: date | datetime | None
    type: DealType | None = None


class LedgerEntryRecord(_Schema):
    """`ledger.v1` data: one append-only ledger entry (a delta E' - E)."""

    entry_id: str
    payee: str
    plan: str
    plan_version: int
    component: str
    period: str
    entry_date: date
    pay_period: str
    amount: Amount
    currency: str
    rounding: str = "half_up"
    cash: bool = True
    deal: str | None = None
    cause_event: str
    explanation: dict[str, Any] = Field(default_factory=dict)
    posted_at: datetime


SchemaT = TypeVar("SchemaT", bound=_Schema)

EVENT_TYPES: dict[str, type[_Schema]] = {
    "deal.snapshot": DealSnapshot,
    "activity": ActivityRecord,
    "plan.version": PlanVersion,
    "payee": PayeeRecord,
    "quota": QuotaRecord,
    "fx.rate": FxRateRecord,
    "credit": CreditRecord,
    "ledger.entry": LedgerEntryRecord,
}


def envelope(event_type: str, source: str, subject: str, payload: _Schema) -> Envelope:
    """Wrap a validated payload in a new envelope with a fresh ULID."""
    if EVENT_TYPES.get(event_type) is not type(payload):
        raise ValueError(f"{type(payload).__name__} is not the schema of {event_type!r}")
    return Envelope(type=event_type, source=source, subject=subject, data=payload.to_data())


def parse_payload(env: Envelope, schema: type[SchemaT]) -> SchemaT:
    """Validate an envelope's data against the schema its type names."""
    return schema.model_validate(env.data)
