"""disputes and their threads

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

AT = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "disputes",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("payee", sa.Text, nullable=False),
        sa.Column("pay_period", sa.Text, nullable=False),
        sa.Column("entry_id", sa.Text, nullable=True),
        sa.Column("component", sa.Text, nullable=True),
        sa.Column("message", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("opened_by", sa.Text, nullable=False),
        sa.Column("opened_at", AT, nullable=False),
        sa.Column("outcome", sa.Text, nullable=True),
        sa.Column("resolved_by", sa.Text, nullable=True),
        sa.Column("resolved_at", AT, nullable=True),
        sa.Column("adjustment_id", sa.Text, sa.ForeignKey("adjustments.id"), nullable=True, unique=True),
        sa.Column("reopens", sa.Integer, nullable=False, server_default="0"),
        sa.Column("reopened_at", AT, nullable=True),
    )
    op.create_index("disputes_payee", "disputes", ["payee", "status"])
    op.create_index("disputes_status", "disputes", ["status", "opened_at"])
    op.create_table(
        "dispute_messages",
        sa.Column("dispute_id", sa.Text, sa.ForeignKey("disputes.id"), primary_key=True),
        sa.Column("position", sa.Integer, primary_key=True),
        sa.Column("kind", sa.Text, nullable=False),
        sa.Column("author", sa.Text, nullable=False),
        sa.Column("role", sa.Text, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("at", AT, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("dispute_messages")
    op.drop_table("disputes")
