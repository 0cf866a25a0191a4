"""quota-service over real HTTP for integration tests: migrate a fresh database, serve the app."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

from provisio_common.auth import Role, mint_token
from provisio_common.migrations import upgrade
from provisio_common.settings import ProvisioSettings
from provisio_common.testing.plugin import CreateDb, serve
from quota_service.bootstrap import MIGRATIONS, build_app
from quota_service.settings import QuotaSettings


@dataclass
class Quota:
    """A running quota-service: its base URL and settings."""

    url: str
    settings: QuotaSettings

    def headers(self, role: Role = "admin", sub: str = "admin") -> dict[str, str]:
        return {"Authorization": f"Bearer {mint_token(self.settings, sub, role)}"}


@contextlib.asynccontextmanager
async def running_quota(fresh_db: CreateDb, base_settings: ProvisioSettings) -> AsyncIterator[Quota]:
    """quota-service on a fresh, migrated database and the test's broker."""
    settings = QuotaSettings(**{**base_settings.model_dump(), "database": await fresh_db("quota")})
    await asyncio.to_thread(upgrade, MIGRATIONS, settings.database_url)
    async with serve(build_app(settings)) as url:
        yield Quota(url, settings)
