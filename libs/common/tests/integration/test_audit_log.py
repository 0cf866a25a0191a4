"""The audit trail you can read. The read port (`uow.audit_log`) is one conformance suite run
against Postgres and against the fake; `GET /audit` is tested over real HTTP: roles,
newest-first pages walked with the cursor, filters, and 422s naming the field."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import APIRouter
from pydantic import BaseModel

from provisio_common.audit import AuditEntry, AuditFilter, decode_cursor, encode_cursor
from provisio_common.auth import Principal, Role, mint_token
from provisio_common.db import create_engine, session_factory
from provisio_common.deps import UoW
from provisio_common.logging import request_id_var
from provisio_common.service import ServiceRuntime, create_app
from provisio_common.settings import ProvisioSettings, ServiceSettings
from provisio_common.tables import shared_tables
from provisio_common.testing.fakes import FakeStore, FakeUnitOfWork
from provisio_common.testing.plugin import CreateDb, serve
from provisio_common.uow import SqlUnitOfWork, UnitOfWork

metadata = sa.MetaData()
tables = shared_tables(metadata)
NewUoW = Callable[[], UnitOfWork[None]]


@pytest.fixture(scope="module")
async def sql_units(module_db: CreateDb, embedded_pg: Any) -> AsyncIterator[NewUoW]:
    engine = create_engine(ProvisioSettings(pg_port=embedded_pg.port).dsn(await module_db("audit")))
    async with engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    sessions = session_factory(engine)
    yield lambda: SqlUnitOfWork(sessions=sessions, tables=tables, source="svc", repositories=lambda s: None)
    await engine.dispose()


@pytest.fixture(params=["sql", "fake"])
def units(request: pytest.FixtureRequest) -> NewUoW:
    if request.param == "sql":
        sql: NewUoW = request.getfixturevalue("sql_units")
        return sql
    store: FakeStore[None] = FakeStore(None)
    return lambda: FakeUnitOfWork(store, "svc")


@contextlib.contextmanager
def request_id(value: str) -> Iterator[None]:
    token = request_id_var.set(value)
    try:
        yield
    finally:
        request_id_var.reset(token)


async def write(units: NewUoW, who: Principal, action: str, entity: str, after: Any = None) -> None:
    """One audit row in its own committed transaction."""
    async with units() as uow:
        await uow.audit(who, action, entity, {"n": 0}, after)
        await uow.commit()


async def find(units: NewUoW, limit: int = 100, **where: Any) -> list[AuditEntry]:
    async with units() as uow:
        return await uow.audit_log.find(AuditFilter(**where), limit)


async def test_rows_read_back_newest_first_with_who_what_and_the_request_id(units: NewUoW) -> None:
    ada = Principal(f"ada-{id(units)}", "admin")
    with request_id("req-1"):
        await write(units, ada, "thing.put", "thing:1", {"v": [1, "x"]})
    await write(units, ada, "thing.put", "thing:2")
    async with units() as uow:  # never committed: never read
        await uow.audit(ada, "thing.put", "thing:3", None, None)
    rows = await find(units, actor=ada.sub)
    assert [(r.entity, r.action, r.role, r.request_id) for r in rows] == [
        ("thing:2", "thing.put", "admin", None),
        ("thing:1", "thing.put", "admin", "req-1"),
    ]
    assert (rows[1].before, rows[1].after) == ({"n": 0}, {"v": [1, "x"]})
    assert rows[0].id > rows[1].id and rows[0].at >= rows[1].at
    assert [r.id for r in await find(units, 1, actor=ada.sub)] == [rows[0].id]


async def test_filters_entity_exact_or_prefix_actor_action_time_and_cursor(units: NewUoW) -> None:
    tag = f"f{id(units)}"
    ada, otto = Principal(f"ada-{tag}", "admin"), Principal(f"otto-{tag}", "ops")
    await write(units, ada, "batch.build", f"batch:{tag}-1")
    await write(units, otto, "dlq.replay", f"dead_letter:{tag}")
    await write(units, ada, "batch.approve", f"batch:{tag}-1")
    await write(units, ada, "batch.build", f"batch:{tag}-10")
    await write(units, ada, "batch.build", f"batch_{tag}")  # `_` is no wildcard in a prefix
    mine = await find(units, entity=f"*{tag}")  # `*` only counts at the end: exact, no row
    assert mine == []

    def what(rows: list[AuditEntry]) -> list[tuple[str, str]]:
        return [(r.action, r.entity) for r in rows]

    assert what(await find(units, entity=f"batch:{tag}-1")) == [
        ("batch.approve", f"batch:{tag}-1"),
        ("batch.build", f"batch:{tag}-1"),
    ]
    assert what(await find(units, entity=f"batch:{tag}-1*")) == [
        ("batch.build", f"batch:{tag}-10"),
        ("batch.approve", f"batch:{tag}-1"),
        ("batch.build", f"batch:{tag}-1"),
    ]
    assert [r.entity for r in await find(units, entity="batch:*", actor=ada.sub, action="batch.build")] == [
        f"batch:{tag}-10",
        f"batch:{tag}-1",
    ]
    assert what(await find(units, actor=otto.sub)) == [("dlq.replay", f"dead_letter:{tag}")]
    assert what(await find(units, entity="batch_*", actor=ada.sub)) == [("batch.build", f"batch_{tag}")]
    everything = await find(units, actor=ada.sub)
    assert len(everything) == 4
    below = await find(units, actor=ada.sub, below=everything[1].id)
    assert [r.id for r in below] == [r.id for r in everything[2:]]
    # Time: `since` inclusive, `until` exclusive; the cases use the row's own stamp only.
    one = everything[-1]
    tick = timedelta(microseconds=1)
    assert one in await find(units, actor=ada.sub, since=one.at, until=one.at + tick)
    assert one not in await find(units, actor=ada.sub, until=one.at)
    assert one not in await find(units, actor=ada.sub, since=one.at + tick)


def test_a_cursor_round_trips_and_anything_else_is_refused() -> None:
    assert decode_cursor(encode_cursor(42)) == 42
    assert "=" not in encode_cursor(7) and encode_cursor(7).isascii()
    for bad in ["", "42", "not base64!", encode_cursor(42)[:-2], "YXVkaXQ6LTE", "YXVkaXQ6MA"]:
        with pytest.raises(ValueError):
            decode_cursor(bad)


# ------------------------------------------------------------------ GET /audit over HTTP


class Done(BaseModel):
    entity: str


writes = APIRouter()


@writes.post("/things/{name}", response_model=Done)
async def post_thing(name: str, body: dict[str, Any], uow: UoW) -> Done:
    # The caller named in the body (the test writes rows as several actors without tokens).
    who = Principal(str(body["actor"]), body["role"])
    async with uow:
        await uow.audit(who, str(body["action"]), f"thing:{name}", None, {"name": name})
        await uow.commit()
    return Done(entity=f"thing:{name}")


class Audit:
    """A served app with the shared routers and a route that audits."""

    def __init__(self, settings: ServiceSettings, client: httpx.AsyncClient) -> None:
        self.settings = settings
        self.client = client

    def auth(self, role: Role, sub: str = "reader") -> dict[str, str]:
        return {"Authorization": f"Bearer {mint_token(self.settings, sub, role)}"}

    async def thing(self, name: str, actor: str, role: Role, action: str, rid: str | None = None) -> None:
        headers = {} if rid is None else {"X-Request-ID": rid}
        body = {"actor": actor, "role": role, "action": action}
        r = await self.client.post(f"/things/{name}", json=body, headers=headers)
        assert r.status_code == 200, r.text

    async def page(self, role: Role = "ops", /, **params: Any) -> httpx.Response:
        return await self.client.get("/audit", params=params, headers=self.auth(role))


@pytest.fixture
async def served(fresh_db: CreateDb, base_settings: ProvisioSettings) -> AsyncIterator[Audit]:
    settings = ServiceSettings(
        **{**base_settings.model_dump(), "database": await fresh_db("audit_api"), "run_background": False}
    )

    def runtime() -> ServiceRuntime:
        return ServiceRuntime(settings=settings, tables=tables, repositories=lambda session: None)

    prepare = runtime()
    async with prepare.engine.begin() as conn:
        await conn.run_sync(metadata.create_all)
    await prepare.engine.dispose()
    app = create_app(title="things", description="test", runtime_factory=runtime, routers=[writes])
    async with serve(app) as url, httpx.AsyncClient(base_url=url) as client:
        yield Audit(settings, client)


def fields(response: httpx.Response) -> list[str]:
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    return [e["field"] for e in response.json()["errors"]]


async def test_get_audit_is_for_admin_and_ops_only(served: Audit) -> None:
    await served.thing("t1", "ada", "admin", "thing.put")
    readers: tuple[Role, ...] = ("admin", "ops")
    others: tuple[Role, ...] = ("manager", "rep", "payroll")
    for role in readers:
        r = await served.page(role)
        assert r.status_code == 200, r.text
        assert [i["entity"] for i in r.json()["items"]] == ["thing:t1"]
    for role in others:
        r = await served.page(role)
        assert r.status_code == 403 and r.headers["content-type"] == "application/problem+json"
    anonymous = await served.client.get("/audit")
    assert anonymous.status_code == 401


async def test_pages_walk_newest_first_without_repeats_with_the_same_filters(served: Audit) -> None:
    for n in range(8):
        await served.thing(f"p{n}", "ada", "admin", "thing.put", rid=f"rid-{n}")
    await served.thing("other", "bea", "admin", "thing.put")
    seen: list[dict[str, Any]] = []
    after: str | None = None
    pages = 0
    while True:
        params: dict[str, Any] = {"actor": "ada", "limit": 3}
        if after is not None:
            params["after"] = after
        r = await served.page(**params)
        assert r.status_code == 200, r.text
        body = r.json()
        seen += body["items"]
        pages += 1
        after = body["next"]
        if after is None:
            break
        assert len(body["items"]) == 3
    assert pages == 3
    assert [i["entity"] for i in seen] == [f"thing:p{n}" for n in reversed(range(8))]
    assert [i["request_id"] for i in seen] == [f"rid-{n}" for n in reversed(range(8))]
    ids = [i["id"] for i in seen]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == 8
    first = seen[-1]
    assert (first["actor"], first["role"], first["action"], first["before"], first["after"]) == (
        "ada",
        "admin",
        "thing.put",
        None,
        {"name": "p0"},
    )
    # Exactly `limit` rows left: the last page says so with `next: null`, not an empty page.
    r = await served.page(actor="bea", limit=1)
    assert (len(r.json()["items"]), r.json()["next"]) == (1, None)
    default = (await served.page()).json()
    assert len(default["items"]) == 9 and default["next"] is None


async def test_filters_by_entity_actor_action_and_time(served: Audit) -> None:
    await served.thing("a-1", "ada", "admin", "thing.put")
    await served.thing("a-2", "otto", "ops", "thing.replay")
    await served.thing("b-1", "ada", "admin", "thing.put")

    async def entities(**params: Any) -> list[str]:
        r = await served.page(**params)
        assert r.status_code == 200, r.text
        return [i["entity"] for i in r.json()["items"]]

    assert await entities(entity="thing:a-1") == ["thing:a-1"]
    assert await entities(entity="thing:a-*") == ["thing:a-2", "thing:a-1"]
    assert await entities(entity="thing:a-") == []
    assert await entities(actor="ada") == ["thing:b-1", "thing:a-1"]
    assert await entities(action="thing.replay") == ["thing:a-2"]
    assert await entities(actor="ada", action="thing.replay") == []
    assert await entities(entity="", actor="", action="") == ["thing:b-1", "thing:a-2", "thing:a-1"]
    middle = (await served.page(action="thing.replay")).json()["items"][0]["at"]
    assert "thing:a-2" in await entities(**{"from": middle})
    assert "thing:a-2" not in await entities(to=middle)
    assert await entities(**{"from": "2001-01-01T00:00:00Z", "to": "2001-01-02T00:00:00+02:00"}) == []


async def test_bad_parameters_are_422_naming_the_field(served: Audit) -> None:
    assert fields(await served.page(after="not-a-cursor")) == ["after"]
    assert fields(await served.page(**{"from": "2027-01-01T00:00:00"})) == ["from"]  # no timezone
    assert fields(await served.page(to="yesterday")) == ["to"]
    assert fields(await served.page(limit=0)) == ["limit"]
    assert fields(await served.page(limit=501)) == ["limit"]
    assert (await served.page(limit=500)).status_code == 200
