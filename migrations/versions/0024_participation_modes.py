"""participation modes: in person, online or hybrid; a mode per registration

Revision ID: 0024_participation_modes
Revises: 0023_registry_lookups
Create Date: 2026-12-06 12:00:00

Gatherings get a mode, an online capacity (a hybrid gathering's online seats), a meeting link
and meeting details; registrations a mode. Every existing gathering and registration was held
in a room: both modes default to 'in_person' (server default, which fills the existing rows).
"""
from alembic import op
import sqlalchemy as sa


revision = '0024_participation_modes'
down_revision = '0023_registry_lookups'
branch_labels = None
depends_on = None


def upgrade():
    # Plain ADD COLUMN, not batch_alter_table: on SQLite a batch copies the table, and dropping
    # the old `gatherings` fails while registrations point at it (foreign_keys is on). The
    # CHECK constraints go with their columns, which both databases allow in ADD COLUMN.
    op.add_column('gatherings', sa.Column(
        'mode', sa.String(length=20),
        sa.CheckConstraint("mode IN ('in_person', 'online', 'hybrid')",
                           name=op.f('ck_gatherings_gathering_mode')),
        nullable=False, server_default='in_person'))
    op.add_column('gatherings', sa.Column(
        'online_capacity', sa.Integer(),
        sa.CheckConstraint('online_capacity IS NULL OR online_capacity >= 0',
                           name=op.f('ck_gatherings_online_capacity_not_negative')),
        nullable=True))
    op.add_column('gatherings', sa.Column('meeting_url', sa.String(length=1000), nullable=False,
                                          server_default=''))
    op.add_column('gatherings', sa.Column('meeting_details', sa.Text(), nullable=False,
                                          server_default=''))
    op.add_column('registrations', sa.Column(
        'mode', sa.String(length=20),
        sa.CheckConstraint("mode IN ('in_person', 'online')",
                           name=op.f('ck_registrations_attendance_mode')),
        nullable=False, server_default='in_person'))


def downgrade():
    # DROP COLUMN (SQLite 3.35+, PostgreSQL) takes a column's own CHECK constraint with it.
    op.execute("ALTER TABLE registrations DROP COLUMN mode")
    for column in ('meeting_details', 'meeting_url', 'online_capacity', 'mode'):
        op.execute(f"ALTER TABLE gatherings DROP COLUMN {column}")
