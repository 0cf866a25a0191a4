"""Embedded Postgres with a password: scram-sha-256 for every connection (none trusted),
also for a data directory first initialized with `trust` (converted at start)."""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from provisio_common.embedded import EmbeddedPostgres, free_port


@pytest.fixture
def root() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="provisio-test-pgpw-"))
    yield folder / "pg"
    shutil.rmtree(folder, ignore_errors=True)


async def can_log_in(server: EmbeddedPostgres, password: str | None) -> bool:
    try:
        conn = await asyncpg.connect(
            host=server.host, port=server.port, user="postgres", password=password, database="postgres"
        )
    except (asyncpg.InvalidPasswordError, asyncpg.InvalidAuthorizationSpecificationError):
        return False
    try:
        return bool(await conn.fetchval("SELECT 1"))
    finally:
        await conn.close()


async def test_a_server_with_a_password_asks_every_connection_for_it(root: Path) -> None:
    password = secrets.token_urlsafe(24)
    server = EmbeddedPostgres(root=root, port=free_port(), durable=False, password=password)
    await asyncio.to_thread(server.start)
    try:
        assert not server.trusts_local_logins()
        assert "scram-sha-256" in server.hba_file.read_text()
        assert ".initdb-password" not in os.listdir(root)  # the password file initdb read is gone
        assert await can_log_in(server, password)
        assert not await can_log_in(server, None)
        assert not await can_log_in(server, "wrong")
    finally:
        await asyncio.to_thread(server.stop)


async def test_a_data_directory_initialized_with_trust_gets_the_password_at_start(root: Path) -> None:
    port = free_port()
    old = EmbeddedPostgres(root=root, port=port, durable=False)
    await asyncio.to_thread(old.start)
    try:
        assert old.trusts_local_logins() and await can_log_in(old, None)
    finally:
        await asyncio.to_thread(old.stop)
    password = "it's-a-new-password"  # a quote too
    server = EmbeddedPostgres(root=root, port=port, durable=False, password=password)
    await asyncio.to_thread(server.start)
    try:
        assert not server.trusts_local_logins()
        assert await can_log_in(server, password)
        assert not await can_log_in(server, None)
    finally:
        await asyncio.to_thread(server.stop)
