"""calc-engine tables: replicas of plans/payees/quotas/fx rates, deal revisions, activities,
the append-only ledger, the current calculation exceptions, and the shared tables."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

from provisio_common.tables import shared_tables

metadata = sa.MetaData()
shared = shared_tables(metadata)

plans = sa.Table(
    "plans",
    metadata,
    sa.Column("plan_id", sa.Text, primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("document", JSONB, nullable=False),
)

payees = sa.Table(
    "payees",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("document", JSONB, nullable=False),
)

quotas = sa.Table(
    "quotas",
    metadata,
    sa.Column("payee", sa.Text, primary_key=True),
    sa.Column("period", sa.Text, primary_key=True),
    sa.Column("amount", sa.Numeric, nullable=False),
)

fx_rates = sa.Table(
    "fx_rates",
    metadata,
    sa.Column("day", sa.Date, primary_key=True),
    sa.Column("from_currency", sa.Text, primary_key=True),
    sa.Column("to_currency", sa.Text, primary_key=True),
    sa.Column("rate", sa.Numeric, nullable=False),
)

deals = sa.Table(
    "deals",
    metadata,
    sa.Column("deal", sa.Text, primary_key=True),  # source:external_id
    sa.Column("revision", sa.Integer, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
)

deal_revisions = sa.Table(
    "deal_revisions",
    metadata,
    sa.Column("deal", sa.Text, primary_key=True),
    sa.Column("revision", sa.Integer, primary_key=True),
    sa.Column("document", JSONB, nullable=False),
    # The close date's calendar day as sent (UTC for timestamps): a coarse index only,
    # the engine decides the period in the plan's timezone.
    sa.Column("close_day", sa.Date, nullable=True),
    # The owner and split payees as sent (CRM references or payee ids, `domain.keyed.people_of`):
    # a keyed run loads the deals naming the people it recomputes (GIN index, migration 0008).
    sa.Column("people", ARRAY(sa.Text), nullable=False, server_default="{}"),
)

# One row: the version of the payees, quotas and fx rates held (`References.version`).
reference_version = sa.Table(
    "reference_version",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("xact", sa.BigInteger, nullable=False),  # the last writing transaction's id
    sa.Column("writes", sa.BigInteger, nullable=False),  # writes so far
)

activities = sa.Table(
    "activities",
    metadata,
    sa.Column("activity", sa.Text, primary_key=True),  # source:external_id
    sa.Column("document", JSONB, nullable=False),
)

# Append-only: a trigger (migration 0001) refuses UPDATE and DELETE.
ledger = sa.Table(
    "ledger",
    metadata,
    sa.Column("entry_id", sa.Text, primary_key=True),
    sa.Column("seq", sa.BigInteger, sa.Identity(), nullable=False, unique=True),
    sa.Column("payee", sa.Text, nullable=False),
    sa.Column("plan", sa.Text, nullable=False),
    sa.Column("plan_version", sa.Integer, nullable=False),
    sa.Column("component", sa.Text, nullable=False),
    sa.Column("period", sa.Text, nullable=False),
    sa.Column("entry_date", sa.Date, nullable=False),
    sa.Column("pay_period", sa.Text, nullable=False),
    sa.Column("amount", sa.Numeric, nullable=False),
    sa.Column("currency", sa.Text, nullable=False),
    sa.Column("cash", sa.Boolean, nullable=False),
    sa.Column("deal", sa.Text, nullable=True),
    sa.Column("cause_event", sa.Text, nullable=False),
    sa.Column("explanation", JSONB, nullable=False),
    sa.Column("posted_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
)

calc_exceptions = sa.Table(
    "calc_exceptions",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("plan", sa.Text, nullable=False),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("payee", sa.Text, nullable=True),
    sa.Column("deal", sa.Text, nullable=True),
    sa.Column("detail", sa.Text, nullable=False),
    # The measurement period of a deal-less exception (missing_quota): what a scoped run replaces.
    sa.Column("period", sa.Text, nullable=True),
    sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
)
