"""family links: the relation as a code, the retiree's side of it, the reminders opt-in

`relation` held the words the family member typed or tapped ("女儿", "Son", "nephew"); it now
holds a code (son, daughter, ... other) so it can be worded from the reader's side in the
reader's language. Existing words that name a known relation become its code; anything else
becomes "other" with the words kept in `relation_note`. `retiree_female` (the relative is the
mother or the father; unknown for existing links) and `activity_reminders` (the family member
also gets the relative's activity reminders; off) are new.

Revision ID: 0005
Revises: 0001
Create Date: 2026-12-02 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0005'
down_revision: str | Sequence[str] | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Frozen here (the app's table, models.registration.RELATION_WORDS, may grow later).
_WORDS: dict[str, tuple[str, ...]] = {
    "son": ("son", "儿子", "兒子", "儿", "兒"),
    "daughter": ("daughter", "女儿", "女兒", "闺女", "閨女"),
    "son_in_law": ("son-in-law", "son in law", "女婿"),
    "daughter_in_law": (
        "daughter-in-law", "daughter in law", "儿媳", "兒媳", "媳妇", "媳婦", "儿媳妇", "兒媳婦"
    ),
    "grandson": ("grandson", "孙子", "孫子", "外孙", "外孫"),
    "granddaughter": ("granddaughter", "孙女", "孫女", "外孙女", "外孫女"),
    "nephew": ("nephew", "侄子", "外甥"),
    "niece": ("niece", "侄女", "外甥女"),
    "spouse": ("spouse", "husband", "wife", "老伴", "丈夫", "妻子", "老公", "老婆", "先生", "太太"),
}
_CODE_BY_WORD = {w.casefold(): code for code, words in _WORDS.items() for w in words}
_CODES = (*_WORDS, "other")
# Back to words on downgrade: the English word of the first button of each code.
_WORD_OF_CODE = {code: words[0].capitalize() for code, words in _WORDS.items()}

_links = sa.table(
    'family_links',
    sa.column('id', sa.Integer),
    sa.column('relation', sa.String),
    sa.column('relation_note', sa.String),
)


def upgrade() -> None:
    with op.batch_alter_table('family_links', schema=None) as batch_op:
        batch_op.add_column(sa.Column('relation_note', sa.String(length=50), nullable=True))
        batch_op.add_column(sa.Column('retiree_female', sa.Boolean(), nullable=True))
        batch_op.add_column(
            sa.Column('activity_reminders', sa.Boolean(), server_default=sa.false(), nullable=False)
        )

    bind = op.get_bind()
    for link_id, words in bind.execute(sa.select(_links.c.id, _links.c.relation)).all():
        text = " ".join((words or "").split())
        code = _CODE_BY_WORD.get(text.casefold())
        values = {"relation": code} if code else {"relation": "other", "relation_note": text or None}
        bind.execute(_links.update().where(_links.c.id == link_id).values(**values))

    with op.batch_alter_table('family_links', schema=None) as batch_op:
        batch_op.alter_column(
            'relation',
            existing_type=sa.String(length=50),
            type_=sa.Enum(*_CODES, name='relation', native_enum=False, length=20),
            existing_nullable=False,
        )


def downgrade() -> None:
    with op.batch_alter_table('family_links', schema=None) as batch_op:
        batch_op.alter_column(
            'relation',
            existing_type=sa.Enum(*_CODES, name='relation', native_enum=False, length=20),
            type_=sa.String(length=50),
            existing_nullable=False,
        )

    bind = op.get_bind()
    rows = bind.execute(sa.select(_links.c.id, _links.c.relation, _links.c.relation_note)).all()
    for link_id, code, note in rows:
        words = note if code == "other" else _WORD_OF_CODE.get(code, code)
        bind.execute(_links.update().where(_links.c.id == link_id).values(relation=words or ""))

    with op.batch_alter_table('family_links', schema=None) as batch_op:
        batch_op.drop_column('activity_reminders')
        batch_op.drop_column('retiree_female')
        batch_op.drop_column('relation_note')
