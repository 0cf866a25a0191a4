"""CRM doors: each verifies with its CRM's native scheme and parses its CRM's payload, then
hands the content to the one delivery use case (`service_layer.deliveries.receive_delivery`:
raw log, dedupe, snapshots and outbox rows in one transaction) and answers as its CRM expects.

`/webhooks/generic` (Standard Webhooks, Provisio's schema), `/webhooks/hubspot` (signature
v3, batched property changes), `/webhooks/pipedrive` (basic auth, v2 payload),
`/webhooks/salesforce` (Flow/Apex callout signed like the generic door) and
`/webhooks/salesforce/outbound` (Outbound Messages: basic auth per org, org-id allow-list,
SOAP ack).
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from deal_ingest.adapters import metrics
from deal_ingest.adapters.crm import hubspot, pipedrive, salesforce
from deal_ingest.domain import limits
from deal_ingest.domain.common import FieldError, storable_text
from deal_ingest.domain.outcomes import StoreResult
from deal_ingest.domain.snapshots import generic_activity, generic_deal
from deal_ingest.service_layer.batches import applying_hubspot_batch, applying_notifications
from deal_ingest.service_layer.deals import applying_activity, applying_deal, ignoring
from deal_ingest.service_layer.deliveries import receive_delivery
from deal_ingest.settings import IngestSettings
from provisio_common.deps import UoW
from provisio_common.events import ActivityRecord, DealSnapshot
from provisio_common.kafka import max_message_value_bytes
from provisio_common.problems import Problem, invalid, problem_responses, validation_errors
from provisio_common.service import runtime_of
from provisio_common.webhooks import WebhookRefused, verify

router = APIRouter(tags=["webhooks"])
log = logging.getLogger(__name__)

KEPT_HEADERS = ("webhook-id", "webhook-timestamp", "content-type", "user-agent")
HUBSPOT_HEADERS = (hubspot.SIGNATURE_HEADER, hubspot.TIMESTAMP_HEADER, "content-type", "user-agent")
PIPEDRIVE_HEADERS = ("content-type", "user-agent", "x-pipedrive-webhook-id")
SOAP_HEADERS = ("content-type", "soapaction", "user-agent")


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


class DeliveryAnswer(BaseModel):
    """What a single-object delivery did. A redelivery answers only `outcome: duplicate`
    and `delivery_id`; an ignored Pipedrive entity answers `detail` instead of the deal."""

    outcome: str = Field(
        description=(
            "new_revision (also a late one: kept in history), unchanged, new_activity, ignored or duplicate"
        )
    )
    delivery_id: str
    deal: str | None = Field(default=None, description="`source:external_id` of the deal or activity")
    revision: int | None = None
    detail: str | None = Field(default=None, description="why an ignored delivery was not read")


class DealOutcome(BaseModel):
    """What a batch did to one deal."""

    deal: str | None
    outcome: str = Field(
        description="new_revision, unchanged, older_than_stored (HubSpot: every change older) or incomplete"
    )
    revision: int | None


class BatchAnswer(BaseModel):
    """What a HubSpot batch did: per-event counts and per-deal outcomes."""

    outcome: str
    events: dict[str, int] = Field(description="applied, duplicate, older_than_stored, ignored")
    deals: list[DealOutcome]


class SoapAck(BaseModel):
    """The SOAP `notificationsResponse` with `<Ack>true</Ack>` (text/xml, not JSON)."""

    Ack: Literal[True] = True


class SoapResponse(Response):
    media_type = "text/xml; charset=utf-8"


REDELIVERED: dict[int | str, dict[str, Any]] = {
    200: {"model": DeliveryAnswer, "description": "A redelivered webhook-id: nothing changes"}
}


async def ingest_settings(request: Request) -> IngestSettings:
    settings = runtime_of(request).settings
    assert isinstance(settings, IngestSettings)
    return settings


Settings = Annotated[IngestSettings, Depends(ingest_settings)]


async def _read(request: Request, settings: IngestSettings) -> bytes:
    """The raw body, refusing an oversized body with 413 before reading it all."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > settings.max_body_bytes:
        raise Problem(413, f"body exceeds {settings.max_body_bytes} bytes")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > settings.max_body_bytes:
            raise Problem(413, f"body exceeds {settings.max_body_bytes} bytes")
    return body


BASIC_CHALLENGE = {"WWW-Authenticate": 'Basic realm="provisio-webhooks", charset="UTF-8"'}
"""What a 401 of a basic-auth door (Pipedrive, Salesforce Outbound Messages) answers with."""


def _refuse(source: str, exc: WebhookRefused, headers: dict[str, str] | None = None) -> Problem:
    metrics.REFUSALS.labels(source, exc.reason).inc()
    log.warning("webhook refused", extra={"source": source, "reason": exc.reason})
    return Problem(401, exc.detail, title="Unauthorized", headers=headers)


def _invalid_body(exc: Exception, prefix: str) -> Problem:
    """422 naming each bad field as a path in the request body (`data.amount`)."""
    if isinstance(exc, FieldError):
        return invalid([{"field": exc.field, "message": exc.message}])
    if isinstance(exc, ValidationError):
        return invalid(validation_errors(exc, prefix=prefix))
    return invalid([{"field": "body", "message": f"not valid JSON: {exc}"}])


def _json(source: str, body: bytes) -> Any:
    """Parse JSON with every number read as Decimal, so no float ever touches an amount."""
    try:
        payload = json.loads(body, parse_float=Decimal)
    except (ValueError, RecursionError) as exc:
        metrics.NORMALIZATION_FAILURES.labels(source).inc()
        raise _invalid_body(ValueError(str(exc)), prefix="") from exc
    try:
        storable_text(payload)
    except FieldError as exc:
        raise _unreadable(source, exc) from exc
    return payload


def _door_limits(settings: IngestSettings) -> limits.Limits:
    return limits.Limits(
        max_envelope_bytes=max_message_value_bytes(settings),
        max_ahead=timedelta(seconds=settings.changed_at_max_ahead_s),
    )


def _within_limits(
    source: str,
    settings: IngestSettings,
    item: DealSnapshot | ActivityRecord | None,
    received_at: datetime,
    name: limits.Namer,
    delivery: tuple[str, str],
) -> None:
    """422 naming the field when the delivery id or what the door read is over a limit
    (`deal_ingest.domain.limits`); checked before anything is stored."""
    try:
        limits.check_delivery_id(delivery[1], delivery[0])
        if isinstance(item, DealSnapshot):
            limits.check_deal(item, _door_limits(settings), received_at=received_at, name=name)
        elif isinstance(item, ActivityRecord):
            limits.check_activity(item, name=name)
    except FieldError as exc:
        raise _unreadable(source, exc) from exc


def _unreadable(source: str, exc: FieldError) -> Problem:
    metrics.NORMALIZATION_FAILURES.labels(source).inc()
    return _invalid_body(exc, prefix="")


def _kept(request: Request, names: tuple[str, ...]) -> dict[str, str]:
    return {h: request.headers[h] for h in names if h in request.headers}


def _body_digest(body: bytes) -> str:
    return "sha256:" + hashlib.sha256(body).hexdigest()


def _answer(delivery_id: str, result: StoreResult | None, response: Response) -> DeliveryAnswer:
    if result is None:
        response.status_code = 200
        return DeliveryAnswer(outcome="duplicate", delivery_id=delivery_id)
    return DeliveryAnswer(
        outcome=result.outcome, delivery_id=delivery_id, deal=result.deal, revision=result.revision
    )


def _generic_content(body: bytes, received_at: datetime) -> DealSnapshot | ActivityRecord:
    try:
        raw = json.loads(body)
        storable_text(raw)
        parsed = GenericDelivery.model_validate(raw)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, ValidationError, FieldError
        metrics.NORMALIZATION_FAILURES.labels("generic").inc()
        raise _invalid_body(exc, prefix="") from exc
    try:
        if parsed.type == "deal.snapshot":
            return generic_deal(parsed.data, received_at)
        return generic_activity(parsed.data)
    except ValueError as exc:
        metrics.NORMALIZATION_FAILURES.labels("generic").inc()
        raise _invalid_body(exc, prefix="data") from exc


@router.post(
    "/webhooks/generic",
    status_code=202,
    openapi_extra=GENERIC_BODY,
    response_model=DeliveryAnswer,
    response_model_exclude_unset=True,
    responses={
        **REDELIVERED,
        **problem_responses(401, 413, 422),
    },
)
async def generic_webhook(
    request: Request, response: Response, settings: Settings, uow: UoW
) -> DeliveryAnswer:
    """Accept one signed delivery: `{"type": "deal.snapshot" | "activity", "data": {...}}`.

    401 for a bad/missing signature or a stale timestamp (nothing stored); 422 naming the
    field for a malformed body (nothing stored); 200 for a redelivered webhook-id
    (nothing changes); 202 once stored.

    Roles: none; the sender signs with a Standard Webhooks secret.
    """
    body = await _read(request, settings)
    try:
        delivery_id = verify(settings.generic_webhook_secrets, request.headers, body)
    except WebhookRefused as exc:
        raise _refuse("generic", exc) from exc
    received_at = datetime.now(UTC)
    item = _generic_content(body, received_at)
    _within_limits("generic", settings, item, received_at, limits.namer("data."), ("webhook-id", delivery_id))
    apply = applying_deal(item) if isinstance(item, DealSnapshot) else applying_activity(item)
    result = await receive_delivery(uow, "generic", delivery_id, _kept(request, KEPT_HEADERS), body, apply)
    return _answer(delivery_id, result, response)


@router.post(
    "/webhooks/hubspot",
    status_code=200,
    response_model=BatchAnswer,
    responses=problem_responses(401, 413, 422),
)
async def hubspot_webhook(request: Request, settings: Settings, uow: UoW) -> BatchAnswer:
    """A HubSpot webhook batch (JSON array of up to 100 `deal.*` events), signature v3.

    Each new event (dedupe key: subscriptionId, eventId, objectId, occurredAt) is merged into
    its deal; every deal that changed gets one new revision. 200 once stored, also for a
    batch whose events were all seen before; 401 bad signature or stale timestamp; 422.

    Roles: none; HubSpot signs with the app's client secret (signature v3).
    """
    body = await _read(request, settings)
    try:
        hubspot.verify_v3(
            settings.hubspot_client_secrets,
            request.method,
            settings.hubspot_public_url or str(request.url),
            body,
            request.headers,
            int(datetime.now(UTC).timestamp() * 1000),
        )
    except WebhookRefused as exc:
        raise _refuse("hubspot", exc) from exc
    mapping = _hubspot_mapping(settings)
    try:
        events = hubspot.parse_batch(_json("hubspot", body), mapping)
        hubspot.check_limits(
            events, mapping, received_at=datetime.now(UTC), max_ahead=_door_limits(settings).max_ahead
        )
    except FieldError as exc:
        raise _unreadable("hubspot", exc) from exc
    headers = _kept(request, HUBSPOT_HEADERS)
    apply = applying_hubspot_batch(events, mapping)
    result = await receive_delivery(uow, "hubspot", _body_digest(body), headers, body, apply)
    if result is None:
        return BatchAnswer(outcome="duplicate", events={"duplicate": len(events)}, deals=[])
    return BatchAnswer.model_validate(result.to_json())


def _hubspot_mapping(settings: IngestSettings) -> hubspot.HubSpotMapping:
    return hubspot.HubSpotMapping(
        stages=settings.hubspot_stages,
        properties=settings.hubspot_properties,
        deal_types=settings.hubspot_deal_types,
        default_currency=settings.hubspot_default_currency,
    )


@router.post(
    "/webhooks/pipedrive",
    status_code=200,
    response_model=DeliveryAnswer,
    response_model_exclude_unset=True,
    responses=problem_responses(401, 413, 422),
)
async def pipedrive_webhook(
    request: Request, response: Response, settings: Settings, uow: UoW
) -> DeliveryAnswer:
    """A Pipedrive webhook v2 (`meta`, `data`, `previous`) for a deal or an activity; basic auth.

    Deduped on `meta.id`. 200 once stored (or for a redelivery, or an entity that is not
    read); 401 wrong or missing credentials; 422 naming the field.

    Roles: none; Pipedrive sends the HTTP basic auth credentials of the webhook.
    """
    body = await _read(request, settings)
    try:
        user = pipedrive.check_basic_auth(settings.pipedrive_basic_auth, request.headers.get("authorization"))
    except WebhookRefused as exc:
        raise _refuse("pipedrive", exc, BASIC_CHALLENGE) from exc
    try:
        contract = pipedrive.ContractFields(
            settings.pipedrive_contract_months_field, settings.pipedrive_contract_start_field
        )
        received_at = datetime.now(UTC)
        translated = pipedrive.translate(_json("pipedrive", body), received_at, contract)
    except FieldError as exc:
        raise _unreadable("pipedrive", exc) from exc
    fields = pipedrive.DEAL_FIELDS if translated.deal is not None else pipedrive.ACTIVITY_FIELDS
    item = translated.deal or translated.activity
    name = limits.namer("data.", fields)
    _within_limits("pipedrive", settings, item, received_at, name, ("meta.id", translated.meta.id))
    headers = {**_kept(request, PIPEDRIVE_HEADERS), "basic-auth-user": user}
    if translated.deal is not None:
        apply = applying_deal(translated.deal)
    elif translated.activity is not None:
        apply = applying_activity(translated.activity)
    else:
        apply = ignoring(translated.ignored)
    delivery_id = translated.meta.id
    result = await receive_delivery(uow, "pipedrive", delivery_id, headers, body, apply)
    if result is not None and result.outcome == "ignored":
        return DeliveryAnswer(outcome="ignored", delivery_id=delivery_id, detail=result.detail)
    return _answer(delivery_id, result, response)


@router.post(
    "/webhooks/salesforce",
    status_code=202,
    response_model=DeliveryAnswer,
    response_model_exclude_unset=True,
    responses={
        **REDELIVERED,
        **problem_responses(401, 413, 422),
    },
)
async def salesforce_webhook(
    request: Request, response: Response, settings: Settings, uow: UoW
) -> DeliveryAnswer:
    """A Flow/Apex callout: `{"opportunity": {...}, "lineItems": [...], "splits": [...]}` with the
    sObjects' API field names, signed like the generic door (Standard Webhooks).

    Roles: none; the callout signs with a Standard Webhooks secret.
    """
    body = await _read(request, settings)
    try:
        delivery_id = verify(settings.salesforce_webhook_secrets, request.headers, body)
    except WebhookRefused as exc:
        raise _refuse("salesforce", exc) from exc
    payload = _json("salesforce", body)
    received_at = datetime.now(UTC)
    try:
        snapshot = salesforce.read_callout(
            payload, default_currency=settings.salesforce_default_currency, received_at=received_at
        )
    except FieldError as exc:
        raise _unreadable("salesforce", exc) from exc
    name = limits.namer("opportunity.", salesforce.field_names("opportunity"))
    _within_limits("salesforce", settings, snapshot, received_at, name, ("webhook-id", delivery_id))
    headers = _kept(request, KEPT_HEADERS)
    result = await receive_delivery(uow, "salesforce", delivery_id, headers, body, applying_deal(snapshot))
    return _answer(delivery_id, result, response)


@router.post(
    "/webhooks/salesforce/outbound",
    status_code=200,
    response_class=SoapResponse,
    response_model=SoapAck,
    responses=problem_responses(401, 413, 422),
)
async def salesforce_outbound(request: Request, settings: Settings, uow: UoW) -> Response:
    """Salesforce Outbound Messages (SOAP) of Opportunities from an allowed organization id,
    with HTTP basic auth in the endpoint URL (user: the org id, password: its secret).

    Answered with the SOAP acknowledgement (also for a redelivery); 401 with
    `WWW-Authenticate: Basic` for missing or wrong credentials, an org id not on the
    allow-list, or a message of another org than the credentials'; 422 for a body that is
    not an Outbound Message.

    Roles: none; HTTP basic auth `<org id>:<secret>` from PROVISIO_SALESFORCE_OUTBOUND_SECRETS,
    and the organization id on PROVISIO_SALESFORCE_ORG_IDS.
    """
    body = await _read(request, settings)
    try:
        org = salesforce.check_outbound_auth(
            settings.salesforce_outbound_secrets, request.headers.get("authorization")
        )
    except WebhookRefused as exc:
        raise _refuse("salesforce", exc, BASIC_CHALLENGE) from exc
    try:
        message = salesforce.parse_outbound(body)
    except FieldError as exc:
        raise _unreadable("salesforce", exc) from exc
    if not salesforce.org_allowed(settings.salesforce_org_ids, message.organization_id):
        refused = WebhookRefused("unknown_org", "organization id is not on the allow-list")
        raise _refuse("salesforce", refused, BASIC_CHALLENGE)
    if message.organization_id[:15] != org:
        refused = WebhookRefused("org_mismatch", "the message is from another org than its credentials")
        raise _refuse("salesforce", refused, BASIC_CHALLENGE)
    received_at = datetime.now(UTC)
    try:
        notifications = salesforce.outbound_snapshots(
            message, default_currency=settings.salesforce_default_currency, received_at=received_at
        )
    except FieldError as exc:
        raise _unreadable("salesforce", exc) from exc
    for i, notification in enumerate(message.notifications):
        at = f"notifications.Notification[{i}]"
        snapshot = dict(notifications).get(f"outbound:{notification.id}")
        name = limits.namer(f"{at}.sObject.", salesforce.field_names(f"{at}.sObject"))
        _within_limits("salesforce", settings, snapshot, received_at, name, (f"{at}.Id", notification.id))
    headers = {**_kept(request, SOAP_HEADERS), "organization-id": message.organization_id}
    apply = applying_notifications("salesforce", notifications)
    await receive_delivery(uow, "salesforce", _body_digest(body), headers, body, apply)
    return SoapResponse(salesforce.ACK, 200)
