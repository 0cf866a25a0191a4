"""A deal-ingest with every door configured, over real HTTP, real Postgres, a real broker."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from ingest_doors import SAMPLES_AHEAD_S, SF_ORG_ID, SF_OTHER_ORG_ID, SF_OUTBOUND_SECRET, Doors

from deal_ingest.bootstrap import MIGRATIONS, build_app
from deal_ingest.settings import IngestSettings
from provisio_common.migrations import upgrade
from provisio_common.settings import ProvisioSettings
from provisio_common.testing.plugin import serve
from provisio_common.webhooks import new_secret

ORG_ID = SF_ORG_ID


@pytest.fixture
async def doors(fresh_db: Any, base_settings: ProvisioSettings) -> AsyncIterator[Doors]:
    settings = IngestSettings(
        **{
            **base_settings.model_dump(),
            "database": await fresh_db("ingest"),
            "generic_webhook_secrets": [new_secret()],
            "changed_at_max_ahead_s": SAMPLES_AHEAD_S,
            "hubspot_client_secrets": ["hs-client-secret-new", "hs-client-secret-old"],
            "pipedrive_basic_auth": ["provisio:pd-pass-1", "provisio:pd-pass-old"],
            "salesforce_webhook_secrets": [new_secret(), new_secret()],
            "salesforce_org_ids": [ORG_ID[:15], SF_OTHER_ORG_ID],
            "salesforce_outbound_secrets": [
                f"{ORG_ID}:{SF_OUTBOUND_SECRET}",
                f"{SF_OTHER_ORG_ID}:other-org-secret",
            ],
        }
    )
    await asyncio.to_thread(upgrade, MIGRATIONS, settings.database_url)
    async with serve(build_app(settings)) as url:
        yield Doors(url, settings)
