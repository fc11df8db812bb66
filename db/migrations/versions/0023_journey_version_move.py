"""moving waiting customers to a newer version (issue 17 item 3): journey_version_move (a
move pass: its node map, who asked, progress and cursor)

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-02 05:40:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0023"
down_revision: str | None = "0022"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "journey_version_move",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("journey_id", sa.String(64), nullable=False),
        sa.Column("from_version", sa.Integer(), nullable=False),
        sa.Column("to_version", sa.Integer(), nullable=False),
        sa.Column("node_map", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("moved", sa.Integer(), nullable=False),
        sa.Column("skipped", sa.Integer(), nullable=False),
        sa.Column("cursor", sa.Integer(), nullable=False),
        sa.Column("error", sa.String(2000), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["journey_id"], ["journey.id"], name=op.f("fk_journey_version_move_journey_id_journey")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_journey_version_move")),
    )
    op.create_index(
        op.f("ix_journey_version_move_journey_id"), "journey_version_move", ["journey_id"]
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_journey_version_move_journey_id"), table_name="journey_version_move")
    op.drop_table("journey_version_move")
