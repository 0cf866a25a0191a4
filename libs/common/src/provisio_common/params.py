"""Path and query parameters every service accepts: bounded to what Postgres can hold.

Integers are bounded by the column they are compared with (`BIGINT` ids and cursors,
`INTEGER` versions and counts), so a huge number is a 422 naming the parameter, never an
overflow in the driver. Strings are bounded and refused when they carry NUL (Postgres
`text` cannot store it) by `ParameterGuard`, one middleware installed on every app; the
OpenAPI states the same bound (`document_parameter_bounds`), so schema and code agree.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any
from urllib.parse import parse_qsl

import annotated_types as at
from pydantic import AwareDatetime, BeforeValidator, StringConstraints
from starlette.types import ASGIApp, Receive, Scope, Send

from provisio_common.problems import invalid, problem_response

BIGINT_MAX = 2**63 - 1
INTEGER_MAX = 2**31 - 1
# Ids, periods, names in a path or query: far above any real one, far below the btree limit.
MAX_PARAMETER_CHARS = 512

RowId = Annotated[int, at.Interval(ge=1, le=BIGINT_MAX)]
"""A row id or id cursor (`BIGINT`, positive)."""

Version = Annotated[int, at.Interval(ge=1, le=INTEGER_MAX)]
"""A version or revision number (`INTEGER`, positive)."""

SmallCount = Annotated[int, at.Interval(ge=0, le=INTEGER_MAX)]
"""A count in a query (`INTEGER`, not negative)."""

Name = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"^[^\x00]*$")]
"""A name or id in a body: 1-200 characters, no NUL (Postgres `text` cannot store it)."""


_ISO_DATETIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}")


def _iso_only(value: object) -> object:
    # pydantic also reads "-12123370" as a Unix time; the OpenAPI promises a date-time string.
    if isinstance(value, str) and not _ISO_DATETIME.match(value):
        raise ValueError("must be an ISO 8601 date-time with an offset, e.g. 2027-01-31T23:00:00Z")
    return value


Instant = Annotated[AwareDatetime, BeforeValidator(_iso_only)]
"""A moment in a query: an ISO 8601 date-time with its offset (never a bare number)."""

IsoDatetime = Annotated[datetime, BeforeValidator(_iso_only)]
"""A date-time in a query, offset optional (the route says what a naive one means)."""


def _problem(value: str, name: str) -> str | None:
    if "\x00" in value:
        return f"{name}: contains NUL"
    if len(value) > MAX_PARAMETER_CHARS:
        return f"{name}: longer than {MAX_PARAMETER_CHARS} characters"
    return None


def parameter_errors(path: str, query_string: bytes) -> list[dict[str, str]]:
    """What is wrong with a request's path segments and query values (nothing: [])."""
    errors: list[dict[str, str]] = []
    for segment in path.split("/"):
        if message := _problem(segment, "path"):
            errors.append({"field": "path", "message": message.removeprefix("path: ")})
    pairs = parse_qsl(query_string.decode("latin-1"), keep_blank_values=True, encoding="utf-8")
    for name, value in pairs:
        if message := _problem(value, name) or _problem(name, "name"):
            errors.append({"field": name[:MAX_PARAMETER_CHARS].replace("\x00", ""), "message": message})
    repeated = sorted(name for name, count in Counter(name for name, _ in pairs).items() if count > 1)
    errors += [{"field": name[:MAX_PARAMETER_CHARS], "message": "given more than once"} for name in repeated]
    return errors


class ParameterGuard:
    """ASGI middleware: 422 for a path or query with NUL, an over-long value or a repeated name."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Refuse a bad request before routing; pass every other one through."""
        if scope["type"] == "http":
            errors = parameter_errors(scope.get("path", ""), scope.get("query_string", b""))
            if errors:
                response = problem_response(invalid(errors), None)
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def document_parameter_bounds(openapi: Callable[[], dict[str, Any]]) -> Callable[[], dict[str, Any]]:
    """Wrap `app.openapi`: every string path/query parameter states `MAX_PARAMETER_CHARS`."""

    def bounded() -> dict[str, Any]:
        spec = openapi()
        for operations in spec.get("paths", {}).values():
            for operation in operations.values():
                for parameter in operation.get("parameters", []):
                    if parameter.get("in") in ("path", "query"):
                        _bound(parameter.get("schema", {}))
        return spec

    return bounded


def _bound(schema: dict[str, Any]) -> None:
    for option in schema.get("anyOf", [schema]):
        if option.get("type") == "string" and "enum" not in option:
            option["maxLength"] = min(option.get("maxLength", MAX_PARAMETER_CHARS), MAX_PARAMETER_CHARS)


__all__ = [
    "BIGINT_MAX",
    "INTEGER_MAX",
    "MAX_PARAMETER_CHARS",
    "Name",
    "ParameterGuard",
    "RowId",
    "SmallCount",
    "Version",
    "document_parameter_bounds",
    "parameter_errors",
]
