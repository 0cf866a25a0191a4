"""CRM doors. `POST /webhooks/generic`: Standard Webhooks, Provisio's own schema."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, ValidationError

from deal_ingest import metrics
from deal_ingest.domain.snapshots import FieldError, generic_activity, generic_deal
from deal_ingest.service_layer import record_delivery, store_activity, store_deal
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
    runtime = runtime_of(request)
    settings = runtime.settings
    assert isinstance(settings, IngestSettings)
    body = await request.body()
    if len(body) > settings.max_body_bytes:
        raise Problem(413, f"body exceeds {settings.max_body_bytes} bytes")
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
        {"outcome": result.outcome, "delivery_id": delivery_id, "deal": result.deal,
         "revision": result.revision},
        202,
    )


def _invalid_body(exc: Exception, prefix: str) -> Problem:
    """422 naming each bad field as a path in the request body (`data.amount`)."""
    if isinstance(exc, FieldError):
        return invalid([{"field": exc.field, "message": exc.message}])
    if isinstance(exc, ValidationError):
        return invalid(validation_errors(exc, prefix=prefix))
    return invalid([{"field": "body", "message": f"not valid JSON: {exc}"}])
