from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from quota_http import Quota, running_quota

from provisio_common.settings import ProvisioSettings
from provisio_common.testing.plugin import CreateDb


@pytest.fixture
async def quota(fresh_db: CreateDb, base_settings: ProvisioSettings) -> AsyncIterator[Quota]:
    async with running_quota(fresh_db, base_settings) as running:
        yield running
