"""organiser sign-ins: an organiser's account at an OpenID Connect provider

Revision ID: 0011_organiser_sign_in
Revises: 0010_stored_text_codes
Create Date: 2026-12-06 09:00:00

One row per organiser and provider: the provider's stable subject, linked at the first sign-in
by verified e-mail, and the acr/amr of the last sign-in. No existing rows to convert.
"""
from alembic import op
import sqlalchemy as sa


revision = '0011_organiser_sign_in'
down_revision = '0010_stored_text_codes'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('organiser_sign_ins',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organiser_id', sa.Integer(), nullable=False),
    sa.Column('provider', sa.String(length=40), nullable=False),
    sa.Column('subject', sa.String(length=255), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_acr', sa.String(length=200), nullable=True),
    sa.Column('last_amr', sa.String(length=200), nullable=True),
    sa.ForeignKeyConstraint(['organiser_id'], ['organisers.id'],
                            name=op.f('fk_organiser_sign_ins_organiser_id_organisers'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_organiser_sign_ins')),
    sa.UniqueConstraint('organiser_id', 'provider',
                        name=op.f('uq_organiser_sign_ins_organiser_id')),
    sa.UniqueConstraint('provider', 'subject', name=op.f('uq_organiser_sign_ins_provider'))
    )
    with op.batch_alter_table('organiser_sign_ins', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_organiser_sign_ins_organiser_id'),
                              ['organiser_id'], unique=False)


def downgrade():
    with op.batch_alter_table('organiser_sign_ins', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_organiser_sign_ins_organiser_id'))
    op.drop_table('organiser_sign_ins')
