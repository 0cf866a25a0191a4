from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from quota_http import Quota, running_quota

from provisio_common.embedded import EmbeddedBroker, EmbeddedPostgres, free_port
from provisio_common.settings import ProvisioSettings
from provisio_common.testing.plugin import CreateDb


@pytest.fixture
async def quota(fresh_db: CreateDb, base_settings: ProvisioSettings) -> AsyncIterator[Quota]:
    async with running_quota(fresh_db, base_settings) as running:
        yield running


@pytest.fixture(scope="module")
def module_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EmbeddedBroker]:
    """One broker for a whole test module."""
    server = EmbeddedBroker(port=free_port(), log_file=Path(tmp_path_factory.mktemp("tansu")) / "tansu.log")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
async def app(
    module_db: CreateDb, embedded_pg: EmbeddedPostgres, module_broker: EmbeddedBroker
) -> AsyncIterator[Quota]:
    """One quota-service for a whole test module (tests use keys of their own)."""
    base = ProvisioSettings(
        environment="test",
        pg_port=embedded_pg.port,
        kafka_bootstrap=module_broker.bootstrap,
        kafka_session_timeout_ms=3000,
        kafka_heartbeat_interval_ms=300,
        outbox_poll_interval_s=0.1,
        consumer_retry_backoff_s=0.01,
        log_json=False,
    )
    async with running_quota(module_db, base) as running:
        yield running
