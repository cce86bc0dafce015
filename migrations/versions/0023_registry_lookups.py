"""registry lookups: what Enhetsregisteret said about an organisasjonsnummer

Revision ID: 0023_registry_lookups
Revises: 0022_webhooks
Create Date: 2026-12-06 12:00:00

One new table, a cache shared by every app process: the name, sector and state (found, not
found, deleted) the register gave for a number, and when (docs/decisions/0030). No existing
rows to convert.
"""
from alembic import op
import sqlalchemy as sa


revision = '0023_registry_lookups'
down_revision = '0022_webhooks'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('registry_lookups',
    sa.Column('org_number', sa.String(length=9), nullable=False),
    sa.Column('state', sa.String(length=10), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=True),
    sa.Column('sector', sa.String(length=20), nullable=True),
    sa.Column('parent_org_number', sa.String(length=9), nullable=True),
    sa.Column('deleted_on', sa.Date(), nullable=True),
    sa.Column('fetched_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('org_number', name=op.f('pk_registry_lookups'))
    )


def downgrade():
    op.drop_table('registry_lookups')
