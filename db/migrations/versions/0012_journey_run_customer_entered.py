"""journey_run: covering index (customer, entered_at, journey, version, id) for attribution

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02 00:25:00

"""

from collections.abc import Sequence

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_journey_run_customer_entered",
        "journey_run",
        ["customer_id", "entered_at", "journey_id", "journey_version", "id"],
    )


def downgrade() -> None:
    op.drop_index("ix_journey_run_customer_entered", "journey_run")
