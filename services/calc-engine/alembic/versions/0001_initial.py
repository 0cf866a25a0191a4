"""replicas, deal revisions, append-only ledger, exceptions, shared tables

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
        "plans",
        sa.Column("plan_id", sa.Text, primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("document", JSONB, nullable=False),
    )
    op.create_table(
        "payees",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("document", JSONB, nullable=False),
    )
    op.create_table(
        "quotas",
        sa.Column("payee", sa.Text, primary_key=True),
        sa.Column("period", sa.Text, primary_key=True),
        sa.Column("amount", sa.Numeric, nullable=False),
    )
    op.create_table(
        "deals",
        sa.Column("deal", sa.Text, primary_key=True),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
    )
    op.create_table(
        "deal_revisions",
        sa.Column("deal", sa.Text, primary_key=True),
        sa.Column("revision", sa.Integer, primary_key=True),
        sa.Column("document", JSONB, nullable=False),
    )
    op.create_table(
        "ledger",
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
    op.create_index("ledger_line", "ledger", ["plan", "payee", "component", "period"])
    op.execute(
        """
        CREATE FUNCTION ledger_is_append_only() RETURNS trigger AS $$
        BEGIN
          RAISE EXCEPTION 'the ledger is append-only: post a delta instead of %', TG_OP;
        END $$ LANGUAGE plpgsql
        """
    )
    op.execute(
        "CREATE TRIGGER ledger_append_only BEFORE UPDATE OR DELETE ON ledger "
        "FOR EACH ROW EXECUTE FUNCTION ledger_is_append_only()"
    )
    op.create_table(
        "calc_exceptions",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("plan", sa.Text, nullable=False),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("payee", sa.Text, nullable=True),
        sa.Column("deal", sa.Text, nullable=True),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("seen_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )


def downgrade() -> None:
    op.drop_table("ledger")
    op.execute("DROP FUNCTION ledger_is_append_only()")
    for table in (
        "calc_exceptions",
        "deal_revisions",
        "deals",
        "quotas",
        "payees",
        "plans",
        "audit_log",
        "inbox",
        "outbox",
    ):
        op.drop_table(table)
