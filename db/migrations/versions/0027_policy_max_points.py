"""contact_policy.max_points_per_step: the chain's most points one award_points step may
give (issue 13: a configurable per-step maximum; the compiler's diagnostic names it)

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-02 14:40:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0027"
down_revision: str | None = "0026"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("contact_policy", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("max_points_per_step", sa.Integer(), nullable=False, server_default="10000")
        )


def downgrade() -> None:
    with op.batch_alter_table("contact_policy", schema=None) as batch_op:
        batch_op.drop_column("max_points_per_step")
