"""activities replica

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "activities",
        sa.Column("activity", sa.Text, primary_key=True),
        sa.Column("document", JSONB, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("activities")
