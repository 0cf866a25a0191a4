"""Inbox consumer: apply each event once, commit offsets only after the DB commit.

For every message: parse the envelope, then in ONE database transaction record the
event id in the inbox and let the handler change state (and write outbox rows). A
duplicate id is a no-op. Offsets are committed after the DB commit, so a crash in
between re-delivers a message the inbox then ignores. A message that cannot be parsed,
or whose handler fails `max_attempts` times, goes to `<topic>.dlq` with its error and
the partition moves on.
"""

from __future__ import annotations

import asyncio
import logging
import traceback
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass

import sqlalchemy as sa
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, ConsumerRecord, TopicPartition
from pydantic import ValidationError
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from provisio_common import metrics
from provisio_common.events import Envelope
from provisio_common.logging import bind_event_id
from provisio_common.topics import dlq_name

log = logging.getLogger(__name__)

Handler = Callable[[AsyncSession, Envelope], Awaitable[None]]
Finisher = Callable[[AsyncSession, list[Envelope]], Awaitable[None]]
"""Runs once per transaction after the handlers of the events it applied (e.g. one
recomputation for a whole batch); it sees what handlers left in `session.info`."""


class PoisonMessage(Exception):
    """Raised by a handler for input that can never be applied: straight to the DLQ."""


@dataclass(frozen=True)
class Outcome:
    applied: bool
    duplicate: bool = False
    dead_lettered: bool = False


class InboxConsumer:
    """Runs one consumer group over some topics, each with its handler."""

    def __init__(
        self,
        *,
        service: str,
        name: str,
        handlers: Mapping[str, Handler],
        sessions: async_sessionmaker[AsyncSession],
        inbox: sa.Table,
        consumer: AIOKafkaConsumer,
        producer: AIOKafkaProducer,
        max_attempts: int = 3,
        retry_backoff_s: float = 0.2,
        finisher: Finisher | None = None,
        batch_size: int = 1,
    ) -> None:
        self.service = service
        self.name = name
        self.handlers = dict(handlers)
        self.sessions = sessions
        self.inbox = inbox
        self.consumer = consumer
        self.producer = producer
        self.max_attempts = max_attempts
        self.retry_backoff_s = retry_backoff_s
        self.finisher = finisher
        self.batch_size = batch_size

    async def process(self, msg: ConsumerRecord) -> Outcome:
        """Apply one message (or dead-letter it). Never raises for a bad message."""
        try:
            env = Envelope.from_bytes(msg.value)
        except (ValidationError, ValueError, TypeError) as exc:
            await self._dead_letter(msg, exc, attempts=1)
            return Outcome(applied=False, dead_lettered=True)
        handler = self.handlers[msg.topic]
        last_error: BaseException | None = None
        for attempt in range(1, self.max_attempts + 1):
            try:
                with bind_event_id(env.id):
                    applied = await self._apply(msg, env, handler)
                outcome = "applied" if applied else "duplicate"
                metrics.CONSUMED.labels(self.service, self.name, msg.topic, outcome).inc()
                return Outcome(applied=applied, duplicate=not applied)
            except asyncio.CancelledError:
                raise
            except PoisonMessage as exc:
                last_error = exc
                break
            except Exception as exc:
                last_error = exc
                metrics.CONSUMED.labels(self.service, self.name, msg.topic, "retried").inc()
                log.warning("handler failed (attempt %d of %d): %s", attempt, self.max_attempts, exc)
                if attempt < self.max_attempts:
                    await asyncio.sleep(self.retry_backoff_s * attempt)
        assert last_error is not None
        await self._dead_letter(msg, last_error, attempts=attempt, event_id=env.id)
        return Outcome(applied=False, dead_lettered=True)

    async def _apply(self, msg: ConsumerRecord, env: Envelope, handler: Handler) -> bool:
        async with self.sessions.begin() as session:
            applied = await self._record_and_handle(session, msg, env, handler)
            if applied and self.finisher is not None:
                await self.finisher(session, [env])
            return applied

    async def _record_and_handle(
        self, session: AsyncSession, msg: ConsumerRecord, env: Envelope, handler: Handler
    ) -> bool:
        recorded = await session.execute(
            insert(self.inbox)
            .values(
                consumer=self.name,
                event_id=env.id,
                topic=msg.topic,
                partition=msg.partition,
                offset=msg.offset,
            )
            .on_conflict_do_nothing()
            .returning(self.inbox.c.event_id)
        )
        if recorded.first() is None:
            return False
        await handler(session, env)
        return True

    async def apply_batch(self, messages: list[ConsumerRecord]) -> bool:
        """Apply several messages in ONE transaction with one finisher run.

        All or nothing: on any error (a bad envelope, a failing handler) the transaction
        rolls back and False tells the caller to go message by message, where retries and
        the DLQ isolate the culprit.
        """
        try:
            async with self.sessions.begin() as session:
                applied: list[Envelope] = []
                for msg in messages:
                    env = Envelope.from_bytes(msg.value)
                    with bind_event_id(env.id):
                        if await self._record_and_handle(session, msg, env, self.handlers[msg.topic]):
                            applied.append(env)
                if applied and self.finisher is not None:
                    await self.finisher(session, applied)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.info("batch of %d fell back to one by one: %s", len(messages), exc)
            return False
        metrics.CONSUMED.labels(self.service, self.name, messages[0].topic, "applied").inc(len(applied))
        if len(messages) > len(applied):
            metrics.CONSUMED.labels(self.service, self.name, messages[0].topic, "duplicate").inc(
                len(messages) - len(applied)
            )
        return True

    async def _dead_letter(
        self,
        msg: ConsumerRecord,
        error: BaseException,
        *,
        attempts: int,
        event_id: str | None = None,
    ) -> None:
        detail = "".join(traceback.format_exception_only(type(error), error)).strip()
        headers = [
            *(msg.headers or ()),
            ("provisio-error", detail[:4000].encode()),
            ("provisio-error-type", type(error).__name__.encode()),
            ("provisio-source-topic", msg.topic.encode()),
            ("provisio-source-partition", str(msg.partition).encode()),
            ("provisio-source-offset", str(msg.offset).encode()),
            ("provisio-consumer", self.name.encode()),
            ("provisio-attempts", str(attempts).encode()),
        ]
        await self.producer.send_and_wait(
            dlq_name(msg.topic),
            msg.value if msg.value is not None else b"",
            key=msg.key,
            headers=headers,
        )
        metrics.DLQ_MESSAGES.labels(self.service, self.name, msg.topic).inc()
        metrics.CONSUMED.labels(self.service, self.name, msg.topic, "dead_lettered").inc()
        log.error(
            "message dead-lettered",
            extra={"topic": msg.topic, "offset": msg.offset, "error": detail, "event_id": event_id},
        )

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        """Commit offsets after the DB commit; a failure is harmless (the inbox dedupes)."""
        try:
            await self.consumer.commit(offsets)
        except Exception as exc:  # the next delivery is a duplicate the inbox ignores
            log.warning("offset commit failed: %s", exc)

    async def poll_once(self, timeout_ms: int = 500) -> int:
        """Fetch one batch, process it in partition order, commit; return messages seen."""
        batches = await self.consumer.getmany(timeout_ms=timeout_ms, max_records=500)
        seen = 0
        offsets: dict[TopicPartition, int] = {}
        for tp, messages in batches.items():
            for start in range(0, len(messages), self.batch_size):
                chunk = messages[start : start + self.batch_size]
                if len(chunk) == 1 or not await self.apply_batch(chunk):
                    for msg in chunk:
                        await self.process(msg)
                offsets[tp] = chunk[-1].offset + 1
                seen += len(chunk)
        if offsets:
            await self.commit(offsets)
        await self._record_lag()
        return seen

    async def _record_lag(self) -> None:
        for tp in self.consumer.assignment():
            highwater = self.consumer.highwater(tp)
            if highwater is None:
                continue
            position = await self.consumer.position(tp)
            metrics.CONSUMER_LAG.labels(self.service, self.name, tp.topic, str(tp.partition)).set(
                max(highwater - position, 0)
            )

    async def run(self, stop: asyncio.Event) -> None:
        """Consume until `stop` is set."""
        while not stop.is_set():
            try:
                await self.poll_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("consumer %s poll failed; retrying", self.name)
                await asyncio.sleep(1)
