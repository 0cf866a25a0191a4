"""HubSpot: signature v3, the webhook event batch, and reading a merged deal state into a
whole snapshot (the merge rule itself is `domain/hubspot_changes.py`)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from deal_ingest.domain import limits
from deal_ingest.domain.common import FieldError, amount_of, day_of, months_of, start_of, text_of
from deal_ingest.domain.hubspot_changes import DealState, HubSpotEvent
from provisio_common.events import DealSnapshot
from provisio_common.money import is_currency_code, plain_decimal
from provisio_common.webhooks import WebhookRefused

TOLERANCE_MS = 5 * 60 * 1000
SIGNATURE_HEADER = "x-hubspot-signature-v3"
TIMESTAMP_HEADER = "x-hubspot-request-timestamp"

# The only percent-escapes HubSpot's v3 documentation says to decode in the signed URI;
# every other escape (%20, %2B, %25, ...) stays as sent.
DECODED_ESCAPES = {
    "%3A": ":",
    "%2F": "/",
    "%3F": "?",
    "%40": "@",
    "%21": "!",
    "%24": "$",
    "%27": "'",
    "%28": "(",
    "%29": ")",
    "%2A": "*",
    "%2C": ",",
    "%3B": ";",
}
_ESCAPE = re.compile("|".join(DECODED_ESCAPES), re.IGNORECASE)


def signed_uri(uri: str) -> str:
    """The URI as HubSpot signs it: only the listed percent-escapes decoded."""
    return _ESCAPE.sub(lambda m: DECODED_ESCAPES[m.group(0).upper()], uri)


def sign_v3(client_secret: str, method: str, uri: str, body: bytes, timestamp_ms: int | str) -> str:
    """base64(HMAC-SHA256(client secret, method + URI + body + timestamp))."""
    source = method.upper().encode() + signed_uri(uri).encode() + body + str(timestamp_ms).encode()
    digest = hmac.new(client_secret.encode(), source, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def verify_v3(
    client_secrets: Sequence[str],
    method: str,
    uri: str,
    body: bytes,
    headers: Mapping[str, str],
    now_ms: int,
) -> None:
    """Raise WebhookRefused unless one active client secret signed this fresh request."""
    signature = headers.get(SIGNATURE_HEADER)
    timestamp = headers.get(TIMESTAMP_HEADER)
    if not signature or not timestamp:
        raise WebhookRefused("missing_headers", f"{SIGNATURE_HEADER} and {TIMESTAMP_HEADER} are required")
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 15):  # not "²", not 400 digits
        raise WebhookRefused("bad_timestamp", f"{TIMESTAMP_HEADER} is not epoch milliseconds")
    if abs(now_ms - int(timestamp)) > TOLERANCE_MS:
        raise WebhookRefused("stale_timestamp", f"{TIMESTAMP_HEADER} is outside the 5-minute window")
    for secret in client_secrets:
        expected = sign_v3(secret, method, uri, body, timestamp).encode()
        if hmac.compare_digest(expected, signature.strip().encode("utf-8", "replace")):
            return
    raise WebhookRefused("bad_signature", "no signature matches an active client secret")


SNAPSHOT_FIELDS = (
    "amount",
    "currency",
    "close_date",
    "created_date",
    "owner",
    "type",
    "status",
    "territory",
    "customer",
    "lead_source",
    "contract_months",
    "contract_start",
)
STATUSES = ("open", "won", "lost", "cancelled")
DEAL_TYPES = ("new", "renewal", "upsell")


@dataclass(frozen=True)
class HubSpotMapping:
    """Which HubSpot property feeds which snapshot field, and how stages and types read."""

    stages: Mapping[str, str] = field(default_factory=lambda: {"closedwon": "won", "closedlost": "lost"})
    properties: Mapping[str, str] = field(
        default_factory=lambda: {
            "amount": "amount",
            "closedate": "close_date",
            "createdate": "created_date",
            "deal_currency_code": "currency",
            "hubspot_owner_id": "owner",
            "dealtype": "type",
            "dealstage": "status",
            # Custom deal properties (create them in HubSpot to use commission expense).
            "contract_months": "contract_months",
            "contract_start_date": "contract_start",
        }
    )
    deal_types: Mapping[str, str] = field(
        default_factory=lambda: {"newbusiness": "new", "existingbusiness": "renewal"}
    )
    default_currency: str = "USD"

    def __post_init__(self) -> None:
        for prop, target in self.properties.items():
            if target not in SNAPSHOT_FIELDS:
                raise ValueError(f"HubSpot property {prop!r} maps to unknown field {target!r}")
        for stage, status in self.stages.items():
            if status not in STATUSES:
                raise ValueError(f"HubSpot stage {stage!r} maps to unknown status {status!r}")
        for value, kind in self.deal_types.items():
            if kind not in DEAL_TYPES:
                raise ValueError(f"HubSpot deal type {value!r} maps to unknown type {kind!r}")

    def read(self, target: str, value: Any, path: str) -> Any:
        """The snapshot field value of one HubSpot property value (JSON-ready); None when cleared."""
        text = text_of(value, path)
        if text is None:
            return "open" if target == "status" else None
        if target == "amount":
            return plain_decimal(amount_of(text, path))
        if target in ("close_date", "created_date"):
            return day_of(text, path).isoformat()
        if target == "currency":
            if not is_currency_code(text.upper()):
                raise FieldError(path, f"{text!r} is not an ISO 4217 currency code")
            return text.upper()
        if target == "owner":
            return f"hubspot:{text}"
        if target == "type":
            return self.deal_types.get(text)
        if target == "status":
            return self.stages.get(text, "open")
        if target == "contract_months":
            return months_of(text, path)
        if target == "contract_start":
            return start_of(text, path)
        return text


def parse_batch(payload: Any, mapping: HubSpotMapping) -> list[HubSpotEvent]:
    """Read HubSpot's JSON array of events; FieldError names the first bad field (`[3].occurredAt`)."""
    if not isinstance(payload, list):
        raise FieldError("body", "must be a JSON array of HubSpot events")
    events = []
    for i, raw in enumerate(payload):
        at = f"[{i}]"
        if not isinstance(raw, dict):
            raise FieldError(at, "must be an object")
        kind = raw.get("subscriptionType")
        if not isinstance(kind, str) or not kind:
            raise FieldError(f"{at}.subscriptionType", "is required")
        occurred = raw.get("occurredAt")
        if not isinstance(occurred, int) or isinstance(occurred, bool) or occurred <= 0:
            raise FieldError(f"{at}.occurredAt", "must be epoch milliseconds")
        ids = {
            name: text_of(raw.get(name), f"{at}.{name}", required=True)
            for name in ("subscriptionId", "eventId", "objectId")
        }
        name = value = None
        if kind == "deal.propertyChange":
            name = raw.get("propertyName")
            if not isinstance(name, str) or not name:
                raise FieldError(f"{at}.propertyName", "is required")
            value = raw.get("propertyValue")
            if value is not None and not isinstance(value, str):
                raise FieldError(f"{at}.propertyValue", "must be a string")
            if name in mapping.properties:
                mapping.read(mapping.properties[name], value, f"{at}.propertyValue")
        events.append(
            HubSpotEvent(
                subscription_type=kind,
                subscription_id=str(ids["subscriptionId"]),
                event_id=str(ids["eventId"]),
                object_id=str(ids["objectId"]),
                occurred_at=occurred,
                property_name=name,
                property_value=value,
            )
        )
    return events


@dataclass(frozen=True)
class Built:
    snapshot: DealSnapshot | None
    missing: tuple[str, ...] = ()


def build_snapshot(
    external_id: str, state: DealState, mapping: HubSpotMapping, changed_at: int | None = None
) -> Built:
    """The whole snapshot the merged state describes, or what it still lacks (amount, owner);
    changed at `changed_at` (epoch ms; default the latest change in the state)."""
    fields: dict[str, Any] = {}
    for prop, target in mapping.properties.items():
        if prop in state:
            try:
                fields[target] = mapping.read(target, state[prop].get("v"), prop)
            except FieldError:
                fields[target] = None
    if "@created" in state and not fields.get("created_date"):
        fields["created_date"] = _instant(state["@created"]["at"]).date().isoformat()
    fields["currency"] = fields.get("currency") or mapping.default_currency
    fields["status"] = fields.get("status") or "open"
    deleted = state.get("@deleted")
    if deleted is not None and deleted.get("v"):
        fields["status"] = "cancelled"
    missing = tuple(name for name in ("amount", "owner") if not fields.get(name))
    if missing or not state:
        return Built(None, missing or ("amount", "owner"))
    changed = max(int(entry["at"]) for entry in state.values()) if changed_at is None else changed_at
    document = {
        **fields,
        "source": "hubspot",
        "external_id": external_id,
        "revision": 1,
        "changed_at": _instant(changed).isoformat(),
    }
    try:
        return Built(DealSnapshot.model_validate(document))
    except ValidationError as exc:
        return Built(None, tuple(".".join(map(str, e["loc"])) for e in exc.errors()))


def _instant(millis: int) -> datetime:
    return datetime.fromtimestamp(int(millis) / 1000, UTC)


LATEST_MS = int(datetime(limits.LATEST_DAY.year + 1, 1, 1, tzinfo=UTC).timestamp() * 1000)


def check_limits(
    events: Sequence[HubSpotEvent], mapping: HubSpotMapping, *, received_at: datetime, max_ahead: timedelta
) -> None:
    """Hold a parsed batch to the door's limits (`deal_ingest.domain.limits`) before anything
    is stored: ids, property names and values, `occurredAt` (it becomes `changed_at`), and
    the snapshot fields mapped properties feed. FieldError names the event field (`[3].occurredAt`)."""
    for i, event in enumerate(events):
        at = f"[{i}]"
        for name, value in (
            ("subscriptionType", event.subscription_type),
            ("subscriptionId", event.subscription_id),
            ("eventId", event.event_id),
            ("objectId", event.object_id),
        ):
            limits.check_text(value, f"{at}.{name}")
        if event.occurred_at >= LATEST_MS:
            raise FieldError(f"{at}.occurredAt", f"must be before {limits.LATEST_DAY.year + 1}")
        limits.check_instant(
            _instant(event.occurred_at), f"{at}.occurredAt", received_at=received_at, max_ahead=max_ahead
        )
        if event.property_name is None:
            continue
        limits.check_text(event.property_name, f"{at}.propertyName")
        target = mapping.properties.get(event.property_name)
        if not isinstance(event.property_value, str):
            continue
        path = f"{at}.propertyValue"
        width = {None: limits.MAX_TEXT_CHARS, "customer": limits.MAX_NAME_CHARS}.get(
            target, limits.MAX_ID_CHARS
        )
        limits.check_text(event.property_value, path, width)
        read = mapping.read(target, event.property_value, path) if target else None
        if read is None:
            continue
        if target == "amount":
            limits.check_amount(Decimal(read), path)
        elif target in ("close_date", "created_date", "contract_start"):
            limits.check_day(date.fromisoformat(read), path)
        elif isinstance(read, str):
            limits.check_text(read, path, width)
