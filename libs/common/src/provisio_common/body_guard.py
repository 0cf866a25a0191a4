"""A JSON request body whose strings Postgres cannot store is a 422 naming the field, on
every route at once: NUL (`text` cannot hold it) and lone surrogates (not UTF-8, so the
driver cannot send them). Without it, each route would have to refuse them itself, and one
that forgot would answer 500 from the database. Webhook doors are left to their own checks
(they read the raw bytes to verify a signature, and log refused deliveries)."""

from __future__ import annotations

import json
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from provisio_common.problems import Problem, invalid, problem_response

BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
# The largest JSON body an API route reads (webhook doors have their own, smaller limit).
MAX_JSON_BODY_BYTES = 8 * 1024 * 1024


def _bad(text: str) -> str | None:
    if "\x00" in text:
        return "contains NUL"
    if any("\ud800" <= ch <= "\udfff" for ch in text):
        return "contains a lone surrogate (not valid Unicode)"
    return None


def unstorable_strings(value: Any, path: str = "") -> list[dict[str, str]]:
    """Every string (key or value) of a parsed JSON document Postgres cannot store, by its
    field path (`payees[0]`, `plan.name`)."""
    errors: list[dict[str, str]] = []
    if isinstance(value, str):
        if message := _bad(value):
            errors.append({"field": path or "body", "message": message})
    elif isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            if message := _bad(str(key)):
                errors.append({"field": path or "body", "message": f"a key {message}"})
                continue
            errors += unstorable_strings(item, where)
    elif isinstance(value, list):
        for n, item in enumerate(value):
            errors += unstorable_strings(item, f"{path}[{n}]")
    return errors[:20]


def _is_json(scope: Scope) -> bool:
    for name, value in scope.get("headers", ()):
        if name == b"content-type":
            kind: bytes = value.split(b";", 1)[0].strip().lower()
            return kind == b"application/json" or kind.endswith(b"+json")
    return False


def _instance(scope: Scope) -> str:
    path: str = scope.get("path", "")
    return path


class JsonBodyGuard:
    """ASGI middleware: read a JSON body of a POST/PUT/PATCH (not under `/webhooks/`), refuse
    it with 422 when a string cannot be stored, or 413 above `MAX_JSON_BODY_BYTES`, and hand
    the same bytes to the app otherwise (a body that is not JSON is the route's to refuse)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Check a JSON body, then pass the request on (or answer the problem)."""
        if (
            scope["type"] != "http"
            or scope.get("method") not in BODY_METHODS
            or scope.get("path", "").startswith("/webhooks/")
            or not _is_json(scope)
        ):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away: nothing to do
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > MAX_JSON_BODY_BYTES:
                problem = Problem(413, f"body exceeds {MAX_JSON_BODY_BYTES} bytes")
                await problem_response(problem, _instance(scope))(scope, receive, send)
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        try:
            errors = unstorable_strings(json.loads(body))
        except (ValueError, RecursionError):
            errors = []  # not JSON (or nested beyond reason): the route answers for it
        if errors:
            await problem_response(invalid(errors), _instance(scope))(scope, receive, send)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)
