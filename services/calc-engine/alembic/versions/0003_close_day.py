"""close_day on deal revisions, so a deal event loads only its periods' deals

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("deal_revisions", sa.Column("close_day", sa.Date, nullable=True))
    op.execute(
        "UPDATE deal_revisions SET close_day = left(document->>'close_date', 10)::date "
        "WHERE document->>'close_date' IS NOT NULL"
    )
    op.create_index("deal_revisions_close_day", "deal_revisions", ["close_day"])
    op.create_index("ledger_plan_period", "ledger", ["plan", "period"])


def downgrade() -> None:
    op.drop_index("ledger_plan_period", "ledger")
    op.drop_index("deal_revisions_close_day", "deal_revisions")
    op.drop_column("deal_revisions", "close_day")
