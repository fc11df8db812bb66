"""maintained journey results: results_state, journey_run_result and the per-day sums
(journey_day_stat / _node / _variant); node_visit.run_id; journey_run's (journey, status)
index gains entered_at (the results' "waiting here now")

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02 02:40:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "results_state",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("timezone", sa.String(64), nullable=False),
        sa.Column("run_id", sa.Integer(), nullable=False),
        sa.Column("visit_id", sa.Integer(), nullable=False),
        sa.Column("variant_id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.Integer(), nullable=False),
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("refreshed_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_table(
        "journey_run_result",
        sa.Column("run_id", sa.Integer(), sa.ForeignKey("journey_run.id"), primary_key=True),
        sa.Column("journey_id", sa.String(64), nullable=False),
        sa.Column("journey_version", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.String(32), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("converted", sa.Boolean(), nullable=False),
        sa.Column("revenue", sa.Float(), nullable=False),
        sa.Column("ended_node", sa.String(64), nullable=True),
        sa.Column("exposures", sa.JSON(), nullable=False),
    )
    op.create_index("ix_journey_run_result_customer", "journey_run_result", ["customer_id"])
    op.create_table(
        "journey_day_stat",
        sa.Column("journey_id", sa.String(64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("journey_version", sa.Integer(), nullable=False),
        sa.Column("entered", sa.Integer(), nullable=False),
        sa.Column("conversions", sa.Integer(), nullable=False),
        sa.Column("revenue", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("journey_id", "day", "journey_version"),
    )
    op.create_table(
        "journey_day_node",
        sa.Column("journey_id", sa.String(64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("journey_version", sa.Integer(), nullable=False),
        sa.Column("node_id", sa.String(64), nullable=False),
        sa.Column("port", sa.String(64), nullable=False),
        sa.Column("visits", sa.Integer(), nullable=False),
        sa.Column("converted", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("journey_id", "day", "journey_version", "node_id", "port"),
    )
    op.create_table(
        "journey_day_variant",
        sa.Column("journey_id", sa.String(64), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("journey_version", sa.Integer(), nullable=False),
        sa.Column("node_id", sa.String(64), nullable=False),
        sa.Column("variant", sa.String(40), nullable=False),
        sa.Column("customers", sa.Integer(), nullable=False),
        sa.Column("conversions", sa.Integer(), nullable=False),
        sa.Column("revenue", sa.Float(), nullable=False),
        sa.PrimaryKeyConstraint("journey_id", "day", "journey_version", "node_id", "variant"),
    )
    with op.batch_alter_table("node_visit") as batch:
        batch.add_column(sa.Column("run_id", sa.Integer(), nullable=True))
    op.drop_index("ix_journey_run_journey_status", table_name="journey_run")
    op.create_index(
        "ix_journey_run_journey_status", "journey_run", ["journey_id", "status", "entered_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_journey_run_journey_status", table_name="journey_run")
    op.create_index("ix_journey_run_journey_status", "journey_run", ["journey_id", "status"])
    with op.batch_alter_table("node_visit") as batch:
        batch.drop_column("run_id")
    for table in ("journey_day_variant", "journey_day_node", "journey_day_stat"):
        op.drop_table(table)
    op.drop_index("ix_journey_run_result_customer", table_name="journey_run_result")
    op.drop_table("journey_run_result")
    op.drop_table("results_state")
