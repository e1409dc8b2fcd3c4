"""alerts: alert_channels, alert_rules, alert_events, alert_deliveries

Revision ID: tena0009
Revises: tena0008
Create Date: 2026-12-03 20:10:00

"""
from typing import Sequence, Union

from alembic import op
import sqlalchemy as sa

from gateway_app.db.tables.base import UtcDateTime

revision: str = 'tena0009'
down_revision: Union[str, Sequence[str], None] = 'tena0008'
branch_labels: Union[str, Sequence[str], None] = None
depends_on: Union[str, Sequence[str], None] = None


def upgrade() -> None:
    """Upgrade schema."""
    op.create_table(
        'alert_channels',
        sa.Column('id', sa.String(length=40), primary_key=True),
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.Column('type', sa.String(length=20), nullable=False),
        sa.Column('recipients', sa.JSON(), nullable=False),
        sa.Column('url', sa.String(length=2000), nullable=False),
        sa.Column('secret_enc', sa.String(length=1000), nullable=False),
        sa.Column('overrides', sa.JSON(), nullable=False),
        sa.Column('enabled', sa.Boolean(), nullable=False),
        sa.Column('created_at', UtcDateTime(), nullable=False),
    )
    op.create_index('ix_alert_channels_name', 'alert_channels', ['name'], unique=True)
    op.create_table(
        'alert_rules',
        sa.Column('id', sa.String(length=40), primary_key=True),
        sa.Column('name', sa.String(length=100), nullable=False),
        sa.Column('metric', sa.String(length=40), nullable=False),
        sa.Column('operator', sa.String(length=2), nullable=False),
        sa.Column('warning', sa.Float(), nullable=True),
        sa.Column('critical', sa.Float(), nullable=True),
        sa.Column('window_minutes', sa.Integer(), nullable=False),
        sa.Column('filters', sa.JSON(), nullable=False),
        sa.Column('channel_ids', sa.JSON(), nullable=False),
        sa.Column('cooldown_minutes', sa.Integer(), nullable=False),
        sa.Column('notify_resolved', sa.Boolean(), nullable=False),
        sa.Column('enabled', sa.Boolean(), nullable=False),
        sa.Column('state', sa.String(length=10), nullable=False),
        sa.Column('last_value', sa.Float(), nullable=True),
        sa.Column('last_evaluated_at', UtcDateTime(), nullable=True),
        sa.Column('last_notified_at', UtcDateTime(), nullable=True),
        sa.Column('created_at', UtcDateTime(), nullable=False),
    )
    op.create_index('ix_alert_rules_name', 'alert_rules', ['name'], unique=True)
    op.create_table(
        'alert_events',
        sa.Column('id', sa.String(length=40), primary_key=True),
        sa.Column('rule_id', sa.String(length=40), nullable=False),
        sa.Column('rule_name', sa.String(length=100), nullable=False),
        sa.Column('state', sa.String(length=10), nullable=False),
        sa.Column('severity', sa.String(length=10), nullable=False),
        sa.Column('value', sa.Float(), nullable=True),
        sa.Column('threshold', sa.Float(), nullable=True),
        sa.Column('acknowledged_by', sa.String(length=320), nullable=False),
        sa.Column('acknowledged_at', UtcDateTime(), nullable=True),
        sa.Column('at', UtcDateTime(), nullable=False),
    )
    op.create_index('ix_alert_events_rule_at', 'alert_events', ['rule_id', 'at'])
    op.create_index('ix_alert_events_at', 'alert_events', ['at'])
    op.create_table(
        'alert_deliveries',
        sa.Column('id', sa.String(length=40), primary_key=True),
        sa.Column('event_id', sa.String(length=40), nullable=False),
        sa.Column('channel_id', sa.String(length=40), nullable=False),
        sa.Column('channel_type', sa.String(length=20), nullable=False),
        sa.Column('ok', sa.Boolean(), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('status', sa.Integer(), nullable=False),
        sa.Column('error', sa.String(length=1000), nullable=False),
        sa.Column('at', UtcDateTime(), nullable=False),
    )
    op.create_index('ix_alert_deliveries_event', 'alert_deliveries', ['event_id'])
    op.create_index('ix_alert_deliveries_channel_at', 'alert_deliveries', ['channel_id', 'at'])


def downgrade() -> None:
    """Downgrade schema."""
    for table in ('alert_deliveries', 'alert_events', 'alert_rules', 'alert_channels'):
        op.drop_table(table)
