"""outbox_message.handed_at: when the latest attempt was handed to its provider (issue 16,
idempotency: a retry that cannot find it at a provider whose look-up lags waits for the
carrier's report instead of sending twice)

Revision ID: 0025
Revises: 0024
Create Date: 2026-12-02 08:10:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0025"
down_revision: str | None = "0024"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # rows handed over before this release have none: a retry counts from created_at
    op.add_column(
        "outbox_message", sa.Column("handed_at", sa.DateTime(timezone=True), nullable=True)
    )


def downgrade() -> None:
    with op.batch_alter_table("outbox_message") as batch:
        batch.drop_column("handed_at")
