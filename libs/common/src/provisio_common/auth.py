"""Bearer JWT auth with the roles of DESIGN.md §7, as FastAPI dependencies.

HS256 with a configured secret for local runs; RS256 against a JWKS URL in production.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Annotated, Literal

import jwt
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from provisio_common.problems import Problem
from provisio_common.settings import ProvisioSettings

Role = Literal["admin", "manager", "rep", "payroll", "ops"]
ROLES: tuple[Role, ...] = ("admin", "manager", "rep", "payroll", "ops")


@dataclass(frozen=True)
class Principal:
    """Who is calling: `sub` is a payee id (rep, manager) or a client id."""

    sub: str
    role: Role


def mint_token(settings: ProvisioSettings, sub: str, role: Role, *, ttl_s: int = 30 * 24 * 3600) -> str:
    """A local HS256 token (`provisio token`)."""
    if settings.jwt_algorithm != "HS256":
        raise ValueError("local tokens are HS256; production tokens come from your IdP")
    now = int(time.time())
    claims = {
        "sub": sub,
        "role": role,
        "iat": now,
        "exp": now + ttl_s,
        "aud": settings.jwt_audience,
        "iss": settings.jwt_issuer,
    }
    return jwt.encode(claims, settings.jwt_secret.get_secret_value(), algorithm="HS256")


class TokenVerifier:
    """Verifies bearer tokens: HS256 with the configured secret, or RS256 against the JWKS URL."""

    def __init__(self, settings: ProvisioSettings) -> None:
        self.settings = settings
        self._jwks = (
            jwt.PyJWKClient(settings.jwt_jwks_url)
            if settings.jwt_algorithm == "RS256" and settings.jwt_jwks_url
            else None
        )

    def verify(self, token: str) -> Principal:
        """The caller a valid token names, or a 401 problem."""
        s = self.settings
        try:
            if self._jwks is not None:
                key = self._jwks.get_signing_key_from_jwt(token).key
            else:
                key = s.jwt_secret.get_secret_value()
            claims = jwt.decode(
                token,
                key,
                algorithms=[s.jwt_algorithm],
                audience=s.jwt_audience,
                issuer=s.jwt_issuer,
                options={"require": ["sub", "exp"]},
            )
        except jwt.PyJWTError as exc:
            raise _unauthorized(f"invalid token: {exc}") from exc
        role = claims.get("role")
        if role not in ROLES:
            raise _unauthorized("token has no known role")
        return Principal(sub=str(claims["sub"]), role=role)


def _unauthorized(detail: str) -> Problem:
    return Problem(401, detail, headers={"WWW-Authenticate": 'Bearer realm="provisio"'})


# The bearer scheme in every service's OpenAPI; `access.allow` puts the roles a route
# admits in its security requirement. Not `auto_error`: the 401 is ours (problem+json).
BEARER_SCHEME = "bearer"
_bearer = HTTPBearer(
    scheme_name=BEARER_SCHEME,
    bearerFormat="JWT",
    description=(
        "A JWT with `sub` and `role` (DESIGN.md §7). An operation's scopes are the roles it "
        "admits: `manager:subtree` (their subtree only), `rep:self` (themselves only)."
    ),
    auto_error=False,
)


def current_principal(
    request: Request, _credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> Principal:
    """The dependency: the verified caller, or 401. Routes take their caller through
    `access.allow(...)`, which declares the roles they admit."""
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise _unauthorized("missing bearer token")
    verifier: TokenVerifier = request.app.state.token_verifier
    return verifier.verify(token.strip())


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def require_roles(*roles: Role) -> Callable[..., Awaitable[Principal]]:
    """`access.allow(*roles)`: the same dependency and declaration (kept for callers)."""
    from provisio_common.access import allow  # here: access imports this module

    return allow(*roles)


def reports_to(payee: str, manager: str, managers: Mapping[str, str | None]) -> bool:
    """True if `manager` is `payee` or above them in the hierarchy (loops end the walk)."""
    seen: set[str] = set()
    current: str | None = payee
    while current is not None and current not in seen:
        if current == manager:
            return True
        seen.add(current)
        current = managers.get(current)
    return False


def ensure_may_see(principal: Principal, payee: str, managers: Mapping[str, str | None]) -> None:
    """DESIGN.md §7: admin, payroll and ops see everyone; a manager their subtree; anyone
    themselves. 403 otherwise."""
    if principal.role in ("admin", "payroll", "ops") or principal.sub == payee:
        return
    if principal.role == "manager" and reports_to(payee, principal.sub, managers):
        return
    raise Problem(403, f"{principal.role} {principal.sub!r} may not see payee {payee!r}")
