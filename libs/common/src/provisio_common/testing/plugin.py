"""Pytest plugin (loaded by the root pytest config): the embedded Postgres for the whole
session, a fresh database per test, a fresh memory broker per test (so topics and
consumer groups start empty), and helpers to run a service over real HTTP.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest
import uvicorn
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession

from provisio_common.db import create_engine, drop_database, ensure_database, session_factory
from provisio_common.embedded import EMBEDDED_FETCH_MAX_WAIT_MS, EmbeddedBroker, EmbeddedPostgres, free_port
from provisio_common.migrations import upgrade
from provisio_common.settings import ProvisioSettings
from provisio_common.tables import SharedTables
from provisio_common.uow import SqlUnitOfWork, UnitOfWork


@pytest.fixture(scope="session")
def embedded_pg() -> Iterator[EmbeddedPostgres]:
    """The embedded Postgres for the whole test session (fsync off)."""
    # Not under pytest's basetemp: a concurrent pytest session prunes old basetemps and
    # would delete a running server's data directory.
    root = Path(tempfile.mkdtemp(prefix="provisio-test-pg-"))
    server = EmbeddedPostgres(root=root, port=free_port(), durable=False)
    server.start()
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[EmbeddedBroker]:
    """A fresh memory broker for one test: topics and consumer groups start empty."""
    server = EmbeddedBroker(port=free_port(), log_file=tmp_path / "tansu.log")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def base_settings(embedded_pg: EmbeddedPostgres, broker: EmbeddedBroker) -> ProvisioSettings:
    """Settings pointing at the session Postgres and this test's broker."""
    return ProvisioSettings(
        environment="test",
        pg_port=embedded_pg.port,
        kafka_bootstrap=broker.bootstrap,
        kafka_session_timeout_ms=3000,
        kafka_heartbeat_interval_ms=300,
        kafka_fetch_max_wait_ms=EMBEDDED_FETCH_MAX_WAIT_MS,
        outbox_poll_interval_s=0.1,
        consumer_retry_backoff_s=0.01,
        log_json=False,
    )


CreateDb = Callable[[str], Awaitable[str]]


@contextlib.asynccontextmanager
async def _databases(server: EmbeddedPostgres, prefix: str) -> AsyncIterator[CreateDb]:
    settings = ProvisioSettings(pg_port=server.port)
    created: list[str] = []

    async def create(label: str) -> str:
        name = f"{prefix}_{label}_{uuid.uuid4().hex[:10]}".replace("-", "_")
        await ensure_database(settings, name)
        created.append(name)
        return name

    try:
        yield create
    finally:
        for name in created:
            await drop_database(settings, name)


@pytest.fixture
async def fresh_db(embedded_pg: EmbeddedPostgres) -> AsyncIterator[CreateDb]:
    """Factory: `await fresh_db("ingest")` makes a new, empty database and returns its name."""
    async with _databases(embedded_pg, "t") as create:
        yield create


@pytest.fixture(scope="module")
async def module_db(embedded_pg: EmbeddedPostgres) -> AsyncIterator[CreateDb]:
    """Like `fresh_db`, for a whole test module (migrate once, use distinct keys per test)."""
    async with _databases(embedded_pg, "m") as create:
        yield create


R = TypeVar("R")


@contextlib.asynccontextmanager
async def migrated_units_of_work(
    server: EmbeddedPostgres,
    create_db: CreateDb,
    label: str,
    *,
    migrations: Path,
    tables: SharedTables,
    repositories: Callable[[AsyncSession], R],
    source: str,
) -> AsyncIterator[Callable[[], UnitOfWork[R]]]:
    """Units of work on a new database migrated with a service's own migrations: the SQL
    side of a repository conformance suite (use a module-scoped `create_db`)."""
    url = ProvisioSettings(pg_port=server.port).dsn(await create_db(label))
    await asyncio.to_thread(upgrade, migrations, url)
    engine = create_engine(url, pool_size=2)
    sessions = session_factory(engine)

    def new() -> UnitOfWork[R]:
        return SqlUnitOfWork(sessions=sessions, tables=tables, source=source, repositories=repositories)

    try:
        yield new
    finally:
        await engine.dispose()


def sql_or_fake(
    request: pytest.FixtureRequest, sql_fixture: str, fake: Callable[[], UnitOfWork[R]]
) -> Callable[[], UnitOfWork[R]]:
    """The body of a conformance suite's parametrized fixture (params `sql` and `fake`):
    the SQL units of work of `sql_fixture`, or `fake`."""
    if request.param == "sql":
        sql: Callable[[], UnitOfWork[R]] = request.getfixturevalue(sql_fixture)
        return sql
    return fake


@contextlib.asynccontextmanager
async def serve(app: FastAPI, port: int | None = None) -> AsyncIterator[str]:
    """Run `app` with uvicorn on 127.0.0.1 (real HTTP, real lifespan); yield its base URL."""
    port = port or free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve())
    try:
        while not server.started:
            if task.done():
                task.result()
                raise RuntimeError("server stopped before it started")
            await asyncio.sleep(0.02)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


async def eventually(
    check: Callable[[], Awaitable[bool]], *, timeout_s: float = 60.0, interval_s: float = 0.1
) -> None:
    """Wait until an asynchronous condition holds (propagation through the broker)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    while True:
        if await check():
            return
        if loop.time() > deadline:
            raise AssertionError(f"condition not met within {timeout_s}s")
        await asyncio.sleep(interval_s)
