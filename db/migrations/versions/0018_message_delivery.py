"""message delivery (issue 16): outbox_message gets the provider, its message id, delivered /
failed times and the latest receipt's detail; provider_rate_bucket holds each provider's
shared send-rate schedule

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-02 05:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018"
down_revision: str | None = "0017"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.add_column(sa.Column("provider", sa.String(32), nullable=False, server_default=""))
        batch_op.add_column(sa.Column("provider_message_id", sa.String(128), nullable=True))
        batch_op.add_column(sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("failed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(
            sa.Column("status_detail", sa.String(500), nullable=False, server_default="")
        )
        batch_op.create_index(
            batch_op.f("ix_outbox_message_provider_message_id"), ["provider_message_id"]
        )
    op.create_table(
        "provider_rate_bucket",
        sa.Column("provider", sa.String(32), nullable=False),
        sa.Column("next_slot", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("provider", name=op.f("pk_provider_rate_bucket")),
    )


def downgrade() -> None:
    op.drop_table("provider_rate_bucket")
    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_outbox_message_provider_message_id"))
        batch_op.drop_column("status_detail")
        batch_op.drop_column("failed_at")
        batch_op.drop_column("delivered_at")
        batch_op.drop_column("provider_message_id")
        batch_op.drop_column("provider")
