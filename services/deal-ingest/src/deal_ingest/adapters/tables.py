"""deal-ingest tables: the shared outbox, inbox, audit log and dead letters; raw deliveries,
deal snapshots and their revisions, activities, CRM events and merged CRM deal state."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB

from provisio_common.tables import shared_tables

metadata = sa.MetaData()
shared = shared_tables(metadata)

deliveries = sa.Table(
    "deliveries",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("source", sa.Text, nullable=False),
    sa.Column("delivery_id", sa.Text, nullable=False),
    sa.Column("received_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Column("headers", JSONB, nullable=False),
    sa.Column("body", sa.LargeBinary, nullable=False),
    sa.Column("outcome", sa.Text, nullable=False),
    sa.Column("detail", sa.Text, nullable=True),
    sa.UniqueConstraint("source", "delivery_id", name="deliveries_source_delivery_id"),
)

deal_snapshots = sa.Table(
    "deal_snapshots",
    metadata,
    sa.Column("source", sa.Text, primary_key=True),
    sa.Column("external_id", sa.Text, primary_key=True),
    sa.Column("revision", sa.Integer, nullable=False),
    sa.Column("status", sa.Text, nullable=False),
    sa.Column("owner", sa.Text, nullable=False),
    sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("document", JSONB, nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
)

deal_revisions = sa.Table(
    "deal_revisions",
    metadata,
    sa.Column("source", sa.Text, primary_key=True),
    sa.Column("external_id", sa.Text, primary_key=True),
    sa.Column("revision", sa.Integer, primary_key=True),
    sa.Column("delivery", sa.BigInteger, nullable=False),
    sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("document", JSONB, nullable=False),
    sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    # False while the snapshot says what the one before it in history says (kept, not sent);
    # it is published once a later arrival makes it mean something (domain/snapshots.py).
    sa.Column("published", sa.Boolean, nullable=False, server_default=sa.true()),
)

activities = sa.Table(
    "activities",
    metadata,
    sa.Column("source", sa.Text, primary_key=True),
    sa.Column("external_id", sa.Text, primary_key=True),
    sa.Column("document", JSONB, nullable=False),
    sa.Column("delivery", sa.BigInteger, nullable=False),
    sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
)

# One row per CRM event inside a batched delivery (HubSpot events, Salesforce notifications):
# a redelivered event finds its key here and changes nothing.
crm_events = sa.Table(
    "crm_events",
    metadata,
    sa.Column("source", sa.Text, primary_key=True),
    sa.Column("event_key", sa.Text, primary_key=True),
    sa.Column("delivery", sa.BigInteger, nullable=False),
    sa.Column("outcome", sa.Text, nullable=False),
    sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
)

# A CRM that sends only changed properties (HubSpot): every property's last value and when it
# changed, the state the next snapshot is built from.
crm_deal_state = sa.Table(
    "crm_deal_state",
    metadata,
    sa.Column("source", sa.Text, primary_key=True),
    sa.Column("external_id", sa.Text, primary_key=True),
    sa.Column("state", JSONB, nullable=False),
    sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
)
