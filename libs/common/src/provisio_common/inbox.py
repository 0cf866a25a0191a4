"""Inbox consumer: apply each event once, commit offsets only after the DB commit.

A consumer is declared as a mapping from event schema to handler (`{DealSnapshot:
on_deal}`). For every message this module, once for every service: parses the envelope
and the payload (what cannot be parsed goes to the DLQ at once), then in ONE unit of work
records the event id in the inbox and lets the handler change state and publish. A
duplicate id is a no-op. Offsets are committed after the DB commit, so a crash in between
re-delivers a message the inbox then ignores.

Failures are of two kinds (`provisio_common.transient`):
- transient (database or broker unreachable, serialization failure, deadlock): not the
  message's fault. Every partition of the batch is rewound to its first message not yet
  applied and paused with a capped, growing backoff; the message is retried for as long
  as the outage lasts and never dead-lettered for it.
- deterministic (a bad payload, a handler error that repeats `max_attempts` times): the
  message is recorded in `dead_letters` and sent to `<topic>.dlq` with its error; the
  partition moves on.
If anything else interrupts a batch (the DLQ send itself failing, say), the same rewind
happens, so no message of the batch is ever skipped by a later commit.

The messages of one fetch are applied in batches of `batch_size` that span partitions and
topics: one unit of work (and one run of the finisher, calc-engine's reconciliation, if
any) per batch, not per message or partition (each partition's messages stay in offset
order). A consumer that keeps up gets small batches; one behind gets large ones, and pays
one transaction for many messages.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import time
import traceback
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

from aiokafka import (
    AIOKafkaConsumer,
    AIOKafkaProducer,
    ConsumerRecord,
    TopicPartition,
)
from pydantic import ValidationError

from provisio_common import metrics
from provisio_common.dead_letters import DeadLetter
from provisio_common.events import Envelope, Schema
from provisio_common.kafka import Rebalances
from provisio_common.logging import bind_event_id
from provisio_common.routes import ROUTES, Route
from provisio_common.topics import dlq_name
from provisio_common.transient import is_transient
from provisio_common.uow import InboxMark, UnitOfWork, UnitOfWorkFactory

log = logging.getLogger(__name__)

Handler = Callable[[Any, Any], Awaitable[None]]
"""`async def on_x(uow, payload)`: runs inside the consumer's unit of work; never commits."""
Finisher = Callable[[Any, list[Envelope]], Awaitable[None]]
"""Runs once per unit of work after the handlers of the events it applied (e.g. one
recomputation for a whole batch); it sees what handlers left in `uow.state`."""


_applying: contextvars.ContextVar[Envelope | None] = contextvars.ContextVar("applying", default=None)


def applying() -> Envelope | None:
    """The envelope whose handler is running (None outside a consumer's handler): what a
    handler reads of the envelope beyond its payload, e.g. `accepted_at`."""
    return _applying.get()


class PoisonMessage(Exception):
    """Raised by a handler for input that can never be applied: straight to the DLQ."""


class UnreadableMessage(Exception):
    """The envelope or its payload does not parse, or its type is not handled here:
    straight to the DLQ, without retries."""


@dataclass(frozen=True)
class Outcome:
    """What happened to one message."""

    applied: bool
    duplicate: bool = False
    dead_lettered: bool = False


@dataclass(frozen=True)
class Parsed:
    """A message read: its envelope, typed payload and handler."""

    envelope: Envelope
    payload: Schema
    handler: Handler


def topics_of(
    handlers: Mapping[type[Schema], Handler], routes: Mapping[type[Schema], Route] = ROUTES
) -> list[str]:
    """The topics a consumer of these schemas subscribes to."""
    return sorted({routes[schema].topic.name for schema in handlers})


class InboxConsumer:
    """Runs one consumer group over the topics of its schemas, each with its handler."""

    def __init__(
        self,
        *,
        service: str,
        name: str,
        handlers: Mapping[type[Schema], Handler],
        uow: UnitOfWorkFactory,
        consumer: AIOKafkaConsumer,
        producer: AIOKafkaProducer,
        max_attempts: int = 3,
        retry_backoff_s: float = 0.2,
        transient_backoff_max_s: float = 5.0,
        finisher: Finisher | None = None,
        batch_size: int = 1,
        routes: Mapping[type[Schema], Route] = ROUTES,
        rebalances: Rebalances | None = None,
    ) -> None:
        self.service = service
        self.name = name
        self.by_type = {routes[schema].event_type: (schema, handler) for schema, handler in handlers.items()}
        self.uow = uow
        self.consumer = consumer
        self.producer = producer
        self.max_attempts = max_attempts
        self.retry_backoff_s = retry_backoff_s
        self.transient_backoff_max_s = transient_backoff_max_s
        self.finisher = finisher
        self.batch_size = batch_size
        self._outage_backoff_s = 0.0
        self._paused_until = 0.0
        # Offsets applied but not yet committed (a commit failed, e.g. during a rebalance):
        # committed again on the next poll, even one that fetches nothing.
        self._uncommitted: dict[TopicPartition, int] = {}
        self._lag_labels: set[TopicPartition] = set()
        # Offsets are committed only in the assignment they were fetched in. After a
        # rebalance or a rejoin the group starts from its committed offsets again (the
        # inbox dedupes what comes twice); an offset of an older assignment may belong to
        # another log (a broker that restarted empty), and committing it would skip
        # messages of the new one. `rebalances` is the listener the consumer subscribed
        # with (`kafka.make_consumer`); without one, no rebalance is ever seen.
        self.rebalances = rebalances if rebalances is not None else Rebalances()
        self._uncommitted_in = 0

    def parse(self, msg: ConsumerRecord) -> Parsed:
        """The envelope, the payload of its schema and its handler; UnreadableMessage otherwise."""
        try:
            env = Envelope.from_bytes(msg.value if msg.value is not None else b"")
        except (ValidationError, ValueError, TypeError) as exc:
            raise UnreadableMessage(f"not an envelope: {exc}") from exc
        entry = self.by_type.get(env.type)
        if entry is None:
            raise UnreadableMessage(f"{msg.topic} carries no event type {env.type!r} this consumer handles")
        schema, handler = entry
        try:
            payload = schema.model_validate(env.data)
        except ValidationError as exc:
            raise UnreadableMessage(f"not a {env.type} ({schema.__name__}): {exc}") from exc
        return Parsed(env, payload, handler)

    async def process(self, msg: ConsumerRecord) -> Outcome:
        """Apply one message, or dead-letter it if it is at fault.

        Raises only for transient failures (and for a failing dead-letter write), which the
        caller answers by rewinding the partition.
        """
        try:
            parsed = self.parse(msg)
        except UnreadableMessage as exc:
            await self._dead_letter(msg, exc, attempts=1, event_id=None)
            return Outcome(applied=False, dead_lettered=True)
        last_error: BaseException | None = None
        attempt = 0
        for attempt in range(1, self.max_attempts + 1):
            try:
                with bind_event_id(parsed.envelope.id):
                    applied = await self._apply([(msg, parsed)])
                outcome = "applied" if applied else "duplicate"
                metrics.CONSUMED.labels(self.service, self.name, msg.topic, outcome).inc()
                return Outcome(applied=bool(applied), duplicate=not applied)
            except PoisonMessage as exc:
                last_error = exc
                break
            except Exception as exc:
                if is_transient(exc):
                    raise
                last_error = exc
                metrics.CONSUMED.labels(self.service, self.name, msg.topic, "retried").inc()
                log.warning("handler failed (attempt %d of %d): %s", attempt, self.max_attempts, exc)
                if attempt < self.max_attempts:
                    await asyncio.sleep(self.retry_backoff_s * attempt)
        assert last_error is not None
        await self._dead_letter(msg, last_error, attempts=attempt, event_id=parsed.envelope.id)
        return Outcome(applied=False, dead_lettered=True)

    async def _apply(self, items: list[tuple[ConsumerRecord, Parsed]]) -> list[str]:
        """Record and handle `items` in one unit of work with one finisher run; the topic of
        each message applied (not a duplicate)."""
        async with self.uow() as uow:
            applied: list[Envelope] = []
            topics: list[str] = []
            for msg, parsed in items:
                with bind_event_id(parsed.envelope.id):
                    if await self._record_and_handle(uow, msg, parsed):
                        applied.append(parsed.envelope)
                        topics.append(msg.topic)
            if applied and self.finisher is not None:
                await self.finisher(uow, applied)
            await uow.commit()
            return topics

    async def _record_and_handle(self, uow: UnitOfWork[Any], msg: ConsumerRecord, parsed: Parsed) -> bool:
        mark = InboxMark(self.name, parsed.envelope.id, msg.topic, msg.partition, msg.offset)
        if not await uow.record_inbox(mark):
            return False
        token = _applying.set(parsed.envelope)
        try:
            await parsed.handler(uow, parsed.payload)
        finally:
            _applying.reset(token)
        return True

    async def apply_batch(self, messages: list[ConsumerRecord]) -> bool:
        """Apply several messages in ONE unit of work with one finisher run.

        All or nothing: on a deterministic error (a bad envelope, a failing handler) the
        transaction rolls back and False tells the caller to go message by message, where
        retries and the DLQ isolate the culprit. A transient error is raised.
        """
        try:
            items = [(msg, self.parse(msg)) for msg in messages]
            applied = await self._apply(items)
        except (UnreadableMessage, PoisonMessage) as exc:
            log.info("batch of %d fell back to one by one: %s", len(messages), exc)
            return False
        except Exception as exc:
            if is_transient(exc):
                raise
            log.info("batch of %d fell back to one by one: %s", len(messages), exc)
            return False
        for topic in sorted({msg.topic for msg in messages}):  # a batch may span topics
            done = applied.count(topic)
            metrics.CONSUMED.labels(self.service, self.name, topic, "applied").inc(done)
            duplicates = sum(1 for msg in messages if msg.topic == topic) - done
            if duplicates:
                metrics.CONSUMED.labels(self.service, self.name, topic, "duplicate").inc(duplicates)
        return True

    async def _dead_letter(
        self, msg: ConsumerRecord, error: BaseException, *, attempts: int, event_id: str | None
    ) -> None:
        """Record the message in `dead_letters`, then send it to `<topic>.dlq`."""
        detail = "".join(traceback.format_exception_only(type(error), error)).strip()[:4000]
        error_type = type(error).__name__
        headers = {
            "provisio-error": detail,
            "provisio-error-type": error_type,
            "provisio-source-topic": msg.topic,
            "provisio-source-partition": str(msg.partition),
            "provisio-source-offset": str(msg.offset),
            "provisio-consumer": self.name,
            "provisio-attempts": str(attempts),
        }
        letter = DeadLetter(
            consumer=self.name,
            topic=msg.topic,
            partition=msg.partition,
            offset=msg.offset,
            key=msg.key,
            payload=msg.value if msg.value is not None else b"",
            headers=headers,
            event_id=event_id,
            error=detail,
            error_type=error_type,
            attempts=attempts,
        )
        async with self.uow() as uow:
            await uow.dead_letters.add(letter)
            depth = await uow.dead_letters.pending()
            await uow.commit()
        await self.producer.send_and_wait(
            dlq_name(msg.topic),
            letter.payload,
            key=msg.key,
            headers=[*(msg.headers or ()), *((k, v.encode()) for k, v in headers.items())],
        )
        metrics.DLQ_DEPTH.labels(self.service).set(depth)
        metrics.DLQ_MESSAGES.labels(self.service, self.name, msg.topic).inc()
        metrics.CONSUMED.labels(self.service, self.name, msg.topic, "dead_lettered").inc()
        log.error(
            "message dead-lettered",
            extra={"topic": msg.topic, "offset": msg.offset, "error": detail, "event_id": event_id},
        )

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        """Commit offsets after the DB commit. A failure is harmless (the inbox dedupes what
        comes again) but is not forgotten: the offsets are committed again on the next poll,
        so an idle partition does not keep an old offset (and a lag) until its next message."""
        for tp, offset in offsets.items():
            self._uncommitted[tp] = max(offset, self._uncommitted.get(tp, 0))
        self._uncommitted_in = self.rebalances.revoked
        await self._commit_pending()

    async def _commit_pending(self) -> None:
        if not self._uncommitted:
            return
        if self._uncommitted_in != self.rebalances.revoked:
            self._uncommitted = {}  # fetched before a rebalance: the group resumes from its commits
            return
        # Only partitions this consumer still holds: another member now commits the rest.
        held = self.consumer.assignment()
        pending = {tp: offset for tp, offset in self._uncommitted.items() if tp in held}
        try:
            if pending:
                await self.consumer.commit(pending)
        except Exception as exc:  # noqa: BLE001 - kept, and tried again on the next poll
            log.warning("offset commit failed (tried again on the next poll): %s", exc)
            self._uncommitted = pending
            return
        self._uncommitted = {}

    async def poll_once(self, timeout_ms: int = 500) -> int:
        """Fetch one batch, process it in partition order, commit; return messages applied
        or dead-lettered. On an interruption, rewind and pause (see the module docstring)."""
        self._resume_if_due()
        await self._commit_pending()
        batches = await self.consumer.getmany(timeout_ms=timeout_ms, max_records=500)
        fetched_in = self.rebalances.revoked
        done: dict[TopicPartition, int] = {}
        # The fetch's messages partition by partition, each in offset order, cut into
        # batches of `batch_size` that may span partitions: one unit of work (and one
        # finisher run) per batch, not per partition, whatever the partition count.
        fetched = [msg for messages in batches.values() for msg in messages]
        try:
            for start in range(0, len(fetched), self.batch_size):
                chunk = fetched[start : start + self.batch_size]
                if len(chunk) == 1 or not await self.apply_batch(chunk):
                    for msg in chunk:
                        await self.process(msg)
                        done[TopicPartition(msg.topic, msg.partition)] = msg.offset + 1
                for msg in chunk:
                    done[TopicPartition(msg.topic, msg.partition)] = msg.offset + 1
        except asyncio.CancelledError:
            self._rewind(batches, done)
            raise
        except Exception as exc:  # noqa: BLE001 - every interruption rewinds; nothing is skipped
            self._rewind(batches, done)
            if done and self.rebalances.revoked == fetched_in:
                await self.commit(done)
            self._pause(batches, exc)
            return sum(done[tp] - batches[tp][0].offset for tp in done)
        self._outage_backoff_s = 0.0
        if done and self.rebalances.revoked == fetched_in:
            await self.commit(done)
        await self._record_lag()
        return sum(len(m) for m in batches.values())

    def _rewind(
        self, batches: Mapping[TopicPartition, list[ConsumerRecord]], done: dict[TopicPartition, int]
    ) -> None:
        """Seek every partition of the batch back to its first message not applied."""
        for tp, messages in batches.items():
            self.consumer.seek(tp, done.get(tp, messages[0].offset))

    def _pause(self, batches: Mapping[TopicPartition, list[ConsumerRecord]], exc: BaseException) -> None:
        transient = is_transient(exc)
        base = max(self.retry_backoff_s, 0.01)
        self._outage_backoff_s = min(max(self._outage_backoff_s * 2, base), self.transient_backoff_max_s)
        self._paused_until = time.monotonic() + self._outage_backoff_s
        self.consumer.pause(*batches)
        for tp in batches:
            metrics.CONSUMED.labels(self.service, self.name, tp.topic, "rewound").inc()
        log.warning(
            "consumer %s rewound %d partition(s) after a %s failure; retrying in %.2fs: %s",
            self.name,
            len(batches),
            "transient" if transient else "non-message",
            self._outage_backoff_s,
            exc,
        )

    def _resume_if_due(self) -> None:
        paused = self.consumer.paused()
        if paused and time.monotonic() >= self._paused_until:
            self.consumer.resume(*paused)

    async def _record_lag(self) -> None:
        """Lag per held partition; a partition no longer held loses its series (another
        member reports it), rather than keeping the last value it had here."""
        held = self.consumer.assignment()
        for tp in self._lag_labels - held:
            with contextlib.suppress(KeyError):
                metrics.CONSUMER_LAG.remove(self.service, self.name, tp.topic, str(tp.partition))
        self._lag_labels &= held
        for tp in held:
            highwater = self.consumer.highwater(tp)
            if highwater is None:
                continue
            position = await self.consumer.position(tp)
            metrics.CONSUMER_LAG.labels(self.service, self.name, tp.topic, str(tp.partition)).set(
                max(highwater - position, 0)
            )
            self._lag_labels.add(tp)

    async def run(self, stop: asyncio.Event) -> None:
        """Consume until `stop` is set."""
        while not stop.is_set():
            try:
                await self.poll_once(timeout_ms=self._poll_timeout_ms())
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("consumer %s poll failed; retrying", self.name)
                await asyncio.sleep(1)

    def _poll_timeout_ms(self) -> int:
        remaining = self._paused_until - time.monotonic()
        return 500 if remaining <= 0 else max(10, min(500, int(remaining * 1000)))
