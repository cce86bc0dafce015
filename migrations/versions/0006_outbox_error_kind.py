"""outbox: why the last attempt failed, as a kind and the SMTP reply code

Revision ID: 0006_outbox_error_kind
Revises: 0005_outbox_pending_recipient
Create Date: 2026-12-06 09:00:00

Rows written before keep their text in last_error and an empty kind: the mail log reads that
text (klynge_rsvp.outcomes.of_stored), so nothing needs rewriting here.
"""
from alembic import op
import sqlalchemy as sa


revision = '0006_outbox_error_kind'
down_revision = '0005_outbox_pending_recipient'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('error_kind', sa.String(length=30), server_default='',
                                      nullable=False))
        batch_op.add_column(sa.Column('smtp_code', sa.Integer(), nullable=True))


def downgrade():
    with op.batch_alter_table('outbox_messages', schema=None) as batch_op:
        batch_op.drop_column('smtp_code')
        batch_op.drop_column('error_kind')
