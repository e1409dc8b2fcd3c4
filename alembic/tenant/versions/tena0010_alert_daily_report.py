"""alert channels may receive the daily usage report

Revision ID: tena0010
Revises: tena0009
Create Date: 2026-12-04 02:30:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

revision: str = 'tena0010'
down_revision: Union[str, Sequence[str], None] = 'tena0009'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('alert_channels', schema=None) as batch_op:
        batch_op.add_column(sa.Column('daily_report', sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('alert_channels', schema=None) as batch_op:
        batch_op.drop_column('daily_report')
