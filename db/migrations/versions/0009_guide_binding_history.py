"""customer_guide_binding (who was bound to whom when); orders.bound_guide_id and the
attribution report's covering index

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 00:20:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "customer_guide_binding",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("customer_id", sa.String(32), sa.ForeignKey("customer.id"), nullable=False),
        sa.Column("guide_id", sa.String(32), nullable=False),
        sa.Column("bound_from", sa.DateTime(timezone=True), nullable=False),
        sa.Column("bound_to", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index(
        "ix_customer_guide_binding_customer_from",
        "customer_guide_binding",
        ["customer_id", "bound_from"],
    )
    op.create_index(
        "ix_customer_guide_binding_guide_id", "customer_guide_binding", ["guide_id"]
    )
    with op.batch_alter_table("orders") as batch:
        batch.add_column(sa.Column("bound_guide_id", sa.String(32), nullable=True))
        batch.create_index(
            "ix_orders_created_attribution",
            ["created_at", "channel", "store_id", "bound_guide_id", "amount", "customer_id"],
        )
    # What is known of the past: today's binding, since the customer was created, and each
    # existing order stamped with it (the history starts here).
    op.execute(
        "INSERT INTO customer_guide_binding (customer_id, guide_id, bound_from) "
        "SELECT id, guide_id, created_at FROM customer WHERE guide_id IS NOT NULL"
    )
    op.execute(
        "UPDATE orders SET bound_guide_id = "
        "(SELECT customer.guide_id FROM customer WHERE customer.id = orders.customer_id)"
    )


def downgrade() -> None:
    with op.batch_alter_table("orders") as batch:
        batch.drop_index("ix_orders_created_attribution")
        batch.drop_column("bound_guide_id")
    op.drop_index("ix_customer_guide_binding_guide_id", "customer_guide_binding")
    op.drop_index("ix_customer_guide_binding_customer_from", "customer_guide_binding")
    op.drop_table("customer_guide_binding")
