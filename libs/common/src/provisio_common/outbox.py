"""Outbox: state and its outgoing event in one transaction, then a relay publishes.

Writers queue rows inside the transaction that changes state (`UnitOfWork.publish`;
the unit of work writes them in one statement at commit, `write_outbox`). The relay polls
unsent rows with `FOR UPDATE SKIP LOCKED` (several relays may run), publishes them in
id order per key, and marks them sent in the same transaction; a crash between publish
and commit re-publishes (consumers dedupe by event id), a crash before publish loses
nothing. LISTEN/NOTIFY only wakes the relay early.

Per-key order holds because writers of one key serialize on that key's own row (the
deal snapshot, the payee), so one key's outbox ids commit in order; a relay that sees an
earlier unsent row of a key it did not lock leaves that key for the relay holding it.

No poison blocks the outbox: when a batch fails, its rows are published one by one. A row
that can never be published (larger than `kafka_max_message_bytes`, a key that is not
text; `unpublishable`) is parked with its error (`parked_at`, `park_error`) and the relay
goes on; later rows of the same key are parked behind it (per-key order), other keys flow.
A transient failure (broker unreachable) parks nothing: the pass stops and is retried.
Parked rows are counted in `provisio_outbox_parked_rows`, listed by `GET /outbox/parked`
and released by `POST /outbox/parked/{id}/release` (provisio_common.outbox_api).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from aiokafka import AIOKafkaProducer
from aiokafka.errors import (
    InvalidTopicError,
    MessageSizeTooLargeError,
    RecordListTooLargeError,
    RecordTooLargeError,
)
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from provisio_common import metrics
from provisio_common.transient import is_transient

log = logging.getLogger(__name__)

NOTIFY_CHANNEL = "provisio_outbox"


@dataclass(frozen=True, slots=True)
class OutboxRow:
    """One message waiting in the outbox: raw bytes for a topic and key."""

    topic: str
    key: str
    event_id: str
    payload: bytes


# Rows per INSERT: five bind parameters each, well under asyncpg's 32,767.
_ROWS_PER_STATEMENT = 1000


async def write_outbox(
    session: AsyncSession | AsyncConnection, table: sa.Table, rows: Sequence[OutboxRow]
) -> None:
    """Queue `rows` for publishing, in this order; call inside the state-changing transaction.

    One round trip per 1,000 rows: a multi-row INSERT whose CTE also wakes the relay
    (`pg_notify` is delivered at commit, once per transaction however often it is called).
    Services do not call this: `UnitOfWork` does, at commit, with what `publish` queued.
    """
    for start in range(0, len(rows), _ROWS_PER_STATEMENT):
        chunk = rows[start : start + _ROWS_PER_STATEMENT]
        inserted = (
            table.insert()
            .values(
                [
                    {"event_id": r.event_id, "topic": r.topic, "key": r.key, "payload": r.payload}
                    for r in chunk
                ]
            )
            .returning(table.c.id)
            .cte("inserted")
        )
        await session.execute(sa.select(sa.func.pg_notify(NOTIFY_CHANNEL, "")).select_from(inserted).limit(1))


async def add_to_outbox(
    session: AsyncSession | AsyncConnection,
    table: sa.Table,
    topic: str,
    key: str,
    event_id: str,
    payload: bytes,
) -> None:
    """Queue one message for publishing (`write_outbox` with one row)."""
    await write_outbox(session, table, [OutboxRow(topic, key, event_id, payload)])


HELD_BEHIND = "held behind parked outbox row {id} of the same key"

_NEVER_PUBLISHABLE = (
    MessageSizeTooLargeError,
    RecordListTooLargeError,
    RecordTooLargeError,
    InvalidTopicError,
    UnicodeError,
    TypeError,
)


def unpublishable(exc: BaseException) -> bool:
    """True if publishing this row can never succeed however often it is retried: too
    large for the producer or the broker, an invalid topic, a key or value that cannot be
    serialized. A transient failure (broker unreachable, timeouts) never is."""
    return not is_transient(exc) and isinstance(exc, _NEVER_PUBLISHABLE)


@dataclass(frozen=True)
class ParkedRow:
    """One outbox row the relay set aside: never published, with why."""

    id: int
    event_id: str
    topic: str
    key: str
    size: int
    created_at: datetime
    parked_at: datetime
    park_error: str
    publish_count: int


class ParkedOutbox(ABC):
    """The port over parked outbox rows: find, count, release."""

    @abstractmethod
    async def find(self, *, limit: int) -> list[ParkedRow]:
        """Parked rows, oldest first."""

    @abstractmethod
    async def count(self) -> int:
        """How many rows are parked."""

    @abstractmethod
    async def release(self, row_id: int) -> list[int]:
        """Un-park a parked row and every parked row of its key after it (the relay tries
        them again, in order); return the released ids, empty if `row_id` is not parked."""


class SqlParkedOutbox(ParkedOutbox):
    """Parked rows in the service database's `outbox` table."""

    def __init__(self, session: AsyncSession, table: sa.Table) -> None:
        self.session = session
        self.t = table

    def _parked(self) -> Any:
        return sa.and_(self.t.c.sent_at.is_(None), self.t.c.parked_at.is_not(None))

    async def find(self, *, limit: int) -> list[ParkedRow]:
        """Parked rows, oldest first."""
        t = self.t
        query = (
            sa.select(
                t.c.id,
                t.c.event_id,
                t.c.topic,
                t.c.key,
                sa.func.octet_length(t.c.payload).label("size"),
                t.c.created_at,
                t.c.parked_at,
                t.c.park_error,
                t.c.publish_count,
            )
            .where(self._parked())
            .order_by(t.c.id)
            .limit(limit)
        )
        return [ParkedRow(**r._mapping) for r in (await self.session.execute(query)).all()]

    async def count(self) -> int:
        """How many rows are parked."""
        query = sa.select(sa.func.count()).where(self._parked())
        return int((await self.session.execute(query)).scalar_one())

    async def release(self, row_id: int) -> list[int]:
        """Un-park a row and the parked rows of its key after it; the released ids."""
        t = self.t
        key = (
            await self.session.execute(sa.select(t.c.key).where(t.c.id == row_id, self._parked()))
        ).scalar_one_or_none()
        if key is None:
            return []
        released = await self.session.execute(
            t.update()
            .where(t.c.key == key, t.c.id >= row_id, self._parked())
            .values(parked_at=None, park_error=None)
            .returning(t.c.id)
        )
        await self.session.execute(sa.select(sa.func.pg_notify(NOTIFY_CHANNEL, "")))
        return sorted(released.scalars())


class OutboxRelay:
    """Publishes a service's outbox to the broker."""

    def __init__(
        self,
        *,
        service: str,
        engine: AsyncEngine,
        table: sa.Table,
        producer: AIOKafkaProducer,
        poll_interval_s: float = 0.5,
        batch_size: int = 200,
        broker_check: Callable[[], Awaitable[bool]] | None = None,
        broker_check_interval_s: float = 5.0,
        retention: timedelta | None = None,
    ) -> None:
        self.service = service
        self.engine = engine
        self.table = table
        self.producer = producer
        self.poll_interval_s = poll_interval_s
        self.batch_size = batch_size
        self.broker_check = broker_check
        self.broker_check_interval_s = broker_check_interval_s
        self.retention = retention
        self._wake = asyncio.Event()

    async def publish_batch(self) -> int:
        """Publish one batch of unsent rows; return how many rows it settled (published or
        parked). Raises the first transient failure after keeping what was published."""
        t = self.table
        async with self.engine.begin() as conn:
            rows = (
                await conn.execute(
                    sa.select(t.c.id, t.c.topic, t.c.key, t.c.payload)
                    .where(t.c.sent_at.is_(None), t.c.parked_at.is_(None))
                    .order_by(t.c.id)
                    .limit(self.batch_size)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            if not rows:
                return 0
            mine = [r.id for r in rows]
            keys = {r.key for r in rows}
            blocked = set(
                (
                    await conn.execute(
                        sa.select(t.c.key)
                        .distinct()
                        .where(
                            t.c.sent_at.is_(None),
                            t.c.parked_at.is_(None),
                            t.c.key.in_(keys),
                            t.c.id < max(mine),
                            t.c.id.not_in(mine),
                        )
                    )
                ).scalars()
            )
            parked_keys: dict[str, int] = {
                key: first
                for key, first in await conn.execute(
                    sa.select(t.c.key, sa.func.min(t.c.id))
                    .where(t.c.sent_at.is_(None), t.c.parked_at.is_not(None), t.c.key.in_(keys))
                    .group_by(t.c.key)
                )
            }
            candidates = [r for r in rows if r.key not in blocked]
            sent, parked, failure = await self._publish(candidates, parked_keys)
            if sent:
                await conn.execute(
                    t.update()
                    .where(t.c.id.in_([r.id for r in sent]))
                    .values(sent_at=sa.func.now(), publish_count=t.c.publish_count + 1)
                )
            for row_id, error in parked:
                await conn.execute(
                    t.update().where(t.c.id == row_id).values(parked_at=sa.func.now(), park_error=error)
                )
        for r in sent:
            metrics.OUTBOX_PUBLISHED.labels(self.service, r.topic).inc()
        for row_id, error in parked:
            log.error("outbox row parked", extra={"outbox_id": row_id, "error": error})
        if failure is not None:
            raise failure
        return len(sent) + len(parked)

    async def _publish(
        self, rows: Sequence[Any], parked_keys: dict[str, int]
    ) -> tuple[list[Any], list[tuple[int, str]], BaseException | None]:
        """Send `rows` (id order): pipelined first; if anything failed, the rows not yet
        known sent go one by one. Returns the rows sent, the rows to park (id, error), and
        the transient failure that stopped the pass (None if it did not stop)."""
        held = dict(parked_keys)  # key -> the parked row its later rows wait behind
        behind = [r for r in rows if r.key in held and r.id > held[r.key]]
        parked = [(r.id, HELD_BEHIND.format(id=held[r.key])) for r in behind]
        ready = [r for r in rows if r not in behind]
        delivered, stopped = await self._send_pipelined(ready)
        # A row counts as sent only if every earlier row of its key in this batch was.
        sent: list[Any] = []
        unsettled: set[str] = set()
        for r in ready:
            if r.id in delivered and r.key not in unsettled:
                sent.append(r)
            else:
                unsettled.add(r.key)
        if stopped is not None or not unsettled:
            return sent, parked, stopped
        done = {r.id for r in sent}
        for r in ready:  # one by one, in id order, whatever the batch left unsettled
            if r.id in done:
                continue
            if r.key in held:
                parked.append((r.id, HELD_BEHIND.format(id=held[r.key])))
                continue
            try:
                await (await self._send(r))
            except Exception as exc:  # noqa: BLE001 - an unpublishable row parks, others stop the pass
                if not unpublishable(exc):
                    return sent, parked, exc
                held[r.key] = r.id
                parked.append((r.id, f"{type(exc).__name__}: {exc}"[:2000]))
                continue
            sent.append(r)
        return sent, parked, None

    async def _send_pipelined(self, rows: Sequence[Any]) -> tuple[set[int], BaseException | None]:
        """Send every row without waiting for each; the ids the broker acknowledged, and a
        transient failure raised while sending (the rest were not sent: the broker is away)."""
        futures: list[tuple[int, asyncio.Future[Any]]] = []
        failed_keys: set[str] = set()
        stopped: BaseException | None = None
        for r in rows:
            if r.key in failed_keys:
                continue  # after a failed row of its key: waits for the one-by-one pass
            try:
                futures.append((r.id, await self._send(r)))
            except Exception as exc:  # noqa: BLE001 - classified: transient stops, others go one by one
                failed_keys.add(r.key)
                if not unpublishable(exc):
                    stopped = exc
                    break
        results = await asyncio.gather(*(f for _, f in futures), return_exceptions=True)
        delivered = {
            row_id
            for (row_id, _), result in zip(futures, results, strict=True)
            if not isinstance(result, BaseException)
        }
        return delivered, stopped

    async def _send(self, row: Any) -> asyncio.Future[Any]:
        future: asyncio.Future[Any] = await self.producer.send(row.topic, row.payload, key=row.key.encode())
        return future

    async def drain(self) -> int:
        """Publish until nothing is left; return the total published."""
        total = 0
        while n := await self.publish_batch():
            total += n
        return total

    async def mark_all_unsent(self) -> int:
        """Re-publish every retained row (heals a broker that lost its data)."""
        async with self.engine.begin() as conn:
            result = await conn.execute(
                self.table.update().where(self.table.c.sent_at.is_not(None)).values(sent_at=None)
            )
        metrics.OUTBOX_REPLAYS.labels(self.service).inc()
        self._wake.set()
        return result.rowcount

    async def update_backlog_metrics(self) -> None:
        """Set the backlog, oldest-unsent-age and parked gauges from the outbox table
        (backlog and age count the rows the relay still tries to publish, not parked ones)."""
        t = self.table
        waiting = sa.and_(t.c.sent_at.is_(None), t.c.parked_at.is_(None))
        async with self.engine.connect() as conn:
            count, oldest, parked = (
                await conn.execute(
                    sa.select(
                        sa.func.count().filter(waiting),
                        sa.func.min(t.c.created_at).filter(waiting),
                        sa.func.count().filter(t.c.parked_at.is_not(None)),
                    ).where(t.c.sent_at.is_(None))
                )
            ).one()
        metrics.OUTBOX_BACKLOG.labels(self.service).set(count)
        age = (datetime.now(UTC) - oldest).total_seconds() if oldest is not None else 0.0
        metrics.OUTBOX_OLDEST_AGE.labels(self.service).set(max(age, 0.0))
        metrics.OUTBOX_PARKED.labels(self.service).set(parked)

    async def _update_metrics_quietly(self) -> None:
        try:
            await self.update_backlog_metrics()
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - the database is down: the gauges keep their last value
            log.debug("outbox gauges not updated: %s", exc)

    async def purge_expired(self) -> None:
        """Delete sent rows older than the retention period (unsent rows are never deleted)."""
        if self.retention is None:
            return
        cutoff = datetime.now(UTC) - self.retention
        async with self.engine.begin() as conn:
            await conn.execute(
                self.table.delete().where(self.table.c.sent_at.is_not(None), self.table.c.sent_at < cutoff)
            )

    async def _listen(self) -> None:
        """Wake the relay on NOTIFY; polling still runs if this connection fails."""
        async with self.engine.connect() as conn:
            raw = await conn.get_raw_connection()
            driver = raw.driver_connection
            assert driver is not None
            await driver.add_listener(NOTIFY_CHANNEL, lambda *_: self._wake.set())
            await asyncio.Event().wait()

    async def run(self, stop: asyncio.Event) -> None:
        """Relay until `stop` is set. Errors are logged and retried, never swallowed silently.
        The gauges are kept fresh by their own task too, so they tell the truth while a pass
        hangs on an unreachable broker."""
        listener = asyncio.create_task(self._listen())
        watcher = asyncio.create_task(self._watch(stop))
        last_check = 0.0
        try:
            while not stop.is_set():
                try:
                    if self.broker_check and time.monotonic() - last_check > self.broker_check_interval_s:
                        last_check = time.monotonic()
                        if await self.broker_check():
                            n = await self.mark_all_unsent()
                            if n:
                                log.warning("broker lost its topics; re-publishing %d outbox rows", n)
                        await self.purge_expired()
                    await self.drain()
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("outbox relay iteration failed; retrying")
                # Also (above all) when the pass failed: a stuck outbox must show.
                await self._update_metrics_quietly()
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.poll_interval_s)
        finally:
            for task in (listener, watcher):
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    async def _watch(self, stop: asyncio.Event) -> None:
        """Update the gauges every poll interval, whatever the relay is doing."""
        while not stop.is_set():
            await self._update_metrics_quietly()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), max(self.poll_interval_s, 0.1))
