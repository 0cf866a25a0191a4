"""reference_version: moves with every write to payees, quotas and fx rates, so a process
may keep them parsed between runs

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "reference_version",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("xact", sa.BigInteger, nullable=False),
        sa.Column("writes", sa.BigInteger, nullable=False),
    )
    op.execute("INSERT INTO reference_version (id, xact, writes) VALUES (1, 0, 0)")


def downgrade() -> None:
    op.drop_table("reference_version")
