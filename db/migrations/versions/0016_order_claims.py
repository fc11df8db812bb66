"""order_claim: the journey touch each order is credited to, kept by the results store
(attribution reports read a period's claims instead of joining orders to every touch);
results_state.claim_rule and .tasks_seen

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-02 02:55:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "order_claim",
        sa.Column("order_id", sa.Integer(), primary_key=True),
        sa.Column("customer_id", sa.String(32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("amount", sa.Float(), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("store_id", sa.String(32), nullable=True),
        sa.Column("bound_guide_id", sa.String(32), nullable=True),
        sa.Column("journey_id", sa.String(64), nullable=False),
        sa.Column("journey_version", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("touch_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index(
        "ix_order_claim_created",
        "order_claim",
        [
            "created_at",
            "journey_id",
            "journey_version",
            "run_id",
            "amount",
            "channel",
            "store_id",
            "bound_guide_id",
        ],
    )
    op.create_index("ix_order_claim_customer", "order_claim", ["customer_id"])
    with op.batch_alter_table("results_state") as batch:
        batch.add_column(sa.Column("claim_rule", sa.String(64), nullable=False, server_default=""))
        batch.add_column(sa.Column("tasks_seen", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("results_state") as batch:
        batch.drop_column("tasks_seen")
        batch.drop_column("claim_rule")
    op.drop_index("ix_order_claim_customer", table_name="order_claim")
    op.drop_index("ix_order_claim_created", table_name="order_claim")
    op.drop_table("order_claim")
