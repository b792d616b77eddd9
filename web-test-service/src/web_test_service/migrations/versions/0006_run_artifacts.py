"""Screenshots have a kind: a failed step's, or the final page of a failing run (no step: seq is NULL).

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
    with op.batch_alter_table("web_screenshots") as batch:
        batch.add_column(sa.Column("kind", sa.String(16), nullable=False, server_default="step"))
        batch.alter_column("seq", existing_type=sa.Integer(), nullable=True)


def downgrade() -> None:
    op.execute("DELETE FROM web_screenshots WHERE kind = 'final'")
    with op.batch_alter_table("web_screenshots") as batch:
        batch.alter_column("seq", existing_type=sa.Integer(), nullable=False)
        batch.drop_column("kind")
