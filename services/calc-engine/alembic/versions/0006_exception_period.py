"""calc_exceptions.period: the measurement period of a deal-less exception

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("calc_exceptions", sa.Column("period", sa.Text, nullable=True))


def downgrade() -> None:
    op.drop_column("calc_exceptions", "period")
