"""journey_run_variant: the side each split gave a run (variant results, issue 14)

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-02 00:10:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "journey_run_variant",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("run_id", sa.Integer(), sa.ForeignKey("journey_run.id"), nullable=False),
        sa.Column("journey_id", sa.String(64), nullable=False),
        sa.Column("journey_version", sa.Integer(), nullable=False),
        sa.Column("node_id", sa.String(64), nullable=False),
        sa.Column("variant", sa.String(40), nullable=False),
        sa.UniqueConstraint("run_id", "node_id", name="uq_journey_run_variant_run_node"),
    )
    op.create_index(
        "ix_journey_run_variant_journey_node",
        "journey_run_variant",
        ["journey_id", "node_id", "variant"],
    )


def downgrade() -> None:
    op.drop_index("ix_journey_run_variant_journey_node", table_name="journey_run_variant")
    op.drop_table("journey_run_variant")
