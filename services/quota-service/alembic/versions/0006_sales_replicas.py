"""replicas of deals.v1, activities.v1 and ledger.v1 for the KPI catalogue

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY, JSONB

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "deals",
        sa.Column("key", sa.Text, primary_key=True),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("document", JSONB, nullable=False),
        sa.Column("people", ARRAY(sa.Text), nullable=False),
        sa.Column("created_day", sa.Date, nullable=True),
        sa.Column("close_day", sa.Date, nullable=True),
    )
    op.create_index("deals_created_day", "deals", ["created_day"])
    op.create_index("deals_close_day", "deals", ["close_day"])
    op.create_index("deals_people", "deals", ["people"], postgresql_using="gin")
    op.create_table(
        "activities",
        sa.Column("key", sa.Text, primary_key=True),
        sa.Column("document", JSONB, nullable=False),
        sa.Column("owner", sa.Text, nullable=False),
        sa.Column("day", sa.Date, nullable=False),
    )
    op.create_index("activities_owner_day", "activities", ["owner", "day"])
    op.create_table(
        "commissions",
        sa.Column("entry_id", sa.Text, primary_key=True),
        sa.Column("payee", sa.Text, nullable=False),
        sa.Column("entry_date", sa.Date, nullable=False),
        sa.Column("amount", sa.Numeric, nullable=False),
        sa.Column("currency", sa.Text, nullable=False),
    )
    op.create_index("commissions_payee_date", "commissions", ["payee", "entry_date"])


def downgrade() -> None:
    for name in ("commissions", "activities", "deals"):
        op.drop_table(name)
