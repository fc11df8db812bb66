"""WeCom and WeChat delivery (issue 16b): customer.wecom_external_userid / wechat_openid,
guide.wecom_userid; task_notice push columns (guide notices pushed to WeCom, durable and
once); wecom_contact_event (contact callbacks, once each)

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-02 05:20:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021"
down_revision: str | None = "0020"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("customer", schema=None) as batch_op:
        batch_op.add_column(sa.Column("wecom_external_userid", sa.String(64), nullable=True))
        batch_op.add_column(sa.Column("wechat_openid", sa.String(64), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_customer_wecom_external_userid"), ["wecom_external_userid"]
        )
        batch_op.create_index(batch_op.f("ix_customer_wechat_openid"), ["wechat_openid"])
    with op.batch_alter_table("guide", schema=None) as batch_op:
        batch_op.add_column(sa.Column("wecom_userid", sa.String(64), nullable=True))
        batch_op.create_index(batch_op.f("ix_guide_wecom_userid"), ["wecom_userid"])
    with op.batch_alter_table("task_notice", schema=None) as batch_op:
        # notices written before this release stay as they were: recorded, never pushed
        batch_op.add_column(
            sa.Column("push_status", sa.String(16), nullable=False, server_default="recorded")
        )
        batch_op.add_column(
            sa.Column("push_attempts", sa.Integer(), nullable=False, server_default="0")
        )
        batch_op.add_column(sa.Column("push_next_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("pushed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("push_message_id", sa.String(128), nullable=True))
        batch_op.add_column(
            sa.Column("push_detail", sa.String(500), nullable=False, server_default="")
        )
        batch_op.create_index("ix_task_notice_push_due", ["push_status", "push_next_at"])
    op.create_table(
        "wecom_contact_event",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("event_key", sa.String(255), nullable=False),
        sa.Column("change_type", sa.String(32), nullable=False),
        sa.Column("user_id", sa.String(64), nullable=False),
        sa.Column("external_user_id", sa.String(64), nullable=False),
        sa.Column("customer_id", sa.String(32), nullable=True),
        sa.Column("guide_id", sa.String(32), nullable=True),
        sa.Column("event_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.String(32), nullable=False),
        sa.Column("state", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_wecom_contact_event")),
        sa.UniqueConstraint("event_key", name=op.f("uq_wecom_contact_event_event_key")),
    )
    op.create_index(
        "ix_wecom_contact_event_contact_time",
        "wecom_contact_event",
        ["external_user_id", "event_time"],
    )


def downgrade() -> None:
    op.drop_index("ix_wecom_contact_event_contact_time", table_name="wecom_contact_event")
    op.drop_table("wecom_contact_event")
    with op.batch_alter_table("task_notice", schema=None) as batch_op:
        batch_op.drop_index("ix_task_notice_push_due")
        for column in (
            "push_detail",
            "push_message_id",
            "pushed_at",
            "push_next_at",
            "push_attempts",
            "push_status",
        ):
            batch_op.drop_column(column)
    with op.batch_alter_table("guide", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_guide_wecom_userid"))
        batch_op.drop_column("wecom_userid")
    with op.batch_alter_table("customer", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_customer_wechat_openid"))
        batch_op.drop_index(batch_op.f("ix_customer_wecom_external_userid"))
        batch_op.drop_column("wechat_openid")
        batch_op.drop_column("wecom_external_userid")
