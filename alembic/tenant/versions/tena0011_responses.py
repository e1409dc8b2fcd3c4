"""responses: answers of the Responses API kept for GET and previous_response_id

Revision ID: tena0011
Revises: tena0010
Create Date: 2026-12-04 03:00:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

from gateway_app.db.tables.base import UtcDateTime

revision: str = 'tena0011'
down_revision: Union[str, Sequence[str], None] = 'tena0010'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        'responses',
        sa.Column('id', sa.String(length=60), primary_key=True),
        sa.Column('model', sa.String(length=200), nullable=False),
        sa.Column('body', sa.JSON(), nullable=False),
        sa.Column('input_items', sa.JSON(), nullable=False),
        sa.Column('messages', sa.JSON(), nullable=False),
        sa.Column('created_at', UtcDateTime(), nullable=False),
    )
    op.create_index('ix_responses_created_at', 'responses', ['created_at'])


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index('ix_responses_created_at', table_name='responses')
    op.drop_table('responses')
