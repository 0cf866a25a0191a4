"""Outbox: state and its outgoing event in one transaction, then a relay publishes.

Writers call `add_to_outbox` inside the transaction that changes state. The relay polls
unsent rows with `FOR UPDATE SKIP LOCKED` (several relays may run), publishes them in
id order per key, and marks them sent in the same transaction; a crash between publish
and commit re-publishes (consumers dedupe by event id), a crash before publish loses
nothing. LISTEN/NOTIFY only wakes the relay early.

Per-key order holds because writers of one key serialize on that key's own row (the
deal snapshot, the payee), so one key's outbox ids commit in order; a relay that sees an
earlier unsent row of a key it did not lock leaves that key for the relay holding it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from aiokafka import AIOKafkaProducer
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from provisio_common import metrics

log = logging.getLogger(__name__)

NOTIFY_CHANNEL = "provisio_outbox"


async def add_to_outbox(
    session: AsyncSession | AsyncConnection,
    table: sa.Table,
    topic: str,
    key: str,
    event_id: str,
    payload: bytes,
) -> None:
    """Queue one message for publishing; call inside the state-changing transaction.

    Services do not call this: `UnitOfWork.publish` does, from the record's route.
    """
    await session.execute(table.insert().values(event_id=event_id, topic=topic, key=key, payload=payload))
    await session.execute(sa.select(sa.func.pg_notify(NOTIFY_CHANNEL, "")))


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
        """Publish one batch of unsent rows; return how many were published."""
        t = self.table
        async with self.engine.begin() as conn:
            rows = (
                await conn.execute(
                    sa.select(t.c.id, t.c.topic, t.c.key, t.c.payload)
                    .where(t.c.sent_at.is_(None))
                    .order_by(t.c.id)
                    .limit(self.batch_size)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            if not rows:
                return 0
            mine = [r.id for r in rows]
            blocked = set(
                (
                    await conn.execute(
                        sa.select(t.c.key)
                        .distinct()
                        .where(
                            t.c.sent_at.is_(None),
                            t.c.key.in_({r.key for r in rows}),
                            t.c.id < max(mine),
                            t.c.id.not_in(mine),
                        )
                    )
                ).scalars()
            )
            publish = [r for r in rows if r.key not in blocked]
            futures = [await self.producer.send(r.topic, r.payload, key=r.key.encode()) for r in publish]
            for fut in futures:
                await fut
            if publish:
                await conn.execute(
                    t.update()
                    .where(t.c.id.in_([r.id for r in publish]))
                    .values(sent_at=sa.func.now(), publish_count=t.c.publish_count + 1)
                )
            for r in publish:
                metrics.OUTBOX_PUBLISHED.labels(self.service, r.topic).inc()
            return len(publish)

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
        """Set the backlog and oldest-unsent-age gauges from the outbox table."""
        t = self.table
        async with self.engine.connect() as conn:
            count, oldest = (
                await conn.execute(
                    sa.select(sa.func.count(), sa.func.min(t.c.created_at)).where(t.c.sent_at.is_(None))
                )
            ).one()
        metrics.OUTBOX_BACKLOG.labels(self.service).set(count)
        age = (datetime.now(UTC) - oldest).total_seconds() if oldest is not None else 0.0
        metrics.OUTBOX_OLDEST_AGE.labels(self.service).set(max(age, 0.0))

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
        """Relay until `stop` is set. Errors are logged and retried, never swallowed silently."""
        listener = asyncio.create_task(self._listen())
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
                    await self.update_backlog_metrics()
                except asyncio.CancelledError:
                    raise
                except Exception:
                    log.exception("outbox relay iteration failed; retrying")
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.poll_interval_s)
        finally:
            listener.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await listener
