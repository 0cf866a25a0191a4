"""The event envelope and the versioned event schemas of DESIGN.md §3.

Every message on every topic is an `Envelope` serialized as JSON. The `data` payloads
are validated by the schema models below at the edges that produce and consume them.
Amounts travel as decimal strings; a JSON number in an amount field is refused.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    PlainValidator,
    Strict,
    WithJsonSchema,
    field_validator,
)

from provisio_calc.periods import parse_when
from provisio_common.ids import new_id
from provisio_common.money import is_currency_code, parse_amount, plain_decimal

Amount = Annotated[Decimal, BeforeValidator(parse_amount), PlainSerializer(plain_decimal)]
"""A Decimal read from a decimal string (never a float) and written back as one, in plain
notation with the scale it has (`"1250.00"`, `"0.0000000000000000000000001"`, never `"1E-25"`)."""


def _when(value: object) -> date | datetime:
    if isinstance(value, datetime | date):
        return value
    if isinstance(value, str):
        return parse_when(value)
    raise ValueError("must be an ISO 8601 date (2027-02-03) or timestamp (2027-02-03T10:15:00Z)")


def _when_text(value: date | datetime) -> str:
    return value.isoformat()


DateOrTimestamp = Annotated[
    date | datetime,
    PlainValidator(_when),
    PlainSerializer(_when_text, return_type=str),
    WithJsonSchema({"type": "string", "description": "ISO 8601 date or timestamp"}),
]
"""A bare date stays a date (that calendar day in the plan's timezone); a timestamp stays a
timestamp with its offset (converted to the plan's timezone), even at midnight. PLANS.md
rule 1; the one reader is libs/calc's `parse_when`, shared by `provisio calc`."""


def _utc_if_naive(value: datetime) -> datetime:
    return value if value.tzinfo is not None and value.utcoffset() is not None else value.replace(tzinfo=UTC)


Instant = Annotated[datetime, AfterValidator(_utc_if_naive)]
"""A timestamp; one written without an offset is UTC (PLANS.md rule 1), and is kept with it."""


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
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
    # Optional and additive: when deal-ingest accepted the webhook this event descends from
    # (calc-engine carries it into the ledger entries it posts for that event; payout-service
    # observes webhook -> statement latency from it). Absent from envelopes without one.
    accepted_at: datetime | None = None

    def to_bytes(self) -> bytes:
        """The envelope as compact JSON bytes (the Kafka message value)."""
        return json.dumps(self.to_json(), separators=(",", ":")).encode()

    def to_json(self) -> dict[str, Any]:
        """The envelope as a JSON-ready dict (`schema`, not `schema_version`; no
        `accepted_at` key when it has none)."""
        out = self.model_dump(mode="json", by_alias=True)
        if out.get("accepted_at") is None:
            out.pop("accepted_at", None)
        return out

    @classmethod
    def from_bytes(cls, raw: bytes) -> Envelope:
        """Parse and validate an envelope from a message value."""
        return cls.model_validate_json(raw)


class Schema(BaseModel):
    """The base of every event payload: frozen, unknown fields refused."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    def to_data(self) -> dict[str, Any]:
        """The payload as the `data` object of an envelope (JSON types, decimals as strings)."""
        return self.model_dump(mode="json", exclude_none=False)


def _currency(value: str) -> str:
    if not is_currency_code(value):
        raise ValueError("must be an ISO 4217 code such as USD")
    return value


Currency = Annotated[str, BeforeValidator(lambda v: v.upper() if isinstance(v, str) else v)]


class Split(Schema):
    """One payee's share of a deal's credit."""

    payee: str = Field(min_length=1)
    share: Amount


class DealLine(Schema):
    """One product line of a deal: amount and optional margin."""

    product: str = Field(min_length=1)
    amount: Amount
    margin: Amount | None = None


DealStatus = Literal["open", "won", "lost", "cancelled"]
DealType = Literal["new", "renewal", "upsell"]
CONTRACT_FIELDS = ("contract_months", "contract_start")


def _calendar_day(value: object) -> date:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and len(value.strip()) == 10:
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise ValueError("must be an ISO 8601 date (2027-02-03)")


CalendarDay = Annotated[
    date,
    PlainValidator(_calendar_day),
    PlainSerializer(lambda d: d.isoformat(), return_type=str),
    WithJsonSchema({"type": "string", "format": "date"}),
]
"""A bare calendar date (`2027-02-03`): no timestamp, no other notation."""


class DealSnapshot(Schema):
    """`deals.v1` data: one whole deal snapshot at one revision."""

    source: str = Field(min_length=1)
    external_id: str = Field(min_length=1)
    revision: int = Field(ge=1)
    status: DealStatus
    amount: Amount
    currency: Currency
    close_date: DateOrTimestamp | None = None
    created_date: DateOrTimestamp | None = None
    changed_at: Instant
    territory: str | None = None
    owner: str = Field(min_length=1)
    splits: list[Split] = Field(default_factory=list)
    lines: list[DealLine] = Field(default_factory=list)
    type: DealType | None = None
    customer: str | None = None
    lead_source: str | None = None
    # The contract's term in months and its first day (default: the close date), for
    # commission expense (ASC 340-40) in payout-service. Additive: absent when unknown.
    contract_months: Annotated[int, Strict()] | None = Field(default=None, ge=1, le=600)
    contract_start: CalendarDay | None = None

    _check_currency = field_validator("currency")(_currency)

    @property
    def key(self) -> str:
        """The deal's key, `source:external_id`: its partition key and identity."""
        return f"{self.source}:{self.external_id}"

    def to_data(self) -> dict[str, Any]:
        """The payload; the contract fields only when set, so a snapshot without them has
        the same document (and canonical content, `revision_order`) as before they existed."""
        data = super().to_data()
        for name in CONTRACT_FIELDS:
            if data[name] is None:
                del data[name]
        return data


def revision_order(document: Mapping[str, Any]) -> tuple[datetime, str]:
    """Where one snapshot (a `deals.v1` data object) sits in its deal's history.

    History is ordered by `changed_at` (when the change was made in the CRM; no offset
    means UTC), never by arrival: `revision` only numbers arrivals. Two snapshots changed
    at the same instant are ordered by their content as canonical JSON, so every arrival
    order gives the same history and the same current snapshot (the last).
    """
    changed = document["changed_at"]
    moment = changed if isinstance(changed, datetime) else datetime.fromisoformat(str(changed))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC), canonical_content(document)


def canonical_content(document: Mapping[str, Any]) -> str:
    """A snapshot's content (everything but `revision` and `changed_at`) as canonical JSON."""
    content = {k: v for k, v in document.items() if k not in ("revision", "changed_at")}
    return json.dumps(content, sort_keys=True, separators=(",", ":"), default=str)


class ActivityRecord(Schema):
    """`activities.v1` data."""

    source: str = Field(min_length=1)
    external_id: str = Field(min_length=1)
    kind: Literal["call", "meeting", "email", "demo"]
    owner: str = Field(min_length=1)
    occurred_at: datetime
    deal: str | None = None


class PlanVersion(Schema):
    """`plans.v1` data: one stored version of a plan document."""

    plan_id: str
    version: int = Field(ge=1)
    document: dict[str, Any]
    created_at: datetime


class PlanAssignment(Schema):
    """A payee's assignment to a plan over a date range (open ends allowed)."""

    plan: str
    valid_from: date | None = None
    valid_to: date | None = None


class PayeeRecord(Schema):
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


class QuotaRecord(Schema):
    """`quotas.v1` data: one payee's quota for one period (amount null = deleted)."""

    payee: str
    period: str
    amount: Amount | None


class FxRateRecord(Schema):
    """`fxrates.v1` data: 1 `from_currency` = `rate` `to_currency` from `day` on
    (rate null = deleted)."""

    day: date
    from_currency: str = Field(pattern=r"^[A-Z]{3}$")
    to_currency: str = Field(pattern=r"^[A-Z]{3}$")
    rate: Amount | None


class CreditRecord(Schema):
    """`credits.v1` data: the value of one deal credited to one payee at one revision."""

    deal: str
    revision: int
    payee: str
    share: Amount
    amount: Amount
    currency: str
    status: DealStatus
    close_date: DateOrTimestamp | None
    type: DealType | None = None


class LedgerEntryRecord(Schema):
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


class PayoutLine(Schema):
    """One line of a payout batch: what one payee is paid under one earning code."""

    line_id: str
    payee: str
    payroll_id: str | None
    pay_period: str = Field(description="the pay period whose payable the line pays")
    earning_code: str
    amount: Amount
    currency: str
    cash: bool
    entry_ids: list[str] = Field(default_factory=list)
    adjustment_ids: list[str] = Field(default_factory=list)
    carried_from: str | None = None


class PayoutBatchApproved(Schema):
    """`payouts.v1` `payout.batch_approved`: a batch two admins built and approved, ready
    for payroll to pull. `total` is the sum of its cash lines."""

    batch_id: str
    pay_period: str
    currency: str
    pay_date: date
    total: Amount
    built_by: str
    approved_by: str
    approved_at: datetime
    lines: list[PayoutLine]


class PayoutLineSettled(Schema):
    """`payouts.v1` `payout.line_settled`: payroll acknowledged one line as paid or rejected."""

    batch_id: str
    line: PayoutLine
    status: Literal["paid", "rejected"]
    payroll_ref: str | None = None
    reason: str | None = None
    settled_at: datetime
    batch_status: Literal["approved", "settled"]


class DisputeOpened(Schema):
    """`payouts.v1` `dispute.opened`: a payee's dispute about a pay period (or one ledger
    entry, or one component) was opened, or a rejected one reopened (`reopened`)."""

    dispute_id: str
    payee: str
    pay_period: str
    entry_id: str | None = None
    component: str | None = None
    opened_by: str
    opened_at: datetime
    reopened: bool = False


class DisputeAdjustment(Schema):
    """The adjustment an accepted dispute created: pending until a second admin decides it."""

    adjustment_id: str
    amount: Amount
    currency: str
    status: Literal["pending", "approved", "rejected"]


class DisputeResolved(Schema):
    """`payouts.v1` `dispute.resolved`: a dispute was accepted or rejected, by an admin or a
    manager above the payee; an accepted one may carry a (pending) adjustment."""

    dispute_id: str
    payee: str
    pay_period: str
    outcome: Literal["accepted", "rejected"]
    resolved_by: str
    resolved_at: datetime
    adjustment: DisputeAdjustment | None = None
