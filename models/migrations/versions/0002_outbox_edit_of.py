"""outbox: edit_of, the row whose sent message this row edits in place

The target of an in-place edit (the staff group's request card) was an `_edit` key inside the
row's JSON params; it becomes a column. Rows already queued are moved over both ways, so a
card queued before the upgrade is still edited, not sent again.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 01:28:14.190015
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0002'
down_revision: str | Sequence[str] | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _postgresql() -> bool:
    # The bot runs on PostgreSQL or SQLite; SQLite's built-in JSON functions do the same there.
    return op.get_context().dialect.name == "postgresql"


def upgrade() -> None:
    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.add_column(sa.Column('edit_of', sa.String(length=200), nullable=True))

    if _postgresql():  # params is `json` (not jsonb): through jsonb to drop the key
        op.execute(
            "UPDATE outbox SET edit_of = params->>'_edit', "
            "params = (params::jsonb - '_edit')::json "
            "WHERE params->>'_edit' IS NOT NULL"
        )
    else:
        op.execute(
            "UPDATE outbox SET edit_of = json_extract(params, '$._edit'), "
            "params = json_remove(params, '$._edit') "
            "WHERE json_extract(params, '$._edit') IS NOT NULL"
        )


def downgrade() -> None:
    if _postgresql():
        op.execute(
            "UPDATE outbox SET params = (params::jsonb || jsonb_build_object('_edit', edit_of))::json "
            "WHERE edit_of IS NOT NULL"
        )
    else:
        op.execute(
            "UPDATE outbox SET params = json_set(params, '$._edit', edit_of) "
            "WHERE edit_of IS NOT NULL"
        )

    with op.batch_alter_table('outbox', schema=None) as batch_op:
        batch_op.drop_column('edit_of')
