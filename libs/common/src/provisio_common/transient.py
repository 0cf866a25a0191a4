"""Which failures are the world's fault, not the message's.

A consumer retries a transient failure (database or broker unreachable, a serialization
failure, a deadlock) for as long as it lasts and never dead-letters for it; only a
deterministic failure (a bad payload, a handler error that repeats) reaches the DLQ.
"""

from __future__ import annotations

import sqlalchemy.exc as sa_exc
from aiokafka.errors import KafkaConnectionError, KafkaError, KafkaTimeoutError

# SQLSTATEs that say "try again": connection exceptions (class 08), serialization
# failure, deadlock, too many connections, lock not available, and the server shutting
# down or starting (57P01-57P03).
TRANSIENT_SQLSTATES = {"40001", "40P01", "53300", "55P03", "57P01", "57P02", "57P03"}
# What asyncpg's InterfaceError says of a connection that is gone ("connection is closed",
# "the underlying connection is closed"); SQLAlchemy's own disconnect check reads the same.
_CLOSED = "connection is closed"


def _sqlstate(exc: BaseException) -> str | None:
    for attr in ("sqlstate", "pgcode"):
        value = getattr(exc, attr, None)
        if isinstance(value, str):
            return value
    return None


def _one_is_transient(exc: BaseException) -> bool:
    if isinstance(exc, TimeoutError | ConnectionError | KafkaConnectionError | KafkaTimeoutError):
        return True
    if isinstance(exc, KafkaError):
        return bool(exc.retriable)
    if isinstance(exc, sa_exc.DBAPIError) and exc.connection_invalidated:
        return True
    if isinstance(exc, sa_exc.DisconnectionError | sa_exc.TimeoutError):
        return True
    # asyncpg raises InterfaceError both for a connection that is gone and for statements
    # it refuses before sending them (too many parameters, say), which fail every time.
    if isinstance(exc, sa_exc.InterfaceError) and _CLOSED in str(exc.orig):
        return True
    state = _sqlstate(exc)
    if state is not None and (state.startswith("08") or state in TRANSIENT_SQLSTATES):
        return True
    # OSError covers refused and reset connections (errno set); other OSErrors are bugs.
    return isinstance(exc, OSError) and exc.errno is not None


def is_transient(exc: BaseException) -> bool:
    """True if `exc`, or any exception it was raised from, is a passing outage."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if _one_is_transient(current):
            return True
        seen.add(id(current))
        orig = getattr(current, "orig", None)  # a DBAPIError's driver exception
        if isinstance(orig, BaseException) and id(orig) not in seen and _one_is_transient(orig):
            return True
        current = current.__cause__ or current.__context__
    return False
