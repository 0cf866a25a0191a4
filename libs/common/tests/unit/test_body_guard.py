"""A JSON body with a string Postgres cannot store (NUL, a lone surrogate) is a 422 naming
the field on every route, before the route runs; anything else reaches the route intact."""

from __future__ import annotations

import httpx
import pytest
from fastapi import APIRouter
from pydantic import BaseModel

from provisio_common.body_guard import unstorable_strings
from provisio_common.problems import PROBLEM_JSON
from provisio_common.service import ServiceRuntime, create_app

router = APIRouter()
reached: list[dict[str, object]] = []


class Body(BaseModel):
    names: list[str] = []
    note: dict[str, str] = {}


@router.post("/things")
async def post_thing(body: Body) -> dict[str, int]:
    reached.append(body.model_dump())
    return {"names": len(body.names)}


@router.post("/webhooks/door")
async def door() -> dict[str, str]:
    return {"door": "its own checks"}


def unused_runtime() -> ServiceRuntime:
    raise AssertionError("the lifespan does not run under ASGITransport")


def client() -> httpx.AsyncClient:
    app = create_app(title="t", description="t", runtime_factory=unused_runtime, routers=[router])
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        (b'{"names": ["ok", "a\\u0000b"]}', "names[1]"),
        (b'{"names": ["\\udad1x"]}', "names[0]"),
        (b'{"note": {"k": "\\ud83e"}}', "note.k"),
        (b'{"note": {"\\u0000": "v"}}', "note"),
    ],
)
async def test_an_unstorable_string_is_a_422_naming_its_field_and_the_route_never_runs(
    raw: bytes, field: str
) -> None:
    reached.clear()
    async with client() as c:
        r = await c.post("/things", content=raw, headers={"content-type": "application/json"})
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == PROBLEM_JSON
    assert [e["field"] for e in r.json()["errors"]] == [field]
    assert reached == []


async def test_a_good_body_reaches_the_route_as_sent_and_webhook_doors_are_left_alone() -> None:
    reached.clear()
    async with client() as c:
        good = await c.post("/things", json={"names": ["Zoë", "🙂"], "note": {"k": "v"}})
        door = await c.post(
            "/webhooks/door", content=b'{"a": "\\u0000"}', headers={"content-type": "application/json"}
        )
        broken = await c.post("/things", content=b'{"names": [', headers={"content-type": "application/json"})
    assert (good.status_code, good.json()) == (200, {"names": 2})
    assert reached == [{"names": ["Zoë", "🙂"], "note": {"k": "v"}}]
    assert door.status_code == 200
    assert broken.status_code == 422  # not JSON: the route's own 422


def test_nested_paths_name_the_field() -> None:
    assert unstorable_strings({"a": [{"b": "x\x00"}]}) == [{"field": "a[0].b", "message": "contains NUL"}]
