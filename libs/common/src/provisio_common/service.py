"""The runtime every service shares: DB engine, producer, outbox relay, inbox consumers,
health and readiness, metrics and request-id middleware, problem errors, auth.

A service builds a `ServiceRuntime` in its bootstrap (the one composition root) and
hands it to `create_app`, which runs it in the FastAPI lifespan.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from fastapi import APIRouter, FastAPI, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from provisio_common import metrics
from provisio_common.access import PUBLIC
from provisio_common.audit_api import router as audit_router
from provisio_common.auth import TokenVerifier
from provisio_common.body_guard import JsonBodyGuard
from provisio_common.db import create_engine, session_factory
from provisio_common.dlq import router as dlq_router
from provisio_common.events import Schema
from provisio_common.inbox import Finisher, Handler, InboxConsumer, topics_of
from provisio_common.kafka import Rebalances, make_consumer, make_producer
from provisio_common.loop_lag import LoopLagProbe
from provisio_common.outbox import OutboxRelay
from provisio_common.outbox_api import router as outbox_router
from provisio_common.params import ParameterGuard, document_parameter_bounds
from provisio_common.problems import (
    document_problems,
    install_problem_handlers,
)
from provisio_common.request_context import RequestContext
from provisio_common.settings import ServiceSettings
from provisio_common.tables import SharedTables
from provisio_common.topics import ensure_topics
from provisio_common.uow import SqlUnitOfWork, UnitOfWork

log = logging.getLogger(__name__)


@dataclass
class ConsumerSpec:
    """One consumer group of a service: its name and a handler per event schema."""

    name: str
    handlers: Mapping[type[Schema], Handler]
    # Runs once per transaction after its handlers; with it, batches share one transaction.
    finisher: Finisher | None = None

    @property
    def topics(self) -> list[str]:
        """The topics this consumer group subscribes to (from its schemas' routes)."""
        return topics_of(self.handlers)


BackgroundTask = Callable[["ServiceRuntime", asyncio.Event], Coroutine[Any, Any, None]]


@dataclass
class ServiceRuntime:
    """Everything one service process runs: engine, producer, relay, consumers, units of work."""

    settings: ServiceSettings
    tables: SharedTables
    repositories: Callable[[AsyncSession], Any]
    consumers: Sequence[ConsumerSpec] = ()
    # Loops a service runs beside its consumers (e.g. a scheduler), started with them when
    # `run_background` is on; each gets the runtime and the stop event.
    background: Sequence[BackgroundTask] = ()
    engine: AsyncEngine = field(init=False)
    sessions: async_sessionmaker[AsyncSession] = field(init=False)
    producer: AIOKafkaProducer = field(init=False)
    relay: OutboxRelay | None = field(init=False, default=None)
    inbox_consumers: list[InboxConsumer] = field(init=False, default_factory=list)
    _stop: asyncio.Event = field(init=False, default_factory=asyncio.Event)
    _tasks: list[asyncio.Task[None]] = field(init=False, default_factory=list)
    _kafka_consumers: list[AIOKafkaConsumer] = field(init=False, default_factory=list)

    def __post_init__(self) -> None:
        self.engine = create_engine(self.settings.database_url)
        self.sessions = session_factory(self.engine)

    def uow(self) -> UnitOfWork[Any]:
        """A new (not yet entered) unit of work on this service's database."""
        return SqlUnitOfWork(
            sessions=self.sessions,
            tables=self.tables,
            source=self.settings.service_name,
            repositories=self.repositories,
        )

    @property
    def marker_topic(self) -> str:
        """The topic whose absence tells this service that the broker lost its data."""
        # One marker per service: its absence means the broker lost data since this
        # service last looked, so this service re-publishes its own outbox.
        return f"_provisio.{self.settings.service_name}.alive"

    async def broker_lost_data(self) -> bool:
        """Re-create missing topics; True when this service's marker was gone."""
        admin = AIOKafkaAdminClient(bootstrap_servers=self.settings.kafka_bootstrap)
        await admin.start()
        try:
            if self.marker_topic in set(await admin.list_topics()):
                return False
            await ensure_topics(self.settings.kafka_bootstrap)
            with contextlib.suppress(Exception):
                await admin.create_topics([NewTopic(self.marker_topic, 1, 1)])
            return True
        finally:
            await admin.close()

    async def start(self) -> None:
        """Start the producer, create topics, the event-loop lag probe, then the relay and
        the consumers. `stop()` cancels and awaits every task started here."""
        s = self.settings
        self.producer = make_producer(s)
        await self.producer.start()
        await ensure_topics(s.kafka_bootstrap)
        self._tasks.append(asyncio.create_task(LoopLagProbe(s.service_name).run(self._stop)))
        if not s.run_background:
            return
        await self._publish_dlq_depth()
        self.relay = OutboxRelay(
            service=s.service_name,
            engine=self.engine,
            table=self.tables.outbox,
            producer=self.producer,
            poll_interval_s=s.outbox_poll_interval_s,
            batch_size=s.outbox_batch_size,
            broker_check=self.broker_lost_data,
            broker_check_interval_s=s.outbox_topic_check_interval_s,
        )
        self._tasks.append(asyncio.create_task(self.relay.run(self._stop)))
        for spec in self.consumers:
            rebalances = Rebalances(s.service_name, spec.name)
            kafka_consumer = make_consumer(s, spec.name, spec.topics, rebalances)
            await kafka_consumer.start()
            self._kafka_consumers.append(kafka_consumer)
            consumer = InboxConsumer(
                service=s.service_name,
                name=spec.name,
                handlers=spec.handlers,
                uow=self.uow,
                consumer=kafka_consumer,
                producer=self.producer,
                max_attempts=s.consumer_max_attempts,
                retry_backoff_s=s.consumer_retry_backoff_s,
                transient_backoff_max_s=s.consumer_transient_backoff_max_s,
                finisher=spec.finisher,
                batch_size=s.consumer_batch_size,
                rebalances=rebalances,
            )
            self.inbox_consumers.append(consumer)
            self._tasks.append(asyncio.create_task(consumer.run(self._stop)))
        for task in self.background:
            self._tasks.append(asyncio.create_task(task(self, self._stop)))

    async def _publish_dlq_depth(self) -> None:
        async with self.uow() as uow:
            metrics.DLQ_DEPTH.labels(self.settings.service_name).set(await uow.dead_letters.pending())

    async def stop(self) -> None:
        """Stop consumers and relay, close the producer and the database engine."""
        self._stop.set()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        try:
            for kafka_consumer in self._kafka_consumers:
                # With the broker gone, aiokafka's stop() may raise CancelledError itself.
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await kafka_consumer.stop()
        finally:
            try:
                if hasattr(self, "producer"):
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await self.producer.stop()
            finally:
                await self.engine.dispose()

    async def readiness(self) -> dict[str, str]:
        """Whether the database and the broker answer (for /readyz)."""
        checks: dict[str, str] = {}
        try:
            async with self.engine.connect() as conn:
                await asyncio.wait_for(conn.execute(sa.text("SELECT 1")), 2)
            checks["database"] = "ok"
        except Exception as exc:  # noqa: BLE001 - any failure means "not ready", named in the answer
            checks["database"] = f"unreachable: {type(exc).__name__}"
        try:
            ok = await asyncio.wait_for(self.producer.client.force_metadata_update(), 2)
            checks["broker"] = "ok" if ok else "unreachable"
        except Exception as exc:  # noqa: BLE001 - any failure means "not ready", named in the answer
            checks["broker"] = f"unreachable: {type(exc).__name__}"
        return checks


class Health(BaseModel):
    """`/healthz`: the process is alive."""

    status: str


class Readiness(BaseModel):
    """`/readyz`: `ready` when every check is `ok`; each check names what failed."""

    status: str
    checks: dict[str, str]


def create_app(
    *,
    title: str,
    description: str,
    runtime_factory: Callable[[], ServiceRuntime],
    routers: Sequence[APIRouter],
    on_started: Callable[[ServiceRuntime], Awaitable[None]] | None = None,
) -> FastAPI:
    """A service's FastAPI app with the shared endpoints, middleware and lifespan."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runtime = runtime_factory()
        app.state.runtime = runtime
        app.state.token_verifier = TokenVerifier(runtime.settings)
        await runtime.start()
        if on_started is not None:
            await on_started(runtime)
        try:
            yield
        finally:
            await runtime.stop()

    app = FastAPI(title=title, description=description, lifespan=lifespan)
    install_problem_handlers(app)
    app.add_middleware(JsonBodyGuard)
    app.add_middleware(ParameterGuard)
    app.add_middleware(RequestContext, service_label=title)  # the last added runs first
    app.openapi = document_problems(document_parameter_bounds(app.openapi))  # type: ignore[method-assign]

    @app.get("/healthz", tags=["ops"], response_model=Health, openapi_extra=PUBLIC)
    async def healthz() -> Health:
        """The process is alive (the liveness probe). No token."""
        return Health(status="ok")

    @app.get(
        "/readyz",
        tags=["ops"],
        response_model=Readiness,
        responses={503: {"model": Readiness, "description": "the database or the broker is unreachable"}},
        openapi_extra=PUBLIC,
    )
    async def readyz(request: Request) -> JSONResponse:
        """The database and the broker are reachable (the readiness probe): 200 or 503. No token."""
        checks = await request.app.state.runtime.readiness()
        ready = all(v == "ok" for v in checks.values())
        body = Readiness(status="ready" if ready else "not ready", checks=checks)
        return JSONResponse(body.model_dump(), status_code=200 if ready else 503)

    @app.get("/metrics", tags=["ops"], include_in_schema=False, openapi_extra=PUBLIC)
    async def prometheus_metrics() -> Response:
        """Prometheus exposition. No token (public, as the scrape needs; not in the OpenAPI)."""
        body, content_type = metrics.render_latest()
        return Response(body, media_type=content_type)

    for router in (*routers, dlq_router, audit_router, outbox_router):
        app.include_router(router)
    return app


def runtime_of(request: Request) -> ServiceRuntime:
    """The runtime of the app serving this request."""
    runtime: ServiceRuntime = request.app.state.runtime
    return runtime
