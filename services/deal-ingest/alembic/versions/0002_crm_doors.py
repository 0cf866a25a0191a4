"""CRM doors: per-event dedupe keys, merged CRM deal state (HubSpot), replay index

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
        "crm_events",
        sa.Column("source", sa.Text, primary_key=True),
        sa.Column("event_key", sa.Text, primary_key=True),
        sa.Column("delivery", sa.BigInteger, nullable=False),
        sa.Column("outcome", sa.Text, nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    op.create_table(
        "crm_deal_state",
        sa.Column("source", sa.Text, primary_key=True),
        sa.Column("external_id", sa.Text, primary_key=True),
        sa.Column("state", JSONB, nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    op.create_index("deal_snapshots_source_updated_at", "deal_snapshots", ["source", "updated_at"])
    op.create_index("deliveries_received_at", "deliveries", ["received_at"])


def downgrade() -> None:
    op.drop_index("deliveries_received_at", "deliveries")
    op.drop_index("deal_snapshots_source_updated_at", "deal_snapshots")
    op.drop_table("crm_deal_state")
    op.drop_table("crm_events")
