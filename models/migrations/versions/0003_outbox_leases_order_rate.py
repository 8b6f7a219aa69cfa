"""outbox: claims belong to a live sender, a chat waits in order, one rate for all senders

- `outbox.claimed_by`: the sender that holds a SENDING row. Only the rows of a sender that
  stopped renewing its lease (`outbox_senders.lease_until`) are taken back.
- `outbox.retry_at`: a row waiting after a 429 or a failed request keeps its place (its
  `due_at` is untouched) and its chat's later rows wait behind it.
- `ix_outbox_sent_at`: the claim skips chats written to in the last second (three for a
  group), across every sender.
- `outbox_rate`: the shared token bucket (a theoretical arrival time per bot) that spaces the
  requests of every sender together.

Revision ID: 0003
Revises: 0001
Create Date: 2026-12-02 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.base


revision: str = '0003'
down_revision: str | Sequence[str] | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('outbox_senders',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('host', sa.String(length=200), nullable=False),
    sa.Column('pid', sa.Integer(), nullable=False),
    sa.Column('started_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('heartbeat_at', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.Column('lease_until', models.base.UTCDateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox_senders'))
    )
    op.create_table('outbox_rate',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('tat', sa.Double(), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_outbox_rate'))
    )
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('claimed_by', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('retry_at', models.base.UTCDateTime(timezone=True), nullable=True))
        batch_op.create_index(batch_op.f('ix_outbox_sent_at'), ['sent_at'], unique=False)


def downgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_outbox_sent_at'))
        batch_op.drop_column('retry_at')
        batch_op.drop_column('claimed_by')
    op.drop_table('outbox_rate')
    op.drop_table('outbox_senders')
