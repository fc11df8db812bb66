"""node_visit: each finished node visit of a run, for the per-step funnel (issue 14)

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02 00:30:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "node_visit",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("workflow_id", sa.String(255), nullable=False),
        sa.Column("enrollment_id", sa.String(64), nullable=False),
        sa.Column("journey_id", sa.String(64), nullable=False),
        sa.Column("journey_version", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.String(32), nullable=False),
        sa.Column("node_id", sa.String(64), nullable=False),
        sa.Column("visit", sa.Integer(), nullable=False),
        sa.Column("port", sa.String(64), nullable=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint(
            "workflow_id", "enrollment_id", "node_id", "visit", name="uq_node_visit_key"
        ),
    )
    op.create_index("ix_node_visit_journey_at", "node_visit", ["journey_id", "at"])


def downgrade() -> None:
    op.drop_index("ix_node_visit_journey_at", table_name="node_visit")
    op.drop_table("node_visit")
