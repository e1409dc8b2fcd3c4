"""rag modules: rag_modules, model_usage_logs.rag_module

Revision ID: tena0007
Revises: tena0006
Create Date: 2026-12-02 14:00:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

from gateway_app.db.tables.base import UtcDateTime

revision: str = 'tena0007'
down_revision: Union[str, Sequence[str], None] = 'tena0006'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        'rag_modules',
        sa.Column('id', sa.String(length=40), primary_key=True),
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.Column('description', sa.String(length=1000), nullable=False),
        sa.Column('model', sa.String(length=200), nullable=False),
        sa.Column('vector_store_ids', sa.JSON(), nullable=False),
        sa.Column('prompt', sa.JSON(), nullable=True),
        sa.Column('top_k', sa.Integer(), nullable=False),
        sa.Column('score_threshold', sa.Float(), nullable=False),
        sa.Column('max_context_tokens', sa.Integer(), nullable=False),
        sa.Column('filters', sa.JSON(), nullable=True),
        sa.Column('no_results', sa.String(length=20), nullable=False),
        sa.Column('rerank_model', sa.String(length=200), nullable=True),
        sa.Column('created_at', UtcDateTime(), nullable=False),
        sa.Column('updated_at', UtcDateTime(), nullable=False),
    )
    op.create_index('ix_rag_modules_name', 'rag_modules', ['name'], unique=True)
    with op.batch_alter_table('model_usage_logs') as batch:
        batch.add_column(sa.Column('rag_module', sa.String(length=100), nullable=False, server_default=''))
    op.create_index('ix_usage_rag_module_at', 'model_usage_logs', ['rag_module', 'at'])


def downgrade() -> None:
    """Downgrade schema."""
    op.drop_index('ix_usage_rag_module_at', table_name='model_usage_logs')
    with op.batch_alter_table('model_usage_logs') as batch:
        batch.drop_column('rag_module')
    op.drop_index('ix_rag_modules_name', table_name='rag_modules')
    op.drop_table('rag_modules')
