"""pay periods that close, frozen statements, plan replica, payroll ids and assignments,
adjustments, payout batches and their lines, payroll acknowledgements

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

AT = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column("ledger_entries", sa.Column("landed_in", sa.Text, nullable=True))
    op.add_column("payees", sa.Column("payroll_id", sa.Text, nullable=True))
    op.add_column(
        "payees",
        sa.Column("assignments", JSONB, nullable=False, server_default=sa.text("'[]'::jsonb")),
    )
    op.create_table(
        "plan_versions",
        sa.Column("plan_id", sa.Text, primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("document", JSONB, nullable=False),
        sa.Column("created_at", AT, nullable=False),
    )
    op.create_table(
        "closed_pay_periods",
        sa.Column("pay_period", sa.Text, primary_key=True),
        sa.Column("closed_at", AT, nullable=False),
        sa.Column("closed_by", sa.Text, nullable=False),
        sa.Column("statements", sa.Integer, nullable=False),
    )
    op.create_table(
        "closed_statements",
        sa.Column("payee", sa.Text, primary_key=True),
        sa.Column("pay_period", sa.Text, primary_key=True),
        sa.Column("currency", sa.Text, primary_key=True),
        *(
            sa.Column(name, sa.Numeric, nullable=False)
            for name in (
                "earned",
                "adjustments",
                "draw_topup",
                "recovered",
                "draw_balance",
                "carried_in",
                "carried_out",
                "payable",
                "non_cash",
            )
        ),
        sa.Column("entries", sa.Integer, nullable=False),
        sa.Column("rounding", sa.Text, nullable=False),
        sa.Column("balances", JSONB, nullable=False),
    )
    op.create_index("closed_statements_pay_period", "closed_statements", ["pay_period", "currency"])
    op.create_table(
        "adjustments",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("payee", sa.Text, nullable=False),
        sa.Column("amount", sa.Numeric, nullable=False),
        sa.Column("currency", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("pay_period", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("created_by", sa.Text, nullable=False),
        sa.Column("created_at", AT, nullable=False),
        sa.Column("decided_by", sa.Text, nullable=True),
        sa.Column("decided_at", AT, nullable=True),
        sa.Column("decision_reason", sa.Text, nullable=True),
        sa.Column("landed_in", sa.Text, nullable=True),
    )
    op.create_index("adjustments_payee", "adjustments", ["payee", "status"])
    op.execute(sa.schema.CreateSequence(sa.Sequence("batch_approval_seq")))
    op.create_table(
        "batches",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("pay_period", sa.Text, nullable=False),
        sa.Column("currency", sa.Text, nullable=False),
        sa.Column("pay_date", sa.Date, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("built_by", sa.Text, nullable=False),
        sa.Column("built_at", AT, nullable=False),
        sa.Column("approved_by", sa.Text, nullable=True),
        sa.Column("approved_at", AT, nullable=True),
        sa.Column("approval_seq", sa.BigInteger, nullable=True, unique=True),
        sa.Column("cancelled_by", sa.Text, nullable=True),
        sa.Column("cancelled_at", AT, nullable=True),
        sa.Column("pulled_at", AT, nullable=True),
        sa.Column("settled_at", AT, nullable=True),
    )
    op.create_index(
        "batches_one_per_pay_period",
        "batches",
        ["pay_period", "currency"],
        unique=True,
        postgresql_where=sa.text("status <> 'cancelled'"),
    )
    op.create_table(
        "batch_lines",
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
        sa.Column("settled_at", AT, nullable=True),
    )
    op.create_index("batch_lines_batch", "batch_lines", ["batch_id", "position"])
    op.create_index("batch_lines_payee", "batch_lines", ["payee"])
    op.create_index(
        "batch_lines_carried_once",
        "batch_lines",
        ["carried_from"],
        unique=True,
        postgresql_where=sa.text("carried_from IS NOT NULL AND status <> 'cancelled'"),
    )
    op.create_table(
        "line_entries",
        sa.Column("line_id", sa.Text, sa.ForeignKey("batch_lines.id"), primary_key=True),
        sa.Column("entry_id", sa.Text, primary_key=True),
        sa.Column("live", sa.Boolean, nullable=False),
    )
    op.create_index(
        "line_entries_live_once", "line_entries", ["entry_id"], unique=True, postgresql_where=sa.text("live")
    )
    op.create_table(
        "ack_requests",
        sa.Column("key", sa.Text, primary_key=True),
        sa.Column("batch_id", sa.Text, nullable=False),
        sa.Column("fingerprint", sa.Text, nullable=False),
        sa.Column("response", JSONB, nullable=False),
        sa.Column("created_at", AT, nullable=False),
    )


def downgrade() -> None:
    for table in (
        "ack_requests",
        "line_entries",
        "batch_lines",
        "batches",
        "adjustments",
        "closed_statements",
        "closed_pay_periods",
        "plan_versions",
    ):
        op.drop_table(table)
    op.execute(sa.schema.DropSequence(sa.Sequence("batch_approval_seq")))
    op.drop_column("payees", "assignments")
    op.drop_column("payees", "payroll_id")
    op.drop_column("ledger_entries", "landed_in")
