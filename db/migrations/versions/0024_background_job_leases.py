"""leases of the web process's background jobs (issue 17): journey_version_move.lease_owner /
lease_until (a pass whose lease lapsed is resumed by the reconciler of another process) and
journey_backtest.lease_until (one whose lease lapsed is marked interrupted)

Revision ID: 0024
Revises: 0023
Create Date: 2026-12-02 05:50:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0024"
down_revision: str | None = "0023"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # rows from before have no lease: a running one is taken as orphaned (it is: the
    # process that ran it predates the lease)
    op.add_column(
        "journey_version_move",
        sa.Column("lease_owner", sa.String(64), nullable=False, server_default=""),
    )
    op.add_column(
        "journey_version_move",
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
    )
    op.add_column(
        "journey_backtest",
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
    )


def downgrade() -> None:
    with op.batch_alter_table("journey_backtest") as batch:
        batch.drop_column("lease_until")
    with op.batch_alter_table("journey_version_move") as batch:
        batch.drop_column("lease_until")
        batch.drop_column("lease_owner")
