"""contact policy (issue 15): contact_policy (quiet hours, caps), policy_change (who changed
what, old -> new), contact_ledger (every action's policy decision, counted by caps)

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02 02:40:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015"
down_revision: str | None = "0014"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "contact_policy",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("quiet_start", sa.String(5), nullable=True),
        sa.Column("quiet_end", sa.String(5), nullable=True),
        sa.Column("fallback_timezone", sa.String(64), nullable=True),
        sa.Column("caps", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(64), nullable=False),
    )
    op.create_table(
        "policy_change",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("by", sa.String(64), nullable=False),
        sa.Column("subject", sa.String(100), nullable=False),
        sa.Column("old", sa.String(500), nullable=False),
        sa.Column("new", sa.String(500), nullable=False),
    )
    op.create_index("ix_policy_change_at", "policy_change", ["at"])
    op.create_table(
        "contact_ledger",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("decision_key", sa.String(300), nullable=False),
        sa.Column("customer_id", sa.String(32), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("category", sa.String(16), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("rule", sa.String(64), nullable=False),
        sa.Column("until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("detail", sa.String(200), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("journey_id", sa.String(64), nullable=True),
        sa.Column("node_id", sa.String(64), nullable=True),
        sa.Column("workflow_id", sa.String(255), nullable=True),
        sa.UniqueConstraint("decision_key", name="uq_contact_ledger_decision_key"),
    )
    op.create_index("ix_contact_ledger_customer_at", "contact_ledger", ["customer_id", "at"])


def downgrade() -> None:
    op.drop_index("ix_contact_ledger_customer_at", table_name="contact_ledger")
    op.drop_table("contact_ledger")
    op.drop_index("ix_policy_change_at", table_name="policy_change")
    op.drop_table("policy_change")
    op.drop_table("contact_policy")
