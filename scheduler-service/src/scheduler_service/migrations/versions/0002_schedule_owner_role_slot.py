"""Schedules remember the owner's role and the latest claimed cron slot.

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
    with op.batch_alter_table("schedules") as batch:
        batch.add_column(sa.Column("owner_role", sa.String(16), nullable=False, server_default="tester"))
        batch.add_column(sa.Column("last_slot_at", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("schedules") as batch:
        batch.drop_column("last_slot_at")
        batch.drop_column("owner_role")
