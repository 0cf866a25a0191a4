"""dead letters: the shared `dead_letters` table behind GET /dlq and POST /dlq/{id}/replay

Revision ID: 0003
Revises: 0002
"""

from alembic import op

from provisio_common.tables import create_dead_letter_table

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    create_dead_letter_table(op)


def downgrade() -> None:
    op.drop_table("dead_letters")
