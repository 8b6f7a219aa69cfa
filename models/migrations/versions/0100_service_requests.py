"""service requests: requests, attachments, history, tracking-number counters, promised times

Revision ID: 0100
Revises: 0001
Create Date: 2026-11-23 18:50:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.base


revision: str = '0100'
down_revision: str | Sequence[str] | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('request_counters',
    sa.Column('year', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('last', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('year', name=op.f('pk_request_counters'))
    )
    op.create_table('request_deadline_policies',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('category', sa.String(length=20), nullable=False),
    sa.Column('urgent', sa.Boolean(), nullable=False),
    sa.Column('accept_hours', sa.Integer(), nullable=True),
    sa.Column('accept_workdays', sa.Integer(), nullable=True),
    sa.Column('done_hours', sa.Integer(), nullable=True),
    sa.Column('done_workdays', sa.Integer(), nullable=True),
    sa.Column('escalate_after_hours', sa.Integer(), nullable=False),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_request_deadline_policies')),
    sa.UniqueConstraint('category', 'urgent', name=op.f('uq_request_deadline_policies_category'))
    )
    op.create_table('service_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=20), nullable=False),
    sa.Column('profile_id', sa.Integer(), nullable=False),
    sa.Column('created_by_id', sa.Integer(), nullable=True),
    sa.Column('category', sa.Enum('home_repair', 'medical', 'errands', 'paperwork', 'talk', 'care', 'other', name='category', native_enum=False, length=20), nullable=False),
    sa.Column('description', sa.Text(), nullable=False),
    sa.Column('preferred', sa.Enum('today', 'tomorrow', 'this_week', 'date', name='preferred', native_enum=False, length=20), nullable=False),
    sa.Column('preferred_date', sa.Date(), nullable=True),
    sa.Column('urgent', sa.Boolean(), nullable=False),
    sa.Column('status', sa.Enum('new', 'accepted', 'in_progress', 'done', 'cancelled', 'rejected', name='requeststatus', native_enum=False, length=20), nullable=False),
    sa.Column('assignee_id', sa.Integer(), nullable=True),
    sa.Column('accept_due_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('done_due_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('escalate_after_minutes', sa.Integer(), nullable=False),
    sa.Column('accepted_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('started_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('closed_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('reject_reason', sa.Text(), nullable=True),
    sa.Column('accept_alert_level', sa.Integer(), nullable=False),
    sa.Column('done_alert_level', sa.Integer(), nullable=False),
    sa.Column('rating', sa.Integer(), nullable=True),
    sa.Column('rating_comment', sa.Text(), nullable=True),
    sa.Column('rating_voice_file_id', sa.String(length=200), nullable=True),
    sa.Column('rated_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('rate_reminded_at', models.base.UTCDateTime(timezone=True), nullable=True),
    sa.Column('updated_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.ForeignKeyConstraint(['assignee_id'], ['users.id'], name=op.f('fk_service_requests_assignee_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['created_by_id'], ['users.id'], name=op.f('fk_service_requests_created_by_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['profile_id'], ['retiree_profiles.id'], name=op.f('fk_service_requests_profile_id_retiree_profiles'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_service_requests')),
    sa.UniqueConstraint('number', name=op.f('uq_service_requests_number'))
    )
    with op.batch_alter_table('service_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_service_requests_profile_id'), ['profile_id'], unique=False)
        batch_op.create_index('ix_service_requests_status_assignee', ['status', 'assignee_id'], unique=False)

    op.create_table('request_attachments',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.Enum('photo', 'voice', name='attachmentkind', native_enum=False, length=20), nullable=False),
    sa.Column('file_id', sa.String(length=200), nullable=False),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.ForeignKeyConstraint(['request_id'], ['service_requests.id'], name=op.f('fk_request_attachments_request_id_service_requests'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_request_attachments'))
    )
    with op.batch_alter_table('request_attachments', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_request_attachments_request_id'), ['request_id'], unique=False)

    op.create_table('request_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=False),
    sa.Column('actor_id', sa.Integer(), nullable=True),
    sa.Column('action', sa.Enum('created', 'accepted', 'assigned', 'started', 'done', 'cancelled', 'rejected', 'rated', 'commented', name='eventaction', native_enum=False, length=20), nullable=False),
    sa.Column('status', sa.Enum('new', 'accepted', 'in_progress', 'done', 'cancelled', 'rejected', name='requeststatus', native_enum=False, length=20), nullable=False),
    sa.Column('note', sa.Text(), nullable=True),
    sa.Column('created_at', models.base.UTCDateTime(timezone=True), server_default=sa.func.now(), nullable=False),
    sa.ForeignKeyConstraint(['actor_id'], ['users.id'], name=op.f('fk_request_events_actor_id_users'), ondelete='SET NULL'),
    sa.ForeignKeyConstraint(['request_id'], ['service_requests.id'], name=op.f('fk_request_events_request_id_service_requests'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_request_events'))
    )
    with op.batch_alter_table('request_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_request_events_request_id'), ['request_id'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('request_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_request_events_request_id'))
    op.drop_table('request_events')
    with op.batch_alter_table('request_attachments', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_request_attachments_request_id'))
    op.drop_table('request_attachments')
    with op.batch_alter_table('service_requests', schema=None) as batch_op:
        batch_op.drop_index('ix_service_requests_status_assignee')
        batch_op.drop_index(batch_op.f('ix_service_requests_profile_id'))
    op.drop_table('service_requests')
    op.drop_table('request_deadline_policies')
    op.drop_table('request_counters')
