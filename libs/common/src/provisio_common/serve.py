"""Run one service process: logging, its database and migrations, then uvicorn."""

from __future__ import annotations

import asyncio
from pathlib import Path

import uvicorn
from fastapi import FastAPI

from provisio_common.db import ensure_database
from provisio_common.logging import configure_logging
from provisio_common.migrations import upgrade
from provisio_common.settings import ServiceSettings


def prepare_database(settings: ServiceSettings, migrations: Path) -> None:
    """Create the service database if missing and migrate it to head."""
    asyncio.run(ensure_database(settings, settings.database))
    upgrade(migrations, settings.database_url)


def serve_service(settings: ServiceSettings, app: FastAPI, migrations: Path) -> None:
    """Run one service process: logging, migrations, then uvicorn on its configured address."""
    configure_logging(settings.service_name, settings.log_level, settings.log_json)
    prepare_database(settings, migrations)
    uvicorn.run(
        app,
        host=settings.http_host,
        port=settings.http_port,
        log_config=None,
        access_log=False,
        lifespan="on",
    )
