"""The four services over real HTTP, with fresh databases and this test's broker."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import pytest
from fastapi import FastAPI

from calc_engine.bootstrap import MIGRATIONS as CALC_MIGRATIONS
from calc_engine.bootstrap import build_app as calc_app
from calc_engine.settings import CalcSettings
from deal_ingest.bootstrap import MIGRATIONS as INGEST_MIGRATIONS
from deal_ingest.bootstrap import build_app as ingest_app
from deal_ingest.settings import IngestSettings
from payout_service.bootstrap import MIGRATIONS as PAYOUT_MIGRATIONS
from payout_service.bootstrap import build_app as payout_app
from payout_service.settings import PayoutSettings
from provisio_common.migrations import upgrade
from provisio_common.settings import ProvisioSettings, ServiceSettings
from provisio_common.testing.plugin import CreateDb, serve
from provisio_common.webhooks import new_secret
from quota_service.bootstrap import MIGRATIONS as QUOTA_MIGRATIONS
from quota_service.bootstrap import build_app as quota_app
from quota_service.settings import QuotaSettings


@dataclass
class Stack:
    ingest: str
    calc: str
    quota: str
    payout: str
    settings: ProvisioSettings
    webhook_secret: str
    apps: dict[str, FastAPI]


_S = TypeVar("_S", bound=ServiceSettings)


@pytest.fixture
async def stack(fresh_db: CreateDb, base_settings: ProvisioSettings) -> AsyncIterator[Stack]:
    secret = new_secret()
    shared = base_settings.model_dump()
    urls: dict[str, str] = {}
    apps: dict[str, FastAPI] = {}
    async with contextlib.AsyncExitStack() as exits:

        async def start(
            label: str,
            settings_cls: type[_S],
            migrations: Path,
            build: Callable[[_S], FastAPI],
            **extra: Any,
        ) -> None:
            database = await fresh_db(label)
            settings = settings_cls(**{**shared, "database": database, **extra})
            await asyncio.to_thread(upgrade, migrations, settings.database_url)
            apps[label] = build(settings)
            urls[label] = await exits.enter_async_context(serve(apps[label]))

        await start("ingest", IngestSettings, INGEST_MIGRATIONS, ingest_app, generic_webhook_secrets=[secret])
        await start("quota", QuotaSettings, QUOTA_MIGRATIONS, quota_app)
        await start(
            "calc",
            CalcSettings,
            CALC_MIGRATIONS,
            calc_app,
            deal_ingest_url=urls["ingest"],
            quota_service_url=urls["quota"],
        )
        await start("payout", PayoutSettings, PAYOUT_MIGRATIONS, payout_app)
        yield Stack(urls["ingest"], urls["calc"], urls["quota"], urls["payout"], base_settings, secret, apps)
