"""credits replica for attainment

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "credits",
        sa.Column("deal", sa.Text, primary_key=True),
        sa.Column("payee", sa.Text, primary_key=True),
        sa.Column("revision", sa.Integer, nullable=False),
        sa.Column("amount", sa.Numeric, nullable=False),
        sa.Column("currency", sa.Text, nullable=False),
        sa.Column("status", sa.Text, nullable=False),
        sa.Column("close_date", sa.Date, nullable=True),
    )
    op.create_index("credits_payee_close", "credits", ["payee", "close_date"])


def downgrade() -> None:
    op.drop_table("credits")
