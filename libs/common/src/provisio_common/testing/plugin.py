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

import pytest
import uvicorn
from fastapi import FastAPI

from provisio_common.db import drop_database, ensure_database
from provisio_common.embedded import EmbeddedBroker, EmbeddedPostgres, free_port
from provisio_common.settings import ProvisioSettings


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
    check: Callable[[], Awaitable[bool]], *, timeout_s: float = 20.0, interval_s: float = 0.1
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
