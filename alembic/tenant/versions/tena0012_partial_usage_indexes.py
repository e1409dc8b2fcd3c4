"""usage: the RAG-module and memory-store indexes leave out rows that belong to neither; no request-id index

Every index is a page written by each usage commit; no query reads model_usage_logs by request id.

Revision ID: tena0012
Revises: tena0011
Create Date: 2026-12-07 11:00:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

revision: str = 'tena0012'
down_revision: Union[str, Sequence[str], None] = 'tena0011'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    for name, column in (('ix_usage_rag_module_at', 'rag_module'), ('ix_usage_memory_store_at', 'memory_store')):
        op.drop_index(name, table_name='model_usage_logs')
        op.create_index(name, 'model_usage_logs', [column, 'at'], sqlite_where=sa.text(f"{column} != ''"))
    op.drop_index('ix_model_usage_logs_request_id', table_name='model_usage_logs')


def downgrade() -> None:
    """Downgrade schema."""
    for name, column in (('ix_usage_rag_module_at', 'rag_module'), ('ix_usage_memory_store_at', 'memory_store')):
        op.drop_index(name, table_name='model_usage_logs')
        op.create_index(name, 'model_usage_logs', [column, 'at'])
    op.create_index('ix_model_usage_logs_request_id', 'model_usage_logs', ['request_id'])
