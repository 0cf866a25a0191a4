"""Alembic, shared: each service's `alembic/env.py` calls `run_env(metadata)`, and
`upgrade()` migrates a service database from code (`provisio up`, tests)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import sqlalchemy as sa
from alembic import command, context
from alembic.config import Config
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine


def alembic_config(script_location: Path, url: str) -> Config:
    """An Alembic configuration for one service's migrations and database URL."""
    cfg = Config()
    cfg.set_main_option("script_location", str(script_location))
    cfg.set_main_option("sqlalchemy.url", url)
    return cfg


def upgrade(script_location: Path, url: str, revision: str = "head") -> None:
    """Migrate one service database (blocking; call via asyncio.to_thread in async code)."""
    command.upgrade(alembic_config(script_location, url), revision)


def run_env(metadata: sa.MetaData) -> None:
    """The body of every service's alembic env.py (online, async engine)."""
    url = context.config.get_main_option("sqlalchemy.url")
    if url is None:
        from provisio_common.settings import ServiceSettings

        url = ServiceSettings().database_url

    if context.is_offline_mode():
        context.configure(url=url, target_metadata=metadata, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return

    def migrate(connection: Connection) -> None:
        context.configure(connection=connection, target_metadata=metadata)
        with context.begin_transaction():
            context.run_migrations()

    async def main() -> None:
        engine = create_async_engine(url)
        try:
            async with engine.connect() as conn:
                await conn.run_sync(migrate)
                await conn.commit()
        finally:
            await engine.dispose()

    asyncio.run(main())
