"""priority groups (issue 15 item 3): journey_group (name, block/preempt), journey_group_member
(a journey's group and priority), journey_group_seat (which run holds a customer's place)

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-02 03:10:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0017"
down_revision: str | None = "0016"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "journey_group",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(80), nullable=False),
        sa.Column("policy", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_journey_group")),
        sa.UniqueConstraint("name", name=op.f("uq_journey_group_name")),
    )
    op.create_table(
        "journey_group_member",
        sa.Column("journey_id", sa.String(64), nullable=False),
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["journey_id"], ["journey.id"], name=op.f("fk_journey_group_member_journey_id_journey")
        ),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["journey_group.id"],
            name=op.f("fk_journey_group_member_group_id_journey_group"),
        ),
        sa.PrimaryKeyConstraint("journey_id", name=op.f("pk_journey_group_member")),
        sa.UniqueConstraint("group_id", "priority", name="uq_journey_group_member_priority"),
    )
    op.create_index(op.f("ix_journey_group_member_group_id"), "journey_group_member", ["group_id"])
    op.create_table(
        "journey_group_seat",
        sa.Column("group_id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.String(32), nullable=False),
        sa.Column("journey_id", sa.String(64), nullable=False),
        sa.Column("workflow_id", sa.String(255), nullable=False),
        sa.Column("preempted_workflow_id", sa.String(255), nullable=True),
        sa.Column("preempted_journey_id", sa.String(64), nullable=True),
        sa.Column("taken_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["group_id"],
            ["journey_group.id"],
            name=op.f("fk_journey_group_seat_group_id_journey_group"),
        ),
        sa.PrimaryKeyConstraint("group_id", "customer_id", name=op.f("pk_journey_group_seat")),
    )


def downgrade() -> None:
    op.drop_table("journey_group_seat")
    op.drop_index(op.f("ix_journey_group_member_group_id"), table_name="journey_group_member")
    op.drop_table("journey_group_member")
    op.drop_table("journey_group")
