"""organisations however typed: a wider match key, aliases after a merge, the public list

Revision ID: 0015_organisations
Revises: 0011_organiser_sign_in
Create Date: 2026-12-06 09:30:00

The organisations' `name_key` ignored only case, white space and Unicode form. From here it
also ignores punctuation, a short name in parentheses at the end, and æ/ae, ø/o/oe, å/a/aa
(`organisations.name_key`, copied below as it is today: a migration never imports the app).
Rows are re-keyed; organisations whose new keys collide are merged into the oldest of them:
their registrations move to it, and its missing organisasjonsnummer is filled in.

New: `organisation_aliases` (the keys of organisations merged by an organiser, so the names
typed that way find the organisation they were merged into) and `organisations.listed` (on
the network's public list: suggested in the registration form).

Down: the narrower key again (distinct new keys have distinct old keys, so it stays unique);
organisations merged on the way up stay merged.
"""
import re
import unicodedata

from alembic import op
import sqlalchemy as sa


revision = '0015_organisations'
down_revision = '0011_organiser_sign_in'
branch_labels = None
depends_on = None

_WHITESPACE = re.compile(r"\s+")
_TRAILING_ABBREVIATION = re.compile(r"\s*\([^()]{1,20}\)\s*$")
_LETTERS = str.maketrans({"æ": "ae", "ø": "o", "å": "a"})
_DIGRAPHS = re.compile(r"aa|oe")
_NOT_A_LETTER = re.compile(r"[\W_]+")


def _tidy(name):
    return _WHITESPACE.sub(" ", unicodedata.normalize("NFC", name)).strip()


def _old_key(name):
    return _tidy(name).casefold()


def _new_key(name):
    tidy = _tidy(name)
    without = _TRAILING_ABBREVIATION.sub("", tidy)
    folded = (without or tidy).casefold().translate(_LETTERS)
    folded = "".join(c for c in unicodedata.normalize("NFKD", folded)
                     if not unicodedata.combining(c))
    folded = _DIGRAPHS.sub(lambda match: match.group(0)[0], folded)
    return _NOT_A_LETTER.sub(" ", folded).strip() or tidy.casefold()


def upgrade():
    op.create_table('organisation_aliases',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organisation_id', sa.Integer(), nullable=False),
    sa.Column('name_key', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['organisation_id'], ['organisations.id'],
                            name=op.f('fk_organisation_aliases_organisation_id_organisations'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_organisation_aliases')),
    sa.UniqueConstraint('name_key', name=op.f('uq_organisation_aliases_name_key'))
    )
    with op.batch_alter_table('organisation_aliases', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_organisation_aliases_organisation_id'),
                              ['organisation_id'], unique=False)
    # Not a batch: on SQLite that copies the table, which its registrations' foreign keys
    # forbid once there are any; a column with a default is added in place everywhere.
    op.add_column('organisations', sa.Column('listed', sa.Boolean(), server_default=sa.false(),
                                             nullable=False))

    connection = op.get_bind()
    rows = connection.execute(sa.text(
        "SELECT id, name, org_number FROM organisations ORDER BY id")).all()
    kept = {}  # new key -> [id, org_number] of the oldest organisation with it
    for id_, name, org_number in rows:
        key = _new_key(name)
        if key not in kept:
            kept[key] = [id_, org_number]
            continue
        keep = kept[key]
        connection.execute(sa.text("UPDATE registrations SET organisation_id = :keep "
                                   "WHERE organisation_id = :gone"), {"keep": keep[0], "gone": id_})
        connection.execute(sa.text("DELETE FROM organisations WHERE id = :gone"), {"gone": id_})
        if keep[1] is None and org_number is not None:
            keep[1] = org_number
            connection.execute(sa.text("UPDATE organisations SET org_number = :number "
                                       "WHERE id = :keep"), {"number": org_number, "keep": keep[0]})
    # Two passes, so no new key meets an old one still in place (the key is unique).
    for key, (id_, _number) in kept.items():
        connection.execute(sa.text("UPDATE organisations SET name_key = :key WHERE id = :id"),
                           {"key": f"#{id_}", "id": id_})
    for key, (id_, _number) in kept.items():
        connection.execute(sa.text("UPDATE organisations SET name_key = :key WHERE id = :id"),
                           {"key": key, "id": id_})


def downgrade():
    connection = op.get_bind()
    rows = connection.execute(sa.text("SELECT id, name FROM organisations")).all()
    for id_, _name in rows:
        connection.execute(sa.text("UPDATE organisations SET name_key = :key WHERE id = :id"),
                           {"key": f"#{id_}", "id": id_})
    for id_, name in rows:
        connection.execute(sa.text("UPDATE organisations SET name_key = :key WHERE id = :id"),
                           {"key": _old_key(name), "id": id_})
    # In place too (SQLite has dropped a column in place since 3.35).
    op.execute("ALTER TABLE organisations DROP COLUMN listed")
    with op.batch_alter_table('organisation_aliases', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_organisation_aliases_organisation_id'))
    op.drop_table('organisation_aliases')
