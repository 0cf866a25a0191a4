"""payees, plan versions, quotas, and the shared outbox/inbox/audit tables

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

from provisio_common.tables import create_shared_tables

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_shared_tables(op)
    op.create_table(
        "payees",
        sa.Column("id", sa.Text, primary_key=True),
        sa.Column("document", JSONB, nullable=False),
        sa.Column("manager", sa.Text, nullable=True),
        sa.Column("crm_ids", ARRAY(sa.Text), nullable=False, server_default="{}"),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    op.create_table(
        "plan_versions",
        sa.Column("plan_id", sa.Text, primary_key=True),
        sa.Column("version", sa.Integer, primary_key=True),
        sa.Column("document", JSONB, nullable=False),
        sa.Column("source_text", sa.Text, nullable=False),
        sa.Column("created_by", sa.Text, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    op.create_table(
        "quotas",
        sa.Column("payee", sa.Text, primary_key=True),
        sa.Column("period", sa.Text, primary_key=True),
        sa.Column("amount", sa.Numeric, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )


def downgrade() -> None:
    for table in ("quotas", "plan_versions", "payees", "audit_log", "inbox", "outbox"):
        op.drop_table(table)
