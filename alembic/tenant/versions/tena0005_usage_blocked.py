"""guardrail blocks counted apart from errors in the hourly roll-ups

Revision ID: tena0005
Revises: tena0004
Create Date: 2026-12-02 03:45:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

revision: str = 'tena0005'
down_revision: Union[str, Sequence[str], None] = 'tena0004'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('usage_hourly', schema=None) as batch_op:
        batch_op.add_column(sa.Column('blocked', sa.Integer(), nullable=False, server_default='0'))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('usage_hourly', schema=None) as batch_op:
        batch_op.drop_column('blocked')
