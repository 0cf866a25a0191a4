"""Which real driver errors count as transient (`provisio_common.transient`): a passing
outage is retried for as long as it lasts, anything else reaches the DLQ."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
import sqlalchemy.exc as sa_exc

from provisio_common.db import create_engine
from provisio_common.embedded import EmbeddedPostgres
from provisio_common.settings import ProvisioSettings
from provisio_common.testing.plugin import CreateDb
from provisio_common.transient import is_transient


async def test_a_refused_statement_is_deterministic_and_a_lost_connection_transient(
    embedded_pg: EmbeddedPostgres, fresh_db: CreateDb
) -> None:
    engine = create_engine(ProvisioSettings(pg_port=embedded_pg.port).dsn(await fresh_db("transient")))
    try:
        # asyncpg refuses more than 32,767 parameters with an InterfaceError before sending
        # anything: the same statement fails the same way every time, so it is no outage.
        too_many = sa.select(sa.literal(1)).where(sa.literal(1).in_(list(range(40_000))))
        async with engine.connect() as conn:
            with pytest.raises(sa_exc.InterfaceError) as refused:
                await conn.execute(too_many)
        assert not is_transient(refused.value)

        # The server ends the session: the statement after it finds the connection gone.
        async with engine.connect() as conn:
            with pytest.raises(sa_exc.DBAPIError) as ended:
                await conn.execute(sa.text("SELECT pg_terminate_backend(pg_backend_pid())"))
            assert is_transient(ended.value)

        # A pooled connection that died under us: asyncpg's "connection is closed".
        async with engine.connect() as conn:
            raw = await conn.get_raw_connection()
            raw.driver_connection.terminate()  # type: ignore[union-attr]
            with pytest.raises(sa_exc.DBAPIError) as closed:
                await conn.execute(sa.text("SELECT 1"))
            assert "connection is closed" in str(closed.value) and is_transient(closed.value)
    finally:
        await engine.dispose()
