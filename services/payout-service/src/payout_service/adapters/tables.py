"""payout-service tables: the shared ones, the ledger replica and the payee hierarchy replica."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

from provisio_common.tables import shared_tables

metadata = sa.MetaData()
shared = shared_tables(metadata)

ledger_entries = sa.Table(
    "ledger_entries",
    metadata,
    sa.Column("entry_id", sa.Text, primary_key=True),
    sa.Column("payee", sa.Text, nullable=False),
    sa.Column("plan", sa.Text, nullable=False),
    sa.Column("plan_version", sa.Integer, nullable=False),
    sa.Column("component", sa.Text, nullable=False),
    sa.Column("period", sa.Text, nullable=False),
    sa.Column("entry_date", sa.Date, nullable=False),
    sa.Column("pay_period", sa.Text, nullable=False),
    sa.Column("amount", sa.Numeric, nullable=False),
    sa.Column("currency", sa.Text, nullable=False),
    sa.Column("rounding", sa.Text, nullable=False),
    sa.Column("cash", sa.Boolean, nullable=False),
    sa.Column("deal", sa.Text, nullable=True),
    sa.Column("explanation", JSONB, nullable=False),
    sa.Column("posted_at", sa.DateTime(timezone=True), nullable=False),
    sa.Index("ledger_entries_statement", "payee", "pay_period"),
)

payees = sa.Table(
    "payees",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("manager", sa.Text, nullable=True),
    sa.Column("name", sa.Text, nullable=False),
)
