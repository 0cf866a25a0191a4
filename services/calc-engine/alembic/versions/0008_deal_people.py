"""people on deal revisions, so a keyed run loads only the deals of the people it redoes

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import ARRAY

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("deal_revisions", sa.Column("people", ARRAY(sa.Text), nullable=False, server_default="{}"))
    # The owner and split payees as sent (calc_engine.domain.keyed.people_of).
    op.execute(
        "UPDATE deal_revisions SET people = ARRAY(SELECT DISTINCT p FROM ("
        " SELECT document->>'owner' AS p"
        " UNION ALL SELECT s->>'payee' FROM jsonb_array_elements("
        "  CASE WHEN jsonb_typeof(document->'splits') = 'array' THEN document->'splits' ELSE '[]' END) s"
        ") named WHERE p IS NOT NULL ORDER BY p)"
    )
    # fastupdate off: a revision goes straight into the index. With the pending list, a
    # lookup after a bulk load scanned up to 4 MB of pending entries (30 ms at 1M deals).
    op.create_index(
        "deal_revisions_people",
        "deal_revisions",
        ["people"],
        postgresql_using="gin",
        postgresql_with={"fastupdate": "off"},
    )
    op.create_index("ledger_plan_deal", "ledger", ["plan", "deal"])


def downgrade() -> None:
    op.drop_index("ledger_plan_deal", "ledger")
    op.drop_index("deal_revisions_people", "deal_revisions")
    op.drop_column("deal_revisions", "people")
