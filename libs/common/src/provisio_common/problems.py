"""RFC 9457 problem+json errors that name the offending field."""

from __future__ import annotations

from collections.abc import Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

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
        return problem_response(
            Problem(exc.status_code, str(exc.detail), headers=dict(exc.headers or {})), request.url.path
        )

    app.add_exception_handler(Problem, on_problem)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
