"""dead letters (GET /dlq, POST /dlq/{id}/replay)

Revision ID: 0002
Revises: 0001
"""

from alembic import op

from provisio_common.tables import create_dead_letter_table

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_dead_letter_table(op)


def downgrade() -> None:
    op.drop_table("dead_letters")
