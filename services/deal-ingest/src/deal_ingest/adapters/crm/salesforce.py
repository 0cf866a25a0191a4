"""Salesforce: an Opportunity (with line items and splits) from a Flow/Apex callout, and
Opportunities from Outbound Messages (SOAP), both read into one whole deal snapshot.

Outbound Messages cannot be signed, so their endpoint URL carries HTTP basic auth
(`https://<org id>:<secret>@host/webhooks/salesforce/outbound`): a per-org secret, checked
before the body is read, plus the org allow-list and the message's own OrganizationId.

Field names are the sObject API names (`Id`, `Amount`, `StageName`, `IsWon`, ...), the same
in the callout's JSON and in the Outbound Message's XML.
"""

from __future__ import annotations

import hmac
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from deal_ingest.adapters.crm.pipedrive import offered_basic_auth
from deal_ingest.domain.common import FieldError, amount_of, day_of, instant_of, months_of, start_of, text_of
from provisio_common.events import DealSnapshot
from provisio_common.money import plain_decimal
from provisio_common.webhooks import WebhookRefused

SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"
OUTBOUND_NS = "http://soap.sforce.com/2005/09/outbound"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"

ACK = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">'
    "<soapenv:Body>"
    '<notificationsResponse xmlns="http://soap.sforce.com/2005/09/outbound">'
    "<Ack>true</Ack>"
    "</notificationsResponse>"
    "</soapenv:Body>"
    "</soapenv:Envelope>"
)
"""The acknowledgement Salesforce waits for; without it the message is retried for 24 hours."""

# Salesforce's standard Opportunity `Type` picklist values.
DEAL_TYPES = {
    "new customer": "new",
    "new business": "new",
    "existing customer - upgrade": "upsell",
    "existing customer - replacement": "renewal",
    "existing customer - downgrade": "renewal",
    "renewal": "renewal",
    "upsell": "upsell",
}


def field_names(at: str) -> dict[str, str]:
    """Snapshot field -> the sObject field it is read from, for an Opportunity at `at` (for
    422s at the limits, `deal_ingest.domain.limits.namer`)."""
    return {
        "external_id": f"{at}.Id",
        "owner": f"{at}.OwnerId",
        "amount": f"{at}.Amount",
        "currency": f"{at}.CurrencyIsoCode",
        "close_date": f"{at}.CloseDate",
        "created_date": f"{at}.CreatedDate",
        "changed_at": f"{at}.LastModifiedDate",
        "territory": f"{at}.Territory2Id",
        "customer": f"{at}.AccountId",
        "lead_source": f"{at}.LeadSource",
        "contract_start": f"{at}.ContractStartDate__c",
        "lines": "lineItems",
        "lines.product": "ProductCode",
        "lines.amount": "TotalPrice",
        "lines.margin": "Margin__c",
        "splits": "splits",
        "splits.payee": "SplitOwnerId",
        "splits.share": "SplitPercentage",
    }


def _flag(value: Any, field: str) -> bool | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise FieldError(field, "must be true or false")


def opportunity_snapshot(
    opportunity: Any,
    line_items: Any,
    splits: Any,
    *,
    default_currency: str,
    received_at: datetime,
    at: str = "opportunity",
) -> DealSnapshot:
    """One whole snapshot from Opportunity fields; FieldError names the bad field."""
    if not isinstance(opportunity, dict):
        raise FieldError(at, "must be an object with the Opportunity's fields")
    external_id = text_of(opportunity.get("Id"), f"{at}.Id", required=True)
    owner = text_of(opportunity.get("OwnerId"), f"{at}.OwnerId", required=True)
    amount_value = opportunity.get("Amount")
    amount = amount_of(0 if amount_value in (None, "") else amount_value, f"{at}.Amount")
    stage = text_of(opportunity.get("StageName"), f"{at}.StageName") or ""
    won = _flag(opportunity.get("IsWon"), f"{at}.IsWon")
    closed = _flag(opportunity.get("IsClosed"), f"{at}.IsClosed")
    if _flag(opportunity.get("IsDeleted"), f"{at}.IsDeleted"):
        status = "cancelled"
    elif won or (won is None and stage.lower() == "closed won"):
        status = "won"
    elif closed or (closed is None and stage.lower() == "closed lost"):
        status = "lost"
    else:
        status = "open"
    modified = opportunity.get("LastModifiedDate") or opportunity.get("SystemModstamp")
    changed_at = instant_of(modified, f"{at}.LastModifiedDate") if modified else received_at
    kind = text_of(opportunity.get("Type"), f"{at}.Type")
    document = {
        "source": "salesforce",
        "external_id": external_id,
        "revision": 1,
        "status": status,
        "amount": plain_decimal(amount),
        "currency": (
            text_of(opportunity.get("CurrencyIsoCode"), f"{at}.CurrencyIsoCode") or default_currency
        ),
        "close_date": _date(opportunity.get("CloseDate"), f"{at}.CloseDate"),
        "created_date": _date(opportunity.get("CreatedDate"), f"{at}.CreatedDate"),
        "changed_at": changed_at.isoformat(),
        "owner": f"salesforce:{owner}",
        "territory": text_of(opportunity.get("Territory2Id"), f"{at}.Territory2Id"),
        "customer": text_of(opportunity.get("AccountId"), f"{at}.AccountId"),
        "lead_source": text_of(opportunity.get("LeadSource"), f"{at}.LeadSource"),
        "type": DEAL_TYPES.get(kind.lower()) if kind else None,
        "lines": _lines(line_items),
        "splits": _splits(splits),
        # Custom Opportunity fields for commission expense (ASC 340-40), when the org has them.
        "contract_months": months_of(opportunity.get("ContractTerm__c"), f"{at}.ContractTerm__c"),
        "contract_start": start_of(opportunity.get("ContractStartDate__c"), f"{at}.ContractStartDate__c"),
    }
    try:
        return DealSnapshot.model_validate(document)
    except ValidationError as exc:
        first = exc.errors()[0]
        name = {"currency": "CurrencyIsoCode", "amount": "Amount"}.get(
            str(first["loc"][0]), str(first["loc"][0])
        )
        raise FieldError(f"{at}.{name}", str(first["msg"])) from exc


def read_callout(payload: Any, *, default_currency: str, received_at: datetime) -> DealSnapshot:
    """The snapshot of a Flow/Apex callout `{"opportunity", "lineItems", "splits"}`; FieldError."""
    if not isinstance(payload, dict):
        raise FieldError("body", "must be a JSON object with opportunity, lineItems, splits")
    unknown = set(payload) - {"opportunity", "lineItems", "splits"}
    if unknown:
        raise FieldError(sorted(unknown)[0], "is not a field of the Salesforce callout")
    return opportunity_snapshot(
        payload.get("opportunity"),
        payload.get("lineItems"),
        payload.get("splits"),
        default_currency=default_currency,
        received_at=received_at,
    )


def _date(value: Any, field: str) -> str | None:
    return day_of(value, field).isoformat() if value not in (None, "") else None


def _lines(items: Any) -> list[dict[str, Any]]:
    if items is None:
        return []
    if not isinstance(items, list):
        raise FieldError("lineItems", "must be a list of OpportunityLineItem records")
    lines = []
    for i, item in enumerate(items):
        at = f"lineItems[{i}]"
        if not isinstance(item, dict):
            raise FieldError(at, "must be an object")
        product = text_of(
            item.get("ProductCode") or item.get("Product2Id"), f"{at}.ProductCode", required=True
        )
        line: dict[str, Any] = {
            "product": product,
            "amount": plain_decimal(amount_of(item.get("TotalPrice"), f"{at}.TotalPrice")),
        }
        if item.get("Margin__c") not in (None, ""):
            line["margin"] = plain_decimal(amount_of(item["Margin__c"], f"{at}.Margin__c"))
        lines.append(line)
    return lines


def _splits(splits: Any) -> list[dict[str, Any]]:
    if splits is None:
        return []
    if not isinstance(splits, list):
        raise FieldError("splits", "must be a list of OpportunitySplit records")
    out = []
    for i, split in enumerate(splits):
        at = f"splits[{i}]"
        if not isinstance(split, dict):
            raise FieldError(at, "must be an object")
        payee = text_of(split.get("SplitOwnerId"), f"{at}.SplitOwnerId", required=True)
        percent = amount_of(split.get("SplitPercentage"), f"{at}.SplitPercentage")
        # Salesforce gives a percentage (60.0); Provisio's share is a fraction (0.6)
        share = plain_decimal((percent / Decimal(100)).normalize())
        out.append({"payee": f"salesforce:{payee}", "share": share})
    return out


@dataclass(frozen=True)
class Notification:
    id: str
    object_type: str
    fields: dict[str, str]


@dataclass(frozen=True)
class OutboundMessage:
    organization_id: str
    action_id: str | None
    notifications: list[Notification]


def check_outbound_auth(credentials: Sequence[str], authorization: str | None) -> str:
    """The organization (its 15-character id) whose `<org id>:<secret>` pair matches the
    request's HTTP basic auth (user: the org id, 15 or 18 characters; password: its secret),
    or WebhookRefused. Every pair is compared, in constant time, whatever matches."""
    offered = offered_basic_auth(authorization)
    user, _, password = offered.partition(b":")
    normalized = user[:15] + b":" + password
    matched = False
    for pair in credentials:
        org, _, secret = pair.partition(":")
        matched |= hmac.compare_digest(f"{org[:15]}:{secret}".encode(), normalized)
    if not matched or len(user) < 15:
        raise WebhookRefused("bad_credentials", "organization id or secret does not match")
    return user[:15].decode("ascii", errors="replace")


def org_allowed(allowed: Sequence[str], organization_id: str) -> bool:
    """Org ids compare on their 15-character case-sensitive form (18 = 15 + checksum)."""
    if len(organization_id) < 15:
        return False
    return any(len(org) >= 15 and org[:15] == organization_id[:15] for org in allowed)


def parse_outbound(body: bytes) -> OutboundMessage:
    """Read a SOAP Outbound Message; FieldError names the missing element."""
    if b"<!DOCTYPE" in body.upper() or b"<!ENTITY" in body.upper():
        raise FieldError("body", "DTDs and entities are not accepted")
    try:
        root = ET.fromstring(body)
    except ET.ParseError as exc:
        raise FieldError("body", f"not well-formed XML: {exc}") from exc
    notifications = root.find(f"{{{SOAP_NS}}}Body/{{{OUTBOUND_NS}}}notifications")
    if root.tag != f"{{{SOAP_NS}}}Envelope" or notifications is None:
        raise FieldError("Envelope.Body.notifications", "is required (a Salesforce Outbound Message)")
    org = (notifications.findtext(f"{{{OUTBOUND_NS}}}OrganizationId") or "").strip()
    if not org:
        raise FieldError("notifications.OrganizationId", "is required")
    items = []
    for i, element in enumerate(notifications.findall(f"{{{OUTBOUND_NS}}}Notification")):
        at = f"notifications.Notification[{i}]"
        notification_id = (element.findtext(f"{{{OUTBOUND_NS}}}Id") or "").strip()
        if not notification_id:
            raise FieldError(f"{at}.Id", "is required")
        sobject = element.find(f"{{{OUTBOUND_NS}}}sObject")
        if sobject is None:
            raise FieldError(f"{at}.sObject", "is required")
        object_type = sobject.get(f"{{{XSI_NS}}}type", "").rpartition(":")[2]
        fields = {}
        for child in sobject:
            if child.get(f"{{{XSI_NS}}}nil") == "true":
                continue
            fields[child.tag.rpartition("}")[2]] = (child.text or "").strip()
        items.append(Notification(notification_id, object_type, fields))
    action = notifications.findtext(f"{{{OUTBOUND_NS}}}ActionId")
    return OutboundMessage(org, action.strip() if action else None, items)


def outbound_snapshots(
    message: OutboundMessage, *, default_currency: str, received_at: datetime
) -> list[tuple[str, DealSnapshot]]:
    """Each Opportunity notification's event key (`outbound:<Notification Id>`) and snapshot;
    notifications of other sObjects are left out. FieldError names the bad field."""
    snapshots = []
    for i, notification in enumerate(message.notifications):
        if notification.object_type != "Opportunity":
            continue
        snapshot = opportunity_snapshot(
            notification.fields,
            None,
            None,
            default_currency=default_currency,
            received_at=received_at,
            at=f"notifications.Notification[{i}].sObject",
        )
        snapshots.append((f"outbound:{notification.id}", snapshot))
    return snapshots
