"""vector stores: vector_indexes, vector_store_files, vector_file_batches

Revision ID: tena0006
Revises: tena0005
Create Date: 2026-12-02 07:00:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

from gateway_app.db.tables.base import UtcDateTime

revision: str = 'tena0006'
down_revision: Union[str, Sequence[str], None] = 'tena0005'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        'vector_indexes',
        sa.Column('id', sa.String(length=40), primary_key=True),
        sa.Column('name', sa.String(length=256), nullable=False),
        sa.Column('embedding_model', sa.String(length=200), nullable=False),
        sa.Column('metadata', sa.JSON(), nullable=False),
        sa.Column('expires_after', sa.JSON(), nullable=True),
        sa.Column('expires_at', UtcDateTime(), nullable=True),
        sa.Column('dimensions', sa.Integer(), nullable=True),
        sa.Column('usage_bytes', sa.Integer(), nullable=False),
        sa.Column('created_at', UtcDateTime(), nullable=False),
        sa.Column('last_active_at', UtcDateTime(), nullable=False),
    )
    op.create_index('ix_vector_indexes_created_at', 'vector_indexes', ['created_at'])
    op.create_table(
        'vector_store_files',
        sa.Column('store_id', sa.String(length=40), primary_key=True),
        sa.Column('file_id', sa.String(length=200), primary_key=True),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('attributes', sa.JSON(), nullable=False),
        sa.Column('chunking', sa.JSON(), nullable=False),
        sa.Column('batch_id', sa.String(length=40), nullable=True),
        sa.Column('token_id', sa.String(length=64), nullable=False),
        sa.Column('usage_bytes', sa.Integer(), nullable=False),
        sa.Column('chunks', sa.Integer(), nullable=False),
        sa.Column('last_error', sa.JSON(), nullable=True),
        sa.Column('lease_until', UtcDateTime(), nullable=True),
        sa.Column('created_at', UtcDateTime(), nullable=False),
    )
    op.create_index('ix_vector_store_files_file_id', 'vector_store_files', ['file_id'])
    op.create_index('ix_vector_store_files_batch_id', 'vector_store_files', ['batch_id'])
    op.create_index('ix_vector_store_files_status', 'vector_store_files', ['status', 'created_at'])
    op.create_table(
        'vector_file_batches',
        sa.Column('id', sa.String(length=40), primary_key=True),
        sa.Column('store_id', sa.String(length=40), nullable=False),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('created_at', UtcDateTime(), nullable=False),
    )
    op.create_index('ix_vector_file_batches_store_id', 'vector_file_batches', ['store_id'])


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_table('vector_file_batches')
    op.drop_table('vector_store_files')
    op.drop_table('vector_indexes')
