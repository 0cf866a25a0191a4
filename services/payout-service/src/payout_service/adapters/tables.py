"""payout-service tables: the shared ones, the replicas (ledger, payees, plans), closed pay
periods and their frozen statements, adjustments, disputes with their threads, batches with
their lines, and payroll's acknowledgements."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

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
    # The open pay period a late entry is paid in (its own pay period had closed).
    sa.Column("landed_in", sa.Text, nullable=True),
    sa.Index("ledger_entries_statement", "payee", "pay_period"),
    # Commission expense reads entries by date, and one deal's entries.
    sa.Index("ledger_entries_date", "entry_date"),
    sa.Index("ledger_entries_deal", "deal"),
)

# Each deal's contract terms from its latest snapshot in history (`deals.v1`).
deal_terms = sa.Table(
    "deal_terms",
    metadata,
    sa.Column("deal", sa.Text, primary_key=True),
    sa.Column("contract_months", sa.Integer, nullable=True),
    sa.Column("contract_start", sa.Date, nullable=True),
    # The close date as the snapshot gave it: an ISO date or a timestamp with its offset.
    sa.Column("close_date", sa.Text, nullable=True),
    # The snapshot's place in history (`revision_order`): changed_at, then canonical content.
    sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("content", sa.Text, nullable=False),
)

payees = sa.Table(
    "payees",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("manager", sa.Text, nullable=True),
    sa.Column("name", sa.Text, nullable=False),
    sa.Column("payroll_id", sa.Text, nullable=True),
    sa.Column("assignments", JSONB, nullable=False, server_default=sa.text("'[]'::jsonb")),
)

plan_versions = sa.Table(
    "plan_versions",
    metadata,
    sa.Column("plan_id", sa.Text, primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True),
    sa.Column("document", JSONB, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

closed_pay_periods = sa.Table(
    "closed_pay_periods",
    metadata,
    sa.Column("pay_period", sa.Text, primary_key=True),
    sa.Column("closed_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("closed_by", sa.Text, nullable=False),
    sa.Column("statements", sa.Integer, nullable=False),
)

closed_statements = sa.Table(
    "closed_statements",
    metadata,
    sa.Column("payee", sa.Text, primary_key=True),
    sa.Column("pay_period", sa.Text, primary_key=True),
    sa.Column("currency", sa.Text, primary_key=True),
    sa.Column("earned", sa.Numeric, nullable=False),
    sa.Column("adjustments", sa.Numeric, nullable=False),
    sa.Column("draw_topup", sa.Numeric, nullable=False),
    sa.Column("recovered", sa.Numeric, nullable=False),
    sa.Column("draw_balance", sa.Numeric, nullable=False),
    sa.Column("carried_in", sa.Numeric, nullable=False),
    sa.Column("carried_out", sa.Numeric, nullable=False),
    sa.Column("payable", sa.Numeric, nullable=False),
    sa.Column("non_cash", sa.Numeric, nullable=False),
    sa.Column("entries", sa.Integer, nullable=False),
    sa.Column("rounding", sa.Text, nullable=False),
    # Draw balance per plan after the pay period (decimal strings): where draws continue.
    sa.Column("balances", JSONB, nullable=False),
    sa.Index("closed_statements_pay_period", "pay_period", "currency"),
)

adjustments = sa.Table(
    "adjustments",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("payee", sa.Text, nullable=False),
    sa.Column("amount", sa.Numeric, nullable=False),
    sa.Column("currency", sa.Text, nullable=False),
    sa.Column("reason", sa.Text, nullable=False),
    sa.Column("pay_period", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("created_by", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("decided_by", sa.Text, nullable=True),
    sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("decision_reason", sa.Text, nullable=True),
    sa.Column("landed_in", sa.Text, nullable=True),
    sa.Index("adjustments_payee", "payee", "status"),
)

disputes = sa.Table(
    "disputes",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("payee", sa.Text, nullable=False),
    sa.Column("pay_period", sa.Text, nullable=False),
    sa.Column("entry_id", sa.Text, nullable=True),
    sa.Column("component", sa.Text, nullable=True),
    sa.Column("message", sa.Text, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("opened_by", sa.Text, nullable=False),
    sa.Column("opened_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("outcome", sa.Text, nullable=True),
    sa.Column("resolved_by", sa.Text, nullable=True),
    sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
    # The pending adjustment an accepted dispute created (its state is read from there).
    sa.Column("adjustment_id", sa.Text, sa.ForeignKey("adjustments.id"), nullable=True, unique=True),
    sa.Column("reopens", sa.Integer, nullable=False, server_default="0"),
    sa.Column("reopened_at", sa.DateTime(timezone=True), nullable=True),
    sa.Index("disputes_payee", "payee", "status"),
    sa.Index("disputes_status", "status", "opened_at"),
)

dispute_messages = sa.Table(
    "dispute_messages",
    metadata,
    sa.Column("dispute_id", sa.Text, sa.ForeignKey("disputes.id"), primary_key=True),
    sa.Column("position", sa.Integer, primary_key=True),
    sa.Column("kind", sa.Text, nullable=False),
    sa.Column("author", sa.Text, nullable=False),
    sa.Column("role", sa.Text, nullable=False),
    sa.Column("body", sa.Text, nullable=False),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
)

batch_approval_seq = sa.Sequence("batch_approval_seq", metadata=metadata)

batches = sa.Table(
    "batches",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("pay_period", sa.Text, nullable=False),
    sa.Column("currency", sa.Text, nullable=False),
    sa.Column("pay_date", sa.Date, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("built_by", sa.Text, nullable=False),
    sa.Column("built_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("approved_by", sa.Text, nullable=True),
    sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("approval_seq", sa.BigInteger, nullable=True, unique=True),
    sa.Column("cancelled_by", sa.Text, nullable=True),
    sa.Column("cancelled_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("pulled_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("settled_at", sa.DateTime(timezone=True), nullable=True),
    # One batch per pay period and currency that is not cancelled.
    sa.Index(
        "batches_one_per_pay_period",
        "pay_period",
        "currency",
        unique=True,
        postgresql_where=sa.text("status <> 'cancelled'"),
    ),
)

batch_lines = sa.Table(
    "batch_lines",
    metadata,
    sa.Column("id", sa.Text, primary_key=True),
    sa.Column("batch_id", sa.Text, sa.ForeignKey("batches.id"), nullable=False),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("payee", sa.Text, nullable=False),
    sa.Column("payroll_id", sa.Text, nullable=True),
    sa.Column("pay_period", sa.Text, nullable=False),
    sa.Column("currency", sa.Text, nullable=False),
    sa.Column("earning_code", sa.Text, nullable=False),
    sa.Column("amount", sa.Numeric, nullable=False),
    sa.Column("cash", sa.Boolean, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("entry_ids", ARRAY(sa.Text), nullable=False),
    sa.Column("adjustment_ids", ARRAY(sa.Text), nullable=False),
    sa.Column("carried_from", sa.Text, nullable=True),
    sa.Column("payroll_ref", sa.Text, nullable=True),
    sa.Column("reason", sa.Text, nullable=True),
    sa.Column("settled_at", sa.DateTime(timezone=True), nullable=True),
    sa.Index("batch_lines_batch", "batch_id", "position"),
    sa.Index("batch_lines_payee", "payee"),
    # A rejected or held-back line is carried into one batch at a time.
    sa.Index(
        "batch_lines_carried_once",
        "carried_from",
        unique=True,
        postgresql_where=sa.text("carried_from IS NOT NULL AND status <> 'cancelled'"),
    ),
)

line_entries = sa.Table(
    "line_entries",
    metadata,
    sa.Column("line_id", sa.Text, sa.ForeignKey("batch_lines.id"), primary_key=True),
    sa.Column("entry_id", sa.Text, primary_key=True),
    sa.Column("live", sa.Boolean, nullable=False),
    # The database's guarantee: an entry is in at most one pending or paid line.
    sa.Index("line_entries_live_once", "entry_id", unique=True, postgresql_where=sa.text("live")),
)

ack_requests = sa.Table(
    "ack_requests",
    metadata,
    sa.Column("key", sa.Text, primary_key=True),
    sa.Column("batch_id", sa.Text, nullable=False),
    sa.Column("fingerprint", sa.Text, nullable=False),
    sa.Column("response", JSONB, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)
