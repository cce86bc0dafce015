"""registrations and subscribers: an internationalised domain's key in punycode

Revision ID: 0007_email_keys_punycode
Revises: 0006_outbox_error_kind
Create Date: 2026-12-06 12:00:00

`ola@bølle.no` and `ola@xn--blle-gra.no` are one mailbox, and the comparison key is now the
punycode form (klynge_rsvp.addresses.key). Keys stored before in Unicode form are rewritten;
a key whose punycode form is already taken (the same mailbox registered twice, in each form)
is left as it was and named in the log: the two registrations need an organiser's eye.
"""
import logging

import sqlalchemy as sa
from alembic import op
from email_validator import EmailNotValidError, validate_email

revision = '0007_email_keys_punycode'
down_revision = '0006_outbox_error_kind'
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")


def _punycode_key(key: str) -> str | None:
    local, at, domain = key.rpartition("@")
    if not at or domain.isascii():
        return None
    try:
        ascii_domain = validate_email(f"x@{domain}", check_deliverability=False,
                                      test_environment=True).ascii_domain
    except EmailNotValidError:
        return None
    return f"{local}@{ascii_domain}".lower()


def _rekey(table: str, scope: str | None) -> None:
    connection = op.get_bind()
    columns = f"id, email_key{', ' + scope if scope else ''}"
    rows = connection.execute(sa.text(f"SELECT {columns} FROM {table}")).all()
    taken = {(row[2] if scope else None, row[1]) for row in rows}
    for row in rows:
        new_key = _punycode_key(row[1])
        if new_key is None or new_key == row[1]:
            continue
        place = row[2] if scope else None
        if (place, new_key) in taken:
            log.warning("%s %s: %s is also registered as %s; key left as it was",
                        table, row[0], row[1], new_key)
            continue
        connection.execute(sa.text(f"UPDATE {table} SET email_key = :key WHERE id = :id"),
                           {"key": new_key, "id": row[0]})
        taken.add((place, new_key))


def upgrade():
    _rekey("registrations", "gathering_id")
    _rekey("subscribers", None)


def downgrade():
    pass  # the Unicode form is not needed back: both forms compare alike under either key
