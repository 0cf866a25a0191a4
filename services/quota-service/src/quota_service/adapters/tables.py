"""quota-service tables (its own database)."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

from provisio_common.tables import shared_tables

metadata = sa.MetaData()
shared = shared_tables(metadata)

payees = sa.Table(
    "payees",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("document", JSONB, nullable=False),
    sa.Column("manager", sa.Text, nullable=True),
    sa.Column("crm_ids", ARRAY(sa.Text), nullable=False, server_default="{}"),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
)

plan_versions = sa.Table(
    "plan_versions",
    metadata,
    sa.Column("plan_id", sa.Text, primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("document", JSONB, nullable=False),
    sa.Column("source_text", sa.Text, nullable=False),
    sa.Column("created_by", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
)

quotas = sa.Table(
    "quotas",
    metadata,
    sa.Column("payee", sa.Text, primary_key=True),
    sa.Column("period", sa.Text, primary_key=True),
    sa.Column("amount", sa.Numeric, nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
)

# Replica of calc-engine's credits (credits.v1): one row per (deal, payee), latest revision.
credits = sa.Table(
    "credits",
    metadata,
    sa.Column("deal", sa.Text, primary_key=True),
    sa.Column("payee", sa.Text, primary_key=True),
    sa.Column("revision", sa.Integer, nullable=False),
    sa.Column("amount", sa.Numeric, nullable=False),
    sa.Column("currency", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("close_date", sa.Date, nullable=True),
    sa.Index("credits_payee_close", "payee", "close_date"),
)

fx_rates = sa.Table(
    "fx_rates",
    metadata,
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("from_currency", sa.Text, primary_key=True),
    sa.Column("to_currency", sa.Text, primary_key=True),
    sa.Column("rate", sa.Numeric, nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
)

teams = sa.Table(
    "teams",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("document", JSONB, nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
)

territories = sa.Table(
    "territories",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("document", JSONB, nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
)

# KPI targets: subject is `payee:<id>` or `team:<id>`.
targets = sa.Table(
    "targets",
    metadata,
    sa.Column("subject", sa.Text, primary_key=True),
    sa.Column("kpi", sa.Text, primary_key=True),
    sa.Column("period", sa.Text, primary_key=True),
    sa.Column("value", sa.Numeric, nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
)

# Replica of deals.v1: each deal's current snapshot (history order: changed_at, then content).
deals = sa.Table(
    "deals",
    metadata,
    sa.Column("key", sa.Text, primary_key=True),
    sa.Column("revision", sa.Integer, nullable=False),
    sa.Column("document", JSONB, nullable=False),
    # The owner and split payees as sent (CRM references or payee ids), to find a subject's deals.
    sa.Column("people", ARRAY(sa.Text), nullable=False),
    sa.Column("created_day", sa.Date, nullable=True),
    sa.Column("close_day", sa.Date, nullable=True),
    sa.Index("deals_created_day", "created_day"),
    sa.Index("deals_close_day", "close_day"),
    sa.Index("deals_people", "people", postgresql_using="gin"),
)

# Replica of activities.v1: one row per activity (the first delivery is kept).
activities = sa.Table(
    "activities",
    metadata,
    sa.Column("key", sa.Text, primary_key=True),
    sa.Column("document", JSONB, nullable=False),
    sa.Column("owner", sa.Text, nullable=False),
    sa.Column("day", sa.Date, nullable=False),
    sa.Index("activities_owner_day", "owner", "day"),
)

# Replica of ledger.v1 (commission earned): one row per ledger entry.
commissions = sa.Table(
    "commissions",
    metadata,
    sa.Column("entry_id", sa.Text, primary_key=True),
    sa.Column("payee", sa.Text, nullable=False),
    sa.Column("entry_date", sa.Date, nullable=False),
    sa.Column("amount", sa.Numeric, nullable=False),
    sa.Column("currency", sa.Text, nullable=False),
    sa.Index("commissions_payee_date", "payee", "entry_date"),
)
