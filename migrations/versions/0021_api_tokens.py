"""api tokens: organisers' keys to the organiser API

Revision ID: 0021_api_tokens
Revises: 0020_feedback
Create Date: 2026-12-06 12:00:00

One new table, `api_tokens`: per organiser, a named key with its scopes, expiry and
revocation; the secret only as a SHA-256 hash (docs/decisions/0027). No existing rows to
convert.
"""
from alembic import op
import sqlalchemy as sa


revision = '0021_api_tokens'
down_revision = '0020_feedback'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('api_tokens',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('organiser_id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('key_id', sa.String(length=16), nullable=False),
    sa.Column('secret_hash', sa.String(length=64), nullable=False),
    sa.Column('scopes', sa.String(length=200), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('last_used_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('expires_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['organiser_id'], ['organisers.id'],
                            name=op.f('fk_api_tokens_organiser_id_organisers'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_tokens')),
    sa.UniqueConstraint('key_id', name=op.f('uq_api_tokens_key_id'))
    )
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_api_tokens_organiser_id'), ['organiser_id'],
                              unique=False)


def downgrade():
    with op.batch_alter_table('api_tokens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_api_tokens_organiser_id'))
    op.drop_table('api_tokens')
