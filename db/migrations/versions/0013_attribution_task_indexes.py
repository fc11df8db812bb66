"""attribution after guide tasks: guide_task (status, completed_at); orders (customer_id,
created_at, amount) covering a customer's orders in a window

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02 00:30:00

"""

from collections.abc import Sequence

from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_guide_task_status_completed", "guide_task", ["status", "completed_at"])
    op.create_index("ix_orders_customer_created", "orders", ["customer_id", "created_at", "amount"])


def downgrade() -> None:
    op.drop_index("ix_orders_customer_created", "orders")
    op.drop_index("ix_guide_task_status_completed", "guide_task")
