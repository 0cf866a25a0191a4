"""`access.allow`: one declaration that both admits roles and states them in the OpenAPI."""

from __future__ import annotations

from typing import Annotated, Any

import httpx
import pytest
from fastapi import Depends, FastAPI

from provisio_common.access import PUBLIC, allow, declared, role_scopes
from provisio_common.auth import CurrentPrincipal, Principal, Role, TokenVerifier, mint_token
from provisio_common.problems import install_problem_handlers
from provisio_common.settings import ProvisioSettings

SETTINGS = ProvisioSettings(environment="test")
Readers = Annotated[Principal, Depends(allow("admin", "ops", "manager:subtree", "rep:self"))]


def app() -> FastAPI:
    api = FastAPI()
    install_problem_handlers(api)
    api.state.token_verifier = TokenVerifier(SETTINGS)

    @api.get("/figures")
    async def figures(principal: Readers) -> dict[str, str]:
        return {"sub": principal.sub}

    @api.get("/open", openapi_extra=PUBLIC)
    async def open_door() -> dict[str, str]:
        return {}

    @api.get("/any-token")
    async def any_token(principal: CurrentPrincipal) -> dict[str, str]:
        return {}

    return api


def operations() -> dict[str, dict[str, Any]]:
    paths = app().openapi()["paths"]
    return {path: ops["get"] for path, ops in paths.items()}


def test_the_grants_are_the_operations_security_requirement() -> None:
    ops = operations()
    assert ops["/figures"]["security"] == [{"bearer": ["admin", "ops", "manager:subtree", "rep:self"]}]
    assert declared(ops["/figures"]) == {"admin": "all", "ops": "all", "manager": "subtree", "rep": "self"}
    assert ops["/open"]["security"] == []
    assert declared(ops["/open"]) is None
    scheme = app().openapi()["components"]["securitySchemes"]["bearer"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")


def test_a_route_that_takes_any_token_declares_nothing() -> None:
    with pytest.raises(ValueError, match="declares no roles"):
        declared(operations()["/any-token"])
    with pytest.raises(ValueError, match="declares no access"):
        declared({"responses": {}})


@pytest.mark.parametrize(
    ("role", "status"),
    [("admin", 200), ("ops", 200), ("manager", 200), ("rep", 200), ("payroll", 403), (None, 401)],
)
async def test_allow_admits_exactly_the_declared_roles(role: Role | None, status: int) -> None:
    headers = {} if role is None else {"Authorization": f"Bearer {mint_token(SETTINGS, 'u-1', role)}"}
    transport = httpx.ASGITransport(app=app())
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        response = await client.get("/figures", headers=headers)
    assert response.status_code == status, response.text
    if status != 200:
        assert response.headers["content-type"].startswith("application/problem+json")


def test_grants_are_known_roles_and_scopes_each_role_once() -> None:
    assert role_scopes(["payroll", "rep:self"]) == {"payroll": "all", "rep": "self"}
    with pytest.raises(ValueError, match="unknown grant"):
        role_scopes(["rep:subtree"])
    with pytest.raises(ValueError, match="granted twice"):
        role_scopes(["rep", "rep:self"])
    with pytest.raises(ValueError, match="at least one grant"):
        allow()
