"""RFC 9457 problem+json errors that name the offending field."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from http import HTTPStatus
from typing import Any

import sqlalchemy.exc as sa_exc
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from provisio_common.logging import request_id_var
from provisio_common.transient import is_transient

log = logging.getLogger(__name__)


class CommitConflict(Exception):
    """The database refused a commit (a constraint): answered as 409, never as a 2xx."""


PROBLEM_JSON = "application/problem+json"


class Problem(Exception):
    """Raise anywhere in a request to answer with a problem document."""

    def __init__(
        self,
        status: int,
        detail: str,
        *,
        title: str | None = None,
        type_: str = "about:blank",
        errors: Sequence[dict[str, str]] = (),
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.title = title or HTTPStatus(status).phrase
        self.type = type_
        self.errors = list(errors)
        self.headers = headers


class FieldProblem(BaseModel):
    """One bad field: its path in the request (`data.splits[0].share`) and what is wrong."""

    field: str
    message: str


class ProblemDocument(BaseModel):
    """RFC 9457 problem details (`application/problem+json`)."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[FieldProblem] | None = None


_STANDARD = {
    400: "Bad request",
    401: "No or invalid bearer token",
    403: "The caller's role or scope does not allow this",
    404: "Not found",
    409: "Conflicts with the current state (or the commit was refused)",
    413: "Body too large",
    422: "A field is invalid; `errors` names each one",
    503: "A database or broker is briefly unavailable; retry",
}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` for a route's error statuses, each a problem+json document."""
    return {
        status: {
            "model": ProblemDocument,
            "description": _STANDARD.get(status, HTTPStatus(status).phrase),
            "content": {PROBLEM_JSON: {}},
        }
        for status in statuses
    }


def field_path(loc: Sequence[Any], *, drop_root: bool = True) -> str:
    """`("body", "data", "splits", 0, "share")` -> `data.splits[0].share`."""
    parts = list(loc)
    if drop_root and parts and parts[0] in ("body", "query", "path", "header"):
        parts = parts[1:]
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "body"


def validation_errors(
    exc: ValidationError | RequestValidationError, prefix: str = ""
) -> list[dict[str, str]]:
    """One `{field, message}` per pydantic error, fields as dotted paths."""
    errors = []
    for err in exc.errors():
        path = field_path(err["loc"], drop_root=isinstance(exc, RequestValidationError))
        if prefix:
            path = f"{prefix}.{path}" if path != "body" else prefix
        message = str(err.get("msg", "invalid"))
        ctx = err.get("ctx") or {}
        if "error" in ctx and message.startswith("Value error, "):
            message = message.removeprefix("Value error, ")
        errors.append({"field": path, "message": message})
    return errors


def invalid(errors: list[dict[str, str]], detail: str | None = None) -> Problem:
    """A 422 problem for these field errors."""
    names = ", ".join(e["field"] for e in errors)
    return Problem(
        422,
        detail or f"invalid field(s): {names}",
        title="Unprocessable Content",
        errors=errors,
    )


def problem_response(problem: Problem, instance: str | None = None) -> JSONResponse:
    """The problem+json response of a problem."""
    body: dict[str, Any] = {
        "type": problem.type,
        "title": problem.title,
        "status": problem.status,
        "detail": problem.detail,
    }
    if instance:
        body["instance"] = instance
    if problem.errors:
        body["errors"] = problem.errors
    return JSONResponse(body, status_code=problem.status, media_type=PROBLEM_JSON, headers=problem.headers)


def unexpected_problem(exc: Exception) -> Problem:
    """The answer to an error nothing handled, logged (with the request id the log carries).

    Never a 2xx for a write that did not commit; a passing outage says "retry" (503).
    """
    if is_transient(exc):
        log.warning("request failed on a transient error: %s", exc)
        return Problem(
            503, "a database or broker is briefly unavailable; retry", headers={"Retry-After": "1"}
        )
    log.error("request failed", exc_info=exc, extra={"request_id": request_id_var.get()})
    return Problem(500, "internal error; the request changed nothing")


def document_problems(openapi: Callable[[], dict[str, Any]]) -> Callable[[], dict[str, Any]]:
    """Wrap `app.openapi`: every 422 is problem+json, and a route with a body documents 400.

    FastAPI documents its own 422 as `application/json` where a route does not list 422,
    and answers 400 (not documented) to a body that is not UTF-8; both are problem+json.
    """

    def documented() -> dict[str, Any]:
        spec = openapi()
        problem = {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/ProblemDocument"}}}
        for operations in spec.get("paths", {}).values():
            for operation in operations.values():
                responses = operation.setdefault("responses", {})
                if "422" in responses:
                    responses["422"]["content"] = problem
                if "requestBody" in operation and "400" not in responses:
                    responses["400"] = {"description": "The body cannot be read (not UTF-8)"}
                    responses["400"]["content"] = problem
        return spec

    return documented


def allowed_methods(request: Request) -> list[str]:
    """Every method some route of the app answers on the request's path (for `Allow`)."""
    routes = request.app.router.routes
    return [
        method
        for method in ("DELETE", "GET", "HEAD", "PATCH", "POST", "PUT")
        if any(route.matches({**request.scope, "method": method})[0] == Match.FULL for route in routes)
    ]


def install_problem_handlers(app: FastAPI) -> None:
    """Make every error of the app an RFC 9457 problem document."""

    async def on_problem(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, Problem)
        return problem_response(exc, request.url.path)

    async def on_validation(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return problem_response(invalid(validation_errors(exc)), request.url.path)

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            # Starlette's `Allow` names the methods of the first route on the path only.
            headers["Allow"] = ", ".join(allowed_methods(request))
        return problem_response(Problem(exc.status_code, str(exc.detail), headers=headers), request.url.path)

    async def on_conflict(request: Request, exc: Exception) -> JSONResponse:
        return problem_response(Problem(409, f"the change was refused: {exc}"), request.url.path)

    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        return problem_response(unexpected_problem(exc), request.url.path)

    app.add_exception_handler(Problem, on_problem)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(CommitConflict, on_conflict)
    app.add_exception_handler(sa_exc.IntegrityError, on_conflict)
    app.add_exception_handler(Exception, on_unexpected)
