"""registrations: a stored Norwegian sort key of the name

Revision ID: 0027_registration_sort_names
Revises: 0026_seat_rules
Create Date: 2026-12-06 15:00:00

The lists and downloads of a gathering's registrations were sorted in Python (names.sort_key:
æ, ø, å after z, accents folded), because no collation gives that order on both SQLite and
PostgreSQL. Sorting 50,000 rows in memory kept the whole download in memory (issue 20). The key
is now stored (`sort_name`, compared by code point: PostgreSQL's "C" collation, SQLite's BINARY)
with an index, so the database sorts and a download streams. Existing rows get their key here,
computed by the same function, in batches.
"""
import unicodedata

from alembic import op
import sqlalchemy as sa


revision = '0027_registration_sort_names'
down_revision = '0026_seat_rules'
branch_labels = None
depends_on = None

BATCH = 1000
_NORWEGIAN_LAST = str.maketrans({"æ": "{", "ø": "|", "å": "}"})


def sort_key(text):
    """names.sort_key as it was when this migration was written (a migration does not change
    with the code after it)."""
    folded = text.casefold().translate(_NORWEGIAN_LAST)
    return "".join(c for c in unicodedata.normalize("NFKD", folded) if not unicodedata.combining(c))


def upgrade():
    key_text = sa.Text().with_variant(sa.Text(collation="C"), "postgresql")
    # Plain ALTER TABLE (no batch copy of the table on SQLite: a copy would turn the columns'
    # own CHECK constraints into the table's, and 0024's downgrade could no longer drop `mode`).
    op.add_column('registrations', sa.Column('sort_name', key_text, nullable=False,
                                             server_default=''))
    connection = op.get_bind()
    registrations = sa.table('registrations', sa.column('id', sa.Integer),
                             sa.column('name', sa.String), sa.column('sort_name', sa.Text))
    last = 0
    while True:
        rows = connection.execute(
            sa.select(registrations.c.id, registrations.c.name)
            .where(registrations.c.id > last).order_by(registrations.c.id).limit(BATCH)).all()
        if not rows:
            break
        connection.execute(
            registrations.update().where(registrations.c.id == sa.bindparam('row_id'))
            .values(sort_name=sa.bindparam('key')),
            [{'row_id': row.id, 'key': sort_key(row.name or '')} for row in rows])
        last = rows[-1].id
    op.create_index('ix_registrations_sorted', 'registrations',
                    ['gathering_id', 'sort_name', 'id'], unique=False)


def downgrade():
    op.drop_index('ix_registrations_sorted', table_name='registrations')
    op.execute("ALTER TABLE registrations DROP COLUMN sort_name")
