"""Limits at the door: what the pipeline can carry, checked before anything is stored.

Every door reads its CRM's payload into a snapshot (or an activity); before the delivery is
stored, `check_deal` / `check_activity` hold it to the limits below and raise FieldError
naming the request's own field (`data.amount`, `opportunity.Amount`, `lineItems[3].TotalPrice`)
— a 422, never a deal that is accepted and later cannot be carried.

- Text: ids (external ids, owners, payees, products, territories, lead sources, delivery
  ids) at most 200 characters, so keys fit a btree index and a Kafka key with room to spare;
  names (customer) at most 500; free text (a HubSpot property Provisio does not map) at
  most 4,000. A source has no `:` or `/` (it names the key); an external id may hold `/`
  (`GET /deals/{source}/{external_id}` takes the rest of the path).
- At most 100 lines and 100 splits per deal.
- Amounts (deal, line, margin): at most 12 integer and 6 fractional digits, so under a
  trillion to the millionth. Why: every ISO 4217 minor unit fits 6 decimals (with room for
  unit prices), it is NUMERIC(18,6), which the ledger could adopt as a column type, and the
  products calc-engine forms (amount x share x rate x fx rate) stay well inside the 80
  significant digits of libs/calc's exact context, so the ledger equals the engine to the
  digit. Scale counts as written: `"1.0000000"` has 7 fractional digits and is refused.
- Deal, line and split amounts are never negative: a negative deal is not a sale; a refund
  or a lost deal is status `cancelled` (which reverses its credit). A margin may be
  negative (a line sold at a loss is still sold). Shares: 0 to 1,000,000 with at most 12
  fractional digits (a Salesforce percentage with 6 decimals, divided by 100, fits).
- Dates and timestamps within 1970-01-01..2100-12-31; a timestamp without an offset is
  UTC (PLANS.md rule 1; `changed_at` is stored with the offset); `changed_at` at most `max_ahead` after
  receipt (default one day of clock skew): a far-future change would rank after every
  real one and freeze the deal.
- The deal's `deals.v1` envelope, serialized, at most `max_envelope_bytes` (derived from
  the producer's `kafka_max_message_bytes`, `provisio_common.kafka.max_message_value_bytes`).

Numbers in JSON: the generic door takes amounts as decimal strings only (`"1250.00"`), as
its schema says (`require_decimal_strings`); the CRM doors read their CRM's JSON numbers
exactly (as Decimal, never through a float), because that is what those CRMs send.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from deal_ingest.domain.common import FieldError
from provisio_common.events import ActivityRecord, DealSnapshot, Envelope

MAX_ID_CHARS = 200
MAX_NAME_CHARS = 500
MAX_TEXT_CHARS = 4000
MAX_LINES = 100
MAX_SPLITS = 100
MAX_INTEGER_DIGITS = 12
MAX_FRACTION_DIGITS = 6
MAX_SHARE_INTEGER_DIGITS = 6
MAX_SHARE_FRACTION_DIGITS = 12
EARLIEST_DAY = date(1970, 1, 1)
LATEST_DAY = date(2100, 12, 31)
DEFAULT_MAX_AHEAD = timedelta(days=1)

Namer = Callable[[str], str]
"""Maps a snapshot field path (`lines[2].amount`) to the request's field path."""


@dataclass(frozen=True)
class Limits:
    """The limits that depend on settings: envelope size and how far ahead `changed_at` may be."""

    max_envelope_bytes: int
    max_ahead: timedelta = DEFAULT_MAX_AHEAD


def check_text(value: str | None, field: str, max_chars: int = MAX_ID_CHARS) -> None:
    """At most `max_chars` characters (None passes)."""
    if value is not None and len(value) > max_chars:
        raise FieldError(field, f"is {len(value)} characters long; at most {max_chars} are accepted")


def check_amount(value: Decimal, field: str, *, negative: bool = False) -> None:
    """At most 12 integer and 6 fractional digits (as written); not negative unless allowed."""
    _check_digits(value, field, MAX_INTEGER_DIGITS, MAX_FRACTION_DIGITS)
    if value < 0 and not negative:
        raise FieldError(
            field, "must not be negative: a refund or a lost deal is a cancellation (status cancelled)"
        )


def check_share(value: Decimal, field: str) -> None:
    """A split share: not negative, at most 6 integer and 12 fractional digits."""
    _check_digits(value, field, MAX_SHARE_INTEGER_DIGITS, MAX_SHARE_FRACTION_DIGITS)
    if value < 0:
        raise FieldError(field, "must not be negative")


def _check_digits(value: Decimal, field: str, integer: int, fraction: int) -> None:
    if not value.is_finite():
        raise FieldError(field, "must be a finite number")
    exponent = value.as_tuple().exponent
    assert isinstance(exponent, int)
    if -exponent > fraction:
        raise FieldError(field, f"has {-exponent} digits after the point; at most {fraction} are accepted")
    digits = value.adjusted() + 1 if value != 0 else 0
    if digits > integer:
        raise FieldError(field, f"has {digits} digits before the point; at most {integer} are accepted")


def check_day(value: date, field: str) -> None:
    """A calendar day within 1970-01-01..2100-12-31."""
    day = value.date() if isinstance(value, datetime) else value
    if not EARLIEST_DAY <= day <= LATEST_DAY:
        raise FieldError(field, f"must be within {EARLIEST_DAY} and {LATEST_DAY}")


def check_instant(
    value: datetime, field: str, *, received_at: datetime | None = None, max_ahead: timedelta | None = None
) -> None:
    """A timestamp within the day range; with `received_at`, at most `max_ahead` after it.
    A timestamp without an offset is UTC (PLANS.md rule 1)."""
    if value.tzinfo is None or value.utcoffset() is None:
        value = value.replace(tzinfo=UTC)
    check_day(value.astimezone(UTC), field)
    if received_at is not None and max_ahead is not None and value > received_at + max_ahead:
        raise FieldError(
            field, f"is more than {_span(max_ahead)} after its receipt ({received_at.isoformat()})"
        )


def _when(value: date | datetime | None, field: str) -> None:
    if isinstance(value, datetime):
        check_instant(value, field)
    elif value is not None:
        check_day(value, field)


def _span(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    return f"{hours:g} hours" if hours < 48 else f"{hours / 24:g} days"


def envelope_bytes(snapshot: DealSnapshot) -> int:
    """The size of the snapshot's `deals.v1` envelope (what the outbox relay will send)."""
    envelope = Envelope(
        type="deal.snapshot", source="deal-ingest", subject=snapshot.key, data=snapshot.to_data()
    )
    return len(envelope.to_bytes())


def check_deal(snapshot: DealSnapshot, limits: Limits, *, received_at: datetime, name: Namer) -> None:
    """Hold a snapshot to every limit; FieldError names the request's field (via `name`)."""
    s = snapshot
    check_source(s.source, name("source"))
    for path, text in (
        ("source", s.source),
        ("external_id", s.external_id),
        ("owner", s.owner),
        ("territory", s.territory),
        ("lead_source", s.lead_source),
    ):
        check_text(text, name(path))
    check_text(s.customer, name("customer"), MAX_NAME_CHARS)
    check_amount(s.amount, name("amount"))
    if len(s.lines) > MAX_LINES:
        raise FieldError(name("lines"), f"has {len(s.lines)} lines; at most {MAX_LINES} are accepted")
    if len(s.splits) > MAX_SPLITS:
        raise FieldError(name("splits"), f"has {len(s.splits)} splits; at most {MAX_SPLITS} are accepted")
    for i, line in enumerate(s.lines):
        check_text(line.product, name(f"lines[{i}].product"))
        check_amount(line.amount, name(f"lines[{i}].amount"))
        if line.margin is not None:
            check_amount(line.margin, name(f"lines[{i}].margin"), negative=True)
    for i, split in enumerate(s.splits):
        check_text(split.payee, name(f"splits[{i}].payee"))
        check_share(split.share, name(f"splits[{i}].share"))
    _when(s.close_date, name("close_date"))
    _when(s.created_date, name("created_date"))
    _when(getattr(s, "contract_start", None), name("contract_start"))
    check_instant(s.changed_at, name("changed_at"), received_at=received_at, max_ahead=limits.max_ahead)
    size = envelope_bytes(s)
    if size > limits.max_envelope_bytes:
        raise FieldError(
            name("body"),
            f"makes a deals.v1 message of {size} bytes; at most {limits.max_envelope_bytes} can be "
            "published (PROVISIO_KAFKA_MAX_MESSAGE_BYTES)",
        )


def check_source(value: str, field: str) -> None:
    """A source names the deal's key (`source:external_id`) and its URL
    (`/deals/{source}/{external_id}`, where the external id may contain `/`): no `:` or `/`."""
    if ":" in value or "/" in value:
        raise FieldError(field, "must not contain ':' or '/' (it names the key source:external_id)")


def check_activity(activity: ActivityRecord, *, name: Namer) -> None:
    """Hold an activity to the text and timestamp limits."""
    check_source(activity.source, name("source"))
    for path, text in (
        ("source", activity.source),
        ("external_id", activity.external_id),
        ("owner", activity.owner),
        ("deal", activity.deal),
    ):
        check_text(text, name(path))
    check_instant(activity.occurred_at, name("occurred_at"))


def check_delivery_id(value: str, field: str) -> None:
    """A delivery or event id (the raw log's dedupe key): at most 200 characters."""
    check_text(value, field)


_PATH = re.compile(r"^(?P<top>[a-z_]+)(?P<index>\[\d+\])?(?:\.(?P<sub>[a-z_]+))?$")


def namer(prefix: str, names: Mapping[str, str] | None = None) -> Namer:
    """A Namer from a door's field names: `names` maps a snapshot field (`amount`), a list
    (`lines`) or a list item's field (`lines.amount`) to the door's; a top-level field not
    named becomes `prefix` + its own name; `body` stays `body`."""
    names = names or {}

    def name(path: str) -> str:
        match = _PATH.match(path)
        if path == "body" or match is None:
            return path
        top, index, sub = match["top"], match["index"] or "", match["sub"]
        out = names.get(top, f"{prefix}{top}") + index
        return f"{out}.{names.get(f'{top}.{sub}', sub)}" if sub else out

    return name


def require_decimal_strings(data: Any, at: str = "data") -> None:
    """The generic door's amounts are decimal strings (`"1250.00"`), never JSON numbers."""
    if not isinstance(data, dict):
        return
    _string_amount(data.get("amount"), f"{at}.amount")
    for kind, fields in (("lines", ("amount", "margin")), ("splits", ("share",))):
        items = data.get(kind)
        if isinstance(items, list):
            for i, item in enumerate(items):
                if isinstance(item, dict):
                    for field in fields:
                        _string_amount(item.get(field), f"{at}.{kind}[{i}].{field}")


def _string_amount(value: Any, field: str) -> None:
    if isinstance(value, int | float | Decimal) and not isinstance(value, bool):
        raise FieldError(field, 'must be a decimal string such as "1250.00", not a JSON number')
