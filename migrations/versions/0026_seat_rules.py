"""seat rules: a cap per organisation and seats held for a sector

Revision ID: 0026_seat_rules
Revises: 0025_questions
Create Date: 2026-12-06 12:00:00

Two new tables (issue 16, fair seats). `seat_rules` holds a gathering's cap on confirmed seats
per organisation; `seat_holds` the seats held for one sector until an instant
(docs/decisions/0033). No existing rows to convert: a gathering without rows has no rules, as
before.
"""
from alembic import op
import sqlalchemy as sa


revision = '0026_seat_rules'
down_revision = '0025_questions'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('seat_rules',
    sa.Column('gathering_id', sa.Integer(), nullable=False),
    sa.Column('organisation_cap', sa.Integer(), nullable=True),
    sa.CheckConstraint('organisation_cap IS NULL OR organisation_cap >= 1',
                       name=op.f('ck_seat_rules_organisation_cap_positive')),
    sa.ForeignKeyConstraint(['gathering_id'], ['gatherings.id'],
                            name=op.f('fk_seat_rules_gathering_id_gatherings'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('gathering_id', name=op.f('pk_seat_rules'))
    )
    op.create_table('seat_holds',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('gathering_id', sa.Integer(), nullable=False),
    sa.Column('sector', sa.Enum('offentlig', 'privat', 'ideell', 'frivillig', name='sector',
                                native_enum=False, create_constraint=True, length=20),
              nullable=False),
    sa.Column('seats', sa.Integer(), nullable=False),
    sa.Column('held_until', sa.DateTime(timezone=True), nullable=False),
    sa.CheckConstraint('seats >= 1', name=op.f('ck_seat_holds_seats_positive')),
    sa.ForeignKeyConstraint(['gathering_id'], ['gatherings.id'],
                            name=op.f('fk_seat_holds_gathering_id_gatherings'),
                            ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_seat_holds')),
    sa.UniqueConstraint('gathering_id', 'sector', name='uq_seat_holds_gathering_sector')
    )
    with op.batch_alter_table('seat_holds', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_seat_holds_gathering_id'), ['gathering_id'],
                              unique=False)


def downgrade():
    with op.batch_alter_table('seat_holds', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_seat_holds_gathering_id'))
    op.drop_table('seat_holds')
    op.drop_table('seat_rules')
