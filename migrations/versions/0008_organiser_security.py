"""organisers: session version, TOTP second factor, recovery codes, failed-login throttle

Revision ID: 0008_organiser_security
Revises: 0007_email_keys_punycode
Create Date: 2026-12-08 09:00:00

Existing accounts start at session version 0 (sessions made before this revision carry none and
end: everyone logs in again once) and without a second factor: an administrator is asked to set
one up at the next login.
"""
from alembic import op
import sqlalchemy as sa


revision = '0008_organiser_security'
down_revision = '0007_email_keys_punycode'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('organisers', schema=None) as batch_op:
        batch_op.add_column(sa.Column('session_version', sa.Integer(), server_default='0',
                                      nullable=False))
        batch_op.add_column(sa.Column('totp_secret', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('totp_pending_secret', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('totp_enabled_at', sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column('totp_last_counter', sa.BigInteger(), nullable=True))

    op.create_table('organiser_recovery_codes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organiser_id', sa.Integer(), nullable=False),
    sa.Column('code_hash', sa.String(length=64), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('used_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['organiser_id'], ['organisers.id'],
                            name=op.f('fk_organiser_recovery_codes_organiser_id_organisers'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_organiser_recovery_codes'))
    )
    with op.batch_alter_table('organiser_recovery_codes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_organiser_recovery_codes_organiser_id'),
                              ['organiser_id'], unique=False)

    op.create_table('login_throttles',
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('failures', sa.Integer(), nullable=False),
    sa.Column('last_failure_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('locked_until', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_login_throttles'))
    )
    with op.batch_alter_table('login_throttles', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_login_throttles_last_failure_at'),
                              ['last_failure_at'], unique=False)


def downgrade():
    with op.batch_alter_table('login_throttles', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_login_throttles_last_failure_at'))
    op.drop_table('login_throttles')
    with op.batch_alter_table('organiser_recovery_codes', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_organiser_recovery_codes_organiser_id'))
    op.drop_table('organiser_recovery_codes')
    with op.batch_alter_table('organisers', schema=None) as batch_op:
        batch_op.drop_column('totp_last_counter')
        batch_op.drop_column('totp_enabled_at')
        batch_op.drop_column('totp_pending_secret')
        batch_op.drop_column('totp_secret')
        batch_op.drop_column('session_version')
