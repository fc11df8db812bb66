"""points ledger; each customer's purchase cycle and lifecycle stage in customer_metrics

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01 23:30:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "points_entry",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("customer_id", sa.String(32), sa.ForeignKey("customer.id"), nullable=False),
        sa.Column("delta", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("idempotency_key", sa.String(255), nullable=False, unique=True),
        sa.Column("journey_id", sa.String(64), nullable=True),
        sa.Column("node_id", sa.String(64), nullable=True),
        sa.Column("workflow_id", sa.String(255), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index(
        "ix_points_entry_customer_expires", "points_entry", ["customer_id", "expires_at"]
    )
    op.create_index("ix_points_entry_journey_id", "points_entry", ["journey_id"])
    with op.batch_alter_table("customer_metrics") as batch:
        batch.add_column(sa.Column("purchase_interval_median_days", sa.Float(), nullable=True))
        batch.add_column(sa.Column("lifecycle_stage", sa.String(16), nullable=True))
        batch.add_column(
            sa.Column("lifecycle_changed_at", sa.DateTime(timezone=True), nullable=True)
        )
        batch.create_index("ix_customer_metrics_lifecycle_stage", ["lifecycle_stage"])


def downgrade() -> None:
    with op.batch_alter_table("customer_metrics") as batch:
        batch.drop_index("ix_customer_metrics_lifecycle_stage")
        batch.drop_column("lifecycle_changed_at")
        batch.drop_column("lifecycle_stage")
        batch.drop_column("purchase_interval_median_days")
    op.drop_index("ix_points_entry_journey_id", "points_entry")
    op.drop_index("ix_points_entry_customer_expires", "points_entry")
    op.drop_table("points_entry")
