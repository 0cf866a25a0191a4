"""The tables every service shares the shape of: outbox, inbox, audit log, dead letters.

Each service declares them in its own MetaData (its own database) through these
functions, and its Alembic migration creates them with `create_*` helpers, so the shape
is written once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB


def _outbox_columns() -> list[Any]:
    return [
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("event_id", sa.Text, nullable=False, unique=True),
        sa.Column("topic", sa.Text, nullable=False),
        sa.Column("key", sa.Text, nullable=False),
        sa.Column("payload", sa.LargeBinary, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("publish_count", sa.Integer, nullable=False, server_default="0"),
    ]


def _outbox_parking_columns() -> list[Any]:
    # Added after the first migrations (`add_outbox_parking`): a row that can never be
    # published is parked here with its error instead of blocking the relay.
    return [
        sa.Column("parked_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("park_error", sa.Text, nullable=True),
    ]


def _inbox_columns() -> list[Any]:
    return [
        sa.Column("consumer", sa.Text, primary_key=True),
        sa.Column("event_id", sa.Text, primary_key=True),
        sa.Column("topic", sa.Text, nullable=False),
        sa.Column("partition", sa.Integer, nullable=False),
        sa.Column("offset", sa.BigInteger, nullable=False),
        sa.Column("applied_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    ]


def _audit_columns() -> list[Any]:
    return [
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("actor", sa.Text, nullable=False),
        sa.Column("role", sa.Text, nullable=False),
        sa.Column("action", sa.Text, nullable=False),
        sa.Column("entity", sa.Text, nullable=False),
        sa.Column("before", JSONB, nullable=True),
        sa.Column("after", JSONB, nullable=True),
        sa.Column("request_id", sa.Text, nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    ]


def _dead_letter_columns() -> list[Any]:
    return [
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("consumer", sa.Text, nullable=False),
        sa.Column("topic", sa.Text, nullable=False),
        sa.Column("partition", sa.Integer, nullable=False),
        sa.Column("offset", sa.BigInteger, nullable=False),
        sa.Column("key", sa.LargeBinary, nullable=True),
        sa.Column("payload", sa.LargeBinary, nullable=False),
        sa.Column("headers", JSONB, nullable=False),
        sa.Column("event_id", sa.Text, nullable=True),
        sa.Column("error", sa.Text, nullable=False),
        sa.Column("error_type", sa.Text, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column(
            "dead_lettered_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column("replayed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("replays", sa.Integer, nullable=False, server_default="0"),
        sa.UniqueConstraint("consumer", "topic", "partition", "offset", name="dead_letters_source"),
    ]


def outbox_table(metadata: sa.MetaData) -> sa.Table:
    """The `outbox` table in a service's MetaData."""
    return sa.Table(
        "outbox",
        metadata,
        *_outbox_columns(),
        *_outbox_parking_columns(),
        sa.Index("outbox_unsent", "id", postgresql_where=sa.text("sent_at IS NULL")),
        sa.Index("outbox_key_unsent", "key", "id", postgresql_where=sa.text("sent_at IS NULL")),
        sa.Index("outbox_parked", "id", postgresql_where=sa.text("parked_at IS NOT NULL")),
    )


def inbox_table(metadata: sa.MetaData) -> sa.Table:
    """The `inbox` table in a service's MetaData."""
    return sa.Table("inbox", metadata, *_inbox_columns())


def audit_table(metadata: sa.MetaData) -> sa.Table:
    """The `audit_log` table in a service's MetaData."""
    return sa.Table("audit_log", metadata, *_audit_columns())


def dead_letter_table(metadata: sa.MetaData) -> sa.Table:
    """The `dead_letters` table in a service's MetaData."""
    return sa.Table("dead_letters", metadata, *_dead_letter_columns())


@dataclass(frozen=True)
class SharedTables:
    """The four shared tables of one service database."""

    outbox: sa.Table
    inbox: sa.Table
    audit: sa.Table
    dead_letters: sa.Table


def shared_tables(metadata: sa.MetaData) -> SharedTables:
    """Declare outbox, inbox, audit_log and dead_letters in a service's MetaData."""
    return SharedTables(
        outbox_table(metadata), inbox_table(metadata), audit_table(metadata), dead_letter_table(metadata)
    )


def create_dead_letter_table(op: Any) -> None:
    """Alembic helper: the `dead_letters` table, for services migrated before it existed."""
    op.create_table("dead_letters", *_dead_letter_columns())


def add_outbox_parking(op: Any) -> None:
    """Alembic helper: the outbox's `parked_at` and `park_error` columns (an outbox row that
    can never be published is parked with its error, provisio_common.outbox)."""
    for column in _outbox_parking_columns():
        op.add_column("outbox", column)
    op.create_index("outbox_parked", "outbox", ["id"], postgresql_where=sa.text("parked_at IS NOT NULL"))


def drop_outbox_parking(op: Any) -> None:
    """Alembic helper: undo `add_outbox_parking`."""
    op.drop_index("outbox_parked", table_name="outbox")
    for column in _outbox_parking_columns():
        op.drop_column("outbox", column.name)


def create_shared_tables(op: Any) -> None:
    """Alembic helper: create outbox, inbox and audit_log in a service's first migration."""
    op.create_table("outbox", *_outbox_columns())
    op.create_index("outbox_unsent", "outbox", ["id"], postgresql_where=sa.text("sent_at IS NULL"))
    op.create_index("outbox_key_unsent", "outbox", ["key", "id"], postgresql_where=sa.text("sent_at IS NULL"))
    op.create_table("inbox", *_inbox_columns())
    op.create_table("audit_log", *_audit_columns())
