"""ledger replica, payee hierarchy replica, shared tables

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

from provisio_common.tables import create_shared_tables

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_shared_tables(op)
    op.create_table(
        "ledger_entries",
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
    )
    op.create_index("ledger_entries_statement", "ledger_entries", ["payee", "pay_period"])
    op.create_table(
        "payees",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("manager", sa.Text, nullable=True),
        sa.Column("name", sa.Text, nullable=False),
    )


def downgrade() -> None:
    for table in ("payees", "ledger_entries", "audit_log", "inbox", "outbox"):
        op.drop_table(table)
