"""Pipedrive: HTTP basic auth and the v2 webhook payload (`meta`, `data`, `previous`).

A Pipedrive webhook carries the whole object after the change (`data`) and the changed
fields before it (`previous`), so each delivery is a whole deal snapshot.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from deal_ingest.domain.common import FieldError, amount_of, day_of, instant_of, months_of, start_of, text_of
from provisio_common.events import ActivityRecord, DealSnapshot
from provisio_common.money import plain_decimal
from provisio_common.webhooks import WebhookRefused

STATUSES = {"open": "open", "won": "won", "lost": "lost", "deleted": "cancelled"}
# Snapshot / activity field -> the Pipedrive field it is read from (for 422s at the limits).
DEAL_FIELDS = {
    "external_id": "data.id",
    "amount": "data.value",
    "owner": "data.owner_id",
    "customer": "data.org_id",
    "changed_at": "data.update_time",
    "close_date": "data.close_time",
    "created_date": "data.add_time",
}
ACTIVITY_FIELDS = {
    "external_id": "data.id",
    "owner": "data.owner_id",
    "occurred_at": "data.marked_as_done_time",
    "deal": "data.deal_id",
}
ACTIVITY_KINDS = {"call": "call", "meeting": "meeting", "email": "email", "demo": "demo"}


def offered_basic_auth(authorization: str | None) -> bytes:
    """The `user:password` bytes of an `Authorization: Basic …` header, or WebhookRefused
    (missing, not base64, not ASCII: never a 500)."""
    scheme, _, encoded = (authorization or "").partition(" ")
    if scheme.lower() != "basic" or not encoded.strip():
        raise WebhookRefused("missing_credentials", "HTTP basic auth is required")
    try:
        return base64.b64decode(encoded.strip(), validate=True)
    except (binascii.Error, ValueError) as exc:
        raise WebhookRefused("bad_credentials", "malformed basic auth") from exc


def check_basic_auth(credentials: Sequence[str], authorization: str | None) -> str:
    """Return the user of a matching `user:password` pair, or raise WebhookRefused."""
    offered = offered_basic_auth(authorization)
    matched = False
    for pair in credentials:
        # compare every pair, so timing does not tell which user exists
        matched |= hmac.compare_digest(pair.encode(), offered)
    if not matched:
        raise WebhookRefused("bad_credentials", "user or password does not match")
    return offered.split(b":", 1)[0].decode(errors="replace")


@dataclass(frozen=True)
class Meta:
    id: str
    action: str
    entity: str
    entity_id: str | None
    timestamp: datetime | None


@dataclass(frozen=True)
class ContractFields:
    """The keys of the deal's custom fields (`data.custom_fields`) holding the contract term
    in months and its start date (Pipedrive names custom fields by a generated key)."""

    months: str = "contract_months"
    start: str = "contract_start_date"


@dataclass(frozen=True)
class Translated:
    """What one delivery means: a deal, an activity, or nothing to publish (and why)."""

    meta: Meta
    deal: DealSnapshot | None = None
    activity: ActivityRecord | None = None
    ignored: str | None = None


def read_meta(payload: Any) -> Meta:
    if not isinstance(payload, dict):
        raise FieldError("body", "must be a JSON object with meta, data and previous")
    meta = payload.get("meta")
    if not isinstance(meta, dict):
        raise FieldError("meta", "is required (Pipedrive webhooks v2)")
    version = meta.get("version")
    if version is not None and str(version) != "2.0":
        raise FieldError("meta.version", "only Pipedrive webhooks v2 (2.0) are read")
    stamp = meta.get("timestamp")
    return Meta(
        id=str(text_of(meta.get("id"), "meta.id", required=True)),
        action=str(text_of(meta.get("action"), "meta.action", required=True)),
        entity=str(text_of(meta.get("entity"), "meta.entity", required=True)),
        entity_id=text_of(meta.get("entity_id"), "meta.entity_id"),
        timestamp=None if stamp is None else instant_of(stamp, "meta.timestamp"),
    )


def translate(payload: Any, received_at: datetime, contract: ContractFields | None = None) -> Translated:
    """Read one v2 delivery; FieldError names the bad field (`data.value`)."""
    meta = read_meta(payload)
    data = payload.get("data")
    previous = payload.get("previous")
    if meta.action == "delete":
        # a deleted object may come with data null and its last state in `previous`
        data = data if isinstance(data, dict) else previous
        where = "data" if isinstance(payload.get("data"), dict) else "previous"
    else:
        where = "data"
    if meta.entity not in ("deal", "activity"):
        return Translated(meta, ignored=f"entity {meta.entity!r} is not read")
    if not isinstance(data, dict):
        raise FieldError(where, "must be an object")
    if previous is not None and not isinstance(previous, dict):
        raise FieldError("previous", "must be an object or null")
    if meta.entity == "deal":
        return Translated(meta, deal=_deal(data, where, meta, received_at, contract or ContractFields()))
    return _activity(data, where, meta)


def _custom(data: dict[str, Any], at: str, key: str) -> tuple[Any, str]:
    """A custom field's value (bare, or `{"type", "value"}`) and its path."""
    fields = data.get("custom_fields")
    if fields is None:
        return None, f"{at}.custom_fields"
    if not isinstance(fields, dict):
        raise FieldError(f"{at}.custom_fields", "must be an object")
    value = fields.get(key)
    return (value.get("value") if isinstance(value, dict) else value), f"{at}.custom_fields.{key}"


def _deal(
    data: dict[str, Any], at: str, meta: Meta, received_at: datetime, contract: ContractFields
) -> DealSnapshot:
    external_id = text_of(data.get("id", meta.entity_id), f"{at}.id", required=True)
    status_text = text_of(data.get("status"), f"{at}.status", required=True)
    if status_text not in STATUSES:
        raise FieldError(f"{at}.status", "must be open, won, lost or deleted")
    status = "cancelled" if meta.action == "delete" else STATUSES[status_text]
    value = data.get("value")
    amount = amount_of(0 if value is None else value, f"{at}.value")
    currency = text_of(data.get("currency"), f"{at}.currency", required=True)
    owner = text_of(data.get("owner_id"), f"{at}.owner_id", required=True)
    changed = data.get("update_time")
    changed_at = instant_of(changed, f"{at}.update_time") if changed else meta.timestamp or received_at
    if meta.action == "delete" and meta.timestamp and meta.timestamp > changed_at:
        changed_at = meta.timestamp
    close = data.get("won_time") if status == "won" else data.get("close_time") or data.get("lost_time")
    close_field = "won_time" if status == "won" else "close_time"
    document = {
        "source": "pipedrive",
        "external_id": external_id,
        "revision": 1,
        "status": status,
        "amount": plain_decimal(amount),
        "currency": str(currency).upper(),
        "close_date": day_of(close, f"{at}.{close_field}").isoformat() if close else None,
        "created_date": day_of(data["add_time"], f"{at}.add_time").isoformat()
        if data.get("add_time")
        else None,
        "changed_at": changed_at.isoformat(),
        "owner": f"pipedrive:{owner}",
        "customer": text_of(data.get("org_id"), f"{at}.org_id"),
        "contract_months": months_of(*_custom(data, at, contract.months)),
        "contract_start": start_of(*_custom(data, at, contract.start)),
    }
    try:
        return DealSnapshot.model_validate(document)
    except ValidationError as exc:
        first = exc.errors()[0]
        name = {"currency": "currency", "amount": "value", "owner": "owner_id"}.get(
            str(first["loc"][0]), str(first["loc"][0])
        )
        raise FieldError(f"{at}.{name}", str(first["msg"])) from exc


def _activity(data: dict[str, Any], at: str, meta: Meta) -> Translated:
    external_id = text_of(data.get("id", meta.entity_id), f"{at}.id", required=True)
    kind = text_of(data.get("type"), f"{at}.type", required=True)
    if kind not in ACTIVITY_KINDS:
        return Translated(meta, ignored=f"activity type {kind!r} is not a call, meeting, email or demo")
    if meta.action == "delete" or data.get("done") is False:
        return Translated(meta, ignored="only done activities count")
    owner = text_of(data.get("owner_id", data.get("user_id")), f"{at}.owner_id", required=True)
    if data.get("marked_as_done_time"):
        occurred = instant_of(data["marked_as_done_time"], f"{at}.marked_as_done_time")
    elif data.get("due_date"):
        due = day_of(data["due_date"], f"{at}.due_date")
        time_text = text_of(data.get("due_time"), f"{at}.due_time") or "00:00"
        occurred = instant_of(f"{due.isoformat()}T{time_text}", f"{at}.due_time")
    elif data.get("add_time"):
        occurred = instant_of(data["add_time"], f"{at}.add_time")
    else:
        raise FieldError(f"{at}.due_date", "is required")
    deal = text_of(data.get("deal_id"), f"{at}.deal_id")
    activity = ActivityRecord(
        source="pipedrive",
        external_id=str(external_id),
        kind=ACTIVITY_KINDS[kind],
        owner=f"pipedrive:{owner}",
        occurred_at=occurred.astimezone(UTC),
        deal=deal,
    )
    return Translated(meta, activity=activity)
