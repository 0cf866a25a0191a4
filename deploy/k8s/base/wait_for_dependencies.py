"""Init container of every Provisio Deployment: wait until the service's database accepts
its role and every topic of the catalogue exists, then exit 0.

CloudNativePG creates the databases (Database resources) and the Strimzi topic operator the
topics (KafkaTopic resources), both asynchronously. A service that started first would fail
to connect, or create the topics itself with the replication of a single broker. Runs with
the service's own environment (provisio-config and its Secrets) and the service image.
"""

from __future__ import annotations

import asyncio
import sys
import time

import asyncpg

from provisio_common.kafka import list_topics
from provisio_common.settings import ServiceSettings
from provisio_common.topics import all_topic_names

POLL_S = 5.0


async def missing(settings: ServiceSettings) -> list[str]:
    """What is not there yet, as sentences (empty: everything is ready)."""
    problems: list[str] = []
    try:
        conn = await asyncpg.connect(
            host=settings.pg_host,
            port=settings.pg_port,
            user=settings.pg_user,
            password=settings.pg_password.get_secret_value() or None,
            database=settings.database,
            timeout=5,
        )
        await conn.close()
    except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
        problems.append(f"database {settings.database}: {type(exc).__name__}: {exc}")
    try:
        existing = await asyncio.wait_for(list_topics(settings), 10)
        absent = sorted(set(all_topic_names()) - existing)
        if absent:
            problems.append(f"topics not created yet: {', '.join(absent)}")
    except Exception as exc:  # noqa: BLE001 - any broker failure means "wait", named in the log
        problems.append(f"broker {settings.kafka_bootstrap}: {type(exc).__name__}: {exc}")
    return problems


def main() -> int:
    """Poll until nothing is missing."""
    settings = ServiceSettings()
    while problems := asyncio.run(missing(settings)):
        print("waiting: " + "; ".join(problems), file=sys.stderr, flush=True)
        time.sleep(POLL_S)
    print(f"database {settings.database} and {len(all_topic_names())} topics are ready", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
