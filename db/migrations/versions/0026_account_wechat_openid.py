"""user_account.wechat_openid: where a test of a WeChat template or subscribe message goes
(the sender's own openid under the official account), like phone / wecom_userid / email

Revision ID: 0026
Revises: 0025
Create Date: 2026-12-02 08:40:00

"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0026"
down_revision: str | None = "0025"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("wechat_openid", sa.String(64), nullable=False, server_default="")
        )


def downgrade() -> None:
    with op.batch_alter_table("user_account", schema=None) as batch_op:
        batch_op.drop_column("wechat_openid")
