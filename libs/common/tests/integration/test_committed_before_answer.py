"""A 2xx means committed: a route's use case commits before the route answers, a commit the
database refuses is a 409 problem (never a 2xx), and a read right after a write sees it."""

from __future__ import annotations

from typing import Any

import httpx
import sqlalchemy as sa
from fastapi import APIRouter
from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from provisio_common.auth import mint_token
from provisio_common.deps import Admin, UoW
from provisio_common.problems import Problem
from provisio_common.service import ServiceRuntime, create_app
from provisio_common.settings import ProvisioSettings, ServiceSettings
from provisio_common.tables import shared_tables
from provisio_common.testing.plugin import serve
from provisio_common.uow import UnitOfWork

metadata = sa.MetaData()
tables = shared_tables(metadata)
# Deferred: a duplicate passes the INSERT and is refused only by COMMIT.
notes = sa.Table(
    "notes",
    metadata,
    sa.Column("name", sa.Text),
    sa.Column("text", sa.Text, nullable=False),
    sa.PrimaryKeyConstraint("name", deferrable=True, initially="DEFERRED"),
)


class NoteRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, name: str, text: str) -> None:
        await self.session.execute(notes.insert().values(name=name, text=text))

    async def get(self, name: str) -> str | None:
        return (await self.session.execute(sa.select(notes.c.text).where(notes.c.name == name))).scalar()


class Note(BaseModel):
    name: str
    text: str


async def add_note(uow: UnitOfWork[NoteRepository], name: str, text: str) -> Note:
    async with uow:
        await uow.repos.add(name, text)
        await uow.commit()
    return Note(name=name, text=text)


async def read_note(uow: UnitOfWork[NoteRepository], name: str) -> Note:
    async with uow:
        text = await uow.repos.get(name)
    if text is None:
        raise Problem(404, f"no note {name!r}")
    return Note(name=name, text=text)


router = APIRouter()


@router.post("/notes/{name}", status_code=201, response_model=Note)
async def post_note(name: str, body: dict[str, Any], uow: UoW, principal: Admin) -> Note:
    return await add_note(uow, name, str(body["text"]))


@router.get("/notes/{name}", response_model=Note)
async def get_note(name: str, uow: UoW, principal: Admin) -> Note:
    return await read_note(uow, name)


async def test_a_refused_commit_is_409_and_every_write_is_readable_the_moment_it_returns(
    fresh_db: Any, base_settings: ProvisioSettings
) -> None:
    settings = ServiceSettings(
        **{**base_settings.model_dump(), "database": await fresh_db("committed"), "run_background": False}
    )

    def runtime() -> ServiceRuntime:
        return ServiceRuntime(settings=settings, tables=tables, repositories=NoteRepository)

    prepare = runtime()
    async with prepare.engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    await prepare.engine.dispose()
    app = create_app(title="notes", description="test", runtime_factory=runtime, routers=[router])
    headers = {"Authorization": f"Bearer {mint_token(settings, 'ada', 'admin')}"}
    async with serve(app) as url, httpx.AsyncClient(base_url=url, headers=headers) as client:
        for i in range(50):
            written = await client.post(f"/notes/n{i}", json={"text": f"t{i}"})
            assert written.status_code == 201
            read = await client.get(f"/notes/n{i}")
            assert read.status_code == 200 and read.json() == {"name": f"n{i}", "text": f"t{i}"}

        refused = await client.post("/notes/n7", json={"text": "again"})
        assert refused.status_code == 409
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["status"] == 409
        assert (await client.get("/notes/n7")).json()["text"] == "t7"  # nothing half-written
