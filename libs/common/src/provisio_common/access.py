"""Who may call a route, declared once, where the route takes its caller (DESIGN.md §7).

`allow("admin", "ops", "manager:subtree", "rep:self")` is the FastAPI dependency that
admits exactly these roles (401 without a valid token, 403 for any other role) *and* the
declaration: it reaches the bearer scheme through `Security(..., scopes=grants)`, so FastAPI
writes the grants into the operation's OpenAPI, `security: [{"bearer": [...grants]}]`
(OpenAPI 3.1 lets the scopes of a non-OAuth scheme be role names). The check, the OpenAPI
document and the RBAC matrix test (`tests/e2e/test_rbac_matrix.py`) read this one object.

A grant is a role, or a role with its scope: `manager:subtree` (the manager sees the
payees below them, and themselves; anything outside is 403 or filtered out of a list),
`rep:self` (the rep sees themselves only). The dependency admits the role; the use case
applies the scope (`auth.ensure_may_see`, the services' `access` modules), because only
the data says whose a thing is. A route anyone may call without a token (`/healthz`,
`/readyz`, `/metrics`) says so with `openapi_extra=PUBLIC` (`security: []`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Literal, cast, get_args

from fastapi import Security

from provisio_common.auth import BEARER_SCHEME, ROLES, Principal, Role, current_principal
from provisio_common.problems import Problem

Grant = Literal["admin", "manager", "rep", "payroll", "ops", "manager:subtree", "rep:self"]
GRANTS: tuple[Grant, ...] = get_args(Grant)
Scope = Literal["all", "subtree", "self"]
EVERY_ROLE: tuple[Role, ...] = ROLES

# `openapi_extra` of a route that takes no token (OpenAPI: an empty security requirement).
PUBLIC: dict[str, Any] = {"security": []}


def role_scopes(grants: tuple[str, ...] | list[str]) -> dict[Role, Scope]:
    """The roles `grants` admit, each with its scope (`all` when the grant names no scope)."""
    admitted: dict[Role, Scope] = {}
    for grant in grants:
        if grant not in GRANTS:
            raise ValueError(f"unknown grant {grant!r}; grants are {', '.join(GRANTS)}")
        name, _, scope = grant.partition(":")
        role = cast(Role, name)
        if role in admitted:
            raise ValueError(f"role {role!r} granted twice")
        admitted[role] = cast(Scope, scope or "all")
    return admitted


def allow(*grants: Grant) -> Callable[..., Awaitable[Principal]]:
    """The dependency that admits the roles of `grants` (403 otherwise) and declares them
    in the route's OpenAPI; use it as `Annotated[Principal, Depends(allow(...))]`."""
    admitted = role_scopes(grants)
    if not admitted:
        raise ValueError("allow() needs at least one grant; a public route uses PUBLIC")
    verified = Security(current_principal, scopes=list(grants))

    async def check(principal: Principal = verified) -> Principal:
        if principal.role not in admitted:
            raise Problem(403, f"role {principal.role!r} may not do this")
        return principal

    check.__name__ = "allow_" + "_".join(g.replace(":", "_") for g in grants)
    return check


def declared(operation: Mapping[str, Any]) -> dict[Role, Scope] | None:
    """What an OpenAPI operation declares: its roles and scopes, None for a public route.
    Raises ValueError for an operation that declares nothing, or more than the bearer."""
    if "security" not in operation:
        raise ValueError("declares no access: neither allow(...) nor PUBLIC")
    requirements: list[Mapping[str, list[str]]] = operation["security"]
    if not requirements:
        return None
    if len(requirements) != 1 or set(requirements[0]) != {BEARER_SCHEME}:
        raise ValueError(f"security is not one bearer requirement: {requirements}")
    grants = requirements[0][BEARER_SCHEME]
    if not grants:
        raise ValueError("takes a token but declares no roles (use allow(...), not CurrentPrincipal)")
    return role_scopes(grants)
