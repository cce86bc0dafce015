"""form mail suppressions: addresses whose owner said "not me" to the registration form's mail

Revision ID: 0009_form_mail_consent
Revises: 0008_organiser_security
Create Date: 2026-12-08 09:00:00

One row per address key (klynge_rsvp.addresses.key) whose owner followed the "not me" link in a
mail the public form sent because someone typed their address: the form sends that address
nothing more until its owner registers themselves, which deletes the row.
"""
from alembic import op
import sqlalchemy as sa


revision = '0009_form_mail_consent'
down_revision = '0008_organiser_security'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('form_mail_suppressions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('email_key', sa.String(length=254), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_form_mail_suppressions')),
    sa.UniqueConstraint('email_key', name=op.f('uq_form_mail_suppressions_email_key'))
    )


def downgrade():
    op.drop_table('form_mail_suppressions')
