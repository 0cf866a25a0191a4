"""The tables every service shares the shape of: outbox, inbox and audit log.

Each service declares them in its own MetaData (its own database) through these
functions, and its Alembic migration creates them with `create_*` helpers, so the shape
is written once.
"""

from __future__ import annotations

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


def outbox_table(metadata: sa.MetaData) -> sa.Table:
    return sa.Table(
        "outbox",
        metadata,
        *_outbox_columns(),
        sa.Index("outbox_unsent", "id", postgresql_where=sa.text("sent_at IS NULL")),
        sa.Index("outbox_key_unsent", "key", "id", postgresql_where=sa.text("sent_at IS NULL")),
    )


def inbox_table(metadata: sa.MetaData) -> sa.Table:
    return sa.Table("inbox", metadata, *_inbox_columns())


def audit_table(metadata: sa.MetaData) -> sa.Table:
    return sa.Table("audit_log", metadata, *_audit_columns())


def create_shared_tables(op: Any) -> None:
    """Alembic helper: create outbox, inbox and audit_log in a service's first migration."""
    op.create_table("outbox", *_outbox_columns())
    op.create_index("outbox_unsent", "outbox", ["id"], postgresql_where=sa.text("sent_at IS NULL"))
    op.create_index("outbox_key_unsent", "outbox", ["key", "id"], postgresql_where=sa.text("sent_at IS NULL"))
    op.create_table("inbox", *_inbox_columns())
    op.create_table("audit_log", *_audit_columns())
