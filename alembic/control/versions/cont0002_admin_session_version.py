"""session version of platform admins

Revision ID: cont0002
Revises: cont0001
Create Date: 2026-12-01 23:40:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

revision: str = 'cont0002'
down_revision: Union[str, Sequence[str], None] = 'cont0001'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('platform_admins', schema=None) as batch_op:
        batch_op.add_column(sa.Column('session_version', sa.Integer(), nullable=False, server_default='0'))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('platform_admins', schema=None) as batch_op:
        batch_op.drop_column('session_version')
