"""memory stores: memory_stores, memories, memory_history, memory_jobs, model_usage_logs.memory_store

Revision ID: tena0008
Revises: tena0007
Create Date: 2026-12-02 19:30:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

from gateway_app.db.tables.base import UtcDateTime

revision: str = 'tena0008'
down_revision: Union[str, Sequence[str], None] = 'tena0007'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        'memory_stores',
        sa.Column('id', sa.String(length=40), primary_key=True),
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.Column('description', sa.String(length=1000), nullable=False),
        sa.Column('embedding_model', sa.String(length=200), nullable=False),
        sa.Column('extraction_model', sa.String(length=200), nullable=False),
        sa.Column('similarity_threshold', sa.Float(), nullable=False),
        sa.Column('top_k', sa.Integer(), nullable=False),
        sa.Column('retention_days', sa.Integer(), nullable=True),
        sa.Column('prompt', sa.JSON(), nullable=True),
        sa.Column('dimensions', sa.Integer(), nullable=True),
        sa.Column('created_at', UtcDateTime(), nullable=False),
        sa.Column('updated_at', UtcDateTime(), nullable=False),
    )
    op.create_index('ix_memory_stores_name', 'memory_stores', ['name'], unique=True)
    op.create_table(
        'memories',
        sa.Column('id', sa.String(length=40), primary_key=True),
        sa.Column('store_id', sa.String(length=40), nullable=False),
        sa.Column('text', sa.String(length=4000), nullable=False),
        sa.Column('hash', sa.String(length=64), nullable=False),
        sa.Column('user_id', sa.String(length=200), nullable=False),
        sa.Column('agent_id', sa.String(length=200), nullable=False),
        sa.Column('run_id', sa.String(length=200), nullable=False),
        sa.Column('metadata', sa.JSON(), nullable=False),
        sa.Column('expires_at', UtcDateTime(), nullable=True),
        sa.Column('created_at', UtcDateTime(), nullable=False),
        sa.Column('updated_at', UtcDateTime(), nullable=False),
    )
    op.create_index('ix_memories_scope', 'memories', ['store_id', 'user_id', 'agent_id', 'run_id'])
    op.create_index('ix_memories_store_created', 'memories', ['store_id', 'created_at', 'id'])
    op.create_index('ix_memories_hash', 'memories', ['store_id', 'hash'])
    op.create_index('ix_memories_expires_at', 'memories', ['expires_at'])
    op.create_table(
        'memory_history',
        sa.Column('id', sa.String(length=40), primary_key=True),
        sa.Column('store_id', sa.String(length=40), nullable=False),
        sa.Column('memory_id', sa.String(length=40), nullable=False),
        sa.Column('event', sa.String(length=20), nullable=False),
        sa.Column('old_text', sa.String(length=4000), nullable=True),
        sa.Column('new_text', sa.String(length=4000), nullable=True),
        sa.Column('actor', sa.String(length=400), nullable=False),
        sa.Column('user_id', sa.String(length=200), nullable=False),
        sa.Column('at', UtcDateTime(), nullable=False),
    )
    op.create_index('ix_memory_history_memory', 'memory_history', ['memory_id', 'at'])
    op.create_index('ix_memory_history_store_at', 'memory_history', ['store_id', 'at'])
    op.create_index('ix_memory_history_user', 'memory_history', ['store_id', 'user_id'])
    op.create_table(
        'memory_jobs',
        sa.Column('id', sa.String(length=40), primary_key=True),
        sa.Column('store_id', sa.String(length=40), nullable=False),
        sa.Column('status', sa.String(length=20), nullable=False),
        sa.Column('results', sa.JSON(), nullable=False),
        sa.Column('error', sa.JSON(), nullable=True),
        sa.Column('token_id', sa.String(length=64), nullable=False),
        sa.Column('created_at', UtcDateTime(), nullable=False),
        sa.Column('completed_at', UtcDateTime(), nullable=True),
    )
    op.create_index('ix_memory_jobs_store_id', 'memory_jobs', ['store_id'])
    with op.batch_alter_table('model_usage_logs') as batch:
        batch.add_column(sa.Column('memory_store', sa.String(length=100), nullable=False, server_default=''))
    op.create_index('ix_usage_memory_store_at', 'model_usage_logs', ['memory_store', 'at'])


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index('ix_usage_memory_store_at', table_name='model_usage_logs')
    with op.batch_alter_table('model_usage_logs') as batch:
        batch.drop_column('memory_store')
    for table in ('memory_jobs', 'memory_history', 'memories', 'memory_stores'):
        op.drop_table(table)
