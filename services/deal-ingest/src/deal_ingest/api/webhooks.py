"""CRM doors: each verifies with its CRM's native scheme, keeps the delivery verbatim, then
normalizes it into snapshots and outbox rows in the same transaction.

`/webhooks/generic` (Standard Webhooks, Provisio's schema), `/webhooks/hubspot` (signature
v3, batched property changes), `/webhooks/pipedrive` (basic auth, v2 payload),
`/webhooks/salesforce` (Flow/Apex callout signed like the generic door) and
`/webhooks/salesforce/outbound` (Outbound Messages, org-id allow-list, SOAP ack).
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, ValidationError

from deal_ingest import metrics
from deal_ingest.domain import hubspot, pipedrive, salesforce
from deal_ingest.domain.common import FieldError
from deal_ingest.domain.snapshots import generic_activity, generic_deal
from deal_ingest.service_layer import (
    BatchResult,
    apply_deal_notifications,
    apply_hubspot_batch,
    record_delivery,
    set_outcome,
    store_activity,
    store_deal,
)
from deal_ingest.settings import IngestSettings
from provisio_common.problems import Problem, invalid, validation_errors
from provisio_common.service import runtime_of
from provisio_common.webhooks import WebhookRefused, verify

router = APIRouter(tags=["webhooks"])
log = logging.getLogger(__name__)

KEPT_HEADERS = ("webhook-id", "webhook-timestamp", "content-type", "user-agent")


class GenericDelivery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    type: Literal["deal.snapshot", "activity"]
    data: dict[str, Any]


GENERIC_BODY = {
    "requestBody": {
        "required": True,
        "content": {"application/json": {"schema": GenericDelivery.model_json_schema()}},
    }
}


def _refuse(source: str, exc: WebhookRefused) -> Problem:
    metrics.REFUSALS.labels(source, exc.reason).inc()
    log.warning("webhook refused", extra={"source": source, "reason": exc.reason})
    return Problem(401, exc.detail, title="Unauthorized")


@router.post("/webhooks/generic", status_code=202, openapi_extra=GENERIC_BODY)
async def generic_webhook(request: Request) -> JSONResponse:
    """Accept one signed delivery: `{"type": "deal.snapshot" | "activity", "data": {...}}`.

    401 for a bad/missing signature or a stale timestamp (nothing stored); 422 naming the
    field for a malformed body (nothing stored); 200 for a redelivered webhook-id
    (nothing changes); 202 once stored.
    """
    settings, body = await _read(request)
    runtime = runtime_of(request)
    try:
        delivery_id = verify(settings.generic_webhook_secrets, request.headers, body)
    except WebhookRefused as exc:
        raise _refuse("generic", exc) from exc
    received_at = datetime.now(UTC)
    try:
        parsed = GenericDelivery.model_validate(json.loads(body))
    except ValueError as exc:  # JSONDecodeError and ValidationError are ValueErrors
        metrics.NORMALIZATION_FAILURES.labels("generic").inc()
        raise _invalid_body(exc, prefix="") from exc
    try:
        if parsed.type == "deal.snapshot":
            item: Any = generic_deal(parsed.data, received_at)
        else:
            item = generic_activity(parsed.data)
    except ValueError as exc:
        metrics.NORMALIZATION_FAILURES.labels("generic").inc()
        raise _invalid_body(exc, prefix="data") from exc
    headers = {h: request.headers[h] for h in KEPT_HEADERS if h in request.headers}
    async with runtime.sessions.begin() as session:
        delivery = await record_delivery(session, "generic", delivery_id, headers, body)
        if delivery is None:
            metrics.DELIVERIES.labels("generic", "duplicate").inc()
            return JSONResponse({"outcome": "duplicate", "delivery_id": delivery_id}, 200)
        if parsed.type == "deal.snapshot":
            result = await store_deal(session, delivery, item)
        else:
            result = await store_activity(session, delivery, item)
    metrics.DELIVERIES.labels("generic", result.outcome).inc()
    return JSONResponse(
        {
            "outcome": result.outcome,
            "delivery_id": delivery_id,
            "deal": result.deal,
            "revision": result.revision,
        },
        202,
    )


def _invalid_body(exc: Exception, prefix: str) -> Problem:
    """422 naming each bad field as a path in the request body (`data.amount`)."""
    if isinstance(exc, FieldError):
        return invalid([{"field": exc.field, "message": exc.message}])
    if isinstance(exc, ValidationError):
        return invalid(validation_errors(exc, prefix=prefix))
    return invalid([{"field": "body", "message": f"not valid JSON: {exc}"}])


async def _read(request: Request) -> tuple[IngestSettings, bytes]:
    """The settings and the raw body, refusing an oversized body with 413 before reading it all."""
    settings = runtime_of(request).settings
    assert isinstance(settings, IngestSettings)
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > settings.max_body_bytes:
        raise Problem(413, f"body exceeds {settings.max_body_bytes} bytes")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > settings.max_body_bytes:
            raise Problem(413, f"body exceeds {settings.max_body_bytes} bytes")
    return settings, body


def _json(source: str, body: bytes) -> Any:
    """Parse JSON with every number read as Decimal, so no float ever touches an amount."""
    try:
        return json.loads(body, parse_float=Decimal)
    except (ValueError, RecursionError) as exc:
        metrics.NORMALIZATION_FAILURES.labels(source).inc()
        raise _invalid_body(ValueError(str(exc)), prefix="") from exc


def _unreadable(source: str, exc: FieldError) -> Problem:
    metrics.NORMALIZATION_FAILURES.labels(source).inc()
    return _invalid_body(exc, prefix="")


def _body_digest(body: bytes) -> str:
    return "sha256:" + hashlib.sha256(body).hexdigest()


HUBSPOT_HEADERS = (hubspot.SIGNATURE_HEADER, hubspot.TIMESTAMP_HEADER, "content-type", "user-agent")


@router.post("/webhooks/hubspot", status_code=200)
async def hubspot_webhook(request: Request) -> JSONResponse:
    """A HubSpot webhook batch (JSON array of up to 100 `deal.*` events), signature v3.

    Each new event (dedupe key: subscriptionId, eventId, objectId, occurredAt) is merged into
    its deal; every deal that changed gets one new revision. 200 once stored, also for a
    batch whose events were all seen before; 401 bad signature or stale timestamp; 422.
    """
    settings, body = await _read(request)
    uri = settings.hubspot_public_url or str(request.url)
    try:
        hubspot.verify_v3(
            settings.hubspot_client_secrets,
            request.method,
            uri,
            body,
            request.headers,
            int(datetime.now(UTC).timestamp() * 1000),
        )
    except WebhookRefused as exc:
        raise _refuse("hubspot", exc) from exc
    mapping = _hubspot_mapping(settings)
    try:
        events = hubspot.parse_batch(_json("hubspot", body), mapping)
    except FieldError as exc:
        raise _unreadable("hubspot", exc) from exc
    headers = {h: request.headers[h] for h in HUBSPOT_HEADERS if h in request.headers}
    async with runtime_of(request).sessions.begin() as session:
        delivery = await record_delivery(session, "hubspot", _body_digest(body), headers, body)
        if delivery is None:
            metrics.DELIVERIES.labels("hubspot", "duplicate").inc()
            return JSONResponse({"outcome": "duplicate", "events": {"duplicate": len(events)}, "deals": []})
        result = await apply_hubspot_batch(session, delivery, events, mapping)
    metrics.DELIVERIES.labels("hubspot", result.outcome).inc()
    return JSONResponse(result.to_json())


def _hubspot_mapping(settings: IngestSettings) -> hubspot.HubSpotMapping:
    return hubspot.HubSpotMapping(
        stages=settings.hubspot_stages,
        properties=settings.hubspot_properties,
        deal_types=settings.hubspot_deal_types,
        default_currency=settings.hubspot_default_currency,
    )


PIPEDRIVE_HEADERS = ("content-type", "user-agent", "x-pipedrive-webhook-id")


@router.post("/webhooks/pipedrive", status_code=200)
async def pipedrive_webhook(request: Request) -> JSONResponse:
    """A Pipedrive webhook v2 (`meta`, `data`, `previous`) for a deal or an activity; basic auth.

    Deduped on `meta.id`. 200 once stored (or for a redelivery, or an entity that is not
    read); 401 wrong or missing credentials; 422 naming the field.
    """
    settings, body = await _read(request)
    try:
        user = pipedrive.check_basic_auth(settings.pipedrive_basic_auth, request.headers.get("authorization"))
    except WebhookRefused as exc:
        raise _refuse("pipedrive", exc) from exc
    try:
        translated = pipedrive.translate(_json("pipedrive", body), datetime.now(UTC))
    except FieldError as exc:
        raise _unreadable("pipedrive", exc) from exc
    headers = {h: request.headers[h] for h in PIPEDRIVE_HEADERS if h in request.headers}
    headers["basic-auth-user"] = user
    async with runtime_of(request).sessions.begin() as session:
        delivery = await record_delivery(session, "pipedrive", translated.meta.id, headers, body)
        if delivery is None:
            metrics.DELIVERIES.labels("pipedrive", "duplicate").inc()
            return JSONResponse({"outcome": "duplicate", "delivery_id": translated.meta.id})
        if translated.deal is not None:
            result = await store_deal(session, delivery, translated.deal)
        elif translated.activity is not None:
            result = await store_activity(session, delivery, translated.activity)
        else:
            await set_outcome(session, delivery, "ignored", translated.ignored)
            metrics.DELIVERIES.labels("pipedrive", "ignored").inc()
            return JSONResponse(
                {"outcome": "ignored", "delivery_id": translated.meta.id, "detail": translated.ignored}
            )
    metrics.DELIVERIES.labels("pipedrive", result.outcome).inc()
    return JSONResponse(
        {
            "outcome": result.outcome,
            "delivery_id": translated.meta.id,
            "deal": result.deal,
            "revision": result.revision,
        }
    )


@router.post("/webhooks/salesforce", status_code=202)
async def salesforce_webhook(request: Request) -> JSONResponse:
    """A Flow/Apex callout: `{"opportunity": {...}, "lineItems": [...], "splits": [...]}` with the
    sObjects' API field names, signed like the generic door (Standard Webhooks).
    """
    settings, body = await _read(request)
    try:
        delivery_id = verify(settings.salesforce_webhook_secrets, request.headers, body)
    except WebhookRefused as exc:
        raise _refuse("salesforce", exc) from exc
    payload = _json("salesforce", body)
    try:
        if not isinstance(payload, dict):
            raise FieldError("body", "must be a JSON object with opportunity, lineItems, splits")
        unknown = set(payload) - {"opportunity", "lineItems", "splits"}
        if unknown:
            raise FieldError(sorted(unknown)[0], "is not a field of the Salesforce callout")
        snapshot = salesforce.opportunity_snapshot(
            payload.get("opportunity"),
            payload.get("lineItems"),
            payload.get("splits"),
            default_currency=settings.salesforce_default_currency,
            received_at=datetime.now(UTC),
        )
    except FieldError as exc:
        raise _unreadable("salesforce", exc) from exc
    headers = {h: request.headers[h] for h in KEPT_HEADERS if h in request.headers}
    async with runtime_of(request).sessions.begin() as session:
        delivery = await record_delivery(session, "salesforce", delivery_id, headers, body)
        if delivery is None:
            metrics.DELIVERIES.labels("salesforce", "duplicate").inc()
            return JSONResponse({"outcome": "duplicate", "delivery_id": delivery_id}, 200)
        result = await store_deal(session, delivery, snapshot)
    metrics.DELIVERIES.labels("salesforce", result.outcome).inc()
    return JSONResponse(
        {
            "outcome": result.outcome,
            "delivery_id": delivery_id,
            "deal": result.deal,
            "revision": result.revision,
        },
        202,
    )


SOAP_HEADERS = ("content-type", "soapaction", "user-agent")


@router.post("/webhooks/salesforce/outbound", status_code=200, response_class=Response)
async def salesforce_outbound(request: Request) -> Response:
    """Salesforce Outbound Messages (SOAP) of Opportunities from an allowed organization id.

    Answered with the SOAP acknowledgement (also for a redelivery); 401 for an org id not on
    the allow-list; 422 for a body that is not an Outbound Message.
    """
    settings, body = await _read(request)
    try:
        message = salesforce.parse_outbound(body)
    except FieldError as exc:
        raise _unreadable("salesforce", exc) from exc
    if not salesforce.org_allowed(settings.salesforce_org_ids, message.organization_id):
        raise _refuse("salesforce", WebhookRefused("unknown_org", "organization id is not on the allow-list"))
    received_at = datetime.now(UTC)
    notifications = []
    for i, notification in enumerate(message.notifications):
        if notification.object_type != "Opportunity":
            continue
        try:
            snapshot = salesforce.opportunity_snapshot(
                notification.fields,
                None,
                None,
                default_currency=settings.salesforce_default_currency,
                received_at=received_at,
                at=f"notifications.Notification[{i}].sObject",
            )
        except FieldError as exc:
            raise _unreadable("salesforce", exc) from exc
        notifications.append((f"outbound:{notification.id}", snapshot))
    headers = {h: request.headers[h] for h in SOAP_HEADERS if h in request.headers}
    headers["organization-id"] = message.organization_id
    async with runtime_of(request).sessions.begin() as session:
        delivery = await record_delivery(session, "salesforce", _body_digest(body), headers, body)
        if delivery is None:
            outcome = "duplicate"
        else:
            result: BatchResult = await apply_deal_notifications(
                session, "salesforce", delivery, notifications
            )
            outcome = result.outcome
    metrics.DELIVERIES.labels("salesforce", outcome).inc()
    return Response(salesforce.ACK, 200, media_type="text/xml; charset=utf-8")
