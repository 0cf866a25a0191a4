"""deal terms and plan accounting settings for commission expense

Each deal's contract terms (from `deals.v1`) in `deal_terms`; the plans' `accounting`
sections travel inside the plan documents already kept in `plan_versions`. Indexes for
reading the ledger replica by date and by deal.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "deal_terms",
        sa.Column("deal", sa.Text, primary_key=True),
        sa.Column("contract_months", sa.Integer, nullable=True),
        sa.Column("contract_start", sa.Date, nullable=True),
        sa.Column("close_date", sa.Text, nullable=True),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("content", sa.Text, nullable=False),
    )
    op.create_index("ledger_entries_date", "ledger_entries", ["entry_date"])
    op.create_index("ledger_entries_deal", "ledger_entries", ["deal"])


def downgrade() -> None:
    op.drop_index("ledger_entries_deal", table_name="ledger_entries")
    op.drop_index("ledger_entries_date", table_name="ledger_entries")
    op.drop_table("deal_terms")
