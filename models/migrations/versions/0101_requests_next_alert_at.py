"""service requests: next_alert_at (when the scan next has work for a request), and indexes
for the scan, "my requests" (filed by) and the staff queue (open requests in queue order)

Rows already there get a moment no later than their real one (the deadline itself, or the
close for a rating reminder): the first scan after the upgrade looks at each once and moves it
on exactly.

Revision ID: 0101
Revises: 0100
Create Date: 2026-12-02 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import models.base


revision: str = '0101'
down_revision: str | Sequence[str] | None = '0100'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = "status IN ('new', 'accepted', 'in_progress')"


def upgrade() -> None:
    with op.batch_alter_table('service_requests', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('next_alert_at', models.base.UTCDateTime(timezone=True), nullable=True)
        )
    op.execute(
        "UPDATE service_requests SET next_alert_at = CASE "
        "WHEN status = 'new' AND accept_alert_level < 2 THEN accept_due_at "
        "WHEN status IN ('accepted', 'in_progress') AND done_alert_level < 2 THEN done_due_at "
        "WHEN status = 'done' AND rating IS NULL AND rate_reminded_at IS NULL THEN closed_at "
        "ELSE NULL END"
    )
    op.create_index(
        'ix_service_requests_next_alert_at', 'service_requests', ['next_alert_at'], unique=False
    )
    op.create_index(
        'ix_service_requests_created_by_id', 'service_requests', ['created_by_id'], unique=False
    )
    op.create_index(
        'ix_service_requests_open_id', 'service_requests', ['id'], unique=False,
        postgresql_where=sa.text(OPEN), sqlite_where=sa.text(OPEN),
    )


def downgrade() -> None:
    op.drop_index('ix_service_requests_open_id', table_name='service_requests')
    op.drop_index('ix_service_requests_created_by_id', table_name='service_requests')
    op.drop_index('ix_service_requests_next_alert_at', table_name='service_requests')
    with op.batch_alter_table('service_requests', schema=None) as batch_op:
        batch_op.drop_column('next_alert_at')
