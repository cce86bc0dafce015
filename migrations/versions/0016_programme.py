"""programme: timed items of a gathering's programme, with speakers and their organisation

Revision ID: 0016_programme
Revises: 0015_organisations
Create Date: 2026-12-06 09:50:00

One row per programme item (start, optional end, title, speakers, the speakers' organisation).
A new table: no existing rows to convert.
"""
from alembic import op
import sqlalchemy as sa


revision = '0016_programme'
down_revision = '0015_organisations'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('programme_items',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('gathering_id', sa.Integer(), nullable=False),
    sa.Column('starts_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('ends_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('title', sa.String(length=200), nullable=False),
    sa.Column('speakers', sa.String(length=300), nullable=False),
    sa.Column('organisation', sa.String(length=200), nullable=False),
    sa.CheckConstraint('ends_at IS NULL OR ends_at > starts_at',
                       name=op.f('ck_programme_items_item_ends_after_start')),
    sa.ForeignKeyConstraint(['gathering_id'], ['gatherings.id'],
                            name=op.f('fk_programme_items_gathering_id_gatherings'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_programme_items'))
    )
    with op.batch_alter_table('programme_items', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_programme_items_gathering_id'),
                              ['gathering_id'], unique=False)


def downgrade():
    with op.batch_alter_table('programme_items', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_programme_items_gathering_id'))
    op.drop_table('programme_items')
