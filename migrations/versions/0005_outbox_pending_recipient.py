"""outbox: an index of unsent mail by recipient (mail to one person goes out in order)

Revision ID: 0005_outbox_pending_recipient
Revises: 0004_anonymised_at
Create Date: 2026-11-26 11:00:00

"""
from alembic import op
import sqlalchemy as sa


revision = '0005_outbox_pending_recipient'
down_revision = '0004_anonymised_at'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.create_index('ix_outbox_pending_recipient', ['recipient', 'id'], unique=False,
                              postgresql_where=sa.text("status = 'pending'"),
                              sqlite_where=sa.text("status = 'pending'"))


def downgrade():
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.drop_index('ix_outbox_pending_recipient')
