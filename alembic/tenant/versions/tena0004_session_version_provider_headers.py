"""session version of users; provider headers encrypted

Revision ID: tena0004
Revises: tena0003
Create Date: 2026-12-01 23:40:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

revision: str = 'tena0004'
down_revision: Union[str, Sequence[str], None] = 'tena0003'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.add_column(sa.Column('session_version', sa.Integer(), nullable=False, server_default='0'))
    with op.batch_alter_table('provider_configs', schema=None) as batch_op:
        batch_op.add_column(sa.Column('headers_enc', sa.String(), nullable=True))
        batch_op.add_column(sa.Column('header_hints', sa.JSON(), nullable=False, server_default='{}'))


def downgrade() -> None:
    """Downgrade schema."""
    with op.batch_alter_table('provider_configs', schema=None) as batch_op:
        batch_op.drop_column('header_hints')
        batch_op.drop_column('headers_enc')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_column('session_version')
