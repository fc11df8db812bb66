"""audit log, launch approval and campaign dates (issue 17 items 4 and 5): audit_entry (who
changed what, when, before → after), journey_approval (a submitted version, its diff against
the live one and the decision), contact_policy.publish_requires_approval (the chain's
setting), journey.starts_at / ends_at (the campaign's entry window) and
user_account.permissions (granted extras such as ``approve_journeys``)

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-02 05:20:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0022"
down_revision: str | None = "0021"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_entry",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("object_type", sa.String(32), nullable=False),
        sa.Column("object_id", sa.String(120), nullable=False),
        sa.Column("summary", sa.String(500), nullable=False),
        sa.Column("before", sa.JSON(), nullable=True),
        sa.Column("after", sa.JSON(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_entry")),
    )
    op.create_index(op.f("ix_audit_entry_at"), "audit_entry", ["at"])
    op.create_index("ix_audit_entry_object", "audit_entry", ["object_type", "object_id", "at"])
    op.create_index("ix_audit_entry_actor_at", "audit_entry", ["actor", "at"])
    op.create_table(
        "journey_approval",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("journey_id", sa.String(64), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("base_version", sa.Integer(), nullable=True),
        sa.Column("diff", sa.JSON(), nullable=False),
        sa.Column("backtest", sa.JSON(), nullable=True),
        sa.Column("note", sa.String(2000), nullable=False),
        sa.Column("submitted_by", sa.String(64), nullable=False),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.String(64), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decision_comment", sa.String(2000), nullable=False),
        sa.Column("published_version", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["journey_id"], ["journey.id"], name=op.f("fk_journey_approval_journey_id_journey")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_journey_approval")),
    )
    op.create_index("ix_journey_approval_status", "journey_approval", ["status", "submitted_at"])
    op.create_index(op.f("ix_journey_approval_journey_id"), "journey_approval", ["journey_id"])
    with op.batch_alter_table("contact_policy") as batch:
        batch.add_column(
            sa.Column(
                "publish_requires_approval",
                sa.Boolean(),
                nullable=False,
                server_default=sa.false(),
            )
        )
    with op.batch_alter_table("journey") as batch:
        batch.add_column(sa.Column("starts_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("ends_at", sa.DateTime(timezone=True), nullable=True))
    with op.batch_alter_table("user_account") as batch:
        batch.add_column(
            sa.Column("permissions", sa.String(200), nullable=False, server_default="")
        )


def downgrade() -> None:
    with op.batch_alter_table("user_account") as batch:
        batch.drop_column("permissions")
    with op.batch_alter_table("journey") as batch:
        batch.drop_column("ends_at")
        batch.drop_column("starts_at")
    with op.batch_alter_table("contact_policy") as batch:
        batch.drop_column("publish_requires_approval")
    op.drop_index(op.f("ix_journey_approval_journey_id"), table_name="journey_approval")
    op.drop_index("ix_journey_approval_status", table_name="journey_approval")
    op.drop_table("journey_approval")
    op.drop_index("ix_audit_entry_actor_at", table_name="audit_entry")
    op.drop_index("ix_audit_entry_object", table_name="audit_entry")
    op.drop_index(op.f("ix_audit_entry_at"), table_name="audit_entry")
    op.drop_table("audit_entry")
