"""event_delivery: customer events whose processing is still pending

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01 20:30:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel  # noqa: F401
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "event_delivery",
        sa.Column("event_id", sqlmodel.sql.sqltypes.AutoString(length=128), nullable=False),
        sa.Column("customer_id", sqlmodel.sql.sqltypes.AutoString(length=32), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sqlmodel.sql.sqltypes.AutoString(length=500), nullable=False),
        sa.PrimaryKeyConstraint("event_id", name=op.f("pk_event_delivery")),
    )
    op.create_index(
        op.f("ix_event_delivery_lease_until"), "event_delivery", ["lease_until"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_event_delivery_lease_until"), table_name="event_delivery")
    op.drop_table("event_delivery")
