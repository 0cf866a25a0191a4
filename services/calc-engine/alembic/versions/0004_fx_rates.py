"""fx rates replica

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "fx_rates",
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("from_currency", sa.Text, primary_key=True),
        sa.Column("to_currency", sa.Text, primary_key=True),
        sa.Column("rate", sa.Numeric, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("fx_rates")
