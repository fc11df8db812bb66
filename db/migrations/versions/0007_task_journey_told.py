"""guide_task.journey_told_at: an outcome's signal to its journey run is owed until set

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01 21:00:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("guide_task") as batch:
        batch.add_column(sa.Column("journey_told_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_index("ix_guide_task_status_told", ["status", "journey_told_at"])
    # tasks closed before this release were told (or their signal is past saving)
    op.execute("UPDATE guide_task SET journey_told_at = completed_at WHERE status <> 'open'")


def downgrade() -> None:
    with op.batch_alter_table("guide_task") as batch:
        batch.drop_index("ix_guide_task_status_told")
        batch.drop_column("journey_told_at")
