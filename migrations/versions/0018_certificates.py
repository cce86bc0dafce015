"""certificates: the verification code of an attendance certificate (deltakerbevis)

Revision ID: 0018_certificates
Revises: 0016_programme
Create Date: 2026-12-06 10:00:00

One row per registration whose certificate was downloaded: a random code for the verification
page and when it was first issued. No personal data; no existing rows to convert.
"""
from alembic import op
import sqlalchemy as sa


revision = '0018_certificates'
down_revision = '0016_programme'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('certificates',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('registration_id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('issued_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['registration_id'], ['registrations.id'],
                            name=op.f('fk_certificates_registration_id_registrations'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_certificates')),
    sa.UniqueConstraint('code', name=op.f('uq_certificates_code')),
    sa.UniqueConstraint('registration_id', name=op.f('uq_certificates_registration_id'))
    )


def downgrade():
    op.drop_table('certificates')
