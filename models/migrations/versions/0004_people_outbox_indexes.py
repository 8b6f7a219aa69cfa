"""indexes for hot lookups: staff by role, profiles by grid, the over-80 scan, family links by
retiree, outbox rows by person, and the pending rows' dedup-key prefixes (cancel_pending)

Revision ID: 0004
Revises: 0001
Create Date: 2026-12-02 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0004'
down_revision: str | Sequence[str] | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index('ix_users_role', 'users', ['role'], unique=False)
    op.create_index('ix_retiree_profiles_grid_id', 'retiree_profiles', ['grid_id'], unique=False)
    op.create_index(
        'ix_retiree_profiles_over_80_birthday', 'retiree_profiles', ['over_80', 'birthday'],
        unique=False,
    )
    op.create_index('ix_family_links_profile_id', 'family_links', ['profile_id'], unique=False)
    op.create_index('ix_outbox_user_id', 'outbox', ['user_id'], unique=False)
    op.create_index(
        'ix_outbox_pending_dedup_key', 'outbox', ['dedup_key'], unique=False,
        postgresql_ops={'dedup_key': 'text_pattern_ops'},
        postgresql_where=sa.text("status = 'pending'"),
        sqlite_where=sa.text("status = 'pending'"),
    )


def downgrade() -> None:
    op.drop_index('ix_outbox_pending_dedup_key', table_name='outbox')
    op.drop_index('ix_outbox_user_id', table_name='outbox')
    op.drop_index('ix_family_links_profile_id', table_name='family_links')
    op.drop_index('ix_retiree_profiles_over_80_birthday', table_name='retiree_profiles')
    op.drop_index('ix_retiree_profiles_grid_id', table_name='retiree_profiles')
    op.drop_index('ix_users_role', table_name='users')
