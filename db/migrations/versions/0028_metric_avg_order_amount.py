"""customer_metrics.avg_order_amount: the customer's average order amount (客单价), a
stored metric of engine.metrics — filled from the orders already recorded

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-02 19:10:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0028"
down_revision: str | None = "0027"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("customer_metrics", schema=None) as batch_op:
        batch_op.add_column(sa.Column("avg_order_amount", sa.Float(), nullable=True))
    # customers who bought before this column existed: the same figure the next purchase
    # or rebuild would store (engine.metrics: the mean of their orders, 2 decimals)
    op.execute(
        "UPDATE customer_metrics SET avg_order_amount = ("
        " SELECT ROUND(CAST(AVG(orders.amount) AS NUMERIC), 2) FROM orders"
        " WHERE orders.customer_id = customer_metrics.customer_id)"
    )


def downgrade() -> None:
    with op.batch_alter_table("customer_metrics", schema=None) as batch_op:
        batch_op.drop_column("avg_order_amount")
