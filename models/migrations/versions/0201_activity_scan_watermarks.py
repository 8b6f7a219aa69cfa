"""activities: what the scan has done already, so a run reads only what is newly due —
reminded_hours (the nearest reminder queued for the activity's current start) and, per
sign-up, feedback_asked_at

Nothing to fill in: the first scan after the upgrade looks at what is in its windows once
(the outbox's dedup keys keep anything from going out twice) and records it.

Revision ID: 0201
Revises: 0200
Create Date: 2026-12-02 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.base


revision: str = '0201'
down_revision: str | Sequence[str] | None = '0200'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table('activities', schema=None) as batch_op:
        batch_op.add_column(sa.Column('reminded_hours', sa.Integer(), nullable=True))
    with op.batch_alter_table('activity_registrations', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('feedback_asked_at', models.base.UTCDateTime(timezone=True), nullable=True)
        )


def downgrade() -> None:
    with op.batch_alter_table('activity_registrations', schema=None) as batch_op:
        batch_op.drop_column('feedback_asked_at')
    with op.batch_alter_table('activities', schema=None) as batch_op:
        batch_op.drop_column('reminded_hours')
