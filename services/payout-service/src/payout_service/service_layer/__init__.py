"""payout-service use cases and event handlers: plain async functions taking a unit of work."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from datetime import UTC, datetime

from payout_service.adapters.repositories import PayoutRepositories
from payout_service.domain.errors import Conflict, Unprocessable
from provisio_common.problems import Problem, invalid
from provisio_common.uow import UnitOfWork

PayoutUoW = UnitOfWork[PayoutRepositories]


@contextlib.contextmanager
def rules() -> Iterator[None]:
    """Answer what a payout rule refuses: a conflict 409, a bad field 422 naming it."""
    try:
        yield
    except Conflict as exc:
        raise Problem(409, exc.detail) from exc
    except Unprocessable as exc:
        raise invalid([{"field": exc.field, "message": exc.message}]) from exc


def now() -> datetime:
    """The current time (UTC)."""
    return datetime.now(UTC)
