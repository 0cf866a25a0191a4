"""outbox rows that can never be published are parked with their error

Revision ID: 0006
Revises: 0005
"""

from alembic import op

from provisio_common.tables import add_outbox_parking, drop_outbox_parking

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    add_outbox_parking(op)


def downgrade() -> None:
    drop_outbox_parking(op)
