"""Async database helpers: one engine per service database (SQLAlchemy 2 + asyncpg)."""

from __future__ import annotations

import asyncpg
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from provisio_common.settings import ProvisioSettings


def create_engine(url: str, *, pool_size: int = 10) -> AsyncEngine:
    """The engine of one service database.

    No `pool_pre_ping`: with asyncpg it costs two round trips (`BEGIN; ROLLBACK`) before
    every transaction, a sixth of a webhook's. A pooled connection that died (Postgres
    restarted) fails its first statement instead, as a disconnect: SQLAlchemy then drops
    every connection opened before it, and the failure is transient
    (`provisio_common.transient`): a 503 with Retry-After at the API, a retry in consumers.
    `pool_recycle` bounds a connection's age, so few are stale even behind a proxy.
    """
    return create_async_engine(url, pool_size=pool_size, max_overflow=10, pool_recycle=1800)


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """Sessions of one service database; objects stay readable after commit."""
    return async_sessionmaker(engine, expire_on_commit=False)


async def ensure_database(settings: ProvisioSettings, database: str) -> bool:
    """Create `database` on the configured server if it does not exist; True if created."""
    conn = await asyncpg.connect(
        host=settings.pg_host,
        port=settings.pg_port,
        user=settings.pg_user,
        password=settings.pg_password.get_secret_value() or None,
        database="postgres",
    )
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", database)
        if exists:
            return False
        # Identifiers cannot be bound parameters; the name is checked to be a plain word.
        if not database.replace("_", "").isalnum():
            raise ValueError(f"unsafe database name {database!r}")
        await conn.execute(f'CREATE DATABASE "{database}"')
        return True
    finally:
        await conn.close()


async def drop_database(settings: ProvisioSettings, database: str) -> None:
    """Drop a database (tests use this to give each test a fresh one)."""
    if not database.replace("_", "").isalnum():
        raise ValueError(f"unsafe database name {database!r}")
    conn = await asyncpg.connect(
        host=settings.pg_host,
        port=settings.pg_port,
        user=settings.pg_user,
        password=settings.pg_password.get_secret_value() or None,
        database="postgres",
    )
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
    finally:
        await conn.close()
