"""The DLQ you can work with: `GET /dlq` and `POST /dlq/{id}/replay`, the same in every service.

Dead letters are read from the service's own `dead_letters` table (written when the
message was dead-lettered), so the API does not depend on the broker keeping the DLQ
topic. A replay publishes the original bytes back to their source topic through the
outbox, in the same transaction as the audit row and the replay mark; the consumer
applies it like any new message (a dead-lettered event was never recorded in the inbox).
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query
from pydantic import BaseModel

from provisio_common import metrics
from provisio_common.auth import Principal
from provisio_common.dead_letters import DeadLetter, LetterStatus
from provisio_common.deps import Admin, Ops, UoW
from provisio_common.ids import new_id
from provisio_common.params import RowId
from provisio_common.problems import Problem, problem_responses
from provisio_common.uow import UnitOfWork


class DeadLetterView(BaseModel):
    """One dead-lettered message as the API shows it."""

    id: int
    consumer: str
    topic: str
    partition: int
    offset: int
    key: str | None
    event_id: str | None
    error: str
    error_type: str
    attempts: int
    dead_lettered_at: datetime | None
    replayed_at: datetime | None
    replays: int
    payload: str | None
    payload_base64: str | None


def _view(letter: DeadLetter) -> DeadLetterView:
    assert letter.id is not None
    try:
        text: str | None = letter.payload.decode("utf-8")
        encoded = None
    except UnicodeDecodeError:
        text, encoded = None, base64.b64encode(letter.payload).decode()
    return DeadLetterView(
        id=letter.id,
        consumer=letter.consumer,
        topic=letter.topic,
        partition=letter.partition,
        offset=letter.offset,
        key=None if letter.key is None else letter.key.decode("utf-8", "replace"),
        event_id=letter.event_id,
        error=letter.error,
        error_type=letter.error_type,
        attempts=letter.attempts,
        dead_lettered_at=letter.dead_lettered_at,
        replayed_at=letter.replayed_at,
        replays=letter.replays,
        payload=text,
        payload_base64=encoded,
    )


async def list_dead_letters(
    uow: UnitOfWork[Any], *, topic: str | None, status: LetterStatus, limit: int
) -> list[DeadLetter]:
    """Dead letters, newest first."""
    async with uow:
        return await uow.dead_letters.list(topic=topic, status=status, limit=limit)


async def replay_dead_letter(uow: UnitOfWork[Any], letter_id: int, principal: Principal) -> DeadLetter:
    """Publish a dead letter back to its source topic (outbox), mark and audit it."""
    async with uow:
        letter = await uow.dead_letters.get(letter_id)
        if letter is None:
            raise Problem(404, f"no dead letter {letter_id}")
        key = "" if letter.key is None else letter.key.decode("utf-8", "replace")
        await uow.enqueue(letter.topic, key, letter.payload, new_id())
        replayed = await uow.dead_letters.mark_replayed(letter_id, datetime.now(UTC))
        await uow.audit(
            principal,
            "dlq.replay",
            f"dead_letter:{letter_id}",
            {"replays": letter.replays},
            {"replays": replayed.replays, "topic": letter.topic, "event_id": letter.event_id},
        )
        depth = await uow.dead_letters.pending()
        await uow.commit()
    metrics.DLQ_DEPTH.labels(uow.source).set(depth)
    return replayed


router = APIRouter(tags=["dlq"])


@router.get("/dlq", response_model=list[DeadLetterView], responses=problem_responses(401, 403, 422))
async def get_dead_letters(
    uow: UoW,
    principal: Ops,
    topic: str | None = None,
    status: LetterStatus = "all",
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[DeadLetterView]:
    """Messages this service's consumers dead-lettered, newest first, with error, source
    topic, partition, offset and time. `status=pending` lists those never replayed, `replayed` those replayed.

    Roles: admin, ops.
    """
    return [_view(d) for d in await list_dead_letters(uow, topic=topic, status=status, limit=limit)]


@router.post(
    "/dlq/{letter_id}/replay",
    response_model=DeadLetterView,
    responses=problem_responses(401, 403, 404),
)
async def post_replay(letter_id: RowId, uow: UoW, principal: Admin) -> DeadLetterView:
    """Publish a dead-lettered message back to its source topic (audited). The consumer
    applies it as new; if it fails again it is dead-lettered again, as a new entry.

    Roles: admin.
    """
    return _view(await replay_dead_letter(uow, letter_id, principal))
