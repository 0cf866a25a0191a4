"""Bad path and query parameters are 422 problem+json naming them, never 500; an
unhandled error is a logged problem+json 500 with its request id; OPTIONS or another
method a path does not have is 405 with an `Allow` naming every method of the path."""

from __future__ import annotations

import logging

import httpx
import pytest
from fastapi import APIRouter
from prometheus_client import REGISTRY

from provisio_common.params import BIGINT_MAX, INTEGER_MAX, MAX_PARAMETER_CHARS, Instant, RowId, Version
from provisio_common.problems import PROBLEM_JSON
from provisio_common.service import ServiceRuntime, create_app

router = APIRouter()


@router.get("/things/{thing_id}")
async def get_thing(
    thing_id: RowId, version: Version | None = None, name: str | None = None, since: Instant | None = None
) -> dict[str, str]:
    return {"thing": str(thing_id), "since": since.isoformat() if since else ""}


@router.put("/things/{thing_id}")
async def put_thing(thing_id: RowId) -> dict[str, str]:
    return {"thing": str(thing_id)}


@router.get("/boom")
async def boom() -> dict[str, str]:
    raise RuntimeError("a bug")


def unused_runtime() -> ServiceRuntime:
    raise AssertionError("the lifespan does not run under ASGITransport")


def client() -> httpx.AsyncClient:
    app = create_app(title="t", description="t", runtime_factory=unused_runtime, routers=[router])
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")


@pytest.mark.parametrize(
    ("url", "field"),
    [
        (f"/things/{BIGINT_MAX + 1}", "thing_id"),
        ("/things/99999999999999999999", "thing_id"),
        ("/things/0", "thing_id"),
        (f"/things/1?version={INTEGER_MAX + 1}", "version"),
        ("/things/1?name=a%00b", "name"),
        (f"/things/1?name={'x' * (MAX_PARAMETER_CHARS + 1)}", "name"),
        ("/things/1?name=a&name=b", "name"),
        ("/things/a%00b", "path"),
        ("/things/1?since=-12123370", "since"),  # pydantic alone reads it as a Unix time
        ("/things/1?since=1700000000", "since"),
        ("/things/1?since=2027-01-31T10:00:00", "since"),  # no offset
    ],
)
async def test_a_bad_parameter_is_a_422_naming_it(url: str, field: str) -> None:
    async with client() as c:
        r = await c.get(url)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"] == PROBLEM_JSON
    assert field in [e["field"] for e in r.json()["errors"]]


async def test_bounded_parameters_within_range_are_served() -> None:
    async with client() as c:
        r = await c.get(
            f"/things/{BIGINT_MAX}",
            params={"version": INTEGER_MAX, "name": "x" * 512, "since": "2027-01-31T10:00:00+01:00"},
        )
    assert r.status_code == 200, r.text
    assert r.json()["since"] == "2027-01-31T10:00:00+01:00"


async def test_the_openapi_states_the_bounds_and_every_422_is_problem_json() -> None:
    async with client() as c:
        spec = (await c.get("/openapi.json")).json()
    params = {p["name"]: p["schema"] for p in spec["paths"]["/things/{thing_id}"]["get"]["parameters"]}
    assert params["thing_id"]["maximum"] == BIGINT_MAX
    assert params["version"]["anyOf"][0]["maximum"] == INTEGER_MAX
    assert params["name"]["anyOf"][0]["maxLength"] == MAX_PARAMETER_CHARS
    assert list(spec["paths"]["/things/{thing_id}"]["get"]["responses"]["422"]["content"]) == [PROBLEM_JSON]


async def test_an_unhandled_error_is_a_logged_problem_500_with_the_request_id(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with client() as c:
        with caplog.at_level(logging.ERROR):
            r = await c.get("/boom", headers={"X-Request-ID": "rid-boom"})
    assert r.status_code == 500
    assert r.headers["content-type"] == PROBLEM_JSON
    assert r.headers["x-request-id"] == "rid-boom"
    assert "a bug" not in r.text
    [record] = [rec for rec in caplog.records if rec.getMessage() == "request failed"]
    assert record.__dict__["request_id"] == "rid-boom"


@pytest.mark.parametrize("method", ["OPTIONS", "DELETE", "POST"])
async def test_a_method_the_path_lacks_is_405_allowing_every_method_of_the_path(method: str) -> None:
    async with client() as c:
        r = await c.request(method, "/things/1")
    assert r.status_code == 405
    assert r.headers["content-type"] == PROBLEM_JSON
    assert {m.strip() for m in r.headers["allow"].split(",")} == {"GET", "PUT"}


def served(route: str, status: str) -> float:
    labels = {"service": "t", "method": "GET", "route": route, "status": status}
    return REGISTRY.get_sample_value("provisio_http_requests_total", labels) or 0.0


async def test_every_answer_carries_its_request_id_and_is_counted_by_route() -> None:
    before, bad_before = served("/things/{thing_id}", "200"), served("/things/{thing_id}", "422")
    async with client() as c:
        given = await c.get("/things/7", headers={"X-Request-ID": "rid-7"})
        fresh = await c.get("/things/8")
        refused = await c.get("/things/0")  # a guard's own 422 is counted and named too
    assert given.headers["x-request-id"] == "rid-7"
    assert fresh.headers["x-request-id"] and fresh.headers["x-request-id"] != "rid-7"
    assert refused.status_code == 422 and refused.headers["x-request-id"]
    assert served("/things/{thing_id}", "200") - before == 2
    assert served("/things/{thing_id}", "422") - bad_before == 1
