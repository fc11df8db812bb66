"""what-if backtests (issue 17 item 1): journey_backtest (a draft or version against the live
one on recorded customers: its period, progress and report)

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-02 05:20:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020"
down_revision: str | None = "0019"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "journey_backtest",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("journey_id", sa.String(64), nullable=False),
        sa.Column("baseline_version", sa.Integer(), nullable=False),
        sa.Column("candidate", sa.String(16), nullable=False),
        sa.Column("candidate_version", sa.Integer(), nullable=True),
        sa.Column("candidate_document", sa.JSON(), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("segment_id", sa.String(64), nullable=True),
        sa.Column("period_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("period_end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.Column("error", sa.String(2000), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["journey_id"], ["journey.id"], name=op.f("fk_journey_backtest_journey_id_journey")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_journey_backtest")),
    )
    op.create_index(op.f("ix_journey_backtest_journey_id"), "journey_backtest", ["journey_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_journey_backtest_journey_id"), table_name="journey_backtest")
    op.drop_table("journey_backtest")
