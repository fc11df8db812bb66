"""per-channel opt-outs and test sends (issue 16): customer_channel_opt_out (who left which
channel, how, when); outbox_message.is_test (a preview's test send, never counted) and no
foreign key on outbox_message.customer_id (a test send to a synthetic customer names none);
user_account.phone / wecom_userid / email (where "send a test to me" goes)

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-02 05:10:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0019"
down_revision: str | None = "0018"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "customer_channel_opt_out",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("customer_id", sa.String(32), nullable=False),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["customer_id"],
            ["customer.id"],
            name=op.f("fk_customer_channel_opt_out_customer_id_customer"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_customer_channel_opt_out")),
        sa.UniqueConstraint("customer_id", "channel", name="uq_customer_channel_opt_out"),
    )
    op.create_index(
        op.f("ix_customer_channel_opt_out_customer_id"),
        "customer_channel_opt_out",
        ["customer_id"],
    )
    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("is_test", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.drop_constraint("fk_outbox_message_customer_id_customer", type_="foreignkey")
    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.add_column(sa.Column("phone", sa.String(32), nullable=False, server_default=""))
        batch_op.add_column(
            sa.Column("wecom_userid", sa.String(64), nullable=False, server_default="")
        )
        batch_op.add_column(sa.Column("email", sa.String(254), nullable=False, server_default=""))


def downgrade() -> None:
    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.drop_column("email")
        batch_op.drop_column("wecom_userid")
        batch_op.drop_column("phone")
    with op.batch_alter_table("outbox_message", schema=None) as batch_op:
        batch_op.create_foreign_key(
            "fk_outbox_message_customer_id_customer", "customer", ["customer_id"], ["id"]
        )
        batch_op.drop_column("is_test")
    op.drop_index(
        op.f("ix_customer_channel_opt_out_customer_id"), table_name="customer_channel_opt_out"
    )
    op.drop_table("customer_channel_opt_out")
